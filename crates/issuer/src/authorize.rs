//! The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1, DESIGN §4).
//!
//! Until the client and its redirect URI are validated, errors are pages (never a redirect to
//! an unvalidated URI, RFC 9700 §4.11); after that, errors go back to the client with `state`
//! and `iss` (RFC 9207) by 303.
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use app::authorize::start::{self, Next, StartError, Started};
use authz_core::client::Client;

use crate::browser;
use crate::cimd::{self, CimdError};
use crate::client_redirect::redirect_error;
use crate::pages::PageError;
use crate::params::Params;
use crate::state::AppState;

pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let params = Params::parse(req.query_string().as_bytes()).map_err(|e| {
        PageError::bad_request(
            "Invalid sign-in request",
            e.description,
            "Go back to the application and try again.",
        )
    })?;
    authorize(&state, &req, params).await
}

pub async fn post(state: web::Data<AppState>, body: Bytes) -> Result<HttpResponse, PageError> {
    let params = Params::parse(&body).map_err(|e| {
        PageError::bad_request(
            "Invalid sign-in request",
            e.description,
            "Go back to the application and try again.",
        )
    })?;
    // A form POST may come cross-site, when the browser withholds its Lax binding cookie; the
    // same request as a top-level GET carries it. Answering with the GET keeps the browser's
    // binding (instead of issuing a new one that would break its sign-ins in progress).
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("{}/oauth/authorize?{}", state.issuer(), params.to_query()),
        ))
        .finish())
}

/// The page for a client metadata document that cannot be used.
fn cimd_page(e: CimdError) -> PageError {
    const UNUSABLE: &str = "The application's client_id document is unusable. Tell the application's developer; there is nothing you can do here.";
    match e {
        CimdError::Core(c) => PageError::internal(c),
        CimdError::RateLimited(wait) => PageError::too_many(
            "Too many new applications",
            "This network has introduced too many new applications in the last hour.",
            "Wait a while, then try again from your application.",
            wait,
        ),
        // Anyone can name any URL here: say nothing about what answered or where the name
        // resolved (no addresses, status codes, redirects, timings or transport errors to
        // probe the deployment's network with); the log has the detail.
        CimdError::Fetch(f) => {
            tracing::info!(code = "CIMD0001", error = %f, "client metadata document fetch failed");
            PageError::bad_request(
                "This application could not be identified",
                "The application's client metadata document could not be fetched.",
                "Tell the application's developer; there is nothing you can do here.",
            )
        }
        other => PageError::bad_request(
            "This application could not be identified",
            other.to_string(),
            UNUSABLE,
        ),
    }
}

pub async fn resolve_client(
    state: &AppState,
    client_id: &str,
    source: &str,
) -> Result<Client, PageError> {
    if cimd::is_cimd_id(client_id) {
        return cimd::resolve(state, client_id, source)
            .await
            .map_err(cimd_page);
    }
    authz_core::client::get(&state.store.db, client_id)
        .await
        .map_err(PageError::from)?
        .ok_or_else(|| {
            PageError::bad_request(
                "Unknown application",
                format!("No application with client_id '{client_id}' is registered here."),
                "Go back to the application and connect again; it may need to register anew.",
            )
        })
}

/// The answer to a refused authorization request: a page until the redirect URI is validated
/// (RFC 9700 §4.11), then a 303 to the client with `state` and `iss` (RFC 9207).
fn start_error(
    iss: &str,
    client: &Client,
    st: Option<&str>,
    e: StartError,
) -> Result<HttpResponse, PageError> {
    match e {
        StartError::NoRedirectUri => Err(PageError::bad_request(
            "Invalid sign-in request",
            "The request has no redirect_uri and the application registered several.",
            "Go back to the application and try again.",
        )),
        StartError::UnregisteredRedirectUri(redirect_uri) => Err(PageError::bad_request(
            "Invalid redirect address",
            format!("The address '{redirect_uri}' is not registered for {}.", client.client_name),
            "This protects you from sending your sign-in to the wrong place. Tell the application's developer.",
        )),
        StartError::ToClient {
            redirect_uri,
            code,
            description,
        } => Ok(redirect_error(iss, &redirect_uri, st, code, description)),
        StartError::Core(e) => Err(e.into()),
    }
}

/// Authorization requests accepted per source address and minute (generous: many users of one
/// organisation may share an egress address).
pub const AUTHORIZE_PER_MINUTE: i64 = 600;

async fn authorize(
    state: &AppState,
    req: &HttpRequest,
    p: Params,
) -> Result<HttpResponse, PageError> {
    // Each authorization request stores a login transaction: bounded per source, on every node.
    if let Some(wait) =
        crate::limits::exceeded(state, req, "authorize", 60, AUTHORIZE_PER_MINUTE).await?
    {
        return Err(PageError::too_many(
            "Too many sign-in attempts",
            "This network has started too many sign-ins in the last minute.",
            "Wait a minute, then try again from your application.",
            wait,
        ));
    }
    let Some(client_id) = p.get("client_id") else {
        return Err(PageError::bad_request(
            "Invalid sign-in request",
            "The request has no client_id.",
            "Go back to the application and try again.",
        ));
    };
    let client = resolve_client(state, client_id, &crate::limits::key(req)).await?;
    let (binding, new_cookie) = browser::binding(state, req);
    // An existing Gatehouse session may skip the upstream round trip.
    let signed_in = browser::live_session(state, req)
        .await?
        .map(app::SignedInUser::from_verified_session);
    let request = start::Request {
        client: &client,
        redirect_uri: p.get("redirect_uri"),
        response_type: p.get("response_type"),
        state: p.get("state"),
        code_challenge: p.get("code_challenge"),
        code_challenge_method: p.get("code_challenge_method"),
        resource: p.get("resource"),
        scope: p.get("scope"),
        login_hint: p.get("login_hint"),
    };
    let (clock, policy) = (state.clock.as_ref(), &state.config.redirect_policy);
    let started = start::start(
        &state.store,
        clock,
        policy,
        &binding,
        signed_in.as_ref(),
        request,
    )
    .await;
    let iss = state.issuer();
    let location = match started {
        Ok(Started {
            tx,
            next: Next::Consent,
        }) => crate::transaction::consent_url(iss, &tx),
        Ok(Started {
            tx,
            next: Next::SignIn | Next::StepUp,
        }) => format!("{iss}/login?tx={tx}"),
        Err(e) => return start_error(iss, &client, p.get("state"), e),
    };
    let mut resp = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish();
    if let Some(c) = new_cookie {
        resp.add_cookie(&c).map_err(PageError::internal)?;
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::cimd_page;
    use crate::cimd::CimdError;
    use safe_fetch::FetchError;

    /// Security review F4: anyone can name any URL as a client_id, so no fetch failure may
    /// tell them what answered or where the name resolved.
    #[test]
    fn fetch_failures_are_one_generic_page() {
        for f in [
            FetchError::Blocked {
                host: "svc.internal".into(),
                addr: "10.1.2.3".into(),
            },
            FetchError::Redirect(302),
            FetchError::Status(418),
            FetchError::Resolve("svc.internal".into()),
            FetchError::TooLarge(262_144),
            FetchError::Timeout,
            FetchError::Transport("connection refused".into()),
            FetchError::NotHttps("http://svc.internal/x".into()),
            FetchError::BadUrl("https://svc.internal:99999/x".into()),
        ] {
            let p = cimd_page(CimdError::Fetch(f));
            assert_eq!(p.status, 400);
            assert_eq!(
                p.message,
                "The application's client metadata document could not be fetched."
            );
            for leak in [
                "10.1.2.3",
                "302",
                "418",
                "redirect",
                "non-public",
                "refused",
                "svc",
            ] {
                assert!(
                    !p.message.contains(leak) && !p.hint.contains(leak),
                    "{leak}"
                );
            }
        }
    }
}

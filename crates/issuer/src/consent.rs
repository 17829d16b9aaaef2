//! The consent step (`/consent`): the use case `app::authorize::finish` decides; this module
//! parses the form, checks its CSRF token against the browser binding and renders the outcome
//! (the consent page, or a 303 back to the client with `iss`, RFC 9207).
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use app::authorize::finish::{self, Decision, FinishError, Outcome, Prompt, Source};
use authz_core::client::ClientKind;
use minijinja::context;

use url::Url;

use crate::browser;
use crate::client_redirect::redirect_error;
use crate::pages::PageError;
use crate::params::{peer_ip, user_agent, Params};
use crate::state::AppState;
use crate::transaction::TxQuery;

fn expired() -> PageError {
    PageError::bad_request(
        "Sign-in cannot continue",
        "This consent request is missing, has expired, or belongs to another browser.",
        "Go back to the application and start signing in again.",
    )
}

fn source(req: &HttpRequest) -> Source {
    Source {
        ip: Some(peer_ip(req)),
        user_agent: user_agent(req),
    }
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<TxQuery>,
) -> Result<HttpResponse, PageError> {
    let binding = browser::existing_binding(&req);
    let outcome = finish::review(
        &state.store,
        state.clock.as_ref(),
        q.tx.as_deref(),
        binding.as_deref(),
        source(&req),
    )
    .await;
    render(&state, binding.as_deref(), outcome)
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = Params::parse(&body).map_err(|_| expired())?;
    let tx = p.get("tx");
    let decision = Decision {
        allow: p.get("decision") == Some("allow"),
        scopes: p.all("scope"),
        // The form's token is derived from the transaction handle it posts (`tx`).
        csrf_ok: tx.is_some_and(|tx| browser::csrf_ok(&req, tx, p.get("csrf"))),
    };
    let binding = browser::existing_binding(&req);
    let outcome = finish::decide(
        &state.store,
        state.clock.as_ref(),
        tx,
        binding.as_deref(),
        decision,
        source(&req),
    )
    .await;
    render(&state, binding.as_deref(), outcome)
}

/// The one place a consent outcome becomes a response.
fn render(
    state: &AppState,
    binding: Option<&str>,
    outcome: Result<Outcome, FinishError>,
) -> Result<HttpResponse, PageError> {
    match outcome {
        Ok(Outcome::Ask(prompt)) => Ok(prompt_page(state, binding, *prompt)),
        Ok(Outcome::Issued(i)) => {
            let mut u = Url::parse(&i.redirect_uri).map_err(PageError::internal)?;
            {
                let mut q = u.query_pairs_mut();
                q.append_pair("code", &i.code);
                if let Some(s) = &i.state {
                    q.append_pair("state", s);
                }
                q.append_pair("iss", state.issuer());
            }
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, u.to_string()))
                .finish())
        }
        Ok(Outcome::Denied(d)) => Ok(redirect_error(
            state.issuer(),
            &d.redirect_uri,
            d.state.as_deref(),
            "access_denied",
            d.description,
        )),
        Ok(Outcome::Forged) => Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Consent cannot be recorded",
            "The form could not be verified (it may have been sent from another site or an old tab).",
            "Go back to the application and start signing in again.",
        )),
        Err(FinishError::Expired) => Err(expired()),
        Err(FinishError::Core(e)) => Err(e.into()),
        Err(FinishError::Db(e)) => Err(authz_core::CoreError::from(e).into()),
    }
}

fn prompt_page(state: &AppState, binding: Option<&str>, p: Prompt) -> HttpResponse {
    let binding = binding.unwrap_or_default();
    let redirect_host = Url::parse(&p.redirect_uri)
        .map(|u| format!("{}://{}", u.scheme(), u.host_str().unwrap_or("")))
        .unwrap_or_default();
    let scopes: Vec<_> = p
        .offered
        .iter()
        .map(|s| {
            let checked = true; // the client asked for it; the user may untick it
            // What the scope enables, so the person knows what they allow (issue 13 §2).
            let tools: Vec<_> = p
                .tools_for(&s.name)
                .into_iter()
                .map(|t| context! { name => t.name, description => t.description })
                .collect();
            context! { name => s.name, description => s.description, tier => s.tier.as_str(), checked => checked, tools => tools }
        })
        .collect();
    state.templates.page(
        StatusCode::OK,
        "consent.html",
        context! {
            tx => p.tx,
            csrf => browser::csrf(binding, &p.tx),
            client_name => p.client.client_name,
            client_unverified => p.client.kind != ClientKind::Preregistered,
            user_email => p.user_email,
            org_name => p.org_name,
            connection_name => p.connection_name,
            email_unverified => !p.email_verified,
            client_host => crate::cimd::verified_host(&p.client),
            resource_name => p.resource.display_name,
            redirect_host => redirect_host,
            remembered => p.remembered,
            scopes => scopes,
        },
    )
}

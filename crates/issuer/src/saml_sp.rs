//! SAML service-provider endpoints per connection (DESIGN §6.6, §6.8):
//! `GET /federation/saml/{id}/metadata`, `POST .../acs` (HTTP-POST binding, cross-site, so it
//! carries no Lax cookie: it validates against server-side state only and answers 303 to a
//! same-site GET), and `GET .../complete?h=` (one-time handle + browser binding).
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use authz_core::connection::{self, Connection};
use authz_core::login::{self, LoginTx};
use authz_core::user::FederatedIdentity;
use authz_core::{saml_state, TenantId};
use saml::mapping;
use saml::{Expectations, IdpMetadata, SamlError};

use crate::browser;
use crate::pages::PageError;
use crate::params::Params;
use crate::state::AppState;

/// Largest ACS body: a base64 response of 1 MiB plus the form around it.
pub const ACS_BODY_LIMIT: usize = 1_500_000;
/// SAML responses accepted per source address and minute.
pub const ACS_PER_MINUTE: i64 = 120;

pub use saml::SamlSettings;

pub use saml::sp::{acs_url, entity_id as sp_entity_id};

fn settings(conn: &Connection) -> Result<(SamlSettings, IdpMetadata), PageError> {
    let s: SamlSettings =
        serde_json::from_value(conn.settings.clone()).map_err(PageError::internal)?;
    // Parsed (and its pinned certificates checked) on every use: a stored connection without a
    // signing certificate is refused here as it was at configuration time.
    let idp = IdpMetadata::parse(&s.idp_metadata).map_err(PageError::internal)?;
    Ok((s, idp))
}

async fn saml_connection(state: &AppState, id: &str) -> Result<Connection, PageError> {
    let c = connection::find_for_callback(&state.store.db, id)
        .await
        .map_err(|_| not_found())?;
    if c.kind != "saml" {
        return Err(not_found());
    }
    Ok(c)
}

fn not_found() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "Unknown sign-in connection",
        "This SAML connection does not exist.",
        "Check the URL configured in your identity provider.",
    )
}

pub async fn metadata(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let conn = saml_connection(&state, &path).await?;
    let (s, _) = settings(&conn)?;
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(saml::sp::metadata(
            &sp_entity_id(state.issuer(), &conn.id),
            &acs_url(state.issuer(), &conn.id),
            &s.sp_certificate,
        )))
}

/// Sends the browser to the IdP with an AuthnRequest whose ID is recorded for this login.
pub async fn redirect(
    state: &AppState,
    tx: &LoginTx,
    tenant: &TenantId,
    conn: &Connection,
) -> Result<HttpResponse, PageError> {
    let (_, idp) = settings(conn)?;
    let id = saml::request::new_request_id();
    saml_state::record_request(
        &state.store.db,
        state.clock.as_ref(),
        tenant,
        &conn.id,
        &tx.id_hash,
        &id,
    )
    .await?;
    let now = chrono::DateTime::from_timestamp_micros(state.clock.now_us()).unwrap_or_default();
    let url = saml::request::AuthnRequest {
        id: &id,
        sp_entity_id: &sp_entity_id(state.issuer(), &conn.id),
        acs_url: &acs_url(state.issuer(), &conn.id),
        idp_sso_url: &idp.sso_redirect_url,
        force_authn: tx.request.step_up,
        now,
    }
    .redirect_url(&tx.id_hash)
    .map_err(PageError::internal)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .finish())
}

fn refused(e: &SamlError) -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "Sign-in could not be verified",
        format!("Your identity provider's SAML response was refused ({}).", e.code()),
        "Try again from your application. If it keeps failing, tell your IT administrator the time and this code.",
    )
}

async fn audit_refusal(
    state: &AppState,
    req: &HttpRequest,
    tenant: &TenantId,
    conn: &str,
    e: &SamlError,
) -> Result<(), PageError> {
    tracing::warn!(code = "SAML0100", tenant = %tenant.0, connection = %conn, error = %e, "SAML response refused");
    crate::upstream::record_failure(state, req, tenant, conn, "saml", "reason", &e.to_string())
        .await
}

/// The assertion consumer service (SAML bindings §3.5, HTTP-POST).
pub async fn acs(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let conn = saml_connection(&state, &path).await?;
    let tenant = conn.tenant.clone();
    let bad = |m: &str| {
        PageError::bad_request(
            "Sign-in cannot continue",
            m.to_string(),
            "Go back to the application and start signing in again.",
        )
    };
    // Cheap refusal first; a pending connection is checked again once the transaction is known.
    if !conn.enabled
        && connection::setup_invitation(&state.store.db, &tenant, &conn.id)
            .await?
            .is_none()
    {
        return Err(bad(
            "This sign-in method has been disabled by your organisation.",
        ));
    }
    // Parsing signed XML is costly (and samael keeps some memory of refused inputs, see
    // docs/fuzzing.md): posts are bounded per source address, on every node together.
    if let Some(wait) =
        crate::limits::exceeded(&state, &req, "saml-acs", 60, ACS_PER_MINUTE).await?
    {
        return Err(PageError::too_many(
            "Too many sign-in attempts",
            "This network has sent too many sign-in responses in the last minute.",
            "Wait a minute, then start signing in again from your application.",
            wait,
        ));
    }
    let p = Params::parse_limited(&body, ACS_BODY_LIMIT)
        .map_err(|_| bad("The identity provider's answer is malformed."))?;
    let Some(encoded) = p.get("SAMLResponse") else {
        return Err(bad("The identity provider's answer has no SAMLResponse."));
    };
    // RelayState names the login transaction; IdP-initiated responses (none) are refused
    // until a connection enables them (they would start a session only, never issue a code).
    let (s, idp) = settings(&conn)?;
    let clock = state.clock.as_ref();
    // RelayState names a live login transaction, or the response is unsolicited (IdPs often
    // send a default RelayState with IdP-initiated SSO; it is never used as a URL).
    let tx = match p.get("RelayState") {
        Some(r) => login::load_unbound(&state.store.db, clock, r).await.ok(),
        None => None,
    };
    if !crate::upstream::connection_usable(&state, &conn, tx.as_ref()).await? {
        return Err(bad(
            "This sign-in method has been disabled by your organisation.",
        ));
    }
    let unsolicited = tx.is_none();
    if unsolicited && !s.allow_idp_initiated {
        let e = SamlError::Unsolicited;
        audit_refusal(&state, &req, &tenant, &conn.id, &e).await?;
        return Err(refused(&e));
    }
    let request_ids = match &tx {
        Some(t) => {
            saml_state::pending_requests(&state.store.db, clock, &conn.id, &t.id_hash).await?
        }
        None => vec![],
    };
    let xml = saml::validate::decode_post(encoded);
    let (sp, acs, now) = (
        sp_entity_id(state.issuer(), &conn.id),
        acs_url(state.issuer(), &conn.id),
        chrono::DateTime::from_timestamp_micros(clock.now_us()).unwrap_or_default(),
    );
    let skew = chrono::Duration::seconds(s.skew_secs);
    // XML parsing and signature checks are CPU work: off the async executor.
    let result = web::block(move || {
        let xml = xml?;
        let ex = Expectations {
            sp_entity_id: &sp,
            acs_url: &acs,
            idp: &idp,
            request_ids: &request_ids,
            allow_idp_initiated: unsolicited,
            skew,
            now,
        };
        // Defence in depth: whatever a parser below does with hostile input, the answer is a
        // refusal, never a 500 (fuzzing found overflow panics, now refused by the precheck).
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            saml::validate::validate(&xml, &ex)
        }))
        .unwrap_or_else(|_| {
            Err(SamlError::Malformed(
                "the response could not be processed".into(),
            ))
        })
    })
    .await
    .map_err(PageError::internal)?;
    let assertion = match result {
        Ok(a) => a,
        Err(e) => {
            audit_refusal(&state, &req, &tenant, &conn.id, &e).await?;
            return Err(refused(&e));
        }
    };
    // Step-up: the IdP must have authenticated the user within the window (ForceAuthn was sent).
    // (A console sign-in asked for ForceAuthn too, but without a fresh AuthnInstant it is only
    // read-only: the console checks freshness at each write.)
    let step_up = tx
        .as_ref()
        .map(|t| t.request.step_up && t.request.purpose != login::Purpose::Admin)
        .unwrap_or(false);
    if step_up {
        let window = chrono::Duration::seconds(authz_core::token::refresh::STEP_UP_WINDOW_SECS);
        if !saml::validate::authn_is_fresh(&assertion, now, window, skew) {
            let e = SamlError::NotYetValid("AuthnInstant is not within the step-up window".into());
            audit_refusal(&state, &req, &tenant, &conn.id, &e).await?;
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "A fresh sign-in is required",
                "This permission needs you to have signed in within the last 15 minutes, but the identity provider did not re-authenticate you.",
                "Ask your administrator to make the identity provider honour ForceAuthn.",
            ));
        }
    }
    let mapped = match mapping::map(&s.mapping, &assertion) {
        Ok(m) => m,
        Err(e) => {
            audit_refusal(&state, &req, &tenant, &conn.id, &e).await?;
            return Err(refused(&e));
        }
    };
    let identity = FederatedIdentity {
        connection_id: conn.id.clone(),
        subject: mapped.subject,
        email: mapped.email,
        name: mapped.name,
        auth_time: assertion.authn_instant.map(|t| t.timestamp()),
        acr: None,
        amr: vec![],
        groups: mapped.groups,
        groups_overage: false,
    };
    // Single use of the request and of the assertion, on every node, in one transaction.
    let txn = state.store.begin().await.map_err(PageError::internal)?;
    let fresh_request = match &assertion.in_response_to {
        Some(id) => saml_state::consume_request(&txn, clock, id).await?,
        None => unsolicited,
    };
    let fresh_assertion = saml_state::remember_assertion(
        &txn,
        clock,
        &conn.id,
        &assertion.assertion_id,
        assertion.replay_until.timestamp_micros(),
    )
    .await?;
    if !fresh_request || !fresh_assertion {
        drop(txn);
        let e = SamlError::InResponseTo;
        audit_refusal(&state, &req, &tenant, &conn.id, &e).await?;
        return Err(refused(&e));
    }
    let handle = saml_state::create_handle(
        &txn,
        clock,
        &tenant,
        &conn.id,
        // Empty for IdP-initiated SSO: the completion then starts a session only.
        tx.as_ref().map(|t| t.id_hash.as_str()).unwrap_or(""),
        &serde_json::to_string(&identity).map_err(PageError::internal)?,
    )
    .await?;
    txn.commit().await.map_err(PageError::internal)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!(
                "{}/federation/saml/{}/complete?h={handle}",
                state.issuer(),
                conn.id
            ),
        ))
        .finish())
}

#[derive(serde::Deserialize)]
pub struct HandleQuery {
    h: Option<String>,
}

/// Same-site continuation of the ACS: the browser that started the sign-in presents its
/// binding cookie here, with the one-time handle.
pub async fn complete(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<HandleQuery>,
) -> Result<HttpResponse, PageError> {
    let restart = || {
        PageError::bad_request(
            "Sign-in cannot continue",
            "This sign-in step is unknown, expired, or was already used.",
            "Go back to the application and start signing in again.",
        )
    };
    let conn = saml_connection(&state, &path).await?;
    let h = q.h.as_deref().ok_or_else(restart)?;
    let clock = state.clock.as_ref();
    let peeked = saml_state::peek_handle(&state.store.db, clock, h)
        .await?
        .ok_or_else(restart)?;
    if peeked.connection_id != conn.id {
        return Err(restart());
    }
    if peeked.login_tx.is_empty() {
        // IdP-initiated: nothing binds this response to this browser, so the person confirms
        // whose account they are entering (otherwise any page could sign a victim's browser
        // into the attacker's account: login CSRF).
        return confirm_page(&state, &req, &conn, h, &peeked).await;
    }
    let handle = saml_state::take_handle(&state.store.db, clock, h)
        .await?
        .ok_or_else(restart)?;
    let identity: FederatedIdentity =
        serde_json::from_str(&handle.identity_json).map_err(PageError::internal)?;
    let binding = browser::existing_binding(&req);
    let tx = login::load(&state.store.db, clock, &handle.login_tx, binding.as_deref())
        .await
        .map_err(|_| {
            PageError::bad_request(
                "Sign-in cannot continue",
                "This sign-in was started in another browser.",
                "Go back to the application in this browser and start signing in again.",
            )
        })?;
    crate::upstream::complete_sign_in(&state, &req, Some(&tx), &handle.tenant, &conn, identity)
        .await
}

fn confirm_csrf(binding: &str, handle: &str) -> String {
    authz_core::crypto::sha256_hex(&format!("idp-initiated|{binding}|{handle}"))
}

async fn confirm_page(
    state: &AppState,
    req: &HttpRequest,
    conn: &Connection,
    h: &str,
    handle: &saml_state::Handle,
) -> Result<HttpResponse, PageError> {
    let identity: FederatedIdentity =
        serde_json::from_str(&handle.identity_json).map_err(PageError::internal)?;
    let (binding, new_cookie) = browser::binding(state, req);
    let who = identity
        .email
        .clone()
        .or(identity.name.clone())
        .unwrap_or(identity.subject.clone());
    let mut resp = state.templates.page(
        StatusCode::OK,
        "confirm.html",
        minijinja::context! {
            title => "Continue signing in?",
            message => format!("Your identity provider signed you in as {who} ({}).", conn.name),
            hint => "Continue only if you started this sign-in yourself from your organisation's app portal.",
            action => format!("/federation/saml/{}/complete", conn.id),
            h => h,
            csrf => confirm_csrf(&binding, h),
        },
    );
    if let Some(c) = new_cookie {
        resp.add_cookie(&c).map_err(PageError::internal)?;
    }
    Ok(resp)
}

/// The confirmation of an IdP-initiated sign-in: a same-site POST carrying a token derived from
/// this browser's binding cookie.
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let restart = || {
        PageError::bad_request(
            "Sign-in cannot continue",
            "This sign-in step is unknown, expired, or was already used.",
            "Start signing in again from your organisation's app portal.",
        )
    };
    let conn = saml_connection(&state, &path).await?;
    let p = Params::parse(&body).map_err(|_| restart())?;
    let h = p.get("h").ok_or_else(restart)?;
    let ok = match (browser::existing_binding(&req), p.get("csrf")) {
        (Some(b), Some(c)) => authz_core::crypto::hashes_equal(&confirm_csrf(&b, h), c),
        _ => false,
    };
    if !ok {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Sign-in cannot continue",
            "The confirmation could not be verified (it may have been sent from another site).",
            "Start signing in again from your organisation's app portal.",
        ));
    }
    let handle = saml_state::take_handle(&state.store.db, state.clock.as_ref(), h)
        .await?
        .ok_or_else(restart)?;
    if handle.connection_id != conn.id || !handle.login_tx.is_empty() {
        return Err(restart());
    }
    let identity: FederatedIdentity =
        serde_json::from_str(&handle.identity_json).map_err(PageError::internal)?;
    // A session only, landing on /account; never an authorization code.
    crate::upstream::complete_sign_in(&state, &req, None, &handle.tenant, &conn, identity).await
}

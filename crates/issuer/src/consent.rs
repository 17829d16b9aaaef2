//! The consent step. Offers the requested scopes the organisation granted, with description and
//! tier; the user may untick any. Remembered consent is applied silently only where the client's
//! identity is assured (DESIGN §4); otherwise the page comes back pre-filled as a one-click
//! confirmation.
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use authz_core::audit::{self, AuditEvent};
use authz_core::client::{Client, ClientKind};
use authz_core::login::{self, LoginTx};
use authz_core::resource::{self, Resource, Scope};
use authz_core::session::{self, Session};
use authz_core::token::{code, max_tier};
use authz_core::{consent, grant, user};
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

struct Ctx {
    tx: LoginTx,
    session: Session,
    client: Client,
    resource: Resource,
    offered: Vec<Scope>,
}

async fn load(
    state: &AppState,
    req: &HttpRequest,
    tx: Option<&str>,
) -> Result<Result<Ctx, HttpResponse>, PageError> {
    let tx = tx.ok_or_else(expired)?;
    let binding = browser::existing_binding(req);
    let clock = state.clock.as_ref();
    let tx = login::load(&state.store.db, clock, tx, binding.as_deref())
        .await
        .map_err(|_| expired())?;
    let sid = tx.session_hash.clone().ok_or_else(expired)?;
    let session = session::find_by_id(&state.store.db, clock, &sid)
        .await?
        .ok_or_else(expired)?;
    let client = authz_core::client::get(&state.store.db, &tx.request.client_id)
        .await?
        .ok_or_else(expired)?;
    // A suspended tenant, or a client it does not allow (issue "console" §3): access denied.
    if authz_core::incident::is_suspended(&state.store.db, &session.tenant).await?
        || !authz_core::admin::client_policy::permits(
            &state.store.db,
            &session.tenant,
            &client.client_id,
        )
        .await?
    {
        return Ok(Err(redirect_error(
            state.issuer(),
            &tx.request.redirect_uri,
            tx.request.state.as_deref(),
            "access_denied",
            "your organisation does not allow this application",
        )));
    }
    let res = resource::get(&state.store.db, &tx.request.resource_id).await?;
    let catalogue = resource::catalogue(&state.store.db, &res.id).await?;
    let granted =
        grant::granted_to_user(&state.store.db, &session.tenant, &res.id, &session.user_id).await?;
    let offered: Vec<Scope> = tx
        .request
        .scopes
        .iter()
        .filter(|s| granted.contains(s))
        .filter_map(|s| catalogue.iter().find(|c| &c.name == s).cloned())
        // Critical scopes only while the IdP authentication is fresh (step-up, DESIGN §5).
        .filter(|s| {
            s.tier != authz_core::scope::Tier::Critical
                || session::is_fresh(&session, clock.now_us())
        })
        .collect();
    if offered.is_empty() {
        return Ok(Err(redirect_error(
            state.issuer(),
            &tx.request.redirect_uri,
            tx.request.state.as_deref(),
            "access_denied",
            "your organisation has not granted any of the requested permissions for this resource",
        )));
    }
    Ok(Ok(Ctx {
        tx,
        session,
        client,
        resource: res,
        offered,
    }))
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<TxQuery>,
) -> Result<HttpResponse, PageError> {
    let ctx = match load(&state, &req, q.tx.as_deref()).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    let clock = state.clock.as_ref();
    let remembered = consent::get(
        &state.store.db,
        clock,
        &ctx.session.tenant,
        &ctx.session.user_id,
        &ctx.client.client_id,
        &ctx.resource.id,
    )
    .await?;
    let covered = remembered
        .as_ref()
        .map(|c| ctx.offered.iter().all(|s| c.scopes.contains(&s.name)))
        .unwrap_or(false);
    let u = user::get(&state.store.db, &ctx.session.tenant, &ctx.session.user_id).await?;
    let org = authz_core::tenant::get(&state.store.db, &ctx.session.tenant).await?;
    let email_verified = email_in_verified_domain(&state, &ctx.session, u.email.as_deref()).await?;
    // Silent only where the client's identity is assured, the session was started by the person
    // on our pages (not an unsolicited IdP response), and the account's email belongs to the
    // organisation: otherwise the person sees whose account and organisation this is (F1).
    if covered && ctx.client.identity_assured() && !ctx.session.idp_initiated && email_verified {
        let names: Vec<String> = ctx.offered.iter().map(|s| s.name.clone()).collect();
        return issue_code(&state, &req, &ctx, &names, true).await;
    }
    let connection_name = authz_core::connection::get(
        &state.store.db,
        &ctx.session.tenant,
        &ctx.session.connection_id,
    )
    .await
    .map(|c| c.name)
    .unwrap_or_default();
    let binding = browser::existing_binding(&req).unwrap_or_default();
    let redirect_host = Url::parse(&ctx.tx.request.redirect_uri)
        .map(|u| format!("{}://{}", u.scheme(), u.host_str().unwrap_or("")))
        .unwrap_or_default();
    let scopes: Vec<_> = ctx
        .offered
        .iter()
        .map(|s| {
            let checked = true; // the client asked for it; the user may untick it
            context! { name => s.name, description => s.description, tier => s.tier.as_str(), checked => checked }
        })
        .collect();
    Ok(state.templates.page(
        StatusCode::OK,
        "consent.html",
        context! {
            tx => ctx.tx.id_hash,
            csrf => browser::csrf(&binding, &ctx.tx.id_hash),
            client_name => ctx.client.client_name,
            client_unverified => ctx.client.kind != ClientKind::Preregistered,
            user_email => u.email.unwrap_or(u.subject),
            org_name => org.name,
            connection_name => connection_name,
            email_unverified => !email_verified,
            client_host => crate::cimd::verified_host(&ctx.client),
            resource_name => ctx.resource.display_name,
            redirect_host => redirect_host,
            remembered => covered,
            scopes => scopes,
        },
    ))
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = Params::parse(&body).map_err(|_| expired())?;
    let ctx = match load(&state, &req, p.get("tx")).await? {
        Ok(c) => c,
        Err(redirect) => return Ok(redirect),
    };
    if !browser::csrf_ok(&req, &ctx.tx.id_hash, p.get("csrf")) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Consent cannot be recorded",
            "The form could not be verified (it may have been sent from another site or an old tab).",
            "Go back to the application and start signing in again.",
        ));
    }
    let chosen: Vec<String> = p
        .all("scope")
        .into_iter()
        .filter(|s| ctx.offered.iter().any(|o| &o.name == s))
        .collect();
    let issuer = state.issuer();
    if p.get("decision") != Some("allow") || chosen.is_empty() {
        let txn = state.store.begin().await.map_err(PageError::internal)?;
        login::consume(&txn, state.clock.as_ref(), &ctx.tx).await?;
        audit::record(
            &txn,
            state.clock.as_ref(),
            AuditEvent::new(Some(&ctx.session.tenant), "consent.denied")
                .result("denied")
                .user(ctx.session.user_id.clone())
                .client(ctx.client.client_id.clone())
                .session(ctx.session.id.clone())
                .resource(ctx.resource.uri.clone()),
        )
        .await?;
        txn.commit().await.map_err(PageError::internal)?;
        return Ok(redirect_error(
            issuer,
            &ctx.tx.request.redirect_uri,
            ctx.tx.request.state.as_deref(),
            "access_denied",
            "the user denied the request",
        ));
    }
    issue_code(&state, &req, &ctx, &chosen, false).await
}

/// Records consent, issues the code and sends the browser back to the client (303, with `iss`).
async fn issue_code(
    state: &AppState,
    req: &HttpRequest,
    ctx: &Ctx,
    scopes: &[String],
    silent: bool,
) -> Result<HttpResponse, PageError> {
    let clock = state.clock.as_ref();
    let tier = max_tier(&ctx.offered, scopes);
    let txn = state.store.begin().await.map_err(PageError::internal)?;
    login::consume(&txn, clock, &ctx.tx)
        .await
        .map_err(|_| expired())?;
    consent::remember(
        &txn,
        clock,
        &ctx.session.tenant,
        &ctx.session.user_id,
        &ctx.client.client_id,
        &ctx.resource.id,
        scopes,
        tier,
    )
    .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(&ctx.session.tenant), "consent.granted")
            .user(ctx.session.user_id.clone())
            .client(ctx.client.client_id.clone())
            .session(ctx.session.id.clone())
            .resource(ctx.resource.uri.clone())
            .scope(scopes.join(" "))
            .source(Some(peer_ip(req)), user_agent(req))
            .detail("remembered", silent),
    )
    .await?;
    let code = code::create(&txn, clock, &ctx.session, &ctx.tx.request, scopes).await?;
    txn.commit().await.map_err(PageError::internal)?;
    let mut u = Url::parse(&ctx.tx.request.redirect_uri).map_err(PageError::internal)?;
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(s) = &ctx.tx.request.state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", state.issuer());
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, u.to_string()))
        .finish())
}

/// Is the account's email on one of the organisation's verified domains? An IdP can assert any
/// email; one outside the organisation's domains is flagged to the person (review F1 (d)).
async fn email_in_verified_domain(
    state: &AppState,
    session: &Session,
    email: Option<&str>,
) -> Result<bool, PageError> {
    let Some(domain) = email
        .and_then(|e| e.rsplit_once('@'))
        .map(|(_, d)| d.to_ascii_lowercase())
    else {
        return Ok(false);
    };
    let domains = authz_core::tenant::domains(&state.store.db, &session.tenant).await?;
    Ok(domains.iter().any(|d| d.eq_ignore_ascii_case(&domain)))
}

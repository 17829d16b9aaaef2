//! Public console pages: the console's front door (`/admin`: find your organisation by work
//! email) and invitation links (`/admin/invitations/{token}`). A GET of a link only shows it —
//! mail scanners follow links — and its "Accept" button POSTs, which consumes the link and opens
//! the setup-only session (cookie `gh_setup`, at most 24 hours).
use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use app::admin::accept::AcceptError;
use authz_core::admin::invitation::{self, LinkState, SETUP_SECS};
use authz_core::tenant;
use minijinja::context;

use super::form::Form;
use super::{when, ConsoleError, ConsoleResult, ConsoleState};

pub async fn start_page(st: web::Data<ConsoleState>) -> ConsoleResult {
    Ok(st
        .templates
        .page(StatusCode::OK, "console/start.html", context! {}))
}

/// Home-realm discovery for admins: the verified domain of the email names the organisation.
pub async fn start_submit(st: web::Data<ConsoleState>, body: web::Bytes) -> ConsoleResult {
    let form = Form::parse(&body)?;
    let email = form.get("email").unwrap_or_default().to_string();
    let found = if email.contains('@') {
        tenant::find_by_email_domain(&st.store.db, &email).await?
    } else {
        None
    };
    match found {
        Some(t) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/admin/t/{}/login", t.slug)))
            .finish()),
        None => Ok(st.templates.page(
            StatusCode::BAD_REQUEST,
            "console/start.html",
            context! {
                email => email,
                error => "No organisation signs in with that address. Check it, or use the link from your invitation.",
            },
        )),
    }
}

fn link_page(st: &ConsoleState, status: StatusCode, ctx: minijinja::Value) -> HttpResponse {
    st.templates.page(status, "console/invitation.html", ctx)
}

pub async fn show(st: web::Data<ConsoleState>, path: web::Path<String>) -> ConsoleResult {
    let token = path.into_inner();
    let Some(inv) = invitation::peek(&st.store.db, &token).await? else {
        return Ok(link_page(
            &st,
            StatusCode::NOT_FOUND,
            context! { state => "unknown" },
        ));
    };
    let t = tenant::get(&st.store.db, &inv.tenant).await?;
    let state = inv.link_state(st.clock.now_us());
    let status = match state {
        LinkState::Pending => StatusCode::OK,
        _ => StatusCode::GONE,
    };
    Ok(link_page(
        &st,
        status,
        context! {
            state => format!("{state:?}").to_lowercase(),
            tenant_name => t.name,
            email => inv.email,
            expires => when(inv.expires_at),
            token => token,
        },
    ))
}

pub async fn accept(
    st: web::Data<ConsoleState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ConsoleResult {
    let token = path.into_inner();
    if cross_site(&st, &req) {
        return Err(ConsoleError::page(
            StatusCode::FORBIDDEN,
            "Nothing was accepted",
            "The acceptance did not come from this invitation's page.",
            "Open the link from the email and press Accept there.",
        ));
    }
    let accepted = match app::admin::accept::accept(&st.store, st.clock.as_ref(), &token).await {
        Ok(a) => a,
        // Re-render the link page: it says why (expired, used, withdrawn, unknown).
        Err(AcceptError::Unusable) => return show(st, web::Path::from(token)).await,
        Err(AcceptError::Core(e)) => return Err(e.into()),
    };
    setup_session_started(&st, &accepted.tenant_slug, accepted.setup_secret)
}

/// The token in the URL is the credential and the POST consumes it. A POST from another site is
/// refused (Fetch Metadata, and Origin when it names one), so no page can make a visitor's
/// browser accept a link and plant a setup session of someone else's organisation. (The page
/// itself sends `Origin: null`: every response carries `Referrer-Policy: no-referrer`.)
fn cross_site(st: &ConsoleState, req: &HttpRequest) -> bool {
    let site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    let origin = req
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    matches!(site, Some(s) if s != "same-origin" && s != "none")
        || matches!(origin, Some(o) if o != "null" && o != st.issuer)
}

/// To the tenant's console, with the setup-only session's cookie (at most 24 hours).
fn setup_session_started(st: &ConsoleState, slug: &str, secret: String) -> ConsoleResult {
    let mut resp = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/admin/t/{slug}/")))
        .finish();
    let cookie = Cookie::build(st.setup_cookie(), secret)
        .path("/")
        .http_only(true)
        .secure(st.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(SETUP_SECS))
        .finish();
    resp.add_cookie(&cookie)
        .map_err(|e| ConsoleError::from(authz_core::CoreError::Config(e.to_string())))?;
    Ok(resp)
}

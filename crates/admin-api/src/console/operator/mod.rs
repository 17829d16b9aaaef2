//! The operator area of the console, `/admin/operator/…` (ADR 0021): tenants, resources,
//! clients and operator keys, for the platform operator. A tenant admin never reaches it: it is signed in by
//! pasting an operator key into a form (POST only, checked as the admin API checks keys), which
//! opens a server-side session ([`authz_core::operator_session`]: 30 minutes, in the database,
//! ended by signing out or by revoking the key). Every form carries a CSRF token derived from
//! the session, like the tenant console's. Handlers are thin: they call the same use cases as
//! the CLI and the admin API (`app::tenant`, `app::resource::manage`, `app::client`).
//!
//! Its routes are declared once in [`operator_routes!`], which registers them and lists them in
//! [`OPERATOR_ROUTES`] with the operations they offer (the surface-parity test counts them; the
//! authorization tests walk them).
use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use authz_core::crypto::{hashes_equal, sha256_hex};

use super::form::Form;
use super::{Access, ConsoleError, ConsoleResult, ConsoleState, Route};

pub mod pages;

/// The cookie of an operator-area session (`__Host-` on https).
pub const COOKIE_BASE: &str = "gh_operator";
/// Where the operator area lives.
pub const BASE: &str = "/admin/operator";

fn cookie_name(st: &ConsoleState) -> String {
    authz_core::session::cookie_name(COOKIE_BASE, st.secure_cookies())
}

/// A signed-in operator: only exists after the session (and its key) was found live.
pub struct Operator {
    pub st: web::Data<ConsoleState>,
    pub key_id: String,
    pub csrf: String,
}

impl Operator {
    /// The application layer's principal, audited as the key (like the admin API).
    pub fn principal(&self) -> app::Operator {
        app::Operator::by_key(&self.key_id)
    }

    /// A page of the operator area, with the session's CSRF token for its forms.
    pub fn render(&self, page: &str, ctx: minijinja::Value) -> HttpResponse {
        self.st.templates.page(
            StatusCode::OK,
            "console/operator.html",
            minijinja::context! { page => page, csrf => self.csrf, key_id => self.key_id, ..ctx },
        )
    }

    /// The confirmation page of a removal: what it revokes, a form that posts `confirm=yes`.
    pub fn confirm(
        &self,
        what: &str,
        name: &str,
        impact: &app::removal::Impact,
        action: &str,
        back: &str,
    ) -> HttpResponse {
        self.render(
            "confirm",
            minijinja::context! {
                what => what, name => name, impact => impact.lines(),
                action => format!("{BASE}{action}"), back => format!("{BASE}{back}"),
            },
        )
    }
}

fn csrf_of(cookie: &str) -> String {
    sha256_hex(&format!("console|operator|{cookie}"))
}

async fn authenticate(req: &HttpRequest) -> Result<Operator, ConsoleError> {
    let st = req
        .app_data::<web::Data<ConsoleState>>()
        .cloned()
        .ok_or_else(|| {
            ConsoleError::from(authz_core::CoreError::Config(
                "console state missing".into(),
            ))
        })?;
    let signed_out = || ConsoleError::Redirect(BASE.to_string());
    let cookie = req.cookie(&cookie_name(&st)).ok_or_else(signed_out)?;
    let key_id =
        authz_core::operator_session::find(&st.store.db, st.clock.as_ref(), cookie.value())
            .await?
            .ok_or_else(signed_out)?;
    authz_core::trace::caller(None, &format!("operator-key:{key_id}"));
    Ok(Operator {
        csrf: csrf_of(cookie.value()),
        key_id,
        st,
    })
}

impl FromRequest for Operator {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ConsoleError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

/// A POST of a signed-in operator whose form carries the session's CSRF token.
pub struct OperatorWrite(pub Operator, pub Form);

impl FromRequest for OperatorWrite {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ConsoleError>>>>;
    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let op = authenticate(&req).await?;
            let form = Form::read(&mut payload).await?;
            if !form.get("csrf").is_some_and(|p| hashes_equal(p, &op.csrf)) {
                return Err(ConsoleError::page(
                    StatusCode::FORBIDDEN,
                    "Nothing was changed",
                    "The form could not be verified (it may be from an old tab or another site).",
                    "Reload the page and try again.",
                ));
            }
            Ok(OperatorWrite(op, form))
        })
    }
}

/// 303 to a page of the operator area.
pub fn see_other(path: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{BASE}{path}")))
        .finish()
}

/// The sign-in form (public): paste an operator key.
pub async fn sign_in_page(st: web::Data<ConsoleState>) -> HttpResponse {
    sign_in_form(&st, StatusCode::OK, None)
}

fn sign_in_form(st: &ConsoleState, status: StatusCode, error: Option<&str>) -> HttpResponse {
    st.templates.page(
        status,
        "console/operator.html",
        minijinja::context! { page => "sign_in", error => error },
    )
}

/// Opens a session for a pasted operator key (the body, never the URL), then the tenants.
pub async fn sign_in(st: web::Data<ConsoleState>, body: web::Bytes) -> ConsoleResult {
    let form = Form::parse(&body)?;
    let key = form.get("key").unwrap_or_default();
    let opened = authz_core::operator_session::open(&st.store, st.clock.as_ref(), key).await;
    let (cookie, _) = match opened {
        Ok(v) => v,
        Err(authz_core::CoreError::Denied(m)) => {
            return Ok(sign_in_form(&st, StatusCode::UNAUTHORIZED, Some(&m)))
        }
        Err(e) => return Err(e.into()),
    };
    let mut resp = see_other("/tenants");
    let c = Cookie::build(cookie_name(&st), cookie)
        .path("/")
        .http_only(true)
        .secure(st.secure_cookies())
        .same_site(SameSite::Strict)
        .max_age(Duration::seconds(
            authz_core::operator_session::LIFETIME_SECS,
        ))
        .finish();
    resp.add_cookie(&c)
        .map_err(|e| ConsoleError::from(authz_core::CoreError::Config(e.to_string())))?;
    Ok(resp)
}

/// Ends the session on the server (every node), then clears the cookie.
pub async fn sign_out(OperatorWrite(op, _): OperatorWrite, req: HttpRequest) -> ConsoleResult {
    let name = cookie_name(&op.st);
    if let Some(c) = req.cookie(&name) {
        authz_core::operator_session::end(&op.st.store, op.st.clock.as_ref(), c.value()).await?;
    }
    let mut resp = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, BASE))
        .finish();
    let gone = Cookie::build(name, "")
        .path("/")
        .http_only(true)
        .secure(op.st.secure_cookies())
        .same_site(SameSite::Strict)
        .max_age(Duration::ZERO)
        .finish();
    resp.add_cookie(&gone)
        .map_err(|e| ConsoleError::from(authz_core::CoreError::Config(e.to_string())))?;
    Ok(resp)
}

macro_rules! operator_routes {
    ($($method:ident $path:literal $([$($op:literal),+])? => $handler:path;)*) => {
        /// Every route of the operator area below [`BASE`] (the authorization tests walk it).
        pub const OPERATOR_ROUTES: &[Route] = &[$(Route { method: stringify!($method), path: $path, access: Access::Operator, ops: &[$($($op),+)?] }),*];

        /// Registers the operator area. The caller provides `web::Data<ConsoleState>`.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            cfg.route(BASE, web::get().to(sign_in_page))
                .route(concat!("/admin/operator", "/sign-in"), web::post().to(sign_in))
                $(.route(concat!("/admin/operator", $path), web::method(Method::$method).to($handler)))*;
        }
    };
}

operator_routes! {
    POST "/sign-out" => sign_out;
    GET "/tenants" ["tenant.list"] => pages::tenants;
    GET "/tenants/{tenant}" ["tenant.show"] => pages::tenant;
    POST "/tenants/{tenant}" ["tenant.update"] => pages::update_tenant;
    GET "/tenants/{tenant}/remove" => pages::confirm_tenant;
    POST "/tenants/{tenant}/remove" ["tenant.remove"] => pages::remove_tenant;
    GET "/resources" ["resource.list"] => pages::resources;
    GET "/resources/{resource_id}" ["resource.show"] => pages::resource;
    POST "/resources/{resource_id}" ["resource.update"] => pages::rename_resource;
    GET "/resources/{resource_id}/remove" => pages::confirm_resource;
    POST "/resources/{resource_id}/remove" ["resource.remove"] => pages::remove_resource;
    GET "/clients" ["client.list"] => pages::clients;
    GET "/clients/{client_id}" ["client.show"] => pages::client;
    POST "/clients/{client_id}" ["client.update"] => pages::rename_client;
    GET "/clients/{client_id}/remove" => pages::confirm_client;
    POST "/clients/{client_id}/remove" ["client.remove"] => pages::remove_client;
    GET "/operator-keys" ["operator-key.list"] => pages::keys;
    GET "/operator-keys/{key_id}" ["operator-key.show"] => pages::key;
    POST "/operator-keys/{key_id}" ["operator-key.update"] => pages::rename_key;
    GET "/operator-keys/{key_id}/remove" => pages::confirm_key;
    POST "/operator-keys/{key_id}/remove" ["operator-key.remove"] => pages::remove_key;
}

//! Who calls the admin API (STYLE §3): an [`Operator`] or a [`TenantAdmin`] of the tenant named
//! in the path (or the admin console's session), each an extractor that only exists after the
//! check — a handler that takes one cannot forget it.
use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use authz_core::api_key::{self, Scope};
use authz_core::{ratelimit, tenant, TenantId};

use crate::error::Problem;
use crate::AdminState;

fn bearer(req: &HttpRequest) -> Option<String> {
    let h = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

async fn key(req: &HttpRequest) -> Result<(web::Data<AdminState>, api_key::ApiKey), Problem> {
    let st = req
        .app_data::<web::Data<AdminState>>()
        .cloned()
        .ok_or_else(|| {
            Problem::from(authz_core::CoreError::Config("admin state missing".into()))
        })?;
    let presented = bearer(req).ok_or_else(Problem::unauthenticated)?;
    let k = api_key::authenticate(&st.store.db, st.clock.as_ref(), &presented)
        .await?
        .ok_or_else(Problem::unauthenticated)?;
    within_rate(&st, &format!("admin-api:key:{}", k.id)).await?;
    Ok((st, k))
}

/// Counts one request of an authenticated caller (`bucket` names the key or console session by
/// its id, never its secret) and refuses it with 429 and `Retry-After` once the minute's
/// [`AdminState::rate_per_key_per_minute`] is used. The count is in the shared database, so the
/// limit holds across nodes; the admin API is not a hot path, and one more small write beside
/// the key lookup costs little (ADR 0008).
async fn within_rate(st: &AdminState, bucket: &str) -> Result<(), Problem> {
    let clock = st.clock.as_ref();
    let n = ratelimit::hit(&st.store.db, clock, bucket, 60).await?;
    if n > st.rate_per_key_per_minute {
        return Err(Problem::too_many(
            "too many admin API requests with this credential; retry later",
            ratelimit::retry_after(clock, 60),
        ));
    }
    Ok(())
}

/// The platform operator.
#[derive(Debug, Clone)]
pub struct Operator {
    pub key_id: String,
}

impl Operator {
    pub fn actor(&self) -> String {
        format!("operator-key:{}", self.key_id)
    }

    /// The application layer's principal: this extractor checked the key's operator scope.
    pub fn principal(&self) -> app::Operator {
        app::Operator::by_key(&self.key_id)
    }
}

impl FromRequest for Operator {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;
    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (_, k) = key(&req).await?;
            match k.scope {
                Scope::Operator => {
                    authz_core::trace::caller(None, &format!("operator-key:{}", k.id));
                    Ok(Operator { key_id: k.id })
                }
                Scope::TenantAdmin(_) => {
                    Err(Problem::forbidden("this endpoint needs an operator key"))
                }
            }
        })
    }
}

/// An admin of the tenant whose slug is the `{tenant}` path segment: by a tenant-admin key, or
/// by the admin console's session (see [`session_admin`]).
#[derive(Debug, Clone)]
pub struct TenantAdmin {
    pub tenant: TenantId,
    pub slug: String,
    /// Who acts, as the audit log records it: `admin-key:<id>` or `admin:<user id>`.
    actor: String,
}

impl TenantAdmin {
    pub fn actor(&self) -> String {
        self.actor.clone()
    }

    /// The application layer's principal: this extractor checked the key's scope or the
    /// console session's admin role for `tenant`.
    pub fn principal(&self) -> app::TenantAdmin {
        app::TenantAdmin::verified(self.tenant.clone(), self.actor.clone())
    }
}

/// The header a console page's script sends the page's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Without an `Authorization` header, the admin console's session cookie: a live session of this
/// tenant whose user is an admin (checked like every console page). A write (any method but GET
/// and HEAD) must carry the console's CSRF token in `X-CSRF-Token` — a cookie alone is sent by
/// any site's form — and a fresh IdP authentication (step-up, DESIGN §5).
async fn session_admin(req: &HttpRequest) -> Result<Option<TenantAdmin>, Problem> {
    use authz_core::admin::role;
    use authz_core::session;
    let st = req
        .app_data::<web::Data<AdminState>>()
        .cloned()
        .ok_or_else(|| {
            Problem::from(authz_core::CoreError::Config("admin state missing".into()))
        })?;
    let name =
        authz_core::session::cookie_name(crate::console::auth::SESSION_BASE, st.secure_cookies);
    let Some(cookie) = req.cookie(&name) else {
        return Ok(None);
    };
    let slug = req
        .match_info()
        .get("tenant")
        .unwrap_or_default()
        .to_string();
    let Ok(t) = tenant::find_by_slug(&st.store.db, &slug).await else {
        return Ok(None);
    };
    let clock = st.clock.as_ref();
    let Some(s) = session::find_active(&st.store.db, clock, cookie.value())
        .await?
        .filter(|s| s.tenant == t.id)
    else {
        return Ok(None);
    };
    within_rate(&st, &format!("admin-api:session:{}", s.id)).await?;
    if role::session_admin_via(&st.store.db, &t.id, &s)
        .await?
        .is_none()
    {
        return Err(Problem::forbidden(
            "the signed-in user is not an admin of this tenant",
        ));
    }
    let safe = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    if !safe {
        let expected = crate::console::auth::admin_csrf(cookie.value());
        let presented = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !authz_core::crypto::hashes_equal(presented, &expected) {
            return Err(Problem::forbidden(
                "a write with the console session needs the page's CSRF token in X-CSRF-Token",
            ));
        }
        if !session::is_fresh(&s, clock.now_us()) {
            return Err(Problem::forbidden(
                "admin writes need a sign-in at the identity provider within the last 15 minutes; sign in to the console again",
            ));
        }
    }
    Ok(Some(TenantAdmin {
        tenant: t.id,
        slug: t.slug,
        actor: format!("admin:{}", s.user_id),
    }))
}

impl FromRequest for TenantAdmin {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;
    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let admin: Result<TenantAdmin, Problem> = async {
                if bearer(&req).is_none() {
                    if let Some(a) = session_admin(&req).await? {
                        return Ok(a);
                    }
                }
                let (st, k) = key(&req).await?;
                let slug = req
                    .match_info()
                    .get("tenant")
                    .unwrap_or_default()
                    .to_string();
                let Scope::TenantAdmin(own) = k.scope else {
                    return Err(Problem::forbidden(
                        "operator keys do not act inside a tenant; use a tenant admin key",
                    ));
                };
                // Another tenant's slug and an unknown slug look the same: forbidden.
                let t = match tenant::find_by_slug(&st.store.db, &slug).await {
                    Ok(t) if t.id == own => t,
                    Ok(_) | Err(authz_core::CoreError::NotFound(_)) => {
                        return Err(Problem::forbidden(
                            "this key is not an admin key of that tenant",
                        ))
                    }
                    Err(e) => return Err(e.into()),
                };
                Ok(TenantAdmin {
                    tenant: t.id,
                    slug: t.slug,
                    actor: format!("admin-key:{}", k.id),
                })
            }
            .await;
            if let Ok(a) = &admin {
                authz_core::trace::caller(Some(&a.tenant), &a.actor);
            }
            admin
        })
    }
}

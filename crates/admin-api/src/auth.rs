//! Who calls the admin API (STYLE §3): an [`Operator`] or a [`TenantAdmin`] of the tenant named
//! in the path, each an extractor that only exists after the key was checked — a handler that
//! takes one cannot forget the check. Admin console sessions will add a second way in.
use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use authz_core::api_key::{self, Scope};
use authz_core::{tenant, TenantId};

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
    Ok((st, k))
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
}

impl FromRequest for Operator {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;
    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (_, k) = key(&req).await?;
            match k.scope {
                Scope::Operator => Ok(Operator { key_id: k.id }),
                Scope::TenantAdmin(_) => {
                    Err(Problem::forbidden("this endpoint needs an operator key"))
                }
            }
        })
    }
}

/// An admin of the tenant whose slug is the `{tenant}` path segment.
#[derive(Debug, Clone)]
pub struct TenantAdmin {
    pub tenant: TenantId,
    pub slug: String,
    pub key_id: String,
}

impl TenantAdmin {
    pub fn actor(&self) -> String {
        format!("admin-key:{}", self.key_id)
    }
}

impl FromRequest for TenantAdmin {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;
    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
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
                key_id: k.id,
            })
        })
    }
}

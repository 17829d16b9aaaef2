//! SCIM authentication (RFC 7644 §2): the tenant's bearer token, checked against the tenant
//! named in the path — a token of another tenant never authenticates — and a per-token rate
//! limit counted in the shared database, so every node enforces the same budget.
use std::future::Future;
use std::pin::Pin;

use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use authz_core::directory::Actor;
use authz_core::{scim_token, tenant, TenantId};

use super::{ScimError, ScimState};

/// An authenticated SCIM client: the tenant whose base URL it called, with its token.
#[derive(Clone, Debug)]
pub struct ScimPrincipal {
    pub tenant: TenantId,
    pub slug: String,
    pub token_id: String,
}

impl ScimPrincipal {
    /// The audit actor: the token, by id.
    pub fn actor(&self) -> Actor {
        Actor(format!("scim-token:{}", self.token_id))
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let h = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

async fn authenticate(req: HttpRequest) -> Result<ScimPrincipal, ScimError> {
    let st = req
        .app_data::<web::Data<ScimState>>()
        .ok_or_else(ScimError::internal)?
        .clone();
    let slug = req
        .match_info()
        .get("tenant")
        .unwrap_or_default()
        .to_string();
    let token = bearer(&req).ok_or_else(ScimError::unauthorized)?;
    // An unknown tenant looks exactly like a wrong token: the URL space is not an oracle.
    let t = match tenant::find_by_slug(&st.store.db, &slug).await {
        Ok(t) => t,
        Err(authz_core::CoreError::NotFound(_)) => return Err(ScimError::unauthorized()),
        Err(e) => return Err(e.into()),
    };
    // Both writes (last use, the rate counter) go through the store's write transaction: on
    // SQLite a bare autocommit write racing a SCIM change's transaction would make it fail.
    let txn = st.store.begin().await?;
    let tok = scim_token::authenticate(&txn, st.clock.as_ref(), &t.id, &token)
        .await?
        .ok_or_else(ScimError::unauthorized)?;
    let bucket = format!("scim:{}", tok.id);
    let hits = authz_core::ratelimit::hit(&txn, st.clock.as_ref(), &bucket, 60).await?;
    txn.commit().await?;
    if hits > st.rate_per_minute {
        let wait = 60 - st.clock.now_s().rem_euclid(60);
        let mut e = ScimError::new(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            format!(
                "more than {} SCIM requests in a minute with this token",
                st.rate_per_minute
            ),
        );
        e.retry_after = Some(wait.max(1) as u64);
        return Err(e);
    }
    Ok(ScimPrincipal {
        tenant: t.id,
        slug: t.slug,
        token_id: tok.id,
    })
}

impl FromRequest for ScimPrincipal {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

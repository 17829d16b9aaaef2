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
    let cached = st.tenants.read().ok().and_then(|m| m.get(&slug).cloned());
    let tenant_id = match cached {
        Some(id) => id,
        None => match tenant::find_by_slug(&st.store.db, &slug).await {
            Ok(t) => {
                if let Ok(mut m) = st.tenants.write() {
                    m.insert(slug.clone(), t.id.clone());
                }
                t.id
            }
            Err(authz_core::CoreError::NotFound(_)) => return Err(ScimError::unauthorized()),
            Err(e) => return Err(e.into()),
        },
    };
    // Two small writes: the token's last use (at most once a minute) and the rate counter.
    // On PostgreSQL each is one autocommit statement, so the counter row every request of the
    // token increments is locked only for that statement (rate_limits is UNLOGGED: no WAL
    // flush either), never across an await of a busy worker. On SQLite they go through the
    // store's write transaction, since a bare write racing a SCIM change's deferred
    // transaction would make that transaction fail.
    let (tok, hits) = if st.store.is_postgres() {
        let tok =
            scim_token::authenticate(&st.store.db, st.clock.as_ref(), &tenant_id, &token).await?;
        let tok = tok.ok_or_else(ScimError::unauthorized)?;
        let bucket = format!("scim:{}", tok.id);
        let hits = authz_core::ratelimit::hit(&st.store.db, st.clock.as_ref(), &bucket, 60).await?;
        (tok, hits)
    } else {
        let txn = st.store.begin().await?;
        let tok = scim_token::authenticate(&txn, st.clock.as_ref(), &tenant_id, &token).await?;
        let tok = tok.ok_or_else(ScimError::unauthorized)?;
        let bucket = format!("scim:{}", tok.id);
        let hits = authz_core::ratelimit::hit(&txn, st.clock.as_ref(), &bucket, 60).await?;
        txn.commit().await?;
        (tok, hits)
    };
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
    let principal = ScimPrincipal {
        tenant: tenant_id,
        slug,
        token_id: tok.id,
    };
    authz_core::trace::caller(
        Some(&principal.tenant),
        &format!("scim-token:{}", principal.token_id),
    );
    // For the failure log: which tenant and token a failed request belonged to.
    {
        use actix_web::HttpMessage;
        req.extensions_mut().insert(principal.clone());
    }
    Ok(principal)
}

impl FromRequest for ScimPrincipal {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

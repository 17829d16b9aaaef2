//! SCIM authentication (RFC 7644 §2): the tenant's bearer token, checked against the tenant
//! named in the path — a token of another tenant never authenticates — and a per-token rate
//! limit counted in the shared database, so every node enforces the same budget.
use std::collections::HashMap;
use std::sync::RwLock;

use authz_core::clock::Clock;
use authz_core::{ratelimit, scim_token, tenant, CoreError, Store, TenantId};

use crate::ScimClient;

/// Why a SCIM request was not authenticated.
#[derive(Debug)]
pub enum AuthRefused {
    /// No such tenant, or no live token of it: the two look the same, so the URL space is not
    /// an oracle.
    Unauthenticated,
    /// More than `limit` requests with this token in the current minute; the next minute starts
    /// in `retry_after` seconds.
    RateLimited { limit: i64, retry_after: u64 },
    /// A storage failure.
    Core(CoreError),
}

impl From<CoreError> for AuthRefused {
    fn from(e: CoreError) -> Self {
        AuthRefused::Core(e)
    }
}

impl From<sea_orm::DbErr> for AuthRefused {
    fn from(e: sea_orm::DbErr) -> Self {
        AuthRefused::Core(e.into())
    }
}

/// Tenant ids by slug. A slug never changes owner and tenants are not deleted, so every node
/// may keep what it looked up; token state is never cached.
#[derive(Debug, Default)]
pub struct TenantSlugs(RwLock<HashMap<String, TenantId>>);

impl TenantSlugs {
    /// The tenant with this slug; [`AuthRefused::Unauthenticated`] if there is none.
    async fn resolve(&self, store: &Store, slug: &str) -> Result<TenantId, AuthRefused> {
        if let Some(id) = self.0.read().ok().and_then(|m| m.get(slug).cloned()) {
            return Ok(id);
        }
        match tenant::find_by_slug(&store.db, slug).await {
            Ok(t) => {
                if let Ok(mut m) = self.0.write() {
                    m.insert(slug.to_string(), t.id.clone());
                }
                Ok(t.id)
            }
            Err(CoreError::NotFound(_)) => Err(AuthRefused::Unauthenticated),
            Err(e) => Err(e.into()),
        }
    }
}

/// Authenticates `presented` as a SCIM token of the tenant `slug`, notes its last use (at most
/// once a minute) and counts the request against the token's `rate_per_minute`.
pub async fn authenticate(
    store: &Store,
    clock: &dyn Clock,
    tenants: &TenantSlugs,
    slug: &str,
    presented: &str,
    rate_per_minute: i64,
) -> Result<ScimClient, AuthRefused> {
    let tenant_id = tenants.resolve(store, slug).await?;
    // Two small writes: the token's last use (at most once a minute) and the rate counter.
    // On PostgreSQL each is one autocommit statement, so the counter row every request of the
    // token increments is locked only for that statement (rate_limits is UNLOGGED: no WAL
    // flush either), never across an await of a busy worker. On SQLite they go through the
    // store's write transaction, since a bare write racing a SCIM change's deferred
    // transaction would make that transaction fail.
    let (token_id, hits) = if store.is_postgres() {
        count(&store.db, clock, &tenant_id, presented).await?
    } else {
        let txn = store.begin().await?;
        let counted = count(&txn, clock, &tenant_id, presented).await?;
        txn.commit().await?;
        counted
    };
    if hits > rate_per_minute {
        let wait = 60 - clock.now_s().rem_euclid(60);
        return Err(AuthRefused::RateLimited {
            limit: rate_per_minute,
            retry_after: wait.max(1) as u64,
        });
    }
    Ok(ScimClient::verified(tenant_id, token_id))
}

/// The token's id and the requests counted with it in this minute, this one included.
async fn count<C: sea_orm::ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    presented: &str,
) -> Result<(String, i64), AuthRefused> {
    let tok = scim_token::authenticate(conn, clock, tenant, presented)
        .await?
        .ok_or(AuthRefused::Unauthenticated)?;
    let hits = ratelimit::hit(conn, clock, &format!("scim:{}", tok.id), 60).await?;
    Ok((tok.id, hits))
}

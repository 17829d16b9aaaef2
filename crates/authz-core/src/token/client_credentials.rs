//! The `client_credentials` grant (RFC 6749 §4.4) of a tenant service account, already
//! authenticated by `service_account::authenticate`. The subject is the account: its grant
//! family names the account as `user_id` (kind `client_credentials`, session `sa:<id>`), and
//! carries the account's granted scopes for the resource (RFC 8707), intersected with the
//! `scope` asked for (none asked: all of them). No refresh token is issued (§4.4.3): the client
//! authenticates again. Refusals and issuance are audited with actor `service:<id>`.
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{issue, max_tier, IssuedTokens, NewFamily, TokenError};
use crate::audit::{self, AuditEvent};
use crate::clock::{Clock, MICROS};
use crate::db::Store;
use crate::entities::service_accounts;
use crate::resource;
use crate::scope::Tier;
use crate::service_account::ServiceAccount;

/// What the client asked for.
pub struct ClientCredentials<'a> {
    pub scope: Option<&'a str>,
    pub resource: Option<&'a str>,
    /// The JWK thumbprint of a DPoP proof (RFC 9449 §6), when the edge verified one.
    pub dpop_jkt: Option<String>,
}

/// `last_used_at` is written at most this often (not on every token request).
const LAST_USED_EVERY_SECS: i64 = 60;

/// Issues an access token to `account` (RFC 6749 §4.4.3: no refresh token).
pub async fn grant(
    store: &Store,
    clock: &dyn Clock,
    account: &ServiceAccount,
    req: ClientCredentials<'_>,
) -> Result<IssuedTokens, TokenError> {
    let txn = store.begin().await?;
    let tenant = &account.tenant;
    let refuse = |code: &'static str, why: &str| {
        (
            TokenError::new(code, why),
            AuditEvent::new(Some(tenant), "token.refused")
                .result("denied")
                .actor(account.actor())
                .user(account.id.clone())
                .client(account.client_id.clone())
                .detail("grant_type", "client_credentials")
                .detail("reason", why),
        )
    };
    // Read again, shared-locked, inside the transaction: a disable or a scope change that
    // commits first is seen, one that commits later revokes this family too.
    let current = service_accounts::Entity::find_by_id(account.id.clone())
        .lock_shared()
        .one(&txn)
        .await?
        .map(ServiceAccount::try_from)
        .transpose()?;
    let outcome = match current {
        Some(a) if a.enabled() => decide(store, &txn, clock, &a, &req).await?,
        _ => Err(refuse(
            "invalid_client",
            "the service account is disabled or removed",
        )),
    };
    let (res_uri, family_scopes, tier, resource_id) = match outcome {
        Ok(d) => d,
        Err((e, record)) => {
            audit::record(&txn, clock, record).await?;
            txn.commit().await?;
            return Err(e);
        }
    };
    let now = clock.now_us();
    let settings = crate::admin::settings::get_cached(&txn, tenant).await?;
    let family = super::start_family(
        &txn,
        clock,
        NewFamily {
            id: uuid::Uuid::new_v4().to_string(),
            tenant,
            subject: &account.id,
            client_id: &account.client_id,
            resource_id: &resource_id,
            scopes: &family_scopes,
            session_id: &account.session_id(),
            auth_time: now,
            // The family lives as long as its one access token.
            expires_at: now + settings.access_token_secs(tier) * MICROS,
            kind: super::CredentialKind::ClientCredentials,
            dpop_jkt: req.dpop_jkt,
        },
    )
    .await?;
    let issued = issue(&txn, clock, &family, &family_scopes, tier, false).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "token.issued")
            .actor(account.actor())
            .user(account.id.clone())
            .client(account.client_id.clone())
            .session(account.session_id())
            .resource(res_uri)
            .scope(issued.scope.clone())
            .detail("grant_type", "client_credentials")
            .detail("credential_kind", "client_credentials")
            .detail("tier", tier.as_str())
            .detail("dpop_bound", family.dpop_jkt.is_some())
            .detail("refresh_token", false),
    )
    .await?;
    txn.commit().await?;
    touch(store, &account.id, now).await;
    Ok(issued)
}

/// Writes `last_used_at`, at most every [`LAST_USED_EVERY_SECS`], after the grant committed and
/// outside its transaction. Inside it, concurrent grants that each hold the account row's share
/// lock (taken above so that a disable is seen) would each wait for the others' to update it: a
/// deadlock, one grant answered 500 (found by the node-kill resilience test). A failure here
/// loses only this bookkeeping, never the token.
async fn touch(store: &Store, account_id: &str, now: i64) {
    let updated = service_accounts::Entity::update_many()
        .col_expr(service_accounts::Column::LastUsedAt, Expr::value(now))
        .filter(service_accounts::Column::Id.eq(account_id))
        .filter(
            service_accounts::Column::LastUsedAt
                .is_null()
                .or(service_accounts::Column::LastUsedAt.lt(now - LAST_USED_EVERY_SECS * MICROS)),
        )
        .exec(&store.db)
        .await;
    if let Err(e) = updated {
        tracing::warn!(code = "SVC0010", error = %e, "service account last use not recorded");
    }
}

type Decision = (String, Vec<String>, Tier, String);
type Refusal = (TokenError, AuditEvent);

/// The resource and the scopes to issue, or the refusal (with its audit record).
async fn decide<C: sea_orm::ConnectionTrait>(
    store: &Store,
    conn: &C,
    clock: &dyn Clock,
    a: &ServiceAccount,
    req: &ClientCredentials<'_>,
) -> Result<Result<Decision, Refusal>, TokenError> {
    let refuse = |code: &'static str, why: String| {
        Ok(Err((
            TokenError::new(code, why.clone()),
            AuditEvent::new(Some(&a.tenant), "token.refused")
                .result("denied")
                .actor(a.actor())
                .user(a.id.clone())
                .client(a.client_id.clone())
                .detail("grant_type", "client_credentials")
                .detail("reason", why),
        )))
    };
    if crate::incident::is_suspended(conn, &a.tenant).await? {
        return refuse("invalid_grant", "the organisation is suspended".into());
    }
    let resource_id = match req.resource {
        Some(r) => {
            let found = match resource::normalize_uri(r) {
                Ok(uri) => resource::find_by_uri(conn, &uri).await?,
                Err(_) => None,
            };
            match found {
                Some(res) if a.grants.contains_key(&res.id) => res.id,
                _ => {
                    return refuse(
                        "invalid_target",
                        "the service account is not granted this resource".into(),
                    )
                }
            }
        }
        None if a.grants.len() == 1 => a.grants.keys().next().cloned().unwrap_or_default(),
        None => return refuse(
            "invalid_target",
            "resource is required: this service account is granted several resources (RFC 8707)"
                .into(),
        ),
    };
    let (res, catalogue) = resource::with_catalogue(store, conn, clock, &resource_id).await?;
    // A scope the catalogue has since dropped or raised to critical is not issued.
    let granted: Vec<String> = a.grants[&resource_id]
        .iter()
        .filter(|s| {
            catalogue
                .iter()
                .any(|c| &c.name == *s && c.tier != Tier::Critical)
        })
        .cloned()
        .collect();
    let asked = req.scope.map(crate::scope::split).unwrap_or_default();
    let scopes: Vec<String> = if asked.is_empty() {
        granted
    } else {
        granted.into_iter().filter(|s| asked.contains(s)).collect()
    };
    if scopes.is_empty() {
        return refuse(
            "invalid_scope",
            "none of the requested scopes is granted to this service account".into(),
        );
    }
    let tier = max_tier(&catalogue, &scopes);
    Ok(Ok((res.uri, scopes, tier, resource_id)))
}

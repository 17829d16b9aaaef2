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
use crate::entities::{grant_families, service_accounts};
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
    if let Some(done) = grant_fast(store, clock, account, &req).await? {
        return Ok(done);
    }
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
    // commits first is seen; one that comes later takes the row's update lock before it
    // revokes (`service_account::find_for_update`), so it waits for this grant to commit and
    // then revokes this family too.
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
    let expires_at = now + settings.access_token_secs(tier) * MICROS;
    let family = family_of(
        clock,
        account,
        &resource_id,
        &family_scopes,
        expires_at,
        req.dpop_jkt,
    );
    super::insert_family(&txn, &family).await?;
    let issued = issue(&txn, clock, &family, &family_scopes, tier, false).await?;
    audit::record(
        &txn,
        clock,
        issued_event(account, res_uri, &issued, tier, family.dpop_jkt.is_some()),
    )
    .await?;
    txn.commit().await?;
    crate::metrics::grant_written("client_credentials", false);
    touch(store, account, now).await;
    Ok(issued)
}

/// The family of one token of `account`: it lives as long as its one access token
/// (`expires_at`), and its subject is the account.
fn family_of(
    clock: &dyn Clock,
    account: &ServiceAccount,
    resource_id: &str,
    scopes: &[String],
    expires_at: i64,
    dpop_jkt: Option<String>,
) -> grant_families::Model {
    super::new_family(
        clock,
        NewFamily {
            id: uuid::Uuid::new_v4().to_string(),
            tenant: &account.tenant,
            subject: &account.id,
            client_id: &account.client_id,
            resource_id,
            scopes,
            session_id: &account.session_id(),
            auth_time: clock.now_us(),
            expires_at,
            kind: super::CredentialKind::ClientCredentials,
            dpop_jkt,
        },
    )
}

/// The audit record of an issued token.
fn issued_event(
    account: &ServiceAccount,
    res_uri: String,
    issued: &IssuedTokens,
    tier: Tier,
    dpop_bound: bool,
) -> AuditEvent {
    AuditEvent::new(Some(&account.tenant), "token.issued")
        .actor(account.actor())
        .user(account.id.clone())
        .client(account.client_id.clone())
        .session(account.session_id())
        .resource(res_uri)
        .scope(issued.scope.clone())
        .detail("grant_type", "client_credentials")
        .detail("credential_kind", "client_credentials")
        .detail("tier", tier.as_str())
        .detail("dpop_bound", dpop_bound)
        .detail("refresh_token", false)
}

/// PostgreSQL, the common case (issue 15 §1, ADR 0022): reads from the per-node catalogue
/// cache, then one statement ([`one_statement`](super::one_statement)) that inserts the
/// family, its access token and the audit record and commits. Its guard is the account row,
/// share-locked as in [`grant`]: still enabled, unchanged since it authenticated (`updated_at`:
/// a scope change or a disable moves it), and its tenant not suspended. A disable that commits
/// first makes the guard match nothing; one that commits later waits for the lock and then
/// revokes this family too. `None` whenever the request would be refused or anything changed:
/// the transactional path then decides and audits the refusal. Nothing is written before
/// that, so falling back is always safe.
/// The grant for an account this node remembers (`service_account::remembered`): the
/// one-statement write only, whose guard checks that the account is unchanged, enabled and of
/// an unsuspended tenant. `None`: nothing was written; the caller forgets the account and
/// starts over with a fresh read ([`grant`] never runs on a remembered account: its
/// transaction trusts the caller's check of the credential).
pub async fn grant_remembered(
    store: &Store,
    clock: &dyn Clock,
    account: &ServiceAccount,
    req: &ClientCredentials<'_>,
) -> Result<Option<IssuedTokens>, TokenError> {
    grant_fast(store, clock, account, req).await
}

async fn grant_fast(
    store: &Store,
    clock: &dyn Clock,
    account: &ServiceAccount,
    req: &ClientCredentials<'_>,
) -> Result<Option<IssuedTokens>, TokenError> {
    if !store.is_postgres() || !account.enabled() {
        return Ok(None);
    }
    let db = &store.db;
    let now = clock.now_us();
    // The resource by its URI among the account's granted resources (the catalogue cache holds
    // each resource's row): no round trip in the common case.
    let wanted = match req.resource {
        Some(r) => match resource::normalize_uri(r) {
            Ok(uri) => Some(uri),
            Err(_) => return Ok(None),
        },
        None if account.grants.len() == 1 => None,
        None => return Ok(None),
    };
    let mut chosen = None;
    for id in account.grants.keys() {
        let Ok((res, catalogue)) = resource::with_catalogue(store, db, clock, id).await else {
            return Ok(None);
        };
        if wanted.as_deref().is_none_or(|u| u == res.uri) {
            chosen = Some((id.clone(), res, catalogue));
            break;
        }
    }
    let Some((resource_id, res, catalogue)) = chosen else {
        return Ok(None);
    };
    let scopes = scopes_for(account, &resource_id, &catalogue, req.scope);
    if scopes.is_empty() {
        return Ok(None);
    }
    let tier = max_tier(&catalogue, &scopes);
    let settings = crate::admin::settings::get_cached(db, &account.tenant).await?;
    let expires_at = now + settings.access_token_secs(tier) * MICROS;
    let family = family_of(
        clock,
        account,
        &resource_id,
        &scopes,
        expires_at,
        req.dpop_jkt.clone(),
    );
    let minted = super::mint(db, clock, &family, &scopes, tier, false).await?;
    let mut w = super::one_statement::OneStatement::default();
    let guard = format!(
        "SELECT 1 FROM service_accounts sa WHERE sa.id = {id} AND sa.disabled_at IS NULL \
         AND sa.updated_at = {updated} AND NOT EXISTS (SELECT 1 FROM tenants tn \
         WHERE tn.id = sa.tenant_id AND tn.suspended_at IS NOT NULL) FOR SHARE OF sa",
        id = w.bind(account.id.clone()),
        updated = w.bind(account.updated_at),
    );
    w.guard(guard);
    let dpop_bound = family.dpop_jkt.is_some();
    w.insert(grant_families::ActiveModel::from(family));
    for row in minted.rows {
        w.insert(row);
    }
    let event = issued_event(account, res.uri, &minted.issued, tier, dpop_bound);
    w.insert(audit::row_of(clock, event));
    if !w.run_grouped(store).await? {
        return Ok(None);
    }
    crate::metrics::grant_written("client_credentials", true);
    touch(store, account, now).await;
    Ok(Some(minted.issued))
}

/// Writes `last_used_at`, at most every [`LAST_USED_EVERY_SECS`], after the grant committed and
/// outside its transaction. Inside it, concurrent grants that each hold the account row's share
/// lock (taken above so that a disable is seen) would each wait for the others' to update it: a
/// deadlock, one grant answered 500 (found by the node-kill resilience test). A failure here
/// loses only this bookkeeping, never the token.
async fn touch(store: &Store, account: &ServiceAccount, now: i64) {
    // The account as it authenticated says whether the mark is due: no round trip otherwise.
    if account
        .last_used_at
        .is_some_and(|t| t >= now - LAST_USED_EVERY_SECS * MICROS)
    {
        return;
    }
    let account_id = &account.id;
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
    match updated {
        // The memory is by client id (`service_account::remembered`), not by account id.
        Ok(_) => crate::service_account::auth::used(&account.client_id, now),
        Err(e) => {
            tracing::warn!(code = "SVC0010", error = %e, "service account last use not recorded")
        }
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
    let scopes = scopes_for(a, &resource_id, &catalogue, req.scope);
    if scopes.is_empty() {
        return refuse(
            "invalid_scope",
            "none of the requested scopes is granted to this service account".into(),
        );
    }
    let tier = max_tier(&catalogue, &scopes);
    Ok(Ok((res.uri, scopes, tier, resource_id)))
}

/// The scopes to issue for `resource_id`: the account's granted ones the catalogue still has
/// below critical (a scope since dropped or raised to critical is not issued), intersected
/// with those asked for (none asked: all).
fn scopes_for(
    a: &ServiceAccount,
    resource_id: &str,
    catalogue: &[resource::Scope],
    asked: Option<&str>,
) -> Vec<String> {
    let granted = a.grants.get(resource_id).into_iter().flatten().filter(|s| {
        catalogue
            .iter()
            .any(|c| &c.name == *s && c.tier != Tier::Critical)
    });
    let asked = asked.map(crate::scope::split).unwrap_or_default();
    granted
        .filter(|s| asked.is_empty() || asked.contains(s))
        .cloned()
        .collect()
}

//! Leavers lose access without SCIM (DESIGN §4b): before a refresh token is rotated, ask
//! whether the IdP still vouches for the person behind the grant family's session.
//!
//! * **OIDC with an upstream refresh token**: once the tenant's interval
//!   (`upstream_check_minutes`, default 60, 0 = every refresh) has passed since the IdP last
//!   vouched, Gatehouse redeems the upstream refresh token (RFC 6749 §6) at the connection's
//!   token endpoint. `invalid_grant` from the IdP (§5.2) revokes every grant family of the
//!   session and the session itself, audited as `grant.revoked` (reason `upstream_revoked`);
//!   a rotated upstream token is kept. An unreachable IdP neither revokes nor extends access:
//!   refreshes go on until [`fail_closed_deadline`] (one more interval, at least
//!   [`MIN_GRACE_SECS`], after the check fell due), then are refused with `invalid_grant`
//!   (audited `grant.refresh_refused`, reason `upstream_unreachable`) without revoking anything.
//! * **SAML, or OIDC without offline access**: a family may be refreshed for at most the
//!   tenant's `reauth_after_hours` after the sign-in (default 24 h when no live SCIM token is
//!   connected, else no cap); past it, `invalid_grant` ("sign in again"), audited
//!   `grant.refresh_refused` reason `reauth_required`.
//!
//! The network call happens before the refresh transaction opens, never inside one.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{revoke, TokenError};
use crate::audit::{self, AuditEvent};
use crate::client::Client;
use crate::clock::{Clock, MICROS};
use crate::crypto::{sha256_hex, MasterKey};
use crate::db::Store;
use crate::entities::{browser_sessions, grant_families};
use crate::tenant::TenantId;
use crate::upstream_session::{self, UpstreamAnswer, UpstreamRefresher};
use crate::{connection, session};

/// The least time an unreachable IdP is tolerated after a check fell due, so that a short
/// interval (0: every refresh) does not turn every network blip into a forced sign-in.
pub const MIN_GRACE_SECS: i64 = 5 * 60;

/// What a refresh needs to ask the IdP: the master key (the upstream token and the connection's
/// client secret are sealed) and the upstream client.
#[derive(Clone, Copy)]
pub struct Upstream<'a> {
    pub key: &'a MasterKey,
    pub idp: &'a dyn UpstreamRefresher,
}

/// The last instant (µs) an unreachable IdP still lets a refresh through, given when it last
/// vouched and the tenant's interval: one more interval (at least [`MIN_GRACE_SECS`]) after
/// the check fell due.
pub fn fail_closed_deadline(checked_at: i64, interval_secs: i64) -> i64 {
    checked_at + (interval_secs + interval_secs.max(MIN_GRACE_SECS)) * MICROS
}

/// What to do before a refresh, decided from stored facts alone.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to ask: go on with the refresh.
    Proceed,
    /// The interval has passed: ask the IdP.
    Ask,
    /// Past the cap on a family's life without a fresh sign-in.
    SignInAgain,
}

/// The decision for a session whose IdP vouched at `vouched_at`. `has_token`: Gatehouse holds
/// an upstream refresh token; `cap_secs`: the cap for sessions without one.
pub fn plan(
    now: i64,
    vouched_at: i64,
    has_token: bool,
    interval_secs: i64,
    cap_secs: Option<i64>,
) -> Plan {
    if has_token {
        if now - vouched_at >= interval_secs * MICROS {
            Plan::Ask
        } else {
            Plan::Proceed
        }
    } else {
        match cap_secs {
            Some(cap) if now - vouched_at >= cap * MICROS => Plan::SignInAgain,
            _ => Plan::Proceed,
        }
    }
}

/// Runs before the refresh transaction. Returns an error only when the refresh must fail for
/// the reasons above; a token that is unknown, used, revoked or expired is left to the refresh
/// itself to answer.
pub async fn before_refresh(
    store: &Store,
    clock: &dyn Clock,
    up: Option<Upstream<'_>>,
    client: &Client,
    refresh_token: &str,
) -> Result<(), TokenError> {
    let hash = sha256_hex(refresh_token);
    let Some(family) = super::refresh::live_refresh_token(&store.db, clock, client, &hash).await?
    else {
        return Ok(());
    };
    check_family(store, clock, up, &family).await
}

/// [`before_refresh`] for a caller that has already read the refresh token (live, of this
/// client) and its unrevoked family: the one-statement refresh (`refresh::refresh_fast`).
pub(crate) async fn check_family(
    store: &Store,
    clock: &dyn Clock,
    up: Option<Upstream<'_>>,
    family: &grant_families::Model,
) -> Result<(), TokenError> {
    let tenant = TenantId::from_stored(family.tenant_id.clone());
    let read = Read {
        record: upstream_session::get(&store.db, &tenant, &family.session_id).await?,
        scim_live: None,
    };
    check_read(store, clock, up, family, read).await
}

/// What the check reads, when a caller has read it already (`refresh_reads`): the session's
/// upstream record, and whether a SCIM token of the tenant is live (`None`: read it if the
/// check needs it).
pub(crate) struct Read {
    pub record: Option<crate::entities::upstream_sessions::Model>,
    pub scim_live: Option<bool>,
}

/// [`check_family`] with the session's record (and maybe the SCIM answer) already read.
pub(crate) async fn check_read(
    store: &Store,
    clock: &dyn Clock,
    up: Option<Upstream<'_>>,
    family: &grant_families::Model,
    read: Read,
) -> Result<(), TokenError> {
    let now = clock.now_us();
    let db = &store.db;
    let tenant = TenantId::from_stored(family.tenant_id.clone());
    // Cached per node for a few seconds: a changed interval or cap reaches every node within
    // `settings::CACHE_SECS` (the refresh itself still reads the token and family live).
    let settings = crate::admin::settings::get_cached(db, &tenant).await?;
    let interval = settings.upstream_check_secs();
    let record = read.record;
    let has_token = record
        .as_ref()
        .is_some_and(|r| r.refresh_token_enc.is_some());
    let vouched_at = match &record {
        Some(r) => r.checked_at,
        None => sign_in_time(store, &tenant, family).await?,
    };
    let cap = if has_token {
        None
    } else {
        let scim_live = match read.scim_live {
            Some(live) => live,
            None => crate::scim_token::any_live(db, clock, &tenant).await?,
        };
        settings.reauth_cap_secs(scim_live)
    };
    let plan = plan(now, vouched_at, has_token, interval, cap);
    if plan != Plan::Proceed && crate::incident::is_suspended(db, &tenant).await? {
        // The refresh refuses it anyway; nobody needs to be asked.
        return Ok(());
    }
    match plan {
        Plan::Proceed => Ok(()),
        Plan::SignInAgain => {
            refuse(store, clock, &tenant, family, "reauth_required", vouched_at).await?;
            Err(TokenError::grant(
                "sign in again: the identity provider has not confirmed this sign-in recently enough",
            ))
        }
        Plan::Ask => match record {
            Some(record) => ask(store, clock, up, &tenant, family, &record, interval).await,
            None => Ok(()), // unreachable: a token lives in a record
        },
    }
}

/// When the IdP last vouched for a session without a record (sessions started before
/// upstream records existed): the session's start, or, once housekeeping removed the session,
/// the earliest it can have started (a family starts within a session's life).
async fn sign_in_time(
    store: &Store,
    tenant: &TenantId,
    family: &grant_families::Model,
) -> Result<i64, TokenError> {
    let started: Option<i64> = browser_sessions::Entity::find_by_id(family.session_id.clone())
        .filter(browser_sessions::Column::TenantId.eq(tenant.to_string()))
        .select_only()
        .column(browser_sessions::Column::CreatedAt)
        .into_tuple()
        .one(&store.db)
        .await?;
    Ok(started.unwrap_or(family.created_at - session::SESSION_SECS * MICROS))
}

async fn ask(
    store: &Store,
    clock: &dyn Clock,
    up: Option<Upstream<'_>>,
    tenant: &TenantId,
    family: &grant_families::Model,
    record: &crate::entities::upstream_sessions::Model,
    interval: i64,
) -> Result<(), TokenError> {
    let deadline = fail_closed_deadline(record.checked_at, interval);
    let within_grace = || clock.now_us() < deadline;
    let Some(up) = up else {
        // A caller with no upstream client (not the token endpoint): fail closed.
        return settle(
            store,
            clock,
            None,
            tenant,
            family,
            record,
            UpstreamAnswer::Unreachable {
                detail: "no upstream client in this process".into(),
            },
            within_grace(),
        )
        .await;
    };
    let claimed =
        upstream_session::claim_check(&store.db, clock, tenant, &record.session_id, interval)
            .await?;
    let answer = if !claimed {
        // Another node is asking right now (or just did): treat this one like an IdP that has
        // not answered yet.
        UpstreamAnswer::Unreachable {
            detail: "a check of this session is in progress".into(),
        }
    } else {
        match credentials(store, up.key, tenant, record).await {
            Ok((conn, secret, rt)) => up.idp.refresh(&conn, &secret, &rt).await,
            // The connection is gone or a secret no longer opens (a master key retired too
            // early): nobody can vouch, so the fail-closed window decides.
            Err(e) => {
                tracing::error!(code = "TOKEN0006", tenant = %tenant.as_str(), connection = %record.connection_id, error = %e, "cannot prepare the upstream check");
                UpstreamAnswer::Unreachable {
                    detail: e.to_string(),
                }
            }
        }
    };
    let grace = within_grace();
    settle(
        store,
        clock,
        Some(up.key),
        tenant,
        family,
        record,
        answer,
        grace,
    )
    .await
}

/// The connection, its client secret and the upstream refresh token, opened.
async fn credentials(
    store: &Store,
    key: &MasterKey,
    tenant: &TenantId,
    record: &crate::entities::upstream_sessions::Model,
) -> crate::CoreResult<(connection::Connection, String, String)> {
    let conn = connection::get(&store.db, tenant, &record.connection_id).await?;
    let secret = conn.client_secret(key)?;
    let sealed = record.refresh_token_enc.as_deref().unwrap_or_default();
    let rt = String::from_utf8(key.open(sealed)?)
        .map_err(|_| crate::CoreError::Crypto("upstream refresh token is not UTF-8".into()))?;
    Ok((conn, secret, rt))
}

/// Records what the IdP answered and decides the refresh.
#[allow(clippy::too_many_arguments)]
async fn settle(
    store: &Store,
    clock: &dyn Clock,
    key: Option<&MasterKey>,
    tenant: &TenantId,
    family: &grant_families::Model,
    record: &crate::entities::upstream_sessions::Model,
    answer: UpstreamAnswer,
    within_grace: bool,
) -> Result<(), TokenError> {
    match answer {
        UpstreamAnswer::Valid { rotated } => {
            let Some(key) = key else { return Ok(()) };
            upstream_session::record_success(
                &store.db,
                clock,
                key,
                tenant,
                &record.session_id,
                rotated.as_deref(),
            )
            .await?;
            Ok(())
        }
        UpstreamAnswer::Revoked { detail } => {
            revoke_session(store, clock, tenant, family, record, &detail).await?;
            Err(TokenError::grant(
                "the identity provider no longer signs this person in; the grant is revoked",
            ))
        }
        UpstreamAnswer::Unreachable { detail } if within_grace => {
            tracing::warn!(code = "TOKEN0004", tenant = %tenant.as_str(), connection = %record.connection_id, reason = %detail, "identity provider not reachable for the upstream check; refresh allowed within the fail-closed window");
            Ok(())
        }
        UpstreamAnswer::Unreachable { detail } => {
            tracing::warn!(code = "TOKEN0005", tenant = %tenant.as_str(), connection = %record.connection_id, reason = %detail, "identity provider not reachable past the fail-closed window; refresh refused");
            refuse(
                store,
                clock,
                tenant,
                family,
                "upstream_unreachable",
                record.checked_at,
            )
            .await?;
            Err(TokenError::grant(
                "the identity provider could not confirm this sign-in; sign in again",
            ))
        }
    }
}

/// The IdP answered `invalid_grant`: every family started from the session and the session
/// itself end, in one transaction with their audit record.
async fn revoke_session(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    family: &grant_families::Model,
    record: &crate::entities::upstream_sessions::Model,
    detail: &str,
) -> Result<(), TokenError> {
    let txn = store.begin().await?;
    let families: Vec<(String, String)> = grant_families::Entity::find()
        .select_only()
        .column(grant_families::Column::Id)
        .column(grant_families::Column::ClientId)
        .filter(grant_families::Column::TenantId.eq(tenant.to_string()))
        .filter(grant_families::Column::SessionId.eq(family.session_id.clone()))
        .filter(grant_families::Column::RevokedAt.is_null())
        .into_tuple()
        .all(&txn)
        .await?;
    for (id, client_id) in &families {
        let n = revoke::revoke_family(&txn, clock, id).await?;
        audit::record(
            &txn,
            clock,
            AuditEvent::new(Some(tenant), "grant.revoked")
                .actor(format!("connection:{}", record.connection_id))
                .user(family.user_id.clone())
                .client(client_id.clone())
                .session(family.session_id.clone())
                .detail("reason", "upstream_revoked")
                .detail("connection_id", record.connection_id.as_str())
                .detail("upstream_error", detail)
                .detail("tokens_revoked", n),
        )
        .await?;
    }
    session::revoke_one(&txn, clock, tenant, &family.session_id).await?;
    upstream_session::forget_token(&txn, tenant, &family.session_id).await?;
    txn.commit().await?;
    tracing::info!(code = "TOKEN0003", tenant = %tenant.as_str(), connection = %record.connection_id, families = families.len(), "identity provider revoked the upstream grant; session and grant families revoked");
    Ok(())
}

/// A refused refresh (nothing revoked: the refresh token stays unused), audited.
async fn refuse(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    family: &grant_families::Model,
    reason: &str,
    vouched_at: i64,
) -> Result<(), TokenError> {
    let txn = store.begin().await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "grant.refresh_refused")
            .result("denied")
            .user(family.user_id.clone())
            .client(family.client_id.clone())
            .session(family.session_id.clone())
            .detail("reason", reason)
            .detail("family_id", family.id.as_str())
            .detail("idp_vouched_at", vouched_at / MICROS),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600 * MICROS;

    #[test]
    fn with_a_token_the_idp_is_asked_only_once_the_interval_has_passed() {
        assert_eq!(plan(59 * 60 * MICROS, 0, true, 3600, None), Plan::Proceed);
        assert_eq!(plan(H, 0, true, 3600, None), Plan::Ask);
        assert_eq!(plan(1, 0, true, 0, None), Plan::Ask, "0: every refresh");
        // The cap never applies while the IdP can be asked.
        assert_eq!(
            plan(100 * H, 100 * H - 1, true, 3600, Some(1)),
            Plan::Proceed
        );
    }

    #[test]
    fn without_a_token_the_cap_applies() {
        assert_eq!(plan(23 * H, 0, false, 0, Some(24 * 3600)), Plan::Proceed);
        assert_eq!(
            plan(24 * H, 0, false, 0, Some(24 * 3600)),
            Plan::SignInAgain
        );
        assert_eq!(plan(1000 * H, 0, false, 0, None), Plan::Proceed);
    }

    #[test]
    fn the_fail_closed_window_is_one_more_interval_at_least_five_minutes() {
        assert_eq!(fail_closed_deadline(0, 3600), 2 * H);
        assert_eq!(fail_closed_deadline(0, 0), MIN_GRACE_SECS * MICROS);
        assert_eq!(fail_closed_deadline(0, 60), (60 + 300) * MICROS);
    }
}

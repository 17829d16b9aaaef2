//! The `refresh_token` grant with rotation (RFC 9700 §4.14.2): every use returns a new refresh
//! token; presenting a rotated-out one revokes the whole family and is recorded as reuse, except
//! a retry by the same client within the tenant's grace window ([`super::refresh_grace`]).
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter};

use super::refresh_grace::{self, SecondUse};
use super::{issue, max_tier, revoke, upstream_check, IssuedTokens, TokenError};
use crate::audit::{self, AuditEvent};
use crate::client::{self, Client};
use crate::clock::{Clock, MICROS};
use crate::crypto::sha256_hex;
use crate::db::Store;
use crate::entities::{grant_families, tokens};
use crate::scope::Tier;
use crate::tenant::TenantId;
use crate::{grant, resource, user};

/// Critical-tier scopes are re-minted on refresh only within this window after the upstream
/// authentication (DESIGN §5).
pub const STEP_UP_WINDOW_SECS: i64 = 15 * 60;

pub struct RefreshRequest<'a> {
    pub refresh_token: &'a str,
    pub scope: Option<&'a str>,
    pub resource: Option<&'a str>,
    /// The key thumbprint of a checked DPoP proof sent with the request (RFC 9449 §5).
    pub dpop_jkt: Option<String>,
}

/// The token endpoint's refresh: first asks whether the IdP still vouches for the person
/// (DESIGN §4b, [`upstream_check`]; outside any transaction), then [`refresh`].
pub async fn refresh_with(
    store: &Store,
    clock: &dyn Clock,
    upstream: upstream_check::Upstream<'_>,
    client: &Client,
    req: RefreshRequest<'_>,
) -> Result<IssuedTokens, TokenError> {
    if let Some(done) = refresh_fast(store, clock, Some(upstream), client, &req).await? {
        return Ok(done);
    }
    upstream_check::before_refresh(store, clock, Some(upstream), client, req.refresh_token).await?;
    refresh_checked(store, clock, client, req).await
}

/// A refresh by a caller that cannot reach an IdP: the leaver checks still apply and fail closed
/// (an upstream check that falls due counts as an unreachable IdP).
pub async fn refresh(
    store: &Store,
    clock: &dyn Clock,
    client: &Client,
    req: RefreshRequest<'_>,
) -> Result<IssuedTokens, TokenError> {
    if let Some(done) = refresh_fast(store, clock, None, client, &req).await? {
        return Ok(done);
    }
    upstream_check::before_refresh(store, clock, None, client, req.refresh_token).await?;
    refresh_checked(store, clock, client, req).await
}

async fn refresh_checked(
    store: &Store,
    clock: &dyn Clock,
    client: &Client,
    req: RefreshRequest<'_>,
) -> Result<IssuedTokens, TokenError> {
    let now = clock.now_us();
    let txn = store.begin().await?;
    let hash = sha256_hex(req.refresh_token);
    // One round trip in the common case: mark the token used and read it back. If a check
    // below fails, the transaction rolls back and the mark with it.
    let mark = Query::update()
        .table(tokens::Entity)
        .value(tokens::Column::UsedAt, now)
        .and_where(tokens::Column::TokenHash.eq(hash.clone()))
        .and_where(tokens::Column::Kind.eq("refresh"))
        .and_where(tokens::Column::UsedAt.is_null())
        .and_where(tokens::Column::RevokedAt.is_null())
        .returning_all()
        .to_owned();
    let marked = txn
        .query_one(txn.get_database_backend().build(&mark))
        .await?;
    let (t, fresh) = match marked {
        Some(row) => (tokens::Model::from_query_result(&row, "")?, true),
        None => match tokens::Entity::find_by_id(hash)
            .filter(tokens::Column::Kind.eq("refresh"))
            .one(&txn)
            .await?
        {
            Some(t) => (t, false),
            None => return Err(TokenError::grant("the refresh token is invalid")),
        },
    };
    if t.client_id != client.client_id {
        return Err(TokenError::grant(
            "the refresh token was issued to another client",
        ));
    }
    let tenant = TenantId::from_stored(t.tenant_id.clone());
    if crate::incident::is_suspended(&txn, &tenant).await? {
        return Err(TokenError::grant("the organisation is suspended"));
    }
    if t.expires_at <= now {
        return Err(TokenError::grant("the refresh token has expired"));
    }
    let Some(family) = grant_families::Entity::find_by_id(t.family_id.clone())
        .one(&txn)
        .await?
    else {
        return Err(TokenError::grant("the grant no longer exists"));
    };
    if family.revoked_at.is_some() {
        return Err(TokenError::grant(if t.revoked_at.is_some() {
            "the refresh token has been revoked"
        } else {
            "the grant has been revoked"
        }));
    }
    // Every revocation of a refresh token revokes its family, except the grace's own: a
    // revoked token of a live family is a successor a retry superseded (refresh_grace).
    let mut retried = None;
    if !fresh {
        let second = match t.used_at {
            Some(used_at) if t.revoked_at.is_none() => {
                let grace = crate::admin::settings::get_cached(&txn, &tenant)
                    .await?
                    .refresh_grace_secs();
                refresh_grace::second_use(&txn, clock, &t, used_at, grace).await?
            }
            _ => SecondUse::Reuse,
        };
        match second {
            SecondUse::Retry { superseded } => retried = Some(superseded),
            SecondUse::Reuse => return reuse_detected(txn, clock, &tenant, &t).await,
        }
    }
    // RFC 9449 §5: a bound family's refresh token is usable only with a proof of the same key
    // (also for confidential clients: Gatehouse never re-binds a family to another key). The
    // family stays bound, so every token it issues is a DPoP token.
    if let Some(bound) = &family.dpop_jkt {
        if req.dpop_jkt.as_deref() != Some(bound.as_str()) {
            return Err(TokenError::grant(
                "the refresh token is bound to a DPoP key: send a DPoP proof signed with that key",
            ));
        }
    }
    let (res, catalogue) =
        resource::with_catalogue(store, &txn, clock, &family.resource_id).await?;
    if let Some(r) = req.resource {
        if resource::normalize_uri(r).ok().as_deref() != Some(res.uri.as_str()) {
            return Err(TokenError::new(
                "invalid_target",
                "resource does not match the grant",
            ));
        }
    }
    let u = user::get(&txn, &tenant, &family.user_id)
        .await
        .map_err(|e| e.unless_unavailable(TokenError::grant("the user no longer exists")))?;
    if !u.active {
        return Err(TokenError::grant("the user is deactivated"));
    }
    // The re-consent cadence holds at refresh too (DESIGN §5): past it, the client must run an
    // authorization again, where the person sees the consent page (the lapsed consent no longer
    // counts as remembered).
    let consented = crate::consent::get(
        &txn,
        clock,
        &tenant,
        &family.user_id,
        &family.client_id,
        &family.resource_id,
    )
    .await?;
    if consented.is_none() {
        return Err(TokenError::grant(
            "the consent for this client is due for renewal; authorize again",
        ));
    }
    // The org may have withdrawn a grant since: never re-mint a scope it no longer allows.
    let granted =
        grant::granted_to_user(&txn, &tenant, &family.resource_id, &family.user_id).await?;
    let scopes = scopes_to_issue(now, &family, req.scope, &granted, &catalogue)?;
    let tier = max_tier(&catalogue, &scopes);
    let issued = issue(&txn, clock, &family, &scopes, tier, true).await?;
    client::touch(&txn, clock, client).await?;
    audit::record(
        &txn,
        clock,
        refreshed(&tenant, &family, client, res.uri, &issued, tier, retried),
    )
    .await?;
    txn.commit().await?;
    crate::metrics::grant_written("refresh_token", false);
    Ok(issued)
}

/// The scopes a refresh re-mints: those asked for (all of the family's when none are), each
/// still granted by the org and in the catalogue; critical ones only within the step-up window.
fn scopes_to_issue(
    now: i64,
    family: &grant_families::Model,
    asked: Option<&str>,
    granted: &[String],
    catalogue: &[resource::Scope],
) -> Result<Vec<String>, TokenError> {
    let family_scopes = crate::scope::split(&family.scopes);
    let mut scopes = match asked {
        Some(s) => {
            let asked = crate::scope::split(s);
            if let Some(extra) = asked
                .iter()
                .find(|a| !family_scopes.contains(a) && *a != crate::scope::OFFLINE_ACCESS)
            {
                return Err(TokenError::new(
                    "invalid_scope",
                    format!("scope '{extra}' was not part of the original grant"),
                ));
            }
            let asked: Vec<String> = asked
                .into_iter()
                .filter(|a| a != crate::scope::OFFLINE_ACCESS)
                .collect();
            // `offline_access` alone only confirms the refresh token (DESIGN §4).
            if asked.is_empty() {
                family_scopes
            } else {
                asked
            }
        }
        None => family_scopes,
    };
    let step_up_fresh = now - family.auth_time <= STEP_UP_WINDOW_SECS * MICROS;
    scopes.retain(|s| {
        granted.contains(s)
            && catalogue
                .iter()
                .find(|c| &c.name == s)
                .map(|c| c.tier != Tier::Critical || step_up_fresh)
                .unwrap_or(false)
    });
    if scopes.is_empty() {
        return Err(TokenError::new(
            "invalid_scope",
            "none of the grant's scopes is still allowed",
        ));
    }
    Ok(scopes)
}

/// The audit record of a refresh (`retried`: the successors a retry within the grace revoked).
fn refreshed(
    tenant: &TenantId,
    family: &grant_families::Model,
    client: &Client,
    resource_uri: String,
    issued: &IssuedTokens,
    tier: Tier,
    retried: Option<u64>,
) -> AuditEvent {
    AuditEvent::new(Some(tenant), "token.refreshed")
        .user(family.user_id.clone())
        .client(client.client_id.clone())
        .session(family.session_id.clone())
        .resource(resource_uri)
        .scope(issued.scope.clone())
        .detail("tier", tier.as_str())
        .detail("dpop", family.dpop_jkt.is_some())
        .detail("retry_within_grace", retried.is_some())
        .detail("tokens_superseded", retried.unwrap_or(0))
}

/// PostgreSQL, the common case (issue 15 §1, ADR 0022): an unused refresh token of a live
/// family whose every check passes is rotated by reads outside any transaction and then one
/// statement ([`one_statement`](super::one_statement)) that marks the token used, inserts the
/// new pair and the audit record, and commits. Its guard re-checks what decides validity at
/// write time: the token still unused and unrevoked (so two concurrent uses cannot both
/// rotate it), its family unrevoked, the tenant not suspended, the user active, the consent
/// standing. `None`
/// whenever anything is unusual (a used or revoked token, a failed check, a lost race,
/// SQLite): the transactional [`refresh_checked`] then decides, with its errors and audit
/// records. Nothing is written before that, so falling back is always safe.
async fn refresh_fast(
    store: &Store,
    clock: &dyn Clock,
    upstream: Option<upstream_check::Upstream<'_>>,
    client: &Client,
    req: &RefreshRequest<'_>,
) -> Result<Option<IssuedTokens>, TokenError> {
    if !store.is_postgres() {
        return Ok(None);
    }
    let now = clock.now_us();
    let db = &store.db;
    let hash = sha256_hex(req.refresh_token);
    // The token, its family, the IdP record and the org grants in one round trip.
    let Some(reads) = super::refresh_reads::read(store, clock, client, &hash).await? else {
        return Ok(None);
    };
    let family = reads.family;
    // A bound family needs a proof of its key (RFC 9449 §5).
    if family
        .dpop_jkt
        .as_ref()
        .is_some_and(|bound| req.dpop_jkt.as_ref() != Some(bound))
    {
        return Ok(None);
    }
    // The IdP check comes first on both paths (it may refuse, and says why).
    let read = upstream_check::Read {
        record: reads.upstream,
        scim_live: Some(reads.scim_live),
    };
    upstream_check::check_read(store, clock, upstream, &family, read).await?;
    let tenant = TenantId::from_stored(family.tenant_id.clone());
    let (res, catalogue) = resource::with_catalogue(store, db, clock, &family.resource_id).await?;
    if let Some(r) = req.resource {
        if resource::normalize_uri(r).ok().as_deref() != Some(res.uri.as_str()) {
            return Ok(None);
        }
    }
    // The user's status is checked by the guard below (`user::User::active`: status `active`).
    // The consent is checked by the guard below (`consent::stands_sql`).
    let granted = reads.granted;
    let Ok(scopes) = scopes_to_issue(now, &family, req.scope, &granted, &catalogue) else {
        return Ok(None);
    };
    let tier = max_tier(&catalogue, &scopes);
    let minted = super::mint(db, clock, &family, &scopes, tier, true).await?;
    let mut w = super::one_statement::OneStatement::default();
    let cadence =
        crate::consent::cadence_us(&crate::admin::settings::get_cached(db, &tenant).await?);
    let (now, hash, cadence) = (w.bind(now), w.bind(hash), w.bind(cadence));
    let guard = format!(
        "UPDATE tokens SET used_at = {now} WHERE token_hash = {hash} AND kind = 'refresh' \
         AND used_at IS NULL AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM grant_families f \
         JOIN tenants tn ON tn.id = f.tenant_id JOIN users u ON u.tenant_id = f.tenant_id \
         AND u.id = f.user_id WHERE f.id = tokens.family_id AND f.revoked_at IS NULL \
         AND tn.suspended_at IS NULL AND u.status = 'active' AND {consent}) RETURNING 1",
        consent = crate::consent::stands_sql("f", &now, &cadence),
    );
    w.guard(guard);
    for row in minted.rows {
        w.insert(row);
    }
    let event = refreshed(
        &tenant,
        &family,
        client,
        res.uri,
        &minted.issued,
        tier,
        None,
    );
    w.insert(audit::row_of(clock, event));
    if !w.run_grouped(store).await? {
        return Ok(None);
    }
    crate::metrics::grant_written("refresh_token", true);
    // Bookkeeping after the commit (at most hourly); a failure loses only the mark.
    if let Err(e) = client::touch(db, clock, client).await {
        tracing::warn!(code = "TOKEN0007", error = %e, "client last use not recorded");
    }
    Ok(Some(minted.issued))
}

/// The family of the refresh token with this hash, read with the token in one statement, when
/// both are live: a refresh token of `client`, unused, unrevoked and unexpired, of an
/// unrevoked family. `None` for
/// anything else, which the transactional [`refresh_checked`] answers. Read outside any
/// transaction by the IdP check ([`upstream_check::before_refresh`]) and the one-statement
/// refresh.
pub(crate) async fn live_refresh_token<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    client: &Client,
    hash: &str,
) -> Result<Option<grant_families::Model>, sea_orm::DbErr> {
    use sea_orm::{JoinType, QuerySelect};
    let family_of = tokens::Entity::belongs_to(grant_families::Entity)
        .from(tokens::Column::FamilyId)
        .to(grant_families::Column::Id)
        .into();
    let found = tokens::Entity::find_by_id(hash.to_string())
        .join(JoinType::InnerJoin, family_of)
        .select_also(grant_families::Entity)
        .one(conn)
        .await?;
    let now = clock.now_us();
    Ok(found.and_then(|(t, family)| {
        let family = family?;
        is_live(&t, &family, client, now).then_some(family)
    }))
}

/// A refresh token of `client`, unused, unrevoked and unexpired, of an unrevoked family.
pub(crate) fn is_live(
    t: &tokens::Model,
    family: &grant_families::Model,
    client: &Client,
    now: i64,
) -> bool {
    t.kind == "refresh"
        && t.client_id == client.client_id
        && t.used_at.is_none()
        && t.revoked_at.is_none()
        && t.expires_at > now
        && family.revoked_at.is_none()
}

/// A rotated-out refresh token presented again outside the grace: the whole grant is revoked,
/// audited and alerted (RFC 9700 §4.14.2), and committed although the request fails.
async fn reuse_detected(
    txn: crate::db::WriteTxn,
    clock: &dyn Clock,
    tenant: &TenantId,
    t: &tokens::Model,
) -> Result<IssuedTokens, TokenError> {
    let n = revoke::revoke_family(&txn, clock, &t.family_id).await?;
    super::replay::report(
        &txn,
        clock,
        super::replay::Replay {
            action: "refresh_token.reuse_detected",
            alert: ("alert.refresh_token_reuse", "Refresh-token reuse detected"),
            meaning: "a refresh token was presented after it had been rotated: it may have been stolen; the whole grant was revoked",
            tenant,
            user_id: &t.user_id,
            client_id: &t.client_id,
            session_id: &t.session_id,
            tokens_revoked: n,
        },
    )
    .await?;
    txn.commit().await?;
    tracing::warn!(code = "TOKEN0002", tenant = %tenant.as_str(), client_id = %t.client_id, "refresh token reuse detected; grant family revoked");
    Err(TokenError::grant(
        "the refresh token was already used; the grant is revoked",
    ))
}

//! Authorization codes: single use, at most 60 seconds, PKCE S256 (RFC 7636), bound to client,
//! redirect URI and resource. A replayed code revokes everything issued from it (RFC 9700 §4.5).
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::{issue, max_tier, revoke, standing, IssuedTokens, TokenError};
use crate::audit::{self, AuditEvent};
use crate::client::{self, Client};
use crate::clock::{Clock, MICROS};
use crate::crypto::{hashes_equal, pkce_s256, random_token, sha256_hex};
use crate::db::Store;
use crate::entities::auth_codes;
use crate::error::CoreResult;
use crate::login::AuthorizeRequest;
use crate::resource;
use crate::scope::CODE_SECS;
use crate::session::Session;

/// Issues a code for an approved request, inside the caller's transaction.
pub async fn create<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    session: &Session,
    req: &AuthorizeRequest,
    scopes: &[String],
) -> CoreResult<String> {
    let code = random_token();
    let now = clock.now_us();
    auth_codes::Entity::insert(auth_codes::ActiveModel {
        code_hash: Set(sha256_hex(&code)),
        tenant_id: Set(session.tenant.to_string()),
        family_id: Set(uuid::Uuid::new_v4().to_string()),
        user_id: Set(session.user_id.clone()),
        client_id: Set(req.client_id.clone()),
        resource_id: Set(req.resource_id.clone()),
        // Empty when the client did not send one: the token request need not repeat it.
        redirect_uri: Set(if req.redirect_uri_given {
            req.redirect_uri.clone()
        } else {
            String::new()
        }),
        code_challenge: Set(req.code_challenge.clone()),
        scopes: Set(scopes.join(" ")),
        session_id: Set(session.id.clone()),
        auth_time: Set(session.auth_time),
        created_at: Set(now),
        expires_at: Set(now + CODE_SECS * MICROS),
        used_at: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    audit::record(
        conn,
        clock,
        AuditEvent::new(Some(&session.tenant), "code.issued")
            .user(session.user_id.clone())
            .client(req.client_id.clone())
            .session(session.id.clone())
            .scope(scopes.join(" ")),
    )
    .await?;
    Ok(code)
}

/// RFC 7636 §4.1: 43-128 characters of [A-Z a-z 0-9 - . _ ~].
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub resource: Option<&'a str>,
    /// The thumbprint of the key of a checked DPoP proof sent with the request (RFC 9449 §5):
    /// the new family's tokens are bound to it.
    pub dpop_jkt: Option<String>,
}

/// The `authorization_code` grant (RFC 6749 §4.1.3).
pub async fn exchange(
    store: &Store,
    clock: &dyn Clock,
    client: &Client,
    ex: CodeExchange<'_>,
) -> Result<IssuedTokens, TokenError> {
    if let Some(done) = exchange_fast(store, clock, client, &ex).await? {
        return Ok(done);
    }
    let now = clock.now_us();
    let txn = store.begin().await?;
    let Some(c) = auth_codes::Entity::find_by_id(sha256_hex(ex.code))
        .one(&txn)
        .await?
    else {
        return Err(TokenError::grant("the authorization code is invalid"));
    };
    let tenant = crate::tenant::TenantId::from_stored(c.tenant_id.clone());
    // Single use, decided by a conditional update so two nodes cannot both redeem it.
    let burned = auth_codes::Entity::update_many()
        .col_expr(auth_codes::Column::UsedAt, Some(now).into())
        .filter(auth_codes::Column::CodeHash.eq(c.code_hash.clone()))
        .filter(auth_codes::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if burned.rows_affected != 1 {
        let n = revoke::revoke_family(&txn, clock, &c.family_id).await?;
        super::replay::report(
            &txn,
            clock,
            super::replay::Replay {
                action: "code.replay_detected",
                alert: ("alert.code_replay", "Authorization-code replay detected"),
                meaning: "an authorization code was presented a second time: it may have been intercepted; everything issued from it was revoked",
                tenant: &tenant,
                user_id: &c.user_id,
                client_id: &c.client_id,
                session_id: &c.session_id,
                tokens_revoked: n,
            },
        )
        .await?;
        txn.commit().await?;
        return Err(TokenError::grant(
            "the authorization code was already used; tokens issued from it are revoked",
        ));
    }
    let fail = |msg: &str| {
        AuditEvent::new(Some(&tenant), "code.rejected")
            .result("denied")
            .user(c.user_id.clone())
            .client(client.client_id.clone())
            .detail("reason", msg)
    };
    let check = presented_right(&c, client, &ex, now);
    if let Err(e) = check {
        audit::record(&txn, clock, fail(&e.description)).await?;
        txn.commit().await?;
        return Err(e);
    }
    let (res, catalogue) = resource::with_catalogue(store, &txn, clock, &c.resource_id).await?;
    if let Some(r) = ex.resource {
        if resource::normalize_uri(r).ok().as_deref() != Some(res.uri.as_str()) {
            audit::record(
                &txn,
                clock,
                fail("resource differs from the authorization request"),
            )
            .await?;
            txn.commit().await?;
            return Err(TokenError::new(
                "invalid_target",
                "resource does not match the authorization request",
            ));
        }
    }
    // The code was approved before now: the cut-offs since then apply to it (review F2).
    let code_scopes = crate::scope::split(&c.scopes);
    let pending = standing::Pending::of_code(&c, &tenant, &code_scopes);
    let scopes = match standing::code_stands(&txn, clock, &pending).await? {
        Ok(s) => s,
        Err(lapse) => {
            audit::record(
                &txn,
                clock,
                fail(lapse.description()).detail("lapse", lapse.as_str()),
            )
            .await?;
            txn.commit().await?;
            return Err(TokenError::grant(lapse.description()));
        }
    };
    let tier = max_tier(&catalogue, &scopes);
    // The family's absolute lifetime is the tenant's (DESIGN §5: 30 days default, 90 at most).
    let lifetime = crate::admin::settings::get(&txn, &tenant)
        .await?
        .refresh_lifetime_secs();
    let family = family_of(
        clock,
        &c,
        &tenant,
        &scopes,
        now + lifetime * MICROS,
        ex.dpop_jkt,
    );
    super::insert_family(&txn, &family).await?;
    let issued = issue(&txn, clock, &family, &scopes, tier, client.allows_refresh()).await?;
    client::touch(&txn, clock, client).await?;
    audit::record(
        &txn,
        clock,
        issued_event(&tenant, &c, client, res.uri.clone(), &issued, tier, &family),
    )
    .await?;
    txn.commit().await?;
    crate::metrics::grant_written("authorization_code", false);
    Ok(issued)
}

/// Whether the code is presented as it must be: by its client, in time, with the redirect URI
/// of the authorization request and the PKCE verifier of its challenge.
fn presented_right(
    c: &auth_codes::Model,
    client: &Client,
    ex: &CodeExchange<'_>,
    now: i64,
) -> Result<(), TokenError> {
    if c.client_id != client.client_id {
        return Err(TokenError::grant(
            "the authorization code was issued to another client",
        ));
    }
    if c.expires_at <= now {
        return Err(TokenError::grant("the authorization code has expired"));
    }
    if !c.redirect_uri.is_empty() && ex.redirect_uri != Some(c.redirect_uri.as_str()) {
        return Err(TokenError::grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    let Some(verifier) = ex.code_verifier else {
        return Err(TokenError::new(
            "invalid_request",
            "code_verifier is required (PKCE)",
        ));
    };
    if !valid_verifier(verifier) {
        return Err(TokenError::grant(
            "code_verifier is malformed (RFC 7636 §4.1)",
        ));
    }
    if !hashes_equal(&pkce_s256(verifier), &c.code_challenge) {
        return Err(TokenError::grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    Ok(())
}

/// The family a code starts (its id was allocated with the code, so a replay of the code
/// revokes exactly this family); it ends at `expires_at`, the tenant's family lifetime.
fn family_of(
    clock: &dyn Clock,
    c: &auth_codes::Model,
    tenant: &crate::TenantId,
    scopes: &[String],
    expires_at: i64,
    dpop_jkt: Option<String>,
) -> crate::entities::grant_families::Model {
    super::new_family(
        clock,
        super::NewFamily {
            id: c.family_id.clone(),
            tenant,
            subject: &c.user_id,
            client_id: &c.client_id,
            resource_id: &c.resource_id,
            scopes,
            session_id: &c.session_id,
            auth_time: c.auth_time,
            expires_at,
            kind: super::CredentialKind::AuthorizationCode,
            dpop_jkt,
        },
    )
}

/// The audit record of the tokens a code was exchanged for.
fn issued_event(
    tenant: &crate::TenantId,
    c: &auth_codes::Model,
    client: &Client,
    resource_uri: String,
    issued: &IssuedTokens,
    tier: crate::scope::Tier,
    family: &crate::entities::grant_families::Model,
) -> AuditEvent {
    AuditEvent::new(Some(tenant), "token.issued")
        .user(c.user_id.clone())
        .client(client.client_id.clone())
        .session(c.session_id.clone())
        .resource(resource_uri)
        .scope(issued.scope.clone())
        .detail("grant_type", "authorization_code")
        .detail("tier", tier.as_str())
        .detail("refresh_token", issued.refresh_token.is_some())
        .detail("dpop", family.dpop_jkt.is_some())
        .detail("dpop_jkt", family.dpop_jkt.clone())
}

/// PostgreSQL, the common case (issue 15 §1, ADR 0022): an unused code presented right whose
/// grant still stands is exchanged by reads outside any transaction and then one statement
/// ([`one_statement`](super::one_statement)) that burns the code, inserts the family, its
/// tokens and the audit record, and commits. The guard is the burn itself (`used_at IS NULL`,
/// so two nodes cannot both redeem the code), the tenant not suspended and the user active. `None` whenever
/// anything is unusual (a used code, a failed check, a lost race, SQLite): the transactional
/// [`exchange`] then decides, with replay detection and the refusal's audit record. Nothing is
/// written before that, so falling back is always safe.
async fn exchange_fast(
    store: &Store,
    clock: &dyn Clock,
    client: &Client,
    ex: &CodeExchange<'_>,
) -> Result<Option<IssuedTokens>, TokenError> {
    if !store.is_postgres() {
        return Ok(None);
    }
    let now = clock.now_us();
    let db = &store.db;
    let hash = sha256_hex(ex.code);
    // The code and what decides whether it still stands, in one round trip (ADR 0025).
    let Some(read) = super::code_reads::read(store, &hash, now).await? else {
        return Ok(None);
    };
    let c = &read.code;
    if c.used_at.is_some() || presented_right(c, client, ex, now).is_err() {
        return Ok(None);
    }
    let (res, catalogue) = resource::with_catalogue(store, db, clock, &c.resource_id).await?;
    if let Some(r) = ex.resource {
        if resource::normalize_uri(r).ok().as_deref() != Some(res.uri.as_str()) {
            return Ok(None);
        }
    }
    let tenant = crate::tenant::TenantId::from_stored(c.tenant_id.clone());
    let code_scopes = crate::scope::split(&c.scopes);
    let pending = standing::Pending::of_code(c, &tenant, &code_scopes);
    // The tenant's suspension and the user's status are checked by the guard below.
    let Ok(scopes) = standing::code_stands_as_read(&pending, &read, now)? else {
        return Ok(None);
    };
    let tier = max_tier(&catalogue, &scopes);
    // The settings as read with the code.
    let lifetime = read.settings().refresh_lifetime_secs();
    let expires_at = now + lifetime * MICROS;
    let family = family_of(clock, c, &tenant, &scopes, expires_at, ex.dpop_jkt.clone());
    let minted = super::mint(db, clock, &family, &scopes, tier, client.allows_refresh()).await?;
    let mut w = super::one_statement::OneStatement::default();
    let guard = format!(
        "UPDATE auth_codes SET used_at = {now} WHERE code_hash = {hash} AND used_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM tenants tn WHERE tn.id = auth_codes.tenant_id \
         AND tn.suspended_at IS NOT NULL) AND EXISTS (SELECT 1 FROM users u \
         WHERE u.tenant_id = auth_codes.tenant_id AND u.id = auth_codes.user_id \
         AND u.status = 'active') RETURNING 1",
        now = w.bind(now),
        hash = w.bind(hash),
    );
    w.guard(guard);
    let event = issued_event(&tenant, c, client, res.uri, &minted.issued, tier, &family);
    w.insert(crate::entities::grant_families::ActiveModel::from(family));
    for row in minted.rows {
        w.insert(row);
    }
    w.insert(audit::row_of(clock, event));
    if !w.run_grouped(store).await? {
        return Ok(None);
    }
    crate::metrics::grant_written("authorization_code", true);
    if let Err(e) = client::touch(db, clock, client).await {
        tracing::warn!(code = "TOKEN0007", error = %e, "client last use not recorded");
    }
    Ok(Some(minted.issued))
}

/// Discards the unused codes of a user (all clients, or one), so a revocation path also ends
/// the sign-ins in flight. Unused codes are deleted, not marked used: a later presentation is
/// an unknown code, not a replay (nothing was issued from it to revoke).
pub async fn discard_unused<C: ConnectionTrait>(
    conn: &C,
    tenant: &crate::TenantId,
    user_id: Option<&str>,
    client_id: Option<&str>,
) -> CoreResult<u64> {
    let mut q = auth_codes::Entity::delete_many()
        .filter(auth_codes::Column::TenantId.eq(tenant.to_string()))
        .filter(auth_codes::Column::UsedAt.is_null());
    if let Some(u) = user_id {
        q = q.filter(auth_codes::Column::UserId.eq(u));
    }
    if let Some(c) = client_id {
        q = q.filter(auth_codes::Column::ClientId.eq(c));
    }
    Ok(q.exec(conn).await?.rows_affected)
}

/// Discards a client's unused codes in every tenant (the operator's cross-tenant revocation).
pub async fn discard_unused_everywhere<C: ConnectionTrait>(
    conn: &C,
    client_id: &str,
) -> CoreResult<u64> {
    Ok(auth_codes::Entity::delete_many()
        .filter(auth_codes::Column::ClientId.eq(client_id))
        .filter(auth_codes::Column::UsedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected)
}

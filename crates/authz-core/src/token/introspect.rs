//! RFC 7662 introspection for resource servers: one statement reads the caller's credentials
//! and the token. A token presented by a resource server it was not issued for is inactive
//! (audience check, RFC 8707), and so is a token of a suspended tenant (incident response).
//! A resource whose `share_identity` setting is on also learns the user's `email` and `name`
//! (issue 13 §2), so a vendor that introspects can tell who the user is.
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::Serialize;

use crate::clock::{Clock, MICROS};
use crate::crypto::sha256_hex;
use crate::entities::{grant_families, resources, tokens};
use crate::error::CoreResult;
use crate::resource::Resource;
use crate::token::CredentialKind;

#[derive(Debug, Serialize, Default)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// When the user signed in at the IdP for this grant (seconds, OpenID Connect Core §2
    /// `auth_time`): the MCP gateway in introspection mode applies the step-up window of
    /// critical scopes with it (issue 13 §1). Only in [`introspect_as`] answers (the grant
    /// family is joined there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Only when the resource's `share_identity` setting is on (and the user has one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Only when the resource's `share_identity` setting is on (and the user has one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Which credential made the token (issue 14): `authorization_code`, `api_key`,
    /// `jwt_bearer` (ID-JAG) or `client_credentials` ([`CredentialKind`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_kind: Option<CredentialKind>,
    /// `user` (a directory user) or `service` (a tenant service account, DESIGN §8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_type: Option<&'static str>,
    /// A personal API key's id (the id shown in key lists): only for `api_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// RFC 9449 §6.2 / RFC 7800: the confirmation of a DPoP-bound token, `{"jkt": "…"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 `cnf` with the RFC 9449 §6.1 `jkt` member.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    pub jkt: String,
}

/// The credential facts a token's grant family adds to an active answer.
fn with_family(mut i: Introspection, family: &grant_families::Model) -> Introspection {
    if !i.active {
        return i;
    }
    let kind = CredentialKind::parse(&family.kind);
    i.credential_kind = kind;
    i.subject_type = kind.map(CredentialKind::subject_type);
    if kind == Some(CredentialKind::ApiKey) {
        i.key_id = Some(family.id.clone());
    }
    i.cnf = family.dpop_jkt.clone().map(|jkt| Confirmation { jkt });
    if i.cnf.is_some() {
        // RFC 9449 §6.2: the token type a resource server must expect with it.
        i.token_type = Some("DPoP");
    }
    i
}

pub async fn introspect<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    issuer: &str,
    caller: &Resource,
    token: &str,
) -> CoreResult<Introspection> {
    let t = tokens::Entity::find_by_id(sha256_hex(token))
        .one(conn)
        .await?;
    let family_id = t.as_ref().map(|t| t.family_id.clone());
    let i = unless_suspended(conn, answer(t, caller, clock.now_us(), issuer)).await?;
    if !i.active {
        return Ok(i);
    }
    let family = match family_id {
        Some(id) => grant_families::Entity::find_by_id(id).one(conn).await?,
        None => None,
    };
    let i = match family {
        Some(f) if f.revoked_at.is_none() => with_family(i, &f),
        _ => return Ok(Introspection::default()),
    };
    // Not the hot path ([`introspect_as`] is): the setting is read here, for an active answer.
    let share = resources::Entity::find_by_id(caller.id.clone())
        .one(conn)
        .await?
        .is_some_and(|r| crate::resource::spec::parse_settings(&r.settings).share_identity);
    with_identity(conn, share, i).await
}

/// Adds the user's email and name to an active answer when the resource shares identity: one
/// read of the user, only then.
async fn with_identity<C: ConnectionTrait>(
    conn: &C,
    share: bool,
    mut i: Introspection,
) -> CoreResult<Introspection> {
    if !(share && i.active) {
        return Ok(i);
    }
    let (Some(tenant), Some(sub)) = (i.tenant.clone(), i.sub.clone()) else {
        return Ok(i);
    };
    let tenant = crate::tenant::TenantId::from_stored(tenant);
    (i.email, i.name) = subject_identity(conn, &tenant, i.credential_kind, &sub).await?;
    Ok(i)
}

/// The email and name of a token's subject, for a resource that shares identity: a directory
/// user's, or a service account's name (it has no email, DESIGN §8). A subject no longer found
/// has neither. Introspection and the gateway's in-process check both answer with it.
pub async fn subject_identity<C: ConnectionTrait>(
    conn: &C,
    tenant: &crate::TenantId,
    kind: Option<CredentialKind>,
    subject: &str,
) -> CoreResult<(Option<String>, Option<String>)> {
    if kind == Some(CredentialKind::ClientCredentials) {
        return Ok((
            None,
            crate::service_account::name_of(conn, tenant, subject).await?,
        ));
    }
    match crate::user::get(conn, tenant, subject).await {
        Ok(u) => Ok((u.email, u.name)),
        Err(crate::CoreError::NotFound(_)) => Ok((None, None)),
        Err(e) => Err(e),
    }
}

/// An active answer of a suspended tenant becomes inactive (no cache: a suspension holds on
/// every node at once).
async fn unless_suspended<C: ConnectionTrait>(
    conn: &C,
    i: Introspection,
) -> CoreResult<Introspection> {
    match &i.tenant {
        Some(t) if i.active => {
            let tenant = crate::tenant::TenantId::from_stored(t.clone());
            if crate::incident::is_suspended(conn, &tenant).await? {
                return Ok(Introspection::default());
            }
            Ok(i)
        }
        _ => Ok(i),
    }
}

/// Authenticates the calling resource server and introspects `token` in one statement, the
/// hot path (DESIGN §10): the resource row by its unique client id, left-joined with the token
/// row by its primary key and the token's grant family (its `auth_time`; a revoked family
/// makes the token inactive, as the gateway's database mode has it). Credentials are read on every call, never cached, so a revoked or
/// rotated-out secret is refused on every node at once (§6.3, review F11). `None`: the
/// credentials are wrong (`invalid_client`).
pub async fn introspect_as(
    store: &crate::db::Store,
    clock: &dyn Clock,
    issuer: &str,
    client_id: &str,
    secret: &str,
    token: &str,
) -> CoreResult<Option<Introspection>> {
    let hash = sha256_hex(token);
    let found = if store.is_postgres() {
        // With the node's concurrent introspections, in one statement (ADR 0025).
        let asked = super::lookup::Lookup {
            client_id: client_id.to_string(),
            hash,
        };
        store.queues.lookups.submit(&store.db, asked).await?
    } else {
        look_up(&store.db, client_id, hash).await?
    };
    let Some((r, t, family)) = found else {
        return Ok(None);
    };
    let now = clock.now_us();
    if !crate::resource::credential_matches(&r, now, secret) {
        return Ok(None);
    }
    // The settings came with the resource row: sharing identity costs a read only when on.
    let share = crate::resource::spec::parse_settings(&r.settings).share_identity;
    let caller = crate::resource::to_resource(r);
    let family = family.filter(|f| f.revoked_at.is_none());
    let mut i = match &family {
        Some(f) => with_family(answer(t, &caller, now, issuer), f),
        None => Introspection::default(),
    };
    if i.active {
        i.auth_time = family.map(|f| f.auth_time / MICROS);
    }
    Ok(Some(with_identity(&store.db, share, i).await?))
}

/// [`introspect_as`]'s read alone, on SQLite (one node, no grouping): the same rows as
/// `token::lookup`'s statement.
async fn look_up<C: ConnectionTrait>(
    conn: &C,
    client_id: &str,
    hash: String,
) -> Result<super::lookup::Found, sea_orm::DbErr> {
    use sea_orm::sea_query::{Expr, IntoCondition};
    use sea_orm::{ColumnTrait, JoinType, QueryFilter, QuerySelect};
    let token_row = resources::Entity::belongs_to(tokens::Entity)
        .from(resources::Column::Id)
        .to(tokens::Column::ResourceId)
        .on_condition(move |_, t| {
            // A suspended tenant's tokens are not found (same statement, no extra round trip).
            let suspended = sea_orm::sea_query::Query::select()
                .column(crate::entities::tenants::Column::Id)
                .from(crate::entities::tenants::Entity)
                .and_where(Expr::col(crate::entities::tenants::Column::SuspendedAt).is_not_null())
                .to_owned();
            Expr::col((t.clone(), tokens::Column::TokenHash))
                .eq(hash.clone())
                .and(Expr::col((t, tokens::Column::TenantId)).not_in_subquery(suspended))
                .into_condition()
        })
        .into();
    let family_row = tokens::Entity::belongs_to(grant_families::Entity)
        .from(tokens::Column::FamilyId)
        .to(grant_families::Column::Id)
        .into();
    resources::Entity::find()
        .filter(resources::Column::RsClientId.eq(client_id))
        .join(JoinType::LeftJoin, token_row)
        .join(JoinType::LeftJoin, family_row)
        .select_also(tokens::Entity)
        .select_also(grant_families::Entity)
        .one(conn)
        .await
}

/// Active only for an unrevoked, unexpired access token issued for the caller (RFC 8707).
fn answer(t: Option<tokens::Model>, caller: &Resource, now_us: i64, issuer: &str) -> Introspection {
    let Some(t) = t else {
        return Introspection::default();
    };
    let live = t.kind == "access"
        && t.revoked_at.is_none()
        && t.expires_at > now_us
        && t.resource_id == caller.id;
    if !live {
        return Introspection::default();
    }
    Introspection {
        active: true,
        scope: Some(t.scopes),
        client_id: Some(t.client_id),
        sub: Some(t.user_id),
        aud: Some(caller.uri.clone()),
        iss: Some(issuer.to_string()),
        exp: Some(t.expires_at / MICROS),
        iat: Some(t.issued_at / MICROS),
        token_type: Some("Bearer"),
        tenant: Some(t.tenant_id),
        session_id: Some(t.session_id),
        tier: Some(t.tier),
        ..Default::default()
    }
}

//! A tenant's upstream identity-provider connections. Client secrets are sealed with the master
//! key (DESIGN §6.2) and opened only when a sign-in needs them.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::db::Store;
use crate::entities::connections;
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

#[derive(Clone, Debug)]
pub struct Connection {
    pub id: String,
    pub tenant: TenantId,
    pub kind: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    sealed_secret: String,
    pub enabled: bool,
    /// `generic`, `entra`, `okta` or `google` (oidc-federation knows what each means).
    pub preset: String,
    /// Preset settings, e.g. `{"tenant_id": "..."}` for Entra ID.
    pub settings: serde_json::Value,
    /// Added by the operator: sign-ins may fetch its IdP through the operator's private
    /// allow-list and CA. A connection added in the console (by a tenant admin or a setup
    /// session) is fetched like any public URL (review F3).
    pub operator_added: bool,
}

impl Connection {
    pub fn client_secret(&self, key: &MasterKey) -> CoreResult<String> {
        String::from_utf8(key.open(&self.sealed_secret)?)
            .map_err(|_| CoreError::Crypto("secret is not UTF-8".into()))
    }

    /// A development connection (ADR 0017): marked so wherever it is shown.
    pub fn is_development(&self) -> bool {
        self.kind == crate::dev_idp::KIND
    }

    /// The users of a development connection, opened from its sealed secret.
    pub fn dev_users(&self, key: &MasterKey) -> CoreResult<crate::dev_idp::DevUsers> {
        if !self.is_development() {
            return Err(CoreError::invalid("not a development connection"));
        }
        serde_json::from_slice(&key.open(&self.sealed_secret)?)
            .map_err(|e| CoreError::Crypto(format!("development users: {e}")))
    }
}

impl From<connections::Model> for Connection {
    fn from(m: connections::Model) -> Self {
        Connection {
            id: m.id,
            tenant: TenantId::from_stored(m.tenant_id),
            kind: m.kind,
            name: m.name,
            issuer: m.issuer,
            client_id: m.client_id,
            sealed_secret: m.client_secret_enc,
            enabled: m.enabled,
            preset: m.preset,
            settings: serde_json::from_str(&m.settings).unwrap_or_default(),
            operator_added: m.operator_added,
        }
    }
}

pub struct NewOidcConnection<'a> {
    pub name: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub preset: &'a str,
    pub settings: serde_json::Value,
}

/// Stores an OIDC connection whose discovery document the caller has already validated.
pub async fn add_oidc(
    store: &Store,
    clock: &dyn Clock,
    key: &MasterKey,
    tenant: &TenantId,
    new: NewOidcConnection<'_>,
) -> CoreResult<Connection> {
    if new.client_id.trim().is_empty() {
        return Err(CoreError::invalid("client id must not be empty"));
    }
    insert(store, clock, key, tenant, "oidc", new, Added::ByOperator).await
}

/// Stores a development connection (ADR 0017) added by the operator: its users, passwords
/// hashed, sealed like a client secret. The caller has checked that `issuer` (Gatehouse's own)
/// is a loopback http URL.
pub async fn add_dev(
    store: &Store,
    clock: &dyn Clock,
    key: &MasterKey,
    tenant: &TenantId,
    name: &str,
    issuer: &str,
    users: &crate::dev_idp::DevUsers,
) -> CoreResult<Connection> {
    let sealed = serde_json::to_string(users).map_err(|e| CoreError::Crypto(e.to_string()))?;
    let new = NewOidcConnection {
        name,
        issuer: &format!("{issuer}/federation/dev"),
        client_id: "development",
        client_secret: &sealed,
        preset: crate::dev_idp::PRESET,
        settings: serde_json::json!({}),
    };
    insert(
        store,
        clock,
        key,
        tenant,
        crate::dev_idp::KIND,
        new,
        Added::ByOperator,
    )
    .await
}

/// Who adds a connection: the operator (CLI), or someone in a tenant's console.
enum Added<'a> {
    ByOperator,
    InConsole {
        actor: &'a str,
        setup_invitation: Option<&'a str>,
        /// Chosen before creation (guided set-up), else generated here.
        id: Option<&'a str>,
    },
}

/// A connection added in the console with the id its guided set-up allocated: the values the
/// admin pasted into the IdP (redirect URI, ACS URL, entity ID) contain it, so the connection
/// must be created with exactly that id.
pub struct ConsoleAdd<'a> {
    pub actor: &'a str,
    pub setup_invitation: Option<&'a str>,
    pub id: &'a str,
}

/// A pre-allocated connection id is a lowercase hyphenated UUID (what [`insert`] generates);
/// anything else is refused before it reaches a URL or the database.
pub fn check_allocated_id(id: &str) -> CoreResult<()> {
    match uuid::Uuid::parse_str(id) {
        Ok(u) if u.hyphenated().to_string() == id => Ok(()),
        _ => Err(CoreError::invalid(
            "the set-up id is malformed: start the set-up again",
        )),
    }
}

/// A fresh id for a guided set-up (nothing is stored until the connection is created).
pub fn allocate_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whether a connection with this id exists, in any tenant (ids are global: the callback URLs
/// carry no tenant).
pub async fn id_taken<C: ConnectionTrait>(conn: &C, id: &str) -> CoreResult<bool> {
    Ok(connections::Entity::find_by_id(id.to_string())
        .one(conn)
        .await?
        .is_some())
}

/// [`add_oidc_by`] or [`add_saml_by`] (`kind`) with a pre-allocated id: refused when malformed
/// or already taken (a set-up submitted twice, or an id copied from elsewhere).
pub async fn add_with_id(
    store: &Store,
    clock: &dyn Clock,
    key: &MasterKey,
    tenant: &TenantId,
    kind: &str,
    new: NewOidcConnection<'_>,
    by: ConsoleAdd<'_>,
) -> CoreResult<Connection> {
    check_allocated_id(by.id)?;
    if !matches!(kind, "oidc" | "saml") {
        return Err(CoreError::invalid("unknown connection kind"));
    }
    if kind == "oidc" && new.client_id.trim().is_empty() {
        return Err(CoreError::invalid("client id must not be empty"));
    }
    if new.name.trim().is_empty() {
        return Err(CoreError::invalid("the connection needs a name"));
    }
    let added = Added::InConsole {
        actor: by.actor,
        setup_invitation: by.setup_invitation,
        id: Some(by.id),
    };
    insert(store, clock, key, tenant, kind, new, added).await
}

/// [`add_oidc`] on behalf of `actor` (a tenant admin in the console). With `setup_invitation`
/// (an invitee's setup-only session) the connection is created *pending*: disabled for users,
/// usable only for that invitee's console sign-in until an admin enables it.
pub async fn add_oidc_by(
    store: &Store,
    clock: &dyn Clock,
    key: &MasterKey,
    tenant: &TenantId,
    new: NewOidcConnection<'_>,
    actor: &str,
    setup_invitation: Option<&str>,
) -> CoreResult<Connection> {
    if new.client_id.trim().is_empty() {
        return Err(CoreError::invalid("client id must not be empty"));
    }
    let by = Added::InConsole {
        actor,
        setup_invitation,
        id: None,
    };
    insert(store, clock, key, tenant, "oidc", new, by).await
}

/// Stores a SAML connection: `issuer` is the IdP entity ID, `client_secret` the SP private key
/// (sealed like any secret), `settings` the pinned IdP metadata and SP certificate.
pub async fn add_saml(
    store: &Store,
    clock: &dyn Clock,
    key: &MasterKey,
    tenant: &TenantId,
    new: NewOidcConnection<'_>,
) -> CoreResult<Connection> {
    insert(store, clock, key, tenant, "saml", new, Added::ByOperator).await
}

/// [`add_saml`] on behalf of `actor` (a tenant admin in the console).
pub async fn add_saml_by(
    store: &Store,
    clock: &dyn Clock,
    key: &MasterKey,
    tenant: &TenantId,
    new: NewOidcConnection<'_>,
    actor: &str,
    setup_invitation: Option<&str>,
) -> CoreResult<Connection> {
    if new.name.trim().is_empty() {
        return Err(CoreError::invalid("the connection needs a name"));
    }
    let by = Added::InConsole {
        actor,
        setup_invitation,
        id: None,
    };
    insert(store, clock, key, tenant, "saml", new, by).await
}

async fn insert(
    store: &Store,
    clock: &dyn Clock,
    key: &MasterKey,
    tenant: &TenantId,
    kind: &str,
    new: NewOidcConnection<'_>,
    by: Added<'_>,
) -> CoreResult<Connection> {
    let (actor, setup_invitation, operator_added, chosen_id) = match by {
        Added::ByOperator => ("operator", None, true, None),
        Added::InConsole {
            actor,
            setup_invitation,
            id,
        } => (actor, setup_invitation, false, id),
    };
    let enabled = setup_invitation.is_none();
    if new.client_secret.is_empty() {
        return Err(CoreError::invalid("client secret is empty"));
    }
    let id = chosen_id.map_or_else(allocate_id, str::to_string);
    let model = connections::Model {
        id: id.clone(),
        tenant_id: tenant.to_string(),
        kind: kind.into(),
        name: new.name.to_string(),
        issuer: new.issuer.to_string(),
        client_id: new.client_id.trim().to_string(),
        client_secret_enc: key.seal(new.client_secret.as_bytes())?,
        enabled,
        created_at: clock.now_us(),
        preset: new.preset.to_string(),
        settings: new.settings.to_string(),
        operator_added,
        setup_invitation: setup_invitation.map(str::to_string),
        removed_at: None,
    };
    let txn = store.begin().await?;
    if chosen_id.is_some() && id_taken(&txn, &id).await? {
        return Err(CoreError::Conflict(
            "this set-up was already completed: its connection exists (start a new set-up to add another)".into(),
        ));
    }
    connections::Entity::insert(connections::ActiveModel {
        id: Set(model.id.clone()),
        tenant_id: Set(model.tenant_id.clone()),
        kind: Set(model.kind.clone()),
        name: Set(model.name.clone()),
        issuer: Set(model.issuer.clone()),
        client_id: Set(model.client_id.clone()),
        client_secret_enc: Set(model.client_secret_enc.clone()),
        enabled: Set(enabled),
        created_at: Set(model.created_at),
        preset: Set(model.preset.clone()),
        settings: Set(model.settings.clone()),
        operator_added: Set(operator_added),
        setup_invitation: Set(model.setup_invitation.clone()),
        removed_at: Set(None),
    })
    .exec_without_returning(&txn)
    .await?;
    let mut event = AuditEvent::new(Some(tenant), "connection.created")
        .actor(actor)
        .detail("connection_id", id.as_str())
        .detail("kind", kind)
        .detail("preset", new.preset)
        .detail("issuer", new.issuer)
        .detail("pending_setup", setup_invitation.map(str::to_string));
    if kind == crate::dev_idp::KIND {
        event = event.detail("development", true);
    }
    audit::record(&txn, clock, event).await?;
    // A new connection is enabled from the start (unless pending): the same alert as enabling
    // one. A pending connection alerts when an admin enables it.
    if enabled {
        crate::mail::alert(
            &txn,
            clock,
            tenant,
            "alert.connection_enabled",
            "A sign-in connection was enabled",
            "connection.",
            &[
                (
                    "Connection",
                    format!("{} ({kind} {}, new)", new.name, new.preset),
                ),
                ("Issuer", new.issuer.to_string()),
                ("By", actor.to_string()),
            ],
        )
        .await?;
    }
    txn.commit().await?;
    Ok(model.into())
}

pub async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<Connection> {
    connections::Entity::find_by_id(id.to_string())
        .filter(connections::Column::TenantId.eq(tenant.to_string()))
        .filter(connections::Column::RemovedAt.is_null())
        .one(conn)
        .await?
        .map(Connection::from)
        .ok_or(CoreError::NotFound("connection"))
}

/// The enabled connections of a tenant, oldest first (the first is the default for sign-in).
pub async fn list_enabled<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> CoreResult<Vec<Connection>> {
    Ok(connections::Entity::find()
        .filter(connections::Column::TenantId.eq(tenant.to_string()))
        .filter(connections::Column::Enabled.eq(true))
        .filter(connections::Column::RemovedAt.is_null())
        .order_by_asc(connections::Column::CreatedAt)
        .all(conn)
        .await?
        .into_iter()
        .map(Connection::from)
        .collect())
}

/// Every connection of a tenant, enabled or not, oldest first.
pub async fn list<C: ConnectionTrait>(conn: &C, tenant: &TenantId) -> CoreResult<Vec<Connection>> {
    Ok(connections::Entity::find()
        .filter(connections::Column::TenantId.eq(tenant.to_string()))
        .filter(connections::Column::RemovedAt.is_null())
        .order_by_asc(connections::Column::CreatedAt)
        .all(conn)
        .await?
        .into_iter()
        .map(Connection::from)
        .collect())
}

/// Enables or disables a connection. A disabled connection is not offered at sign-in and its
/// callbacks are refused. Disabling also cuts off what it issued — its sessions (console
/// sessions included), the grants started from them, their tokens and codes — in the same
/// transaction: when an IdP is compromised, disabling its connection is the admin's lever
/// (review F7). Enabling it again restores nothing.
pub async fn set_enabled(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    enabled: bool,
    actor: &str,
) -> CoreResult<()> {
    let txn = store.begin().await?;
    let n = connections::Entity::update_many()
        .col_expr(connections::Column::Enabled, enabled.into())
        .filter(connections::Column::Id.eq(id))
        .filter(connections::Column::TenantId.eq(tenant.to_string()))
        .filter(connections::Column::RemovedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if n == 0 {
        return Err(CoreError::NotFound("connection"));
    }
    if enabled {
        // Enabled by an admin: no longer pending on the setup session that added it.
        connections::Entity::update_many()
            .col_expr(
                connections::Column::SetupInvitation,
                sea_orm::sea_query::Expr::value(Option::<String>::None),
            )
            .filter(connections::Column::TenantId.eq(tenant.to_string()))
            .filter(connections::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    if !enabled {
        crate::incident::cut_connection(&txn, clock, tenant, id, actor).await?;
    }
    let action = if enabled {
        "connection.enabled"
    } else {
        "connection.disabled"
    };
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), action)
            .actor(actor)
            .detail("connection_id", id),
    )
    .await?;
    if enabled {
        let c = get(&txn, tenant, id).await?;
        crate::mail::alert(
            &txn,
            clock,
            tenant,
            "alert.connection_enabled",
            "A sign-in connection was enabled",
            "connection.enabled",
            &[
                (
                    "Connection",
                    format!("{} ({} {})", c.name, c.kind, c.preset),
                ),
                ("Issuer", c.issuer.clone()),
                ("By", actor.to_string()),
            ],
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// A connection by id alone: the entry point of an IdP's callback, whose URL names the
/// connection; the tenant comes from the row and every later query takes it.
pub async fn find_for_callback<C: ConnectionTrait>(conn: &C, id: &str) -> CoreResult<Connection> {
    connections::Entity::find_by_id(id.to_string())
        .filter(connections::Column::RemovedAt.is_null())
        .one(conn)
        .await?
        .map(Connection::from)
        .ok_or(CoreError::NotFound("connection"))
}

/// Sets the SCIM attribute (`externalId` or `userName`) that links this connection's
/// identities to SCIM users (DESIGN §6.4; see `directory::admission`). Never email.
pub async fn set_scim_link(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    id: &str,
    attribute: &str,
) -> CoreResult<()> {
    let attribute = match attribute {
        "externalId" | "userName" => attribute,
        other => {
            return Err(CoreError::invalid(format!(
                "the SCIM link attribute is externalId or userName, not '{other}'"
            )))
        }
    };
    let txn = store.begin().await?;
    let current = get(&txn, tenant, id).await?;
    let mut settings = current.settings.clone();
    if !settings.is_object() {
        settings = serde_json::json!({});
    }
    settings[crate::directory::admission::LINK_SETTING] = attribute.into();
    connections::Entity::update_many()
        .col_expr(connections::Column::Settings, settings.to_string().into())
        .filter(connections::Column::Id.eq(id))
        .filter(connections::Column::TenantId.eq(tenant.to_string()))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "connection.scim_link_set")
            .actor("operator")
            .detail("connection_id", id)
            .detail("attribute", attribute),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// What an admin may change on an existing connection.
#[derive(Default)]
pub struct ConnectionUpdate<'a> {
    pub name: Option<&'a str>,
    /// OIDC: a new client secret; SAML: never (the SP key stays).
    pub client_secret: Option<&'a str>,
    /// SAML: new IdP entity ID when the metadata is replaced.
    pub issuer: Option<&'a str>,
    pub settings: Option<serde_json::Value>,
}

/// Updates a connection of `tenant` (name, secret, IdP metadata), audited without secrets.
pub async fn update(
    store: &Store,
    clock: &dyn Clock,
    key: &MasterKey,
    tenant: &TenantId,
    id: &str,
    u: ConnectionUpdate<'_>,
    actor: &str,
) -> CoreResult<()> {
    let txn = store.begin().await?;
    get(&txn, tenant, id).await?;
    let mut q = connections::Entity::update_many()
        .filter(connections::Column::Id.eq(id))
        .filter(connections::Column::TenantId.eq(tenant.to_string()));
    let mut changed: Vec<&str> = Vec::new();
    if let Some(n) = u.name {
        if n.trim().is_empty() || n.len() > 200 {
            return Err(CoreError::invalid("the name must be 1 to 200 characters"));
        }
        q = q.col_expr(connections::Column::Name, n.trim().into());
        changed.push("name");
    }
    if let Some(s) = u.client_secret {
        q = q.col_expr(
            connections::Column::ClientSecretEnc,
            key.seal(s.as_bytes())?.into(),
        );
        changed.push("client_secret");
    }
    if let Some(i) = u.issuer {
        q = q.col_expr(connections::Column::Issuer, i.into());
        changed.push("issuer");
    }
    if let Some(s) = &u.settings {
        q = q.col_expr(connections::Column::Settings, s.to_string().into());
        changed.push("settings");
    }
    if changed.is_empty() {
        return Ok(());
    }
    q.exec(&txn).await?;
    audit::record(
        &txn,
        clock,
        AuditEvent::new(Some(tenant), "connection.updated")
            .actor(actor)
            .detail("connection_id", id)
            .detail("changed", changed),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The invitation whose setup session added this (still pending) connection, if any.
pub async fn setup_invitation<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    id: &str,
) -> CoreResult<Option<String>> {
    Ok(connections::Entity::find_by_id(id)
        .filter(connections::Column::TenantId.eq(tenant.to_string()))
        .one(conn)
        .await?
        .and_then(|c| c.setup_invitation))
}

/// Every pending connection of the tenant: connection id → the invitation whose setup session
/// added it (one query).
pub async fn setup_invitations<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> CoreResult<std::collections::HashMap<String, String>> {
    use sea_orm::QuerySelect;
    let rows: Vec<(String, String)> = connections::Entity::find()
        .select_only()
        .column(connections::Column::Id)
        .column(connections::Column::SetupInvitation)
        .filter(connections::Column::TenantId.eq(tenant.to_string()))
        .filter(connections::Column::SetupInvitation.is_not_null())
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Hands the connections that lapsed setup sessions of the tenant left pending (their
/// invitation expired or was withdrawn before anyone was bound) to the setup session of
/// `invitation`, whose invitee would otherwise have to configure the IdP again.
pub async fn adopt_lapsed_pending<C: ConnectionTrait>(
    conn: &C,
    now_us: i64,
    tenant: &TenantId,
    invitation: &str,
) -> CoreResult<()> {
    use crate::entities::admin_invitations as inv;
    use sea_orm::sea_query::{Cond, Expr};
    use sea_orm::{QuerySelect, QueryTrait};
    let lapsed = inv::Entity::find()
        .select_only()
        .column(inv::Column::Id)
        .filter(inv::Column::TenantId.eq(tenant.to_string()))
        .filter(inv::Column::Id.ne(invitation))
        .filter(inv::Column::BoundUserId.is_null())
        .filter(
            Cond::any()
                .add(inv::Column::RevokedAt.is_not_null())
                .add(inv::Column::SetupExpiresAt.lte(now_us)),
        )
        .into_query();
    connections::Entity::update_many()
        .col_expr(
            connections::Column::SetupInvitation,
            Expr::value(invitation.to_string()),
        )
        .filter(connections::Column::TenantId.eq(tenant.to_string()))
        .filter(connections::Column::Enabled.eq(false))
        .filter(connections::Column::SetupInvitation.in_subquery(lapsed))
        .exec(conn)
        .await?;
    Ok(())
}

/// The pending connections an invitation's setup session added.
pub async fn pending_for_invitation<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
    invitation: &str,
) -> CoreResult<Vec<Connection>> {
    let pending = setup_invitations(conn, tenant).await?;
    Ok(list(conn, tenant)
        .await?
        .into_iter()
        .filter(|c| !c.enabled && pending.get(&c.id).map(String::as_str) == Some(invitation))
        .collect())
}

//! The test world every crate's tests build on (issue 12 §3): a store (SQLite, or PostgreSQL
//! when `GATEHOUSE_TEST_DATABASE_URL` is set), a fixed clock, a registered resource with a
//! routine, a sensitive and a critical scope, a public client, and tenants with a domain, an
//! OIDC connection, org grants, a user and a sign-in session. Tokens are obtained through the
//! real code → exchange path. The pieces are also there one by one ([`add_tenant`],
//! [`add_oidc`], [`signed_in_user`], [`scim_token`], [`api_key`]) for tests that need a world
//! of another shape; the HTTP half (the one app over this store) is in the gatehouse crate's
//! tests.

use crate::audit;
use crate::client::{self, Client};
use crate::clock::FixedClock;
use crate::connection::{self, Connection, NewOidcConnection};
use crate::crypto::{pkce_s256, MasterKey};
use crate::entities::audit_events;
use crate::grant;
use crate::login::AuthorizeRequest;
use crate::redirect::RedirectPolicy;
use crate::resource::{self, Resource, ResourceSpec, ScopeSpec, ToolSpec};
use crate::scope::Tier;
use crate::session::{self, Session};
use crate::tenant::{self, Tenant, TenantId};
use crate::testkit;
use crate::token::code::{self, CodeExchange};
use crate::token::introspect::{self, Introspection};
use crate::token::{IssuedTokens, TokenError};
use crate::user::{self, FederatedIdentity, User};
use crate::Store;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

pub const ISSUER: &str = "https://auth.gatehouse.test";
pub const RESOURCE_URI: &str = "https://crm.example.com/mcp";
pub const OTHER_RESOURCE_URI: &str = "https://wiki.example.com/mcp";
pub const READ: &str = "crm:customers:read";
pub const DELETE: &str = "crm:customers:delete";
pub const SETTINGS: &str = "crm:settings:write";
pub const REDIRECT: &str = "https://app.example.com/oauth/callback";
/// RFC 7636 Appendix B verifier (43 characters).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ0Z_wPf7xuV1zwLUG3VpfD3DdkcT8";

pub fn s(v: &str) -> String {
    v.to_string()
}

pub fn scopes(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// What is shared by every tenant: the store, clock, master key, resources and the client.
pub struct World {
    pub store: Store,
    pub clock: FixedClock,
    pub key: MasterKey,
    pub resource: Resource,
    pub rs_secret: String,
    pub other_resource: Resource,
    pub other_rs_secret: String,
    pub client: Client,
}

/// One tenant with its domain, connection, grants, user and live session.
pub struct TenantFx {
    pub tenant: Tenant,
    pub domain: String,
    pub connection: Connection,
    pub user: User,
    pub session: Session,
}

impl TenantFx {
    pub fn id(&self) -> &TenantId {
        &self.tenant.id
    }
}

pub fn crm_spec() -> ResourceSpec {
    ResourceSpec {
        uri: RESOURCE_URI.into(),
        display_name: "Acme CRM".into(),
        scopes: vec![
            ScopeSpec {
                name: READ.into(),
                description: "Read customer records".into(),
                tier: Tier::Routine,
            },
            ScopeSpec {
                name: DELETE.into(),
                description: "Delete customer records".into(),
                tier: Tier::Sensitive,
            },
            ScopeSpec {
                name: SETTINGS.into(),
                description: "Change CRM settings".into(),
                tier: Tier::Critical,
            },
        ],
        tools: vec![
            ToolSpec {
                name: "list_customers".into(),
                scopes: vec![READ.into()],
                description: Some("List customers".into()),
            },
            ToolSpec {
                name: "delete_customer".into(),
                scopes: vec![READ.into(), DELETE.into()],
                description: None,
            },
        ],
        ..Default::default()
    }
}

impl World {
    pub async fn new() -> World {
        let store = testkit::store().await;
        let clock = testkit::clock();
        let key = testkit::master_key();
        let reg = resource::register(&store, &clock, crm_spec())
            .await
            .expect("register CRM resource");
        let other = resource::register(
            &store,
            &clock,
            ResourceSpec {
                uri: OTHER_RESOURCE_URI.into(),
                display_name: "Wiki".into(),
                scopes: vec![ScopeSpec {
                    name: "wiki:read".into(),
                    description: "Read pages".into(),
                    tier: Tier::Routine,
                }],
                ..Default::default()
            },
        )
        .await
        .expect("register wiki resource");
        // Resource servers authenticate with the credentials they were given at registration.
        let resource = resource::authenticate(
            &store.db,
            crate::clock::Clock::now_us(&clock),
            &reg.introspection_client_id,
            &reg.introspection_client_secret,
        )
        .await
        .unwrap()
        .expect("CRM credentials authenticate");
        let other_resource = resource::authenticate(
            &store.db,
            crate::clock::Clock::now_us(&clock),
            &other.introspection_client_id,
            &other.introspection_client_secret,
        )
        .await
        .unwrap()
        .expect("wiki credentials authenticate");
        let client = client::add_preregistered(
            &store,
            &clock,
            &RedirectPolicy::default(),
            "Test Agent",
            &[s(REDIRECT)],
            false,
        )
        .await
        .expect("pre-register public client")
        .client;
        World {
            store,
            clock,
            key,
            resource,
            rs_secret: reg.introspection_client_secret,
            other_resource,
            other_rs_secret: other.introspection_client_secret,
            client,
        }
    }

    /// A tenant owning `domain`, with an OIDC connection, `granted` scopes of the CRM granted to
    /// everyone, a user `alice@<domain>` and a sign-in session.
    pub async fn tenant(&self, slug: &str, domain: &str, granted: &[&str]) -> TenantFx {
        let t = tenant::create(
            &self.store,
            &self.clock,
            slug,
            &format!("{slug} Inc"),
            &[s(domain)],
        )
        .await
        .expect("create tenant");
        let issuer = format!("https://idp.{domain}");
        let conn = connection::add_oidc(
            &self.store,
            &self.clock,
            &self.key,
            &t.id,
            NewOidcConnection {
                name: "OIDC",
                issuer: &issuer,
                client_id: "gatehouse",
                client_secret: "idp-secret",
                preset: "generic",
                settings: serde_json::json!({}),
            },
        )
        .await
        .expect("add OIDC connection");
        if !granted.is_empty() {
            grant::add_for_everyone(
                &self.store,
                &self.clock,
                &t.id,
                &self.resource,
                &scopes(granted),
            )
            .await
            .expect("grant scopes");
        }
        let email = format!("alice@{domain}");
        let txn = self.store.begin().await.unwrap();
        let (u, created) = user::upsert_federated(
            &txn,
            &self.clock,
            &t.id,
            &FederatedIdentity {
                connection_id: conn.id.clone(),
                subject: format!("sub-alice-{slug}"),
                email: Some(email),
                name: Some("Alice".into()),
                auth_time: None,
                ..Default::default()
            },
        )
        .await
        .expect("upsert user");
        assert!(created);
        let (_cookie, sess) =
            session::create(&txn, &self.clock, &t.id, &u.id, &conn.id, self.clock_now())
                .await
                .expect("create session");
        txn.commit().await.unwrap();
        TenantFx {
            tenant: t,
            domain: domain.to_string(),
            connection: conn,
            user: u,
            session: sess,
        }
    }

    /// The tenant's user signs in again now (a new live session).
    pub async fn signed_in_again(&self, t: &TenantFx) -> TenantFx {
        let (_cookie, sess) = session::create(
            &self.store.db,
            &self.clock,
            t.id(),
            &t.user.id,
            &t.connection.id,
            self.clock_now(),
        )
        .await
        .expect("create session");
        TenantFx {
            tenant: t.tenant.clone(),
            domain: t.domain.clone(),
            connection: t.connection.clone(),
            user: t.user.clone(),
            session: sess,
        }
    }

    pub fn clock_now(&self) -> i64 {
        use crate::Clock;
        self.clock.now_us()
    }

    pub fn request(
        &self,
        client: &Client,
        resource: &Resource,
        scopes: &[String],
        verifier: &str,
    ) -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: client.client_id.clone(),
            redirect_uri: client.redirect_uris[0].clone(),
            state: Some("st".into()),
            code_challenge: pkce_s256(verifier),
            resource_id: resource.id.clone(),
            scopes: scopes.to_vec(),
            login_hint: None,
            step_up: false,
            redirect_uri_given: true,
            purpose: Default::default(),
            invitation: None,
        }
    }

    /// Issues an authorization code for the tenant's session (what the consent page does).
    pub async fn code_for(&self, t: &TenantFx, client: &Client, want: &[&str]) -> String {
        let want = scopes(want);
        let req = self.request(client, &self.resource, &want, VERIFIER);
        let catalogue = resource::catalogue(&self.store.db, &self.resource.id)
            .await
            .unwrap();
        let tier = crate::token::max_tier(&catalogue, &want);
        let txn = self.store.begin().await.unwrap();
        crate::consent::remember(
            &txn,
            &self.clock,
            &t.session.tenant,
            &t.session.user_id,
            &client.client_id,
            &self.resource.id,
            &want,
            tier,
        )
        .await
        .expect("remember consent");
        let c = code::create(&txn, &self.clock, &t.session, &req, &want)
            .await
            .expect("create code");
        txn.commit().await.unwrap();
        c
    }

    /// Redeems a code as a well-behaved client would.
    pub async fn exchange(&self, client: &Client, code: &str) -> Result<IssuedTokens, TokenError> {
        code::exchange(
            &self.store,
            &self.clock,
            client,
            CodeExchange {
                dpop_jkt: None,
                code,
                redirect_uri: Some(client.redirect_uris[0].as_str()),
                code_verifier: Some(VERIFIER),
                resource: Some(RESOURCE_URI),
            },
        )
        .await
    }

    /// Code + exchange with the shared public client.
    pub async fn tokens(&self, t: &TenantFx, want: &[&str]) -> IssuedTokens {
        let c = self.code_for(t, &self.client, want).await;
        self.exchange(&self.client, &c)
            .await
            .expect("exchange code")
    }

    /// Introspection as the CRM resource server.
    pub async fn introspect(&self, token: &str) -> Introspection {
        introspect::introspect(&self.store.db, &self.clock, ISSUER, &self.resource, token)
            .await
            .expect("introspect")
    }

    pub async fn active(&self, token: &str) -> bool {
        self.introspect(token).await.active
    }

    pub async fn audit_rows(&self, chain: &str) -> Vec<audit_events::Model> {
        audit_rows(&self.store, chain).await
    }
}

pub async fn audit_rows(store: &Store, chain: &str) -> Vec<audit_events::Model> {
    audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(chain))
        .order_by_asc(audit_events::Column::Id)
        .all(&store.db)
        .await
        .unwrap()
}

/// Records one audit event in its own transaction.
pub async fn record_one(
    store: &Store,
    clock: &FixedClock,
    tenant: &TenantId,
    action: &str,
    i: i64,
) {
    let txn = store.begin().await.unwrap();
    audit::record(
        &txn,
        clock,
        audit::AuditEvent::new(Some(tenant), action)
            .user(format!("user-{i}"))
            .detail("i", i),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
}

/// Removes the append-only triggers, as an attacker with owner access to the database could.
pub async fn drop_audit_triggers(store: &Store) {
    let stmts: &[&str] = if store.is_postgres() {
        &[
            "DROP TRIGGER audit_guard ON audit_events",
            "DROP TRIGGER audit_seal_guard ON audit_seals",
            "DROP TRIGGER audit_checkpoint_guard ON audit_checkpoints",
        ]
    } else {
        &[
            "DROP TRIGGER audit_no_delete",
            "DROP TRIGGER audit_no_update",
            "DROP TRIGGER audit_seal_no_delete",
            "DROP TRIGGER audit_seal_no_update",
            "DROP TRIGGER audit_checkpoint_no_update",
            "DROP TRIGGER IF EXISTS audit_checkpoint_no_delete",
        ]
    };
    for s in stmts {
        store
            .db
            .execute_unprepared(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

// --- The pieces one by one, for worlds of another shape -------------------------------------

/// A tenant named `name` owning `domains`.
pub async fn add_tenant(
    store: &Store,
    clock: &FixedClock,
    slug: &str,
    name: &str,
    domains: &[&str],
) -> Tenant {
    let domains: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
    tenant::create(store, clock, slug, name, &domains)
        .await
        .unwrap_or_else(|e| panic!("create tenant {slug}: {e}"))
}

/// An OIDC connection of the generic preset on the test master key.
pub async fn add_oidc(
    store: &Store,
    clock: &FixedClock,
    tenant: &TenantId,
    name: &str,
    issuer: &str,
    client_id: &str,
    client_secret: &str,
) -> Connection {
    connection::add_oidc(
        store,
        clock,
        &testkit::master_key(),
        tenant,
        NewOidcConnection {
            name,
            issuer,
            client_id,
            client_secret,
            preset: "generic",
            settings: serde_json::json!({}),
        },
    )
    .await
    .expect("add OIDC connection")
}

/// The user `identity` signed in through its connection, authenticated at the IdP at
/// `auth_time_us`: the user and the session cookie.
pub async fn signed_in_user(
    store: &Store,
    clock: &FixedClock,
    tenant: &TenantId,
    identity: &FederatedIdentity,
    auth_time_us: i64,
) -> (User, String) {
    let (u, _) = user::upsert_federated(&store.db, clock, tenant, identity)
        .await
        .expect("upsert user");
    let (cookie, _) = session::create(
        &store.db,
        clock,
        tenant,
        &u.id,
        &identity.connection_id,
        auth_time_us,
    )
    .await
    .expect("create session");
    (u, cookie)
}

/// A SCIM bearer token for `tenant`, valid for `ttl_secs`.
pub async fn scim_token(
    store: &Store,
    clock: &FixedClock,
    tenant: &TenantId,
    label: &str,
    ttl_secs: i64,
) -> String {
    crate::scim_token::create(store, clock, tenant, label, ttl_secs)
        .await
        .expect("create SCIM token")
        .1
}

/// An admin API key with `scope`, valid for a day.
pub async fn api_key(store: &Store, clock: &FixedClock, scope: crate::api_key::Scope) -> String {
    crate::api_key::create(store, clock, scope, "test", 86_400)
        .await
        .expect("create API key")
        .1
}

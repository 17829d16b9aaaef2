use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000001_init"
    }
}

const TABLES: &str = r#"
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
-- A domain belongs to at most one tenant (DESIGN §6.1): the primary key enforces it.
CREATE TABLE tenant_domains (
  domain TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  verified BOOLEAN NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX tenant_domains_tenant ON tenant_domains(tenant_id);
CREATE TABLE connections (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  issuer TEXT NOT NULL,
  client_id TEXT NOT NULL,
  client_secret_enc TEXT NOT NULL,
  enabled BOOLEAN NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX connections_tenant ON connections(tenant_id);
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  connection_id TEXT NOT NULL REFERENCES connections(id),
  subject TEXT NOT NULL,
  email TEXT,
  email_lower TEXT,
  name TEXT,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_login_at BIGINT,
  UNIQUE (connection_id, subject)
);
CREATE INDEX users_tenant_email ON users(tenant_id, email_lower);
CREATE TABLE resources (
  id TEXT PRIMARY KEY,
  uri TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  rs_client_id TEXT NOT NULL UNIQUE,
  rs_secret_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE resource_scopes (
  resource_id TEXT NOT NULL REFERENCES resources(id),
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  tier TEXT NOT NULL,
  PRIMARY KEY (resource_id, name)
);
CREATE TABLE resource_tools (
  resource_id TEXT NOT NULL REFERENCES resources(id),
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  PRIMARY KEY (resource_id, name)
);
-- group_key is '*' for a grant to every member of the tenant, else a group id.
CREATE TABLE org_grants (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  resource_id TEXT NOT NULL REFERENCES resources(id),
  scope TEXT NOT NULL,
  group_key TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (tenant_id, resource_id, scope, group_key)
);
CREATE TABLE clients (
  client_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  client_name TEXT NOT NULL,
  redirect_uris TEXT NOT NULL,
  grant_types TEXT NOT NULL,
  auth_method TEXT NOT NULL,
  secret_hash TEXT,
  registration_token_hash TEXT,
  fingerprint TEXT UNIQUE,
  scope TEXT,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL,
  fetched_until BIGINT
);
CREATE TABLE browser_sessions (
  id_hash TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  connection_id TEXT NOT NULL,
  auth_time BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX browser_sessions_user ON browser_sessions(tenant_id, user_id);
CREATE TABLE login_transactions (
  id_hash TEXT PRIMARY KEY,
  browser_hash TEXT NOT NULL,
  request TEXT NOT NULL,
  tenant_id TEXT,
  connection_id TEXT,
  upstream_state_hash TEXT UNIQUE,
  upstream_nonce TEXT,
  upstream_verifier TEXT,
  session_hash TEXT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  consumed_at BIGINT
);
CREATE TABLE grant_families (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  client_id TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  scopes TEXT NOT NULL,
  session_id TEXT NOT NULL,
  auth_time BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX grant_families_user ON grant_families(tenant_id, user_id);
CREATE INDEX grant_families_client ON grant_families(client_id);
CREATE TABLE auth_codes (
  code_hash TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  family_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  scopes TEXT NOT NULL,
  session_id TEXT NOT NULL,
  auth_time BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
-- One row per issued access or refresh token, keyed by the SHA-256 of the token: introspection
-- is one primary-key lookup (DESIGN §10).
CREATE TABLE tokens (
  token_hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  family_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  scopes TEXT NOT NULL,
  tier TEXT NOT NULL,
  session_id TEXT NOT NULL,
  issued_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX tokens_family ON tokens(family_id);
CREATE INDEX tokens_user ON tokens(tenant_id, user_id);
CREATE INDEX tokens_client ON tokens(client_id);
CREATE TABLE consents (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  user_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  scopes TEXT NOT NULL,
  granted_at BIGINT NOT NULL,
  reconsent_at BIGINT,
  PRIMARY KEY (tenant_id, user_id, client_id, resource_id)
);
CREATE TABLE rate_limits (
  bucket TEXT NOT NULL,
  window_start BIGINT NOT NULL,
  hits BIGINT NOT NULL,
  PRIMARY KEY (bucket, window_start)
);
CREATE TABLE audit_checkpoints (
  tenant_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  head_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  key_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);
"#;

const AUDIT_SQLITE: &str = r#"
CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id TEXT NOT NULL,
  seq BIGINT,
  prev_hash TEXT,
  hash TEXT,
  occurred_at BIGINT NOT NULL,
  action TEXT NOT NULL,
  result TEXT NOT NULL,
  actor TEXT,
  user_id TEXT,
  client_id TEXT,
  session_id TEXT,
  resource TEXT,
  scope TEXT,
  source_ip TEXT,
  user_agent TEXT,
  details TEXT NOT NULL,
  UNIQUE (tenant_id, seq)
);
"#;

const AUDIT_PG: &str = r#"
CREATE TABLE audit_events (
  id BIGSERIAL PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  seq BIGINT,
  prev_hash TEXT,
  hash TEXT,
  occurred_at BIGINT NOT NULL,
  action TEXT NOT NULL,
  result TEXT NOT NULL,
  actor TEXT,
  user_id TEXT,
  client_id TEXT,
  session_id TEXT,
  resource TEXT,
  scope TEXT,
  source_ip TEXT,
  user_agent TEXT,
  details TEXT NOT NULL,
  UNIQUE (tenant_id, seq)
);
"#;

const AUDIT_INDEXES: &str = r#"
CREATE INDEX audit_unsealed ON audit_events(tenant_id, id) WHERE seq IS NULL;
CREATE INDEX audit_tenant_time ON audit_events(tenant_id, occurred_at);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(manager, TABLES).await?;
        let audit = match manager.get_database_backend() {
            DatabaseBackend::Postgres => AUDIT_PG,
            _ => AUDIT_SQLITE,
        };
        crate::run_all(manager, audit).await?;
        crate::run_all(manager, AUDIT_INDEXES).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "the initial schema is not reversible".into(),
        ))
    }
}

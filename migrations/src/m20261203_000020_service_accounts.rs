//! Tenant service accounts (issue 14 §3): machine clients that use the `client_credentials`
//! grant (RFC 6749 §4.4). An account belongs to one tenant and authenticates at the token
//! endpoint with its own `client_id`, by a client secret (`client_secret_basic` or
//! `client_secret_post`, RFC 6749 §2.3.1; only its SHA-256 is stored, and a rotation leaves the
//! replaced one working until `prev_secret_until`) or by a signed assertion (`private_key_jwt`,
//! RFC 7523 §2.2) checked against an inline JWKS or one fetched from `jwks_uri`. `grants` is
//! the JSON object `{resource id: [scope, ...]}` of what the tenant admin granted it; its
//! grant families (`grant_families.kind = 'client_credentials'`) name the account as subject.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000020_service_accounts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(
            manager,
            r#"
CREATE TABLE service_accounts (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  client_id TEXT NOT NULL UNIQUE,
  auth_method TEXT NOT NULL,
  secret_hash TEXT,
  prev_secret_hash TEXT,
  prev_secret_until BIGINT,
  jwks TEXT,
  jwks_uri TEXT,
  grants TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  disabled_at BIGINT,
  last_used_at BIGINT
);
CREATE UNIQUE INDEX service_accounts_name ON service_accounts(tenant_id, name);
"#,
        )
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}

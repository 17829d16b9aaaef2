//! SAML sign-in state shared by every node: outstanding AuthnRequest IDs (consumed once), the
//! assertion-ID replay cache (kept until the assertion's NotOnOrAfter), and the one-time
//! handles that carry a validated response from the cross-site ACS POST to a same-site GET.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000004_saml"
    }
}

const SQL: &str = r#"
CREATE TABLE saml_requests (
  request_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  connection_id TEXT NOT NULL,
  login_tx TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  consumed_at BIGINT
);
CREATE INDEX saml_requests_tx ON saml_requests(login_tx);
CREATE TABLE saml_assertions (
  connection_id TEXT NOT NULL,
  assertion_id TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (connection_id, assertion_id)
);
CREATE TABLE saml_handles (
  handle_hash TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  connection_id TEXT NOT NULL,
  login_tx TEXT NOT NULL,
  identity TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  consumed_at BIGINT
);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(manager, SQL).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}

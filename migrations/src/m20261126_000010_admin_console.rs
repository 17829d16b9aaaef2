//! The admin console (issue "console"): who administers a tenant (invited admins, or members of
//! the tenant's admin group), admin invitations and their setup-only sessions, the IdP groups a
//! browser session was signed in with, tenant settings, DNS verification of domains, and the
//! tenant's MCP-client allow/block list.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000010_admin_console"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(
            manager,
            r#"
CREATE TABLE tenant_admins (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  granted_via TEXT NOT NULL,
  invitation_id TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);
CREATE TABLE admin_invitations (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  email_lower TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  accepted_at BIGINT,
  setup_hash TEXT UNIQUE,
  setup_expires_at BIGINT,
  bound_user_id TEXT,
  bound_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX admin_invitations_tenant ON admin_invitations(tenant_id);
ALTER TABLE tenants ADD COLUMN admin_group TEXT;
ALTER TABLE tenants ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE browser_sessions ADD COLUMN idp_groups TEXT;
ALTER TABLE tenant_domains ADD COLUMN verification_token TEXT;
-- A connection added in an invitation's setup-only session serves only that invitee's console
-- sign-in (and test sign-ins) until an administrator enables it for users.
ALTER TABLE connections ADD COLUMN setup_invitation TEXT;
ALTER TABLE tenant_domains ADD COLUMN verified_at BIGINT;
ALTER TABLE tenant_domains ADD COLUMN verified_by TEXT;
CREATE TABLE tenant_client_policy (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  client_id TEXT NOT NULL,
  decision TEXT NOT NULL,
  changed_by TEXT NOT NULL,
  changed_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, client_id)
);
"#,
        )
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}

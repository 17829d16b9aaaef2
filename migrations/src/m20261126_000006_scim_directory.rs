//! The SCIM directory (ADR 0006): users and groups the tenant's IdP provisions, their link to
//! SSO identities, the tenant's provisioning policy, and tombstones of hard-deleted users.
//!
//! Case-insensitive attributes (RFC 7643 §2.1, `caseExact: false`) get lowercase shadow columns
//! (`*_lower`) written with `authz_core::directory::fold`; on PostgreSQL they use the "C" collation
//! so that ordering (`sortBy`, `gt`/`lt`) compares code points, as SQLite does.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000006_scim_directory"
    }
}

const SQL: &str = r#"
ALTER TABLE tenants ADD COLUMN provisioning TEXT NOT NULL DEFAULT 'jit';
-- The value of the connection's link attribute for this identity (Entra: the object id;
-- Okta: the user id), folded to lowercase, and which SCIM attribute it matches.
ALTER TABLE users ADD COLUMN link_attr TEXT;
ALTER TABLE users ADD COLUMN link_value TEXT;
ALTER TABLE users ADD COLUMN scim_user_id TEXT;
CREATE INDEX users_link ON users(tenant_id, link_value);
CREATE INDEX users_scim_user ON users(scim_user_id);
CREATE TABLE scim_users (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  user_name TEXT NOT NULL,
  user_name_lower TEXT NOT NULL @C,
  external_id TEXT,
  external_id_lower TEXT,
  display_name_lower TEXT @C,
  given_name_lower TEXT @C,
  family_name_lower TEXT @C,
  title_lower TEXT @C,
  user_type_lower TEXT @C,
  employee_number TEXT,
  department_lower TEXT @C,
  active BOOLEAN NOT NULL,
  resource TEXT NOT NULL,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (tenant_id, user_name_lower)
);
CREATE INDEX scim_users_external ON scim_users(tenant_id, external_id);
CREATE INDEX scim_users_link ON scim_users(tenant_id, external_id_lower);
CREATE INDEX scim_users_created ON scim_users(tenant_id, created_at);
CREATE TABLE scim_user_emails (
  scim_user_id TEXT NOT NULL REFERENCES scim_users(id),
  value_lower TEXT NOT NULL @C,
  type_lower TEXT @C,
  is_primary BOOLEAN NOT NULL
);
CREATE INDEX scim_user_emails_user ON scim_user_emails(scim_user_id);
CREATE INDEX scim_user_emails_value ON scim_user_emails(value_lower);
CREATE TABLE scim_groups (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  display_name TEXT NOT NULL,
  display_name_lower TEXT NOT NULL @C,
  external_id TEXT,
  resource TEXT NOT NULL,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (tenant_id, display_name_lower)
);
CREATE INDEX scim_groups_external ON scim_groups(tenant_id, external_id);
-- Membership is a set: concurrent changes are INSERT ... ON CONFLICT DO NOTHING and DELETE
-- of named rows, never a read-modify-write of a member list.
CREATE TABLE scim_group_members (
  group_id TEXT NOT NULL REFERENCES scim_groups(id),
  member_id TEXT NOT NULL REFERENCES scim_users(id),
  -- The member's display name as the IdP sent it, if it did.
  display TEXT,
  PRIMARY KEY (group_id, member_id)
);
CREATE INDEX scim_group_members_member ON scim_group_members(member_id);
-- A hard-deleted SCIM user's link values: sign-in with such an identity is refused, so JIT
-- does not bring the user back (DESIGN §6.4).
CREATE TABLE scim_tombstones (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  link_attr TEXT NOT NULL,
  link_value TEXT NOT NULL,
  scim_user_id TEXT NOT NULL,
  deleted_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, link_attr, link_value)
);
-- Identities that signed in before this migration get their link value (Entra presets: the
-- object id after "tid:"; otherwise the subject), so SCIM can link and deprovision them.
UPDATE users SET link_attr = 'externalId', link_value = lower(
  CASE WHEN (SELECT preset FROM connections c WHERE c.id = users.connection_id) = 'entra'
       THEN substr(subject, @POS(':', subject) + 1) ELSE subject END);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (collate, pos) = match manager.get_database_backend() {
            DatabaseBackend::Postgres => (r#"COLLATE "C""#, "strpos(subject, ':')"),
            _ => ("", "instr(subject, ':')"),
        };
        let sql = SQL
            .replace("@C", collate)
            .replace("@POS(':', subject)", pos);
        crate::run_all(manager, &sql).await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // Rate counters are shared by every node but need no durability: unlogged, their
            // updates write no WAL and commit without a flush (a crash just resets them).
            crate::run_all(manager, "ALTER TABLE rate_limits SET UNLOGGED;").await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}

//! Leavers lose access without SCIM (issue 11 §2, DESIGN §4b): what Gatehouse keeps of the
//! upstream OIDC sign-in behind a Gatehouse session, so a refresh can ask the IdP again whether
//! the person is still allowed in. One row per browser session that came from an OIDC sign-in;
//! SAML sessions (and OIDC sessions whose IdP refused offline access) have none.
//!
//! `refresh_token_enc` is the upstream refresh token sealed with the master key (like a
//! connection's client secret). `checked_at` is the last time the IdP vouched for the person
//! (the sign-in, then each successful upstream refresh); `attempted_at` leases a check in
//! progress so two nodes do not present one (possibly rotating) upstream token at once.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000014_upstream_sessions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(
            manager,
            r#"
CREATE TABLE upstream_sessions (
    session_id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    refresh_token_enc TEXT,
    checked_at BIGINT NOT NULL,
    attempted_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX upstream_sessions_user ON upstream_sessions (tenant_id, connection_id, user_id);
"#,
        )
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}

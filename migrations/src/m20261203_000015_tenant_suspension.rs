//! Incident response (issue 11 §3): a tenant can be suspended. While `suspended_at` is set, no
//! sign-in, token, refresh or introspection of the tenant succeeds; its data stays.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000015_tenant_suspension"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(
            manager,
            r#"
ALTER TABLE tenants ADD COLUMN suspended_at BIGINT;
"#,
        )
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}

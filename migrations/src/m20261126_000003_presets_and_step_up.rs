//! IdP presets per connection (Entra ID, Okta, Google Workspace) and the authentication context
//! of a sign-in session (for step-up: `acr`, `amr`).
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000003_presets_and_step_up"
    }
}

const SQL: &str = r#"
ALTER TABLE connections ADD COLUMN preset TEXT NOT NULL DEFAULT 'generic';
ALTER TABLE connections ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE browser_sessions ADD COLUMN acr TEXT;
ALTER TABLE browser_sessions ADD COLUMN amr TEXT;
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

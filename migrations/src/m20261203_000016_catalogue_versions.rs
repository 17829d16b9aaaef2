//! Catalogues that can change (issue 13 §2): a resource's gateway settings, its `resources/*`
//! and `prompts/*` scope rules, tool descriptions, and a version bumped by every update, with
//! each version's full spec kept (who changed it, when) so an operator can see what changed.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000016_catalogue_versions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_all(
            manager,
            r#"
ALTER TABLE resources ADD COLUMN catalogue_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE resources ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE resource_tools ADD COLUMN description TEXT;
-- kind is 'resource' (pattern: a URI prefix) or 'prompt' (pattern: a prompt name or '*').
CREATE TABLE resource_rules (
  resource_id TEXT NOT NULL REFERENCES resources(id),
  kind TEXT NOT NULL,
  pattern TEXT NOT NULL,
  scopes TEXT NOT NULL,
  PRIMARY KEY (resource_id, kind, pattern)
);
CREATE TABLE resource_catalogue_versions (
  resource_id TEXT NOT NULL REFERENCES resources(id),
  version BIGINT NOT NULL,
  spec TEXT NOT NULL,
  changed_by TEXT NOT NULL,
  changed_at BIGINT NOT NULL,
  summary TEXT NOT NULL,
  PRIMARY KEY (resource_id, version)
);
"#,
        )
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("not reversible".into()))
    }
}

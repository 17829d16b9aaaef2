//! Mail to send (security alerts, invitations), written in the same transaction as the event
//! that causes it, so nothing is lost between a change and its notice; every node's sender
//! claims rows for a while before sending. And each tenant's security-alert recipients.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000008_mail_outbox"
    }
}

const SQL: &str = r#"
ALTER TABLE tenants ADD COLUMN alert_recipients TEXT NOT NULL DEFAULT '[]';
CREATE TABLE mail_outbox (
  id TEXT PRIMARY KEY,
  tenant_id TEXT REFERENCES tenants(id),
  kind TEXT NOT NULL,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body_text TEXT NOT NULL,
  body_html TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  claimed_until BIGINT,
  attempts BIGINT NOT NULL DEFAULT 0,
  sent_at BIGINT,
  last_error TEXT
);
CREATE INDEX mail_outbox_pending ON mail_outbox(sent_at, created_at);
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

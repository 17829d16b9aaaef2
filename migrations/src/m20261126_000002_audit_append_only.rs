//! The audit table is append-only in the database itself (DESIGN §8): rows cannot be deleted,
//! and the only update allowed is the sealer's one-time fill of `seq`, `prev_hash` and `hash`.
//! Signed checkpoints can be neither changed nor deleted.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000002_audit_append_only"
    }
}

const SQLITE: &str = r#"
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_seal_once BEFORE UPDATE ON audit_events
WHEN OLD.seq IS NOT NULL
  OR NEW.id IS NOT OLD.id OR NEW.tenant_id IS NOT OLD.tenant_id
  OR NEW.occurred_at IS NOT OLD.occurred_at OR NEW.action IS NOT OLD.action
  OR NEW.result IS NOT OLD.result OR NEW.actor IS NOT OLD.actor
  OR NEW.user_id IS NOT OLD.user_id OR NEW.client_id IS NOT OLD.client_id
  OR NEW.session_id IS NOT OLD.session_id OR NEW.resource IS NOT OLD.resource
  OR NEW.scope IS NOT OLD.scope OR NEW.source_ip IS NOT OLD.source_ip
  OR NEW.user_agent IS NOT OLD.user_agent OR NEW.details IS NOT OLD.details
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
  SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
  SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
"#;

const PG: &str = r#"
CREATE FUNCTION gatehouse_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'audit_events is append-only';
  END IF;
  IF OLD.seq IS NOT NULL
     OR (NEW.id, NEW.tenant_id, NEW.occurred_at, NEW.action, NEW.result, NEW.actor, NEW.user_id,
         NEW.client_id, NEW.session_id, NEW.resource, NEW.scope, NEW.source_ip, NEW.user_agent,
         NEW.details)
        IS DISTINCT FROM
        (OLD.id, OLD.tenant_id, OLD.occurred_at, OLD.action, OLD.result, OLD.actor, OLD.user_id,
         OLD.client_id, OLD.session_id, OLD.resource, OLD.scope, OLD.source_ip, OLD.user_agent,
         OLD.details) THEN
    RAISE EXCEPTION 'audit_events is append-only';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION gatehouse_audit_guard();
CREATE FUNCTION gatehouse_checkpoint_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_checkpoints is append-only';
END;
$$;
CREATE TRIGGER audit_checkpoint_guard BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION gatehouse_checkpoint_guard();
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => crate::run_all(manager, PG).await,
            _ => crate::run_all(manager, SQLITE).await,
        }
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration("the audit guard is not reversible".into()))
    }
}

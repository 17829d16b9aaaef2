//! The audit chain moves into a narrow table of its own (ADR 0026): a record is written once and
//! never updated. The sealer used to fill `seq`, `prev_hash` and `hash` of every record — a
//! second, full-width write of each row with three new index entries, the largest share of
//! PostgreSQL's time in a `client_credentials` load (docs/benchmarks.md, fifth session). Now it
//! inserts one `audit_seals` row per record: the record's id, its place in the chain and its
//! hashes.
//!
//! Unsealed records are found without a flag on the record. A record carries the transaction
//! that wrote it (`writer_xact`, PostgreSQL's 64-bit transaction id; `0` on SQLite, whose single
//! writer commits ids in order, so there the record's id serves). `audit_seal_mark.scan_from`
//! is a bound below which every record is sealed: after a full pass the sealer moves it to the
//! oldest transaction still running when the pass began (PostgreSQL) or past the highest id it
//! could see (SQLite). The sealer looks only at records at or above the mark that have no seal.
//!
//! Both tables refuse UPDATE and DELETE in the database itself; only the retention purge lifts
//! that inside its own transaction (`audit::retention`). The mark only moves up to what the
//! sealer may have seen (the oldest running transaction; the newest record on SQLite), so a
//! role that can write it cannot hide records still being written; a record below the mark
//! without a seal (one inserted with a forged `writer_xact`) is counted by `audit verify` as
//! unsealed. Nodes of an earlier version must be
//! stopped before this migration runs: their sealer writes the columns it drops.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000023_audit_seals"
    }
}

const PG: &str = r#"
DROP TRIGGER audit_guard ON audit_events;
DROP FUNCTION gatehouse_audit_guard();
CREATE TABLE audit_seals (
  event_id BIGINT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE (tenant_id, seq)
);
INSERT INTO audit_seals (event_id, tenant_id, seq, prev_hash, hash)
  SELECT id, tenant_id, seq, prev_hash, hash FROM audit_events WHERE seq IS NOT NULL;
DROP INDEX audit_unsealed;
ALTER TABLE audit_events DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN hash;
ALTER TABLE audit_events ADD COLUMN writer_xact BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_events ALTER COLUMN writer_xact SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX audit_writer_xact ON audit_events(writer_xact);
CREATE INDEX audit_chain_order ON audit_events(tenant_id, writer_xact, id);
CREATE TABLE audit_seal_mark (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  scan_from BIGINT NOT NULL
);
INSERT INTO audit_seal_mark (id, scan_from) VALUES (1, 0);
CREATE FUNCTION gatehouse_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION gatehouse_audit_guard();
CREATE TRIGGER audit_seal_guard BEFORE UPDATE OR DELETE ON audit_seals
  FOR EACH ROW EXECUTE FUNCTION gatehouse_audit_guard();
CREATE FUNCTION gatehouse_seal_mark_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.id <> 1
     OR NEW.scan_from > pg_snapshot_xmin(pg_current_snapshot())::text::bigint THEN
    RAISE EXCEPTION 'audit_seal_mark cannot pass a running transaction';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER audit_seal_mark_guard BEFORE UPDATE OR DELETE ON audit_seal_mark
  FOR EACH ROW EXECUTE FUNCTION gatehouse_seal_mark_guard();
"#;

const SQLITE: &str = r#"
DROP TRIGGER audit_no_delete;
DROP TRIGGER audit_seal_once;
CREATE TABLE audit_seals (
  event_id INTEGER PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE (tenant_id, seq)
);
INSERT INTO audit_seals (event_id, tenant_id, seq, prev_hash, hash)
  SELECT id, tenant_id, seq, prev_hash, hash FROM audit_events WHERE seq IS NOT NULL;
CREATE TABLE audit_events_v2 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id TEXT NOT NULL,
  occurred_at BIGINT NOT NULL,
  action TEXT NOT NULL,
  result TEXT NOT NULL,
  actor TEXT,
  user_id TEXT,
  client_id TEXT,
  session_id TEXT,
  resource TEXT,
  scope TEXT,
  source_ip TEXT,
  user_agent TEXT,
  details TEXT NOT NULL,
  writer_xact BIGINT NOT NULL DEFAULT 0
);
INSERT INTO audit_events_v2 (id, tenant_id, occurred_at, action, result, actor, user_id,
  client_id, session_id, resource, scope, source_ip, user_agent, details)
  SELECT id, tenant_id, occurred_at, action, result, actor, user_id, client_id, session_id,
    resource, scope, source_ip, user_agent, details FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_v2 RENAME TO audit_events;
CREATE INDEX audit_tenant_time ON audit_events(tenant_id, occurred_at);
CREATE INDEX audit_chain_order ON audit_events(tenant_id, id);
CREATE TABLE audit_seal_mark (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  scan_from BIGINT NOT NULL
);
INSERT INTO audit_seal_mark (id, scan_from) VALUES (1, 0);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_seal_no_update BEFORE UPDATE ON audit_seals
BEGIN
  SELECT RAISE(ABORT, 'audit_seals is append-only');
END;
CREATE TRIGGER audit_seal_no_delete BEFORE DELETE ON audit_seals
BEGIN
  SELECT RAISE(ABORT, 'audit_seals is append-only');
END;
CREATE TRIGGER audit_seal_mark_guard BEFORE UPDATE ON audit_seal_mark
WHEN NEW.id IS NOT 1
  OR NEW.scan_from > COALESCE((SELECT MAX(id) FROM audit_events), 0) + 1
BEGIN
  SELECT RAISE(ABORT, 'audit_seal_mark cannot pass the newest record');
END;
CREATE TRIGGER audit_seal_mark_no_delete BEFORE DELETE ON audit_seal_mark
BEGIN
  SELECT RAISE(ABORT, 'audit_seal_mark cannot be deleted');
END;
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
        Err(DbErr::Migration(
            "the audit seals are not reversible".into(),
        ))
    }
}

//! Gatehouse schema. Every migration runs on SQLite and PostgreSQL.
//!
//! Types are chosen to mean the same on both backends: identifiers are TEXT (UUID strings or
//! opaque ids), instants are BIGINT microseconds since the Unix epoch (the audit chain hashes
//! integer microseconds, DESIGN §8), lists are JSON text.
pub use sea_orm_migration::prelude::*;

mod m20261126_000001_init;
mod m20261126_000002_audit_append_only;
mod m20261126_000003_presets_and_step_up;
mod m20261126_000004_saml;
mod m20261126_000005_scim_tokens;
mod m20261126_000006_scim_directory;
mod m20261126_000007_api_keys;
mod m20261126_000008_mail_outbox;
mod m20261126_000009_scim_token_expiry_alert;
mod m20261126_000010_admin_console;
mod m20261203_000011_session_origin;
mod m20261203_000012_dcr_unused_clients;
mod m20261203_000013_secret_rotation_and_connection_origin;
mod m20261203_000014_upstream_sessions;
mod m20261203_000015_tenant_suspension;
mod m20261203_000016_catalogue_versions;
mod m20261203_000017_credential_kinds;
mod m20261203_000018_personal_api_keys;
mod m20261203_000020_service_accounts;
mod m20261204_000022_removal;
mod m20261205_000023_audit_seals;
mod m20261205_000024_lean_grant_rows;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_init::Migration),
            Box::new(m20261126_000002_audit_append_only::Migration),
            Box::new(m20261126_000003_presets_and_step_up::Migration),
            Box::new(m20261126_000004_saml::Migration),
            Box::new(m20261126_000005_scim_tokens::Migration),
            Box::new(m20261126_000006_scim_directory::Migration),
            Box::new(m20261126_000007_api_keys::Migration),
            Box::new(m20261126_000008_mail_outbox::Migration),
            Box::new(m20261126_000009_scim_token_expiry_alert::Migration),
            Box::new(m20261126_000010_admin_console::Migration),
            Box::new(m20261203_000011_session_origin::Migration),
            Box::new(m20261203_000012_dcr_unused_clients::Migration),
            Box::new(m20261203_000013_secret_rotation_and_connection_origin::Migration),
            Box::new(m20261203_000014_upstream_sessions::Migration),
            Box::new(m20261203_000015_tenant_suspension::Migration),
            Box::new(m20261203_000016_catalogue_versions::Migration),
            Box::new(m20261203_000017_credential_kinds::Migration),
            Box::new(m20261203_000018_personal_api_keys::Migration),
            Box::new(m20261203_000020_service_accounts::Migration),
            Box::new(m20261204_000022_removal::Migration),
            Box::new(m20261205_000023_audit_seals::Migration),
            Box::new(m20261205_000024_lean_grant_rows::Migration),
        ]
    }
}

/// Runs a list of statements, one at a time (SQLite's driver executes one statement per call).
pub(crate) async fn run_all(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    for stmt in split_statements(sql) {
        conn.execute_unprepared(&stmt).await?;
    }
    Ok(())
}

/// Splits on `;` at line ends, keeping `$$ ... $$` bodies (PL/pgSQL) and `BEGIN ... END;`
/// trigger bodies (SQLite) whole.
fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_dollar = false;
    let mut in_trigger = false;
    for line in sql.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with("--") {
            continue;
        }
        if t.matches("$$").count() % 2 == 1 {
            in_dollar = !in_dollar;
        }
        let upper = t.to_ascii_uppercase();
        if upper.starts_with("CREATE TRIGGER") && !upper.contains("EXECUTE FUNCTION") {
            in_trigger = true;
        }
        cur.push_str(line);
        cur.push('\n');
        let ends = t.ends_with(';');
        let closes_trigger = in_trigger && upper == "END;";
        if ends && !in_dollar && (!in_trigger || closes_trigger) {
            out.push(std::mem::take(&mut cur));
            in_trigger = false;
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

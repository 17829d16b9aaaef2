//! The entities agree with the migrated schema, on the backend the tests run on (SQLite, or
//! PostgreSQL with `GATEHOUSE_TEST_DATABASE_URL`): every table has an entity, every entity's
//! columns are exactly its table's, and `Option` fields are exactly the nullable columns.
//! Entities are written by hand beside `migrations/`; this is what keeps them honest.
use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, IdenStatic, Iterable, Statement,
};

use super::*;

/// Column name → nullable, as an entity declares them.
fn declared<E: EntityTrait>() -> (String, BTreeMap<String, bool>) {
    let cols = E::Column::iter()
        .map(|c| (c.as_str().to_string(), c.def().is_null()))
        .collect();
    (E::default().table_name().to_string(), cols)
}

/// Column name → (nullable, part of the primary key), as the database has them.
async fn actual(db: &impl ConnectionTrait, table: &str) -> BTreeMap<String, (bool, bool)> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => format!(
            "SELECT c.column_name AS name, c.is_nullable = 'YES' AS nullable, \
             EXISTS (SELECT 1 FROM information_schema.key_column_usage k \
               JOIN information_schema.table_constraints t \
                 ON t.constraint_name = k.constraint_name AND t.table_schema = k.table_schema \
               WHERE t.constraint_type = 'PRIMARY KEY' AND k.table_schema = c.table_schema \
                 AND k.table_name = c.table_name AND k.column_name = c.column_name) AS pk \
             FROM information_schema.columns c \
             WHERE c.table_schema = current_schema() AND c.table_name = '{table}'"
        ),
        _ => format!(
            "SELECT name, \"notnull\" = 0 AS nullable, pk > 0 AS pk FROM pragma_table_info('{table}')"
        ),
    };
    db.query_all(Statement::from_string(backend, sql))
        .await
        .expect("read the table's columns")
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "name").unwrap(),
                (
                    r.try_get::<bool>("", "nullable").unwrap(),
                    r.try_get::<bool>("", "pk").unwrap(),
                ),
            )
        })
        .collect()
}

async fn tables(db: &impl ConnectionTrait) -> BTreeSet<String> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            .to_string(),
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            .to_string(),
    };
    db.query_all(Statement::from_string(backend, sql))
        .await
        .expect("list tables")
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .filter(|t| t != "seaql_migrations")
        .collect()
}

#[tokio::test]
async fn entities_match_the_migrated_schema() {
    let store = crate::testkit::store().await;
    let db = &store.db;
    let entities = [
        declared::<admin_invitations::Entity>(),
        declared::<tenant_admins::Entity>(),
        declared::<tenant_client_policy::Entity>(),
        declared::<audit_checkpoints::Entity>(),
        declared::<audit_events::Entity>(),
        declared::<audit_seal_mark::Entity>(),
        declared::<audit_seals::Entity>(),
        declared::<org_grants::Entity>(),
        declared::<resource_scopes::Entity>(),
        declared::<resource_tools::Entity>(),
        declared::<resource_rules::Entity>(),
        declared::<resource_catalogue_versions::Entity>(),
        declared::<resources::Entity>(),
        declared::<scim_group_members::Entity>(),
        declared::<scim_groups::Entity>(),
        declared::<scim_tombstones::Entity>(),
        declared::<scim_user_emails::Entity>(),
        declared::<scim_users::Entity>(),
        declared::<auth_codes::Entity>(),
        declared::<browser_sessions::Entity>(),
        declared::<clients::Entity>(),
        declared::<consents::Entity>(),
        declared::<grant_families::Entity>(),
        declared::<used_jtis::Entity>(),
        declared::<login_transactions::Entity>(),
        declared::<tokens::Entity>(),
        declared::<api_keys::Entity>(),
        declared::<operator_console_sessions::Entity>(),
        declared::<mail_outbox::Entity>(),
        declared::<rate_limits::Entity>(),
        declared::<scim_tokens::Entity>(),
        declared::<service_accounts::Entity>(),
        declared::<saml_assertions::Entity>(),
        declared::<saml_handles::Entity>(),
        declared::<saml_requests::Entity>(),
        declared::<connections::Entity>(),
        declared::<tenant_domains::Entity>(),
        declared::<tenants::Entity>(),
        declared::<users::Entity>(),
        declared::<upstream_sessions::Entity>(),
        declared::<personal_api_keys::Entity>(),
    ];
    let mut problems = Vec::new();
    let with_entity: BTreeSet<String> = entities.iter().map(|(t, _)| t.clone()).collect();
    for t in tables(db).await.difference(&with_entity) {
        problems.push(format!("table {t} has no entity"));
    }
    for (table, cols) in &entities {
        let have = actual(db, table).await;
        if have.is_empty() {
            problems.push(format!("entity {table} has no table"));
            continue;
        }
        for (c, null) in cols {
            match have.get(c) {
                None => problems.push(format!("{table}.{c}: in the entity, not the table")),
                // SQLite lets a non-integer primary key hold NULL; the entity is right.
                Some((db_null, pk)) if db_null != null && (*null || !*pk) => problems.push(
                    format!("{table}.{c}: entity nullable {null}, column nullable {db_null}"),
                ),
                _ => {}
            }
        }
        for c in have.keys().filter(|c| !cols.contains_key(*c)) {
            problems.push(format!("{table}.{c}: in the table, not the entity"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

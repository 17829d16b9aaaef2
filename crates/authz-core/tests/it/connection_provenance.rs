//! Review F3, on upgrade: connections that existed before `connections.operator_added` keep
//! the operator's network only if the operator added them. One a tenant admin added in the
//! console (its `connection.created` record names them) loses it; one without a record keeps
//! working as before.
use authz_core::audit::{self, AuditEvent};
use authz_core::{connection, testkit, Store};
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};

#[tokio::test]
async fn an_upgrade_takes_the_operators_network_from_connections_added_in_the_console() {
    let path = std::env::temp_dir().join(format!(
        "gh_provenance_{}_{}.db",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = Store::connect(&url).await.unwrap();
    // The schema just before the provenance migration (later migrations may follow it).
    let before = Migrator::migrations()
        .iter()
        .position(|m| m.name().starts_with("m20261203_000013_"))
        .expect("the provenance migration") as u32;
    Migrator::up(&store.db, Some(before)).await.unwrap();
    let clock = testkit::clock();
    let t = authz_core::TenantId::parse("7d0c5a52-0000-4000-8000-000000000001").unwrap();
    store
        .db
        .execute(Statement::from_string(
            store.db.get_database_backend(),
            format!(
                "INSERT INTO tenants (id, slug, name, created_at) VALUES ('{}', 'acme', 'Acme', 0)",
                t.as_str()
            ),
        ))
        .await
        .unwrap();
    // Three connections as the code before the migration stored them, with their records.
    let txn = store.begin().await.unwrap();
    for (id, actor) in [
        ("c-operator", Some("operator")),
        ("c-console", Some("admin:0b6c")),
        ("c-unrecorded", None),
    ] {
        txn.execute(Statement::from_string(
            txn.get_database_backend(),
            format!(
                "INSERT INTO connections (id, tenant_id, kind, name, issuer, client_id, client_secret_enc, enabled, created_at, preset, settings)
                 VALUES ('{id}', '{}', 'oidc', 'IdP', 'https://idp.example.test', 'gh', 'x', TRUE, 0, 'generic', '{{}}')",
                t.as_str()
            ),
        ))
        .await
        .unwrap();
        if let Some(actor) = actor {
            audit::record(
                &txn,
                &clock,
                AuditEvent::new(Some(&t), "connection.created")
                    .actor(actor)
                    .detail("connection_id", id)
                    .detail("kind", "oidc")
                    .detail("preset", "generic"),
            )
            .await
            .unwrap();
        }
    }
    txn.commit().await.unwrap();

    // The rest as a node runs it (`Store::migrate`: one connection, so migration 23's table
    // rebuild on SQLite runs on a single connection's view of the schema).
    Store::migrate(&url).await.unwrap();
    let added = |id: &'static str| {
        let (store, tid) = (store.clone(), t.clone());
        async move {
            connection::get(&store.db, &tid, id)
                .await
                .unwrap()
                .operator_added
        }
    };
    assert!(added("c-operator").await);
    assert!(!added("c-console").await);
    assert!(added("c-unrecorded").await);
    let _ = std::fs::remove_file(&path);
}

//! Connection set-up is one use case (`app::connection`) behind two surfaces: the same SAML
//! connection added by the operator CLI (the real binary, on a SQLite data dir) and by a tenant
//! admin in the console (over HTTP, on the test store: SQLite, or PostgreSQL with
//! GATEHOUSE_TEST_DATABASE_URL) is stored and audited in the same shape. What differs is who
//! acted: `operator` (and `operator_added`) against `admin:<user id>`.
use std::path::{Path, PathBuf};
use std::process::Command;

use actix_web::test;
use admin_api::console;
use authz_core::audit::search::{search, AuditQuery};
use authz_core::clock::Clock;
use authz_core::connection::{self, Connection};
use authz_core::user::FederatedIdentity;
use authz_core::{admin::role, session, tenant, testkit, TenantId};
use sea_orm::{ConnectionTrait, Database};

const METADATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../saml/tests/fixtures/idp-metadata.xml"
);

fn fresh_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let d = std::env::temp_dir().join(format!("gh_conn_setup_{}_{nanos}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cli(dir: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("GATEHOUSE_MASTER_KEY")
        .env_remove("GATEHOUSE_DATA_DIR")
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("DATABASE_URL")
        .output()
        .expect("run gatehouse");
    assert!(
        o.status.success(),
        "gatehouse {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A stored connection and its `connection.*` audit records, without what is meant to differ
/// (ids, the generated SP key pair, who acted).
#[derive(Debug, PartialEq)]
struct Shape {
    connection: serde_json::Value,
    audit: Vec<serde_json::Value>,
}

async fn shape<C: ConnectionTrait>(db: &C, t: &TenantId, actor: &str, by_operator: bool) -> Shape {
    let conns: Vec<Connection> = connection::list(db, t)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.kind == "saml")
        .collect();
    assert_eq!(conns.len(), 1, "one SAML connection");
    let c = &conns[0];
    assert_eq!(c.operator_added, by_operator);
    let mut settings = c.settings.clone();
    let cert = settings["sp_certificate"].take();
    // A form field arrives trimmed; the file keeps its final newline.
    let xml = settings["idp_metadata"]
        .as_str()
        .unwrap()
        .trim_end()
        .to_string();
    settings["idp_metadata"] = xml.into();
    assert!(cert
        .as_str()
        .is_some_and(|p| p.contains("BEGIN CERTIFICATE")));
    let records = search(
        db,
        t,
        &AuditQuery {
            action_prefix: Some("connection.".into()),
            limit: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // The console's world also holds the admin's own (OIDC) connection: only the SAML one's.
    let audit = records
        .iter()
        .filter(|r| r.details.contains(&c.id))
        .map(|r| {
            assert_eq!(r.actor.as_deref(), Some(actor), "{}", r.action);
            let mut d: serde_json::Value = serde_json::from_str(&r.details).unwrap();
            assert_eq!(d["connection_id"].take(), serde_json::json!(c.id));
            serde_json::json!({ "action": r.action, "result": r.result, "details": d })
        })
        .collect();
    Shape {
        connection: serde_json::json!({
            "kind": c.kind, "name": c.name, "issuer": c.issuer, "client_id": c.client_id,
            "enabled": c.enabled, "preset": c.preset, "settings": settings,
        }),
        audit,
    }
}

#[actix_web::test]
async fn the_cli_and_the_console_add_the_same_saml_connection() {
    // The operator, at the machine.
    let dir = fresh_dir();
    cli(
        &dir,
        &[
            "tenant",
            "create",
            "--slug",
            "acme",
            "--name",
            "Acme",
            "--domain",
            "acme.test",
        ],
    );
    let out = cli(
        &dir,
        &[
            "connection",
            "add-saml",
            "--tenant",
            "acme",
            "--metadata-file",
            METADATA,
            "--preset",
            "okta",
            "--name",
            "Corp SSO",
            "--email-attribute",
            "mail",
        ],
    );
    assert!(out.contains("connection_id: "), "{out}");
    let db = Database::connect(format!(
        "sqlite://{}?mode=ro",
        dir.join("gatehouse.db").display()
    ))
    .await
    .unwrap();
    let t = tenant::find_by_slug(&db, "acme").await.unwrap();
    let by_cli = shape(&db, &t.id, "operator", true).await;
    drop(db);
    std::fs::remove_dir_all(&dir).ok();

    // A tenant admin, in the console.
    let store = testkit::store().await;
    let clock = testkit::clock();
    let acme = tenant::create(&store, &clock, "acme", "Acme", &["acme.test".into()])
        .await
        .unwrap();
    let idp = connection::add_oidc(
        &store,
        &clock,
        &testkit::master_key(),
        &acme.id,
        connection::NewOidcConnection {
            name: "IdP",
            issuer: "https://idp.example.test",
            client_id: "gh",
            client_secret: "s3cret",
            preset: "generic",
            settings: serde_json::json!({}),
        },
    )
    .await
    .unwrap();
    let identity = FederatedIdentity {
        connection_id: idp.id.clone(),
        subject: "ann".into(),
        email: Some("ann@acme.test".into()),
        ..Default::default()
    };
    let (ann, _) = authz_core::user::upsert_federated(&store.db, &clock, &acme.id, &identity)
        .await
        .unwrap();
    let (cookie, _) = session::create(
        &store.db,
        &clock,
        &acme.id,
        &ann.id,
        &idp.id,
        clock.now_us(),
    )
    .await
    .unwrap();
    let txn = store.begin().await.unwrap();
    role::grant(
        &txn, &clock, &acme.id, &ann.id, "operator", None, "operator",
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    // The one app `gatehouse serve` runs, at the issuer URL the CLI's connection is added under.
    let app = crate::http::world::Node::new(&store, &clock, "http://gatehouse.test")
        .app()
        .await;
    let xml = std::fs::read_to_string(METADATA).unwrap();
    let form = serde_urlencoded::to_string([
        ("csrf", console::auth::admin_csrf(&cookie).as_str()),
        ("preset", "okta"),
        ("name", "Corp SSO"),
        ("email_attribute", "mail"),
        ("metadata", xml.as_str()),
    ])
    .unwrap();
    let req = test::TestRequest::post()
        .uri("/admin/t/acme/connections/saml")
        .cookie(actix_web::cookie::Cookie::new("gh_session", cookie.clone()))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form)
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status().as_u16(), 303);
    let by_console = shape(&store.db, &acme.id, &format!("admin:{}", ann.id), false).await;

    assert_eq!(by_cli, by_console);
}

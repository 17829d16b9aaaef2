//! The operator CLI, run as the real binary on a SQLite data dir: the audit chain it writes
//! verifies, tampering with the database is reported with the broken seq, and bad input fails
//! cleanly without writing anything.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use authz_core::audit::{canonical_record, chain_hash, GENESIS_HASH};
use authz_core::entities::audit_events;
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter,
};

const RESOURCE_TOML: &str = r#"
uri = "https://crm.example.com/mcp"
display_name = "Acme CRM"

[[scopes]]
name = "crm:customers:read"
description = "Read customer records"
tier = "routine"

[[scopes]]
name = "crm:customers:write"
description = "Create and update customer records"
tier = "routine"

[[scopes]]
name = "crm:contacts:read"
description = "Read contacts"
tier = "routine"

[[scopes]]
name = "crm:customers:export"
description = "Export customer records"
tier = "sensitive"

[[scopes]]
name = "crm:settings:write"
description = "Change CRM settings"
tier = "critical"

[[tools]]
name = "list_customers"
scopes = ["crm:customers:read"]
"#;

fn fresh_dir(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let d = std::env::temp_dir().join(format!(
        "gh_cli_{label}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gatehouse(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("GATEHOUSE_MASTER_KEY")
        .env_remove("GATEHOUSE_DATA_DIR")
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("GATEHOUSE_REDIRECT_SCHEMES")
        .env_remove("DATABASE_URL")
        .output()
        .expect("run gatehouse")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a command that must succeed; returns stdout.
pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
    let o = gatehouse(dir, args);
    assert!(
        o.status.success(),
        "gatehouse {args:?} failed ({}):\n{}\n{}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Runs a command that must fail; returns (exit code, stdout, stderr).
pub(crate) fn fails(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = gatehouse(dir, args);
    assert!(
        !o.status.success(),
        "gatehouse {args:?} must fail but succeeded:\n{}",
        text(&o.stdout)
    );
    (
        o.status.code().unwrap_or(-1),
        text(&o.stdout),
        text(&o.stderr),
    )
}

/// A data dir with a tenant, a resource, four grants and a pre-registered client: the `acme`
/// chain holds 5 records (tenant.created + 4 × grant.added), each sealed with a checkpoint.
fn baseline() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = fresh_dir("baseline");
        let out = ok(
            &d,
            &[
                "tenant",
                "create",
                "--slug",
                "acme",
                "--name",
                "Acme Inc",
                "--domain",
                "acme.example",
            ],
        );
        assert!(
            out.contains("slug: acme\n") && out.contains("domain: acme.example\n"),
            "{out}"
        );
        let toml = d.join("crm.toml");
        std::fs::write(&toml, RESOURCE_TOML).unwrap();
        let out = ok(
            &d,
            &["resource", "register", "--file", toml.to_str().unwrap()],
        );
        assert!(
            out.contains("resource: https://crm.example.com/mcp\n"),
            "{out}"
        );
        assert!(out.contains("introspection_client_secret: "), "{out}");
        for scope in [
            "crm:customers:read",
            "crm:customers:write",
            "crm:contacts:read",
            "crm:customers:export",
        ] {
            let out = ok(
                &d,
                &[
                    "grant",
                    "add",
                    "--tenant",
                    "acme",
                    "--resource",
                    "https://crm.example.com/mcp",
                    "--scopes",
                    scope,
                ],
            );
            assert!(out.contains(&format!("granted: {scope}\n")), "{out}");
        }
        let out = ok(
            &d,
            &[
                "client",
                "add",
                "--name",
                "Claude",
                "--redirect-uri",
                "https://claude.ai/api/mcp/auth_callback",
            ],
        );
        assert!(
            out.contains("client_id: pre_") && out.contains("token_endpoint_auth_method: none\n"),
            "{out}"
        );
        d
    })
}

/// A private copy of the baseline data dir (database, WAL, key file).
pub(crate) fn copy_of_baseline(label: &str) -> PathBuf {
    let src = baseline();
    let dst = fresh_dir(label);
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    dst
}

async fn open_db(dir: &Path) -> DatabaseConnection {
    Database::connect(format!(
        "sqlite://{}?mode=rw",
        dir.join("gatehouse.db").display()
    ))
    .await
    .expect("open gatehouse.db")
}

/// The attacker with owner access removes the append-only triggers first.
async fn drop_triggers(db: &DatabaseConnection) {
    for t in [
        "audit_no_delete",
        "audit_no_update",
        "audit_seal_no_delete",
        "audit_seal_no_update",
    ] {
        db.execute_unprepared(&format!("DROP TRIGGER {t}"))
            .await
            .unwrap();
    }
}

async fn acme_rows(db: &DatabaseConnection) -> Vec<audit_events::Model> {
    let tid: String = db
        .query_one(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM tenants WHERE slug = 'acme'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "id")
        .unwrap();
    // In chain order: the sealer's `audit_seals` rows give each record its seq (1, 2, …).
    audit_events::Entity::find()
        .from_raw_sql(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT e.* FROM audit_events e JOIN audit_seals s ON s.event_id = e.id \
             WHERE e.tenant_id = ? ORDER BY s.seq",
            [tid.into()],
        ))
        .all(db)
        .await
        .unwrap()
}

fn assert_broken(dir: &Path, first_break: &str) {
    let (code, out, err) = fails(dir, &["audit", "verify", "--tenant", "acme"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("status: broken\n"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("first_break: "))
        .unwrap_or_else(|| panic!("no first_break line:\n{out}"));
    assert!(
        line.starts_with(&format!("first_break: {first_break}")),
        "got `{line}`, want `first_break: {first_break}...`"
    );
    assert!(err.contains("audit chain of 'acme' is broken"), "{err}");
}

#[test]
fn audit_verify_reports_ok_for_the_chain_the_cli_wrote() {
    let d = &copy_of_baseline("ok");
    let out = ok(d, &["audit", "verify", "--tenant", "acme"]);
    assert_clean_report(&out);
    let out = ok(d, &["audit", "verify", "--tenant", "platform"]);
    // resource.registered + client.registered.
    assert!(
        out.contains("records: 2\n") && out.ends_with("status: ok\n"),
        "{out}"
    );
    let (_, _, err) = fails(d, &["audit", "verify", "--tenant", "nope"]);
    assert!(err.contains("tenant 'nope'"), "{err}");
}

#[tokio::test]
async fn altered_record_is_reported_with_its_seq() {
    let d = copy_of_baseline("alter");
    let db = open_db(&d).await;
    drop_triggers(&db).await;
    let id = acme_rows(&db).await[2].id;
    db.execute_unprepared(&format!(
        "UPDATE audit_events SET details = '{{\"to\":\"nobody\"}}' WHERE id = {id}"
    ))
    .await
    .unwrap();
    db.close().await.unwrap();
    assert_broken(
        &d,
        &format!("record seq 3 (id {id}): content does not match its hash (altered)"),
    );
}

#[tokio::test]
async fn deleted_record_is_reported_missing() {
    let d = copy_of_baseline("delete");
    let db = open_db(&d).await;
    drop_triggers(&db).await;
    let id = acme_rows(&db).await[2].id;
    db.execute_unprepared(&format!("DELETE FROM audit_events WHERE id = {id}"))
        .await
        .unwrap();
    db.close().await.unwrap();
    assert_broken(&d, "record seq 3 is missing (next present record is seq 4");
}

#[tokio::test]
async fn cut_tail_is_reported_against_the_checkpoint() {
    let d = copy_of_baseline("tail");
    let db = open_db(&d).await;
    drop_triggers(&db).await;
    for r in &acme_rows(&db).await[3..] {
        db.execute_unprepared(&format!("DELETE FROM audit_events WHERE id = {}", r.id))
            .await
            .unwrap();
    }
    db.close().await.unwrap();
    assert_broken(
        &d,
        "checkpoint at seq 4 but the log ends at seq 3: records after it were removed (tail cut)",
    );
}

#[tokio::test]
async fn altered_record_with_recomputed_hashes_is_caught_by_the_checkpoint() {
    let d = copy_of_baseline("recompute");
    let db = open_db(&d).await;
    drop_triggers(&db).await;
    let id = acme_rows(&db).await[1].id;
    db.execute_unprepared(&format!(
        "UPDATE audit_events SET scope = 'crm:settings:write' WHERE id = {id}"
    ))
    .await
    .unwrap();
    let rows = acme_rows(&db).await;
    let mut prev = GENESIS_HASH.to_string();
    for (seq, r) in (1..).zip(&rows) {
        let hash = chain_hash(&prev, &canonical_record(r, seq));
        db.execute_unprepared(&format!(
            "UPDATE audit_seals SET prev_hash = '{prev}', hash = '{hash}' WHERE event_id = {}",
            r.id
        ))
        .await
        .unwrap();
        prev = hash;
    }
    db.close().await.unwrap();
    assert_broken(
        &d,
        "checkpoint at seq 2: signed head hash differs from the recomputed chain",
    );
}

#[test]
fn bad_input_fails_cleanly_and_writes_nothing() {
    let d = copy_of_baseline("bad");
    let (_, _, err) = fails(
        &d,
        &[
            "tenant",
            "create",
            "--slug",
            "thief",
            "--name",
            "Thief",
            "--domain",
            "ACME.example",
        ],
    );
    assert!(
        err.contains("domain 'acme.example' already belongs to another tenant"),
        "{err}"
    );
    let (_, _, err) = fails(
        &d,
        &[
            "tenant",
            "create",
            "--slug",
            "free",
            "--name",
            "Free",
            "--domain",
            "gmail.com",
        ],
    );
    assert!(
        err.contains("'gmail.com' is a consumer mail domain"),
        "{err}"
    );
    let (_, _, err) = fails(
        &d,
        &[
            "grant",
            "add",
            "--tenant",
            "acme",
            "--resource",
            "https://crm.example.com/mcp",
            "--scopes",
            "crm:settings:write",
        ],
    );
    assert!(
        err.contains("scope 'crm:settings:write' is critical-tier"),
        "{err}"
    );
    let (_, _, err) = fails(
        &d,
        &[
            "grant",
            "add",
            "--tenant",
            "acme",
            "--resource",
            "https://crm.example.com/mcp",
            "--scopes",
            "crm:nope",
        ],
    );
    assert!(
        err.contains("scope 'crm:nope' is not in the catalogue"),
        "{err}"
    );
    let (_, _, err) = fails(
        &d,
        &[
            "client",
            "add",
            "--name",
            "Evil",
            "--redirect-uri",
            "http://example.com/cb",
        ],
    );
    assert!(err.contains("uses http on a non-loopback host"), "{err}");
    let (_, _, err) = fails(
        &d,
        &[
            "connection",
            "add-oidc",
            "--tenant",
            "acme",
            "--issuer",
            "https://login.acme.example",
            "--client-id",
            "gatehouse",
            "--client-secret-file",
            "/nonexistent",
        ],
    );
    assert!(err.contains("cannot read /nonexistent"), "{err}");
    let (code, _, err) = fails(&d, &["token", "revoke"]);
    assert_eq!(code, 2, "clap usage error: {err}");
    assert!(err.contains("required"), "{err}");
    let (_, _, err) = fails(
        &d,
        &[
            "token",
            "revoke",
            "--tenant",
            "acme",
            "--user",
            "nobody@acme.example",
        ],
    );
    assert!(
        err.contains("no user with email 'nobody@acme.example' in tenant 'acme'"),
        "{err}"
    );

    // None of that wrote anything: the chain is unchanged and still verifies.
    let out = ok(&d, &["audit", "verify", "--tenant", "acme"]);
    assert_clean_report(&out);
    let (_, _, err) = fails(&d, &["audit", "verify", "--tenant", "thief"]);
    assert!(err.contains("tenant 'thief'"), "{err}");
}

/// The report of an untouched chain of five records: every record checkpointed, and the
/// signed head (seq 5 and its hash) printed for safekeeping outside the database.
fn assert_clean_report(out: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "tenant: acme",
            "records: 5",
            "checkpoints: 5",
            "unsealed: 0"
        ],
        "{out}"
    );
    let head = lines[4]
        .strip_prefix("signed_head: 5 ")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(head.len(), 64, "{out}");
    assert_eq!(lines[5], "status: ok", "{out}");
}

fn saml_fixture(name: &str) -> String {
    format!(
        "{}/../saml/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn add_saml_prints_what_to_paste_and_refuses_untrustworthy_setups() {
    let d = copy_of_baseline("saml");
    // No connection yet: the list says so (on stderr), and how to add one.
    let o = gatehouse(&d, &["connection", "list", "--tenant", "acme"]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout), "");
    assert!(
        text(&o.stderr).contains("tenant acme has no connection yet"),
        "{}",
        text(&o.stderr)
    );
    let out = ok(
        &d,
        &[
            "connection",
            "add-saml",
            "--tenant",
            "acme",
            "--metadata-file",
            &saml_fixture("idp-metadata.xml"),
            "--preset",
            "entra",
        ],
    );
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("connection_id: "))
        .expect("connection_id")
        .to_string();
    assert!(
        out.contains("idp_entity_id: https://idp.example.test/saml"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "acs_url: http://127.0.0.1:8080/federation/saml/{id}/acs"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "sp_entity_id: http://127.0.0.1:8080/federation/saml/{id}/metadata"
        )),
        "{out}"
    );
    // The printed values are exactly the ones the guides show (same function).
    for (k, v) in saml::sp::setup_values("http://127.0.0.1:8080", &id, "entra") {
        assert!(out.contains(&format!("{k}: {v}")), "{k} missing from {out}");
    }
    let (_, _, err) = fails(
        &d,
        &[
            "connection",
            "add-saml",
            "--tenant",
            "acme",
            "--metadata-file",
            &saml_fixture("idp-metadata-no-cert.xml"),
        ],
    );
    assert!(err.contains("NO_SIGNING_CERT"), "{err}");
    let (_, _, err) = fails(
        &d,
        &[
            "connection",
            "add-saml",
            "--tenant",
            "acme",
            "--metadata-file",
            &saml_fixture("idp-metadata.xml"),
            "--preset",
            "google",
        ],
    );
    assert!(err.contains("--key-attribute"), "{err}");
    let (_, _, err) = fails(
        &d,
        &[
            "connection",
            "add-saml",
            "--tenant",
            "acme",
            "--metadata-file",
            &saml_fixture("idp-metadata.xml"),
            "--key-attribute",
            "email",
        ],
    );
    assert!(err.contains("cannot be the user key"), "{err}");
    let (_, _, err) = fails(
        &d,
        &[
            "connection",
            "add-saml",
            "--tenant",
            "acme",
            "--metadata-file",
            &saml_fixture("dtd-entity.xml"),
        ],
    );
    assert!(err.contains("DTD"), "{err}");
    // The connection is listed, and the chain still verifies with the new audit record.
    let list = ok(&d, &["connection", "list", "--tenant", "acme"]);
    assert!(
        list.contains(&format!("connection: {id} saml entra enabled")),
        "{list}"
    );
    assert!(ok(&d, &["audit", "verify", "--tenant", "acme"]).contains("status: ok"));
}

/// `connection id-jag` (ADR 0014): off by default; only OIDC connections accept ID-JAGs (the
/// OIDC path, with its clients, runs in tests/interop/id-jag.test.mjs).
#[test]
fn id_jag_is_off_by_default_and_refused_on_a_saml_connection() {
    let d = copy_of_baseline("id-jag");
    let out = ok(
        &d,
        &[
            "connection",
            "add-saml",
            "--tenant",
            "acme",
            "--metadata-file",
            &saml_fixture("idp-metadata.xml"),
        ],
    );
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("connection_id: "))
        .expect("connection_id")
        .to_string();
    let args = [
        "connection",
        "id-jag",
        "--tenant",
        "acme",
        "--id",
        id.as_str(),
    ];
    let shown = ok(&d, &args);
    assert!(shown.contains("id_jag: disabled\n"), "{shown}");
    let mut enable = args.to_vec();
    enable.extend(["--enable", "--client", "pre_x"]);
    let (_, _, err) = fails(&d, &enable);
    assert!(err.contains("OpenID Connect"), "{err}");
    assert!(ok(&d, &args).contains("id_jag: disabled\n"));
}

#[test]
fn scim_tokens_are_shown_once_listed_without_secrets_and_revocable() {
    let d = copy_of_baseline("scim");
    let out = ok(
        &d,
        &[
            "scim-token",
            "create",
            "--tenant",
            "acme",
            "--expires-in",
            "30d",
        ],
    );
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("token_id: "))
        .unwrap()
        .to_string();
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .unwrap()
        .to_string();
    assert!(secret.starts_with("ghscim_"));
    let list = ok(&d, &["scim-token", "list", "--tenant", "acme"]);
    assert!(
        list.contains(&id) && list.contains("active") && !list.contains(&secret),
        "{list}"
    );
    let rot = ok(
        &d,
        &[
            "scim-token",
            "rotate",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--overlap",
            "1d",
        ],
    );
    assert!(rot.contains("previous_token_until: "), "{rot}");
    ok(
        &d,
        &["scim-token", "revoke", "--tenant", "acme", "--id", &id],
    );
    assert!(ok(&d, &["scim-token", "list", "--tenant", "acme"])
        .contains(&format!("scim_token: {id} revoked")));
    let (_, _, err) = fails(
        &d,
        &[
            "scim-token",
            "create",
            "--tenant",
            "acme",
            "--expires-in",
            "forever",
        ],
    );
    assert!(err.contains("not a duration"), "{err}");
    let (_, _, err) = fails(
        &d,
        &["scim-token", "revoke", "--tenant", "acme", "--id", "nope"],
    );
    assert!(err.contains("not found"), "{err}");
    assert!(ok(&d, &["audit", "verify", "--tenant", "acme"]).contains("status: ok"));
}

#[tokio::test]
async fn provisioning_policy_and_group_grants_from_the_cli() {
    let d = copy_of_baseline("provisioning");
    let out = ok(
        &d,
        &[
            "tenant",
            "set-provisioning",
            "--tenant",
            "acme",
            "--policy",
            "scim",
        ],
    );
    assert!(out.contains("provisioning: scim\n"), "{out}");
    let (code, _, err) = fails(
        &d,
        &[
            "tenant",
            "set-provisioning",
            "--tenant",
            "acme",
            "--policy",
            "email",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("email"), "{err}");
    // A grant to a group that is not a SCIM group of the tenant is refused.
    let grant = |group: &str| {
        vec![
            "grant".to_string(),
            "add".into(),
            "--tenant".into(),
            "acme".into(),
            "--resource".into(),
            "https://crm.example.com/mcp".into(),
            "--scopes".into(),
            "crm:customers:write".into(),
            "--group".into(),
            group.to_string(),
        ]
    };
    let args = grant("no-such-group");
    let (_, _, err) = fails(&d, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("group not found"), "{err}");
    // The IdP pushed a group (as the SCIM endpoint stores it): the grant targets it.
    let db = open_db(&d).await;
    let tenant: String = db
        .query_one(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM tenants WHERE slug = 'acme'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "id")
        .unwrap();
    db.execute(sea_orm::Statement::from_string(
        db.get_database_backend(),
        format!("INSERT INTO scim_groups (id, tenant_id, display_name, display_name_lower, resource, version, created_at, updated_at) VALUES ('g-1', '{tenant}', 'Sales', 'sales', '{{}}', 1, 0, 0)"),
    ))
    .await
    .unwrap();
    drop(db);
    let args = grant("g-1");
    let out = ok(&d, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.contains("to: group g-1\n") && out.contains("granted: crm:customers:write\n"),
        "{out}"
    );
    let (_, _, err) = fails(
        &d,
        &[
            "connection",
            "set-scim-link",
            "--tenant",
            "acme",
            "--id",
            "nope",
            "--attribute",
            "userName",
        ],
    );
    assert!(err.contains("not found"), "{err}");
    let (code, _, _) = fails(
        &d,
        &[
            "connection",
            "set-scim-link",
            "--tenant",
            "acme",
            "--id",
            "nope",
            "--attribute",
            "email",
        ],
    );
    assert_ne!(code, 0, "email is never a link attribute");
    assert!(ok(&d, &["audit", "verify", "--tenant", "acme"]).contains("status: ok"));
}

#[test]
fn admin_api_keys_are_shown_once_listed_without_secrets_and_revocable() {
    let d = copy_of_baseline("api-keys");
    let out = ok(
        &d,
        &[
            "operator-key",
            "create",
            "--name",
            "ops",
            "--expires-in",
            "30d",
        ],
    );
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("key_id: "))
        .unwrap()
        .to_string();
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("key: "))
        .unwrap()
        .to_string();
    assert!(secret.starts_with("ghop_"), "{out}");
    let list = ok(&d, &["operator-key", "list"]);
    assert!(
        list.contains(&id) && list.contains("active") && !list.contains(&secret),
        "{list}"
    );
    ok(&d, &["operator-key", "revoke", "--id", &id]);
    assert!(ok(&d, &["operator-key", "list"]).contains(&format!("api_key: {id} revoked")));
    let out = ok(
        &d,
        &["admin-key", "create", "--tenant", "acme", "--name", "it"],
    );
    assert!(out.lines().any(|l| l.starts_with("key: ghadm_")), "{out}");
    let list = ok(&d, &["admin-key", "list", "--tenant", "acme"]);
    assert!(list.contains(" active it "), "{list}");
    // An operator key is not a tenant's key, and a tenant cannot revoke the operator's.
    let (_, _, err) = fails(
        &d,
        &["admin-key", "revoke", "--tenant", "acme", "--id", &id],
    );
    assert!(err.contains("not found"), "{err}");
    let (_, _, err) = fails(&d, &["operator-key", "create", "--expires-in", "2y"]);
    assert!(err.contains("not a duration"), "{err}");
    let (_, _, err) = fails(&d, &["admin-key", "create", "--tenant", "nope"]);
    assert!(err.contains("nope"), "{err}");
    assert!(ok(&d, &["audit", "verify", "--tenant", "acme"]).contains("status: ok"));
}

/// A security alert goes to the file outbox of the data dir when no SMTP server is configured:
/// queued in the grant's transaction, written by the running server, nothing dropped.
#[test]
fn a_critical_grant_alerts_the_recipients_through_the_file_outbox() {
    let d = copy_of_baseline("outbox");
    let (_, _, err) = fails(
        &d,
        &[
            "tenant",
            "set-alert-recipients",
            "--tenant",
            "acme",
            "--email",
            "not an address",
        ],
    );
    assert!(err.contains("not an email address"), "{err}");
    ok(
        &d,
        &[
            "tenant",
            "set-alert-recipients",
            "--tenant",
            "acme",
            "--email",
            "SecOps@Acme.example",
            "--email",
            "ciso@acme.example",
        ],
    );
    let out = ok(
        &d,
        &[
            "grant",
            "add",
            "--tenant",
            "acme",
            "--resource",
            "https://crm.example.com/mcp",
            "--scopes",
            "crm:settings:write",
            "--allow-critical",
        ],
    );
    assert!(out.contains("granted: crm:settings:write"), "{out}");
    // The server's sender writes the queued messages (port 0: nothing needs to reach it).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut server = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--data-dir")
        .arg(&d)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("GATEHOUSE_MASTER_KEY")
        .env_remove("DATABASE_URL")
        .env_remove("GATEHOUSE_SMTP_URL")
        .env("GATEHOUSE_ISSUER", "https://auth.example.test")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let outbox = d.join("outbox");
    let mut mails = Vec::new();
    for _ in 0..100 {
        mails = std::fs::read_dir(&outbox)
            .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        if mails.len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    server.kill().ok();
    let logs = server.wait_with_output().unwrap();
    assert_eq!(
        mails.len(),
        2,
        "one message per recipient; server log:\n{}",
        text(&logs.stdout)
    );
    let all: String = mails
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(
        all.contains("To: secops@acme.example") && all.contains("To: ciso@acme.example"),
        "{all}"
    );
    assert!(
        all.contains("Subject: [Gatehouse] Critical permission granted in Acme Inc"),
        "{all}"
    );
    assert!(all.contains("crm:settings:write"), "{all}");
    assert!(
        all.contains("https://auth.example.test/admin/t/acme/audit?action="),
        "the link names the issuer: {all}"
    );
    assert!(
        all.contains("Content-Type: text/plain") && all.contains("Content-Type: text/html"),
        "{all}"
    );
    // The log names message ids, never the body or the link.
    let log = text(&logs.stdout);
    assert!(
        log.contains("mail sent") && !log.contains("audit/events"),
        "{log}"
    );
    // A grant of routine scopes alerts nobody.
    ok(
        &d,
        &[
            "grant",
            "add",
            "--tenant",
            "acme",
            "--resource",
            "https://crm.example.com/mcp",
            "--scopes",
            "crm:customers:write",
        ],
    );
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 2);
}

/// Runs the binary with extra environment (after the usual clean-up) under umask 022, the
/// common default that made the data files world-readable.
fn gatehouse_env(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("GATEHOUSE_MASTER_KEY")
        .env_remove("GATEHOUSE_DATA_DIR")
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("GATEHOUSE_ISSUER")
        .env_remove("GATEHOUSE_REDIRECT_SCHEMES")
        .env_remove("DATABASE_URL");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run gatehouse")
}

const CREATE_GLOBEX: [&str; 8] = [
    "tenant",
    "create",
    "--slug",
    "globex",
    "--name",
    "Globex",
    "--domain",
    "globex.example",
];

/// A command checks its whole configuration before it writes: with a bad master key (in the
/// environment or the key file) or a bad issuer, `tenant create` fails and leaves no tenant, so
/// the same command succeeds once the configuration is fixed.
#[test]
fn a_bad_configuration_fails_the_command_before_it_writes_anything() {
    let d = fresh_dir("badcfg");
    let o = gatehouse_env(&d, &CREATE_GLOBEX, &[("GATEHOUSE_MASTER_KEY", "not-a-key")]);
    assert!(!o.status.success(), "{}", text(&o.stdout));
    assert!(
        text(&o.stderr).contains("GATEHOUSE_MASTER_KEY is invalid"),
        "{}",
        text(&o.stderr)
    );
    let o = gatehouse_env(
        &d,
        &CREATE_GLOBEX,
        &[("GATEHOUSE_ISSUER", "https://auth.example.com/tenant")],
    );
    assert!(!o.status.success(), "{}", text(&o.stdout));
    assert!(
        text(&o.stderr).contains("must be an origin"),
        "{}",
        text(&o.stderr)
    );
    // A malformed key file.
    let bad = fresh_dir("badkeyfile");
    std::fs::write(bad.join("master.key"), "garbage\n").unwrap();
    let (_, _, err) = fails(&bad, &CREATE_GLOBEX);
    assert!(err.contains("master.key is invalid"), "{err}");
    std::fs::remove_file(bad.join("master.key")).unwrap();
    assert_eq!(ok(&bad, &["tenant", "list"]), "");

    // Nothing was committed: the tenant list is empty and the same creation now succeeds.
    assert_eq!(ok(&d, &["tenant", "list"]), "");
    let out = ok(&d, &CREATE_GLOBEX);
    assert!(out.contains("slug: globex\n"), "{out}");
    assert!(ok(&d, &["tenant", "list"]).starts_with("tenant: globex "));
    assert!(ok(&d, &["audit", "verify", "--tenant", "globex"]).contains("status: ok"));
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Under umask 022 the data dir is created 0700 and the database, its WAL and shared-memory
/// files, the key file and the outbox mail (which holds an invitation link) 0600: another
/// local user reads none of them.
#[cfg(unix)]
#[test]
fn data_files_and_outbox_mail_are_private_whatever_the_umask() {
    let d = fresh_dir("private").join("data");
    let o = gatehouse_env(&d, &CREATE_GLOBEX, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = gatehouse_env(
        &d,
        &[
            "admin",
            "invite",
            "--tenant",
            "globex",
            "--email",
            "it@globex.example",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(mode(&d), 0o700, "data dir");
    // The server's sender writes the invitation into the outbox (port 0: nothing connects).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut server = Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--data-dir")
        .arg(&d)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("GATEHOUSE_MASTER_KEY")
        .env_remove("DATABASE_URL")
        .env_remove("GATEHOUSE_SMTP_URL")
        .env("GATEHOUSE_ISSUER", "https://auth.example.test")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let outbox = d.join("outbox");
    let mut mails: Vec<PathBuf> = Vec::new();
    // Waits for the real server process (not for time in our own code).
    for _ in 0..100 {
        mails = std::fs::read_dir(&outbox)
            .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        if !mails.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // While the server runs, SQLite keeps its WAL and shared-memory files.
    let mut files = vec![d.join("gatehouse.db"), d.join("master.key")];
    for extra in ["gatehouse.db-wal", "gatehouse.db-shm"] {
        if d.join(extra).exists() {
            files.push(d.join(extra));
        }
    }
    let modes: Vec<(PathBuf, u32)> = files.iter().map(|f| (f.clone(), mode(f))).collect();
    server.kill().ok();
    server.wait().ok();
    assert_eq!(mails.len(), 1, "the invitation was written to the outbox");
    assert!(
        std::fs::read_to_string(&mails[0])
            .unwrap()
            .contains("To: it@globex.example"),
        "{}",
        mails[0].display()
    );
    assert_eq!(mode(&outbox), 0o700, "outbox dir");
    assert_eq!(mode(&mails[0]), 0o600, "{}", mails[0].display());
    assert!(
        modes.len() >= 3,
        "the WAL exists while the server runs: {modes:?}"
    );
    for (f, m) in modes {
        assert_eq!(m, 0o600, "{}", f.display());
    }
}

fn line_value(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no `{key}` in:\n{out}"))
        .to_string()
}

/// Review F11: `resource rotate-secret` prints a new secret once and leaves the old one working
/// for the overlap only; `resource revoke-secret` stops every secret at once. Both are audited
/// on the platform chain, which still verifies.
#[tokio::test]
async fn resource_secrets_rotate_with_an_overlap_and_are_revoked_at_once() {
    let d = fresh_dir("rssecret");
    let toml = d.join("crm.toml");
    std::fs::write(&toml, RESOURCE_TOML).unwrap();
    let out = ok(
        &d,
        &["resource", "register", "--file", toml.to_str().unwrap()],
    );
    let client = line_value(&out, "introspection_client_id");
    let first = line_value(&out, "introspection_client_secret");
    let uri = "https://crm.example.com/mcp";
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64
    };
    let works = |secret: String, at: i64| {
        let (d, client) = (d.clone(), client.clone());
        async move {
            let db = open_db(&d).await;
            authz_core::resource::authenticate(&db, at, &client, &secret)
                .await
                .unwrap()
                .is_some()
        }
    };

    let (_, _, err) = fails(
        &d,
        &[
            "resource",
            "rotate-secret",
            "--uri",
            "https://nope.example/mcp",
        ],
    );
    assert!(
        err.contains("resource 'https://nope.example/mcp' is not registered"),
        "{err}"
    );
    let (_, _, err) = fails(
        &d,
        &[
            "resource",
            "rotate-secret",
            "--uri",
            uri,
            "--overlap-secs",
            "999999",
        ],
    );
    assert!(
        err.contains("the overlap must be 0 to 604800 seconds"),
        "{err}"
    );
    assert!(
        works(first.clone(), now()).await,
        "refused attempts changed nothing"
    );

    // Default overlap: an hour.
    let out = ok(&d, &["resource", "rotate-secret", "--uri", uri]);
    assert_eq!(line_value(&out, "introspection_client_id"), client);
    let second = line_value(&out, "introspection_client_secret");
    assert!(out.contains("previous_secret_valid_until: "), "{out}");
    let t = now();
    assert!(works(first.clone(), t).await && works(second.clone(), t).await);
    let later = t + 3601 * 1_000_000;
    assert!(!works(first.clone(), later).await, "after the overlap");
    assert!(works(second.clone(), later).await);

    // No overlap: the old secret stops now.
    let out = ok(
        &d,
        &[
            "resource",
            "rotate-secret",
            "--uri",
            uri,
            "--overlap-secs",
            "0",
        ],
    );
    assert!(out.contains("previous_secret: revoked"), "{out}");
    let third = line_value(&out, "introspection_client_secret");
    assert!(!works(second.clone(), now()).await && works(third.clone(), now()).await);

    // Revocation: every secret, at once.
    let out = ok(&d, &["resource", "revoke-secret", "--uri", uri]);
    assert!(out.contains("secrets: revoked"), "{out}");
    for s in [&first, &second, &third] {
        assert!(!works(s.clone(), now()).await);
    }
    let out = ok(&d, &["audit", "verify", "--tenant", "platform"]);
    assert!(out.contains("status: ok"), "{out}");
    let db = open_db(&d).await;
    let actions: Vec<String> = audit_events::Entity::find()
        .filter(audit_events::Column::Action.starts_with("resource.secret_"))
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "resource.secret_rotated",
            "resource.secret_rotated",
            "resource.secret_revoked"
        ]
    );
}

/// `gatehouse user-key`: members' personal API keys are off by default; the operator turns
/// them on with a maximum within 1-90 days, lists them, and an unknown key cannot be revoked.
#[test]
fn user_key_settings_list_and_revoke() {
    let d = copy_of_baseline("user_key");
    let out = ok(&d, &["user-key", "settings", "--tenant", "acme"]);
    assert!(out.contains("api_keys_enabled: false"), "{out}");
    assert!(out.contains("api_key_max_days: 30"), "{out}");
    let out = ok(
        &d,
        &[
            "user-key",
            "settings",
            "--tenant",
            "acme",
            "--enable",
            "--max-days",
            "14",
        ],
    );
    assert!(out.contains("api_keys_enabled: true"), "{out}");
    assert!(out.contains("api_key_max_days: 14"), "{out}");
    let (_, _, err) = fails(
        &d,
        &[
            "user-key",
            "settings",
            "--tenant",
            "acme",
            "--max-days",
            "91",
        ],
    );
    assert!(err.contains("between 1 and 90"), "{err}");
    assert_eq!(ok(&d, &["user-key", "list", "--tenant", "acme"]), "");
    let (_, _, err) = fails(
        &d,
        &["user-key", "revoke", "--tenant", "acme", "--id", "nope"],
    );
    assert!(err.contains("not found"), "{err}");
    let out = ok(
        &d,
        &["user-key", "settings", "--tenant", "acme", "--disable"],
    );
    assert!(out.contains("api_keys_enabled: false"), "{out}");
}

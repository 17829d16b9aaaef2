//! `tenant` and `connection` list/show/update/remove on the real binary (issue 16 §2): `--json`
//! prints one JSON document of the admin API's shape, `remove` without `--yes` on a non-TTY
//! says what it would revoke, refuses and changes nothing; with `--yes` it removes.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

fn fresh_dir(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "gh_rm_{label}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the binary with standard input closed (not a terminal).
fn gatehouse(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("GATEHOUSE_MASTER_KEY")
        .env_remove("GATEHOUSE_DATA_DIR")
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("DATABASE_URL")
        .output()
        .expect("run gatehouse")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = gatehouse(dir, args);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "gatehouse {args:?}: {out}\n{err}");
    out
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let out = ok(dir, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

fn fails(dir: &Path, args: &[&str]) -> String {
    let o = gatehouse(dir, args);
    assert!(!o.status.success(), "gatehouse {args:?} must fail");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn metadata() -> String {
    format!(
        "{}/../saml/tests/fixtures/idp-metadata.xml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A data dir with tenants `acme` (a SAML connection) and `beta`; the connection's id.
fn two_tenants() -> (PathBuf, String) {
    let d = fresh_dir("crud");
    for (slug, domain) in [("acme", "acme.example"), ("beta", "beta.example")] {
        ok(
            &d,
            &[
                "tenant", "create", "--slug", slug, "--name", slug, "--domain", domain,
            ],
        );
    }
    let out = ok(
        &d,
        &[
            "connection",
            "add-saml",
            "--tenant",
            "acme",
            "--metadata-file",
            &metadata(),
        ],
    );
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("connection_id: "))
        .expect("connection_id")
        .to_string();
    (d, id)
}

#[test]
fn connections_are_listed_shown_changed_and_removed_only_when_confirmed() {
    let (d, id) = two_tenants();
    let list = json(&d, &["connection", "list", "--tenant", "acme", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], id.as_str());
    let c = json(
        &d,
        &[
            "connection",
            "show",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--json",
        ],
    );
    assert_eq!(c["kind"], "saml");
    // Another tenant's connection is not found.
    let err = fails(&d, &["connection", "show", "--tenant", "beta", "--id", &id]);
    assert!(err.contains("not found"), "{err}");
    let c = json(
        &d,
        &[
            "connection",
            "update",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--name",
            "Corp SSO",
            "--json",
        ],
    );
    assert_eq!(c["name"], "Corp SSO");
    let err = fails(
        &d,
        &["connection", "update", "--tenant", "acme", "--id", &id],
    );
    assert!(err.contains("nothing to change"), "{err}");

    // Not a terminal and no --yes: it says what it would revoke and refuses.
    let err = fails(
        &d,
        &["connection", "remove", "--tenant", "acme", "--id", &id],
    );
    assert!(err.contains("Removing connection \"Corp SSO\""), "{err}");
    assert!(err.contains("pass --yes"), "{err}");
    let out = ok(&d, &["connection", "list", "--tenant", "acme"]);
    assert!(out.contains(&id), "nothing was removed: {out}");

    let r = json(
        &d,
        &[
            "connection",
            "remove",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--yes",
            "--json",
        ],
    );
    assert_eq!(r["removed"]["id"], id.as_str());
    assert_eq!(r["revoked"]["credentials"], 1, "{r}");
    let list = json(&d, &["connection", "list", "--tenant", "acme", "--json"]);
    assert_eq!(list, serde_json::json!([]));
    fails(&d, &["connection", "show", "--tenant", "acme", "--id", &id]);
}

#[test]
fn tenants_are_listed_shown_changed_and_removed_only_when_confirmed() {
    let (d, _) = two_tenants();
    let list = json(&d, &["tenant", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let t = json(&d, &["tenant", "show", "--tenant", "acme", "--json"]);
    assert_eq!(t["domains"], serde_json::json!(["acme.example"]));
    let out = ok(
        &d,
        &[
            "tenant",
            "update",
            "--tenant",
            "acme",
            "--name",
            "Acme Corp",
            "--provisioning",
            "scim",
            "--alert-recipient",
            "sec@acme.example",
        ],
    );
    assert!(out.contains("name: Acme Corp\n"), "{out}");
    assert!(out.contains("provisioning: scim\n"), "{out}");
    let err = fails(&d, &["tenant", "update", "--tenant", "acme", "--name", " "]);
    assert!(err.contains("1 to 200 characters"), "{err}");
    let err = fails(&d, &["tenant", "show", "--tenant", "nope"]);
    assert!(err.contains("not found"), "{err}");

    let err = fails(&d, &["tenant", "remove", "--tenant", "acme"]);
    assert!(err.contains("Removing tenant \"acme\""), "{err}");
    assert!(err.contains("1 connections removed with it"), "{err}");
    assert!(err.contains("pass --yes"), "{err}");
    ok(&d, &["tenant", "show", "--tenant", "acme"]);

    let out = ok(&d, &["tenant", "remove", "--tenant", "acme", "--yes"]);
    assert!(out.contains("removed: acme\n"), "{out}");
    let list = json(&d, &["tenant", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["slug"], "beta");
    // The slug and the domain can be used again.
    ok(
        &d,
        &[
            "tenant",
            "create",
            "--slug",
            "acme",
            "--name",
            "Acme",
            "--domain",
            "acme.example",
        ],
    );
}

#[test]
fn clients_are_listed_shown_renamed_and_removed_only_when_confirmed() {
    let d = fresh_dir("client");
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
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("client_id: "))
        .expect("client_id")
        .to_string();
    let list = json(&d, &["client", "list", "--json"]);
    assert_eq!(list[0]["client_id"], id.as_str(), "{list}");
    let c = json(
        &d,
        &[
            "client",
            "update",
            "--client-id",
            &id,
            "--name",
            "Claude AI",
            "--json",
        ],
    );
    assert_eq!(c["client_name"], "Claude AI");
    let err = fails(&d, &["client", "update", "--client-id", &id]);
    assert!(err.contains("nothing to change"), "{err}");
    let err = fails(&d, &["client", "remove", "--client-id", &id]);
    assert!(err.contains("pass --yes"), "{err}");
    ok(&d, &["client", "show", "--client-id", &id]);
    let r = json(
        &d,
        &["client", "remove", "--client-id", &id, "--yes", "--json"],
    );
    assert_eq!(r["removed"]["client_id"], id.as_str());
    let err = fails(&d, &["client", "show", "--client-id", &id]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn resources_are_listed_shown_and_removed_only_when_confirmed() {
    let d = fresh_dir("resource");
    let toml = d.join("crm.toml");
    std::fs::write(
        &toml,
        "uri = \"https://crm.example.com/mcp\"\ndisplay_name = \"Acme CRM\"\n\n[[scopes]]\nname = \"crm:read\"\ndescription = \"Read\"\ntier = \"routine\"\n",
    )
    .unwrap();
    ok(
        &d,
        &["resource", "register", "--file", toml.to_str().unwrap()],
    );
    let uri = "https://crm.example.com/mcp";
    let list = json(&d, &["resource", "list", "--json"]);
    assert_eq!(list[0]["uri"], uri, "{list}");
    let r = json(&d, &["resource", "show", uri, "--json"]);
    assert_eq!(r["scopes"], serde_json::json!(["crm:read"]));
    let err = fails(&d, &["resource", "remove", uri]);
    assert!(err.contains("Removing resource \"Acme CRM\""), "{err}");
    assert!(err.contains("pass --yes"), "{err}");
    ok(&d, &["resource", "show", uri]);
    let r = json(&d, &["resource", "remove", uri, "--yes", "--json"]);
    assert_eq!(r["removed"]["uri"], uri);
    let err = fails(&d, &["resource", "show", uri]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn operator_keys_are_shown_renamed_and_removed_only_when_confirmed() {
    let d = fresh_dir("opkey");
    let out = ok(&d, &["operator-key", "create", "--name", "ops"]);
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("key_id: "))
        .expect("key_id")
        .to_string();
    let list = json(&d, &["operator-key", "list", "--json"]);
    assert_eq!(list[0]["id"], id.as_str(), "{list}");
    let k = json(
        &d,
        &[
            "operator-key",
            "update",
            "--id",
            &id,
            "--name",
            "ci",
            "--json",
        ],
    );
    assert_eq!(k["name"], "ci");
    let err = fails(&d, &["operator-key", "remove", "--id", &id]);
    assert!(err.contains("1 credential stop working."), "{err}");
    assert!(err.contains("pass --yes"), "{err}");
    let k = json(&d, &["operator-key", "show", "--id", &id, "--json"]);
    assert_eq!(k["status"], "active");
    let r = json(
        &d,
        &["operator-key", "remove", "--id", &id, "--yes", "--json"],
    );
    assert_eq!(r["removed"]["id"], id.as_str());
    let k = json(&d, &["operator-key", "show", "--id", &id, "--json"]);
    assert_eq!(k["status"], "revoked");
}

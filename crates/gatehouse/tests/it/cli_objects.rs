//! `gatehouse <kind> list|show|update|remove` (issue 16 §2) run as the real binary: `--json`
//! prints one parseable document, a removal says what it revokes and, without `--yes` on a
//! non-terminal (these tests' standard input), refuses and changes nothing; with `--yes` it
//! removes.
use serde_json::Value;

use crate::cli::{copy_of_baseline, fails, ok};

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn org_grants_are_listed_shown_narrowed_and_removed_only_when_confirmed() {
    let d = copy_of_baseline("grant_objects");
    let list = json(&ok(&d, &["grant", "list", "--tenant", "acme", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let g = &list[0];
    assert_eq!(g["resource"], "https://crm.example.com/mcp");
    assert_eq!(g["scopes"].as_array().unwrap().len(), 4, "{g}");
    let id = g["id"].as_str().unwrap().to_string();
    let lines = ok(&d, &["grant", "list", "--tenant", "acme"]);
    assert!(
        lines.starts_with(&format!(
            "grant: {id} https://crm.example.com/mcp to=everyone"
        )),
        "{lines}"
    );
    let shown = json(&ok(
        &d,
        &["grant", "show", "--tenant", "acme", "--id", &id, "--json"],
    ));
    assert_eq!(&shown, g);
    let args = [
        "grant",
        "update",
        "--tenant",
        "acme",
        "--id",
        &id,
        "--scopes",
        "crm:customers:read crm:contacts:read",
        "--json",
    ];
    let updated = json(&ok(&d, &args));
    assert_eq!(updated["scopes"].as_array().unwrap().len(), 2, "{updated}");
    assert_eq!(updated["grants_revoked"], 0);
    let (_, _, err) = fails(
        &d,
        &[
            "grant", "update", "--tenant", "acme", "--id", &id, "--scopes", "crm:nope",
        ],
    );
    assert!(err.contains("not in the catalogue"), "{err}");
    // Without --yes, a script is refused and nothing changes.
    let (_, out, err) = fails(&d, &["grant", "remove", "--tenant", "acme", "--id", &id]);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("Removing the grant of https://crm.example.com/mcp to every member"),
        "{err}"
    );
    assert!(err.contains("pass --yes"), "{err}");
    ok(&d, &["grant", "show", "--tenant", "acme", "--id", &id]);
    let removed = json(&ok(
        &d,
        &[
            "grant", "remove", "--tenant", "acme", "--id", &id, "--yes", "--json",
        ],
    ));
    assert_eq!(removed["removed"]["id"], id.as_str(), "{removed}");
    assert_eq!(removed["revoked"]["grants"], 0, "{removed}");
    let (_, _, err) = fails(&d, &["grant", "show", "--tenant", "acme", "--id", &id]);
    assert!(err.contains("not found"), "{err}");
    assert!(ok(&d, &["audit", "verify", "--tenant", "acme"]).contains("status: ok"));
}

#[test]
fn scim_tokens_admin_keys_and_service_accounts_are_shown_changed_and_removed() {
    let d = copy_of_baseline("credential_objects");
    // SCIM token.
    let out = ok(
        &d,
        &["scim-token", "create", "--tenant", "acme", "--name", "Okta"],
    );
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("token_id: "))
        .unwrap()
        .to_string();
    let t = json(&ok(
        &d,
        &[
            "scim-token",
            "show",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--json",
        ],
    ));
    assert_eq!(
        (&t["name"], &t["status"]),
        (&Value::from("Okta"), &Value::from("active"))
    );
    let shown = ok(&d, &["scim-token", "show", "--tenant", "acme", "--id", &id]);
    assert!(
        shown.contains("name: Okta\n") && shown.contains("status: active\n"),
        "{shown}"
    );
    let t = json(&ok(
        &d,
        &[
            "scim-token",
            "update",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--name",
            "Okta prod",
            "--json",
        ],
    ));
    assert_eq!(t["name"], "Okta prod");
    let (_, _, err) = fails(
        &d,
        &["scim-token", "remove", "--tenant", "acme", "--id", &id],
    );
    assert!(
        err.contains("1 credential stop working") && err.contains("pass --yes"),
        "{err}"
    );
    let list = json(&ok(
        &d,
        &["scim-token", "list", "--tenant", "acme", "--json"],
    ));
    assert_eq!(
        list[0]["status"], "active",
        "a refused removal changes nothing"
    );
    let out = ok(
        &d,
        &[
            "scim-token",
            "remove",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--yes",
        ],
    );
    assert!(
        out.contains("removed: true\n") && out.contains("revoked: 1 credential stop working."),
        "{out}"
    );
    let list = json(&ok(
        &d,
        &["scim-token", "list", "--tenant", "acme", "--json"],
    ));
    assert_eq!(list[0]["status"], "revoked");
    // Admin key.
    let out = ok(
        &d,
        &["admin-key", "create", "--tenant", "acme", "--name", "ci"],
    );
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("key_id: "))
        .unwrap()
        .to_string();
    let k = json(&ok(
        &d,
        &[
            "admin-key",
            "update",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--name",
            "nightly",
            "--json",
        ],
    ));
    assert_eq!(k["name"], "nightly");
    let k = json(&ok(
        &d,
        &[
            "admin-key",
            "show",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--json",
        ],
    ));
    assert_eq!(k["status"], "active");
    fails(
        &d,
        &["admin-key", "remove", "--tenant", "acme", "--id", &id],
    );
    let r = json(&ok(
        &d,
        &[
            "admin-key",
            "remove",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--yes",
            "--json",
        ],
    ));
    assert_eq!(
        (&r["removed"]["status"], &r["revoked"]["credentials"]),
        (&Value::from("revoked"), &Value::from(1)),
        "{r}"
    );
    let (_, _, err) = fails(
        &d,
        &["admin-key", "show", "--tenant", "acme", "--id", "nope"],
    );
    assert!(err.contains("not found"), "{err}");
    // Service account.
    let out = ok(
        &d,
        &[
            "service-account",
            "create",
            "--tenant",
            "acme",
            "--name",
            "bot",
            "--grant",
            "https://crm.example.com/mcp=crm:customers:read",
        ],
    );
    assert!(out.contains("client_secret: "), "{out}");
    let list = json(&ok(
        &d,
        &["service-account", "list", "--tenant", "acme", "--json"],
    ));
    assert_eq!(list[0]["name"], "bot");
    let a = json(&ok(
        &d,
        &[
            "service-account",
            "update",
            "--tenant",
            "acme",
            "--id",
            "bot",
            "--name",
            "robot",
            "--enabled",
            "false",
            "--json",
        ],
    ));
    assert_eq!(
        (&a["name"], &a["enabled"]),
        (&Value::from("robot"), &Value::from(false)),
        "{a}"
    );
    let (_, _, err) = fails(
        &d,
        &[
            "service-account",
            "remove",
            "--tenant",
            "acme",
            "--id",
            "robot",
        ],
    );
    assert!(err.contains("service account \"robot\""), "{err}");
    json(&ok(
        &d,
        &[
            "service-account",
            "show",
            "--tenant",
            "acme",
            "--id",
            "robot",
            "--json",
        ],
    ));
    let r = json(&ok(
        &d,
        &[
            "service-account",
            "remove",
            "--tenant",
            "acme",
            "--id",
            "robot",
            "--yes",
            "--json",
        ],
    ));
    assert_eq!(r["removed"]["name"], "robot", "{r}");
    assert_eq!(
        ok(
            &d,
            &["service-account", "list", "--tenant", "acme", "--json"]
        )
        .trim(),
        "[]"
    );
    assert!(ok(&d, &["audit", "verify", "--tenant", "acme"]).contains("status: ok"));
}

#[test]
fn invitations_domains_admins_and_user_keys_have_json_lists_and_confirmed_removal() {
    let d = copy_of_baseline("people_objects");
    ok(
        &d,
        &[
            "admin",
            "invite",
            "--tenant",
            "acme",
            "--email",
            "carol@acme.example",
        ],
    );
    let list = json(&ok(
        &d,
        &["invitation", "list", "--tenant", "acme", "--json"],
    ));
    let id = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(list[0]["status"], "pending", "{list}");
    let i = json(&ok(
        &d,
        &[
            "invitation",
            "update",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--extend",
            "--json",
        ],
    ));
    assert_eq!(i["email"], "carol@acme.example");
    let (_, _, err) = fails(
        &d,
        &["invitation", "remove", "--tenant", "acme", "--id", &id],
    );
    assert!(
        err.contains("the invitation of carol@acme.example") && err.contains("pass --yes"),
        "{err}"
    );
    let out = ok(
        &d,
        &[
            "invitation",
            "remove",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--yes",
        ],
    );
    assert!(out.contains("status: revoked\n"), "{out}");
    let i = json(&ok(
        &d,
        &[
            "invitation",
            "show",
            "--tenant",
            "acme",
            "--id",
            &id,
            "--json",
        ],
    ));
    assert_eq!(i["status"], "revoked");
    // Domains: show, the operator's verification, confirmed removal.
    let d1 = json(&ok(
        &d,
        &[
            "domain",
            "show",
            "--tenant",
            "acme",
            "--id",
            "acme.example",
            "--json",
        ],
    ));
    assert_eq!(d1["domain"], "acme.example");
    ok(
        &d,
        &[
            "domain",
            "add",
            "--tenant",
            "acme",
            "--domain",
            "new.example",
        ],
    );
    let v = json(&ok(
        &d,
        &[
            "domain",
            "update",
            "--tenant",
            "acme",
            "--id",
            "new.example",
            "--operator-verified",
            "--json",
        ],
    ));
    assert_eq!(v["verified"], true, "{v}");
    assert!(
        v["verified_by"].as_str().unwrap().starts_with("operator"),
        "{v}"
    );
    fails(
        &d,
        &[
            "domain",
            "remove",
            "--tenant",
            "acme",
            "--id",
            "new.example",
        ],
    );
    assert_eq!(
        json(&ok(&d, &["domain", "list", "--tenant", "acme", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    ok(
        &d,
        &[
            "domain",
            "remove",
            "--tenant",
            "acme",
            "--id",
            "new.example",
            "--yes",
        ],
    );
    assert_eq!(
        json(&ok(&d, &["domain", "list", "--tenant", "acme", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // No admin and no member key yet: empty JSON arrays, and unknown ids fail in one line.
    assert_eq!(
        ok(&d, &["admin", "list", "--tenant", "acme", "--json"]).trim(),
        "[]"
    );
    assert_eq!(
        ok(&d, &["user-key", "list", "--tenant", "acme", "--json"]).trim(),
        "[]"
    );
    let (_, _, err) = fails(
        &d,
        &[
            "admin", "remove", "--tenant", "acme", "--id", "nobody", "--yes",
        ],
    );
    assert!(err.contains("not found"), "{err}");
    let (_, _, err) = fails(
        &d,
        &[
            "user-key", "remove", "--tenant", "acme", "--id", "nope", "--yes",
        ],
    );
    assert!(err.contains("not found"), "{err}");
    assert!(ok(&d, &["audit", "verify", "--tenant", "acme"]).contains("status: ok"));
}

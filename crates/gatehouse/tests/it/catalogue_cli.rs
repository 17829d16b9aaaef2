//! `gatehouse resource update|show|versions`, run as the real binary on a SQLite data dir: the
//! diff is printed and nothing applied without `--yes`; `show` prints a file `update` takes
//! back unchanged; `versions` lists every version; an invalid file changes nothing.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const URI: &str = "https://crm.example.com/mcp";

const V1: &str = r#"
uri = "https://crm.example.com/mcp"
display_name = "Acme CRM"

[[scopes]]
name = "crm:customers:read"
description = "Read customer records"
tier = "routine"

[[scopes]]
name = "crm:contacts:read"
description = "Read contacts"
tier = "routine"

[[tools]]
name = "list_customers"
scopes = ["crm:customers:read"]
"#;

/// V1 without `crm:contacts:read`, with a described tool, a rule and a setting.
const V2: &str = r#"
uri = "https://crm.example.com/mcp"
display_name = "Acme CRM"

[[scopes]]
name = "crm:customers:read"
description = "Read customer records"
tier = "routine"

[[tools]]
name = "list_customers"
scopes = ["crm:customers:read"]

[[tools]]
name = "search_customers"
scopes = ["crm:customers:read"]
description = "Find customers by name"

[settings]
share_identity = true

[[prompts]]
name = "*"
scopes = ["crm:customers:read"]
"#;

fn data_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!("gh_cli_catalogue_{}_{nanos}", std::process::id()));
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
        .env_remove("DATABASE_URL")
        .output()
        .expect("run gatehouse")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = gatehouse(dir, args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "gatehouse {args:?} failed:\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn resource_update_prints_the_diff_and_applies_only_with_yes() {
    let d = data_dir();
    let v1 = file(&d, "v1.toml", V1);
    ok(&d, &["resource", "register", "--file", &v1]);
    let v2 = file(&d, "v2.toml", V2);

    let out = ok(&d, &["resource", "update", "--file", &v2]);
    for line in [
        "version: 1 -> 2\n",
        "- scope crm:contacts:read\n",
        "+ tool search_customers\n",
        "+ rule prompts:*\n",
        "~ setting share_identity false -> true\n",
        "! revokes every token, org grant and consent carrying crm:contacts:read\n",
        "result: nothing applied (run again with --yes to apply)\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let shown = ok(&d, &["resource", "show", URI]);
    assert!(shown.contains("# version: 1\n"), "{shown}");
    assert!(shown.contains("crm:contacts:read"), "{shown}");

    let out = ok(&d, &["resource", "update", "--file", &v2, "--yes"]);
    assert!(out.contains("result: applied version 2\n"), "{out}");
    assert!(out.contains("tokens_revoked: 0\n"), "{out}");
    let shown = ok(&d, &["resource", "show", URI]);
    assert!(shown.contains("# version: 2\n"), "{shown}");
    assert!(!shown.contains("crm:contacts:read"), "{shown}");
    assert!(shown.contains("Find customers by name"), "{shown}");

    // What `show` prints is a file `update` accepts, and it changes nothing.
    let again = file(&d, "shown.toml", &shown);
    let out = ok(&d, &["resource", "update", "--file", &again, "--yes"]);
    assert!(out.contains("result: no change\n"), "{out}");

    let versions = ok(&d, &["resource", "versions", URI]);
    let lines: Vec<&str> = versions
        .lines()
        .filter(|l| l.starts_with("version: "))
        .collect();
    assert_eq!(lines.len(), 2, "{versions}");
    assert!(lines[0].starts_with("version: 2 ") && lines[0].contains(" operator "));
    assert!(lines[1].starts_with("version: 1 ") && lines[1].ends_with("registered"));

    // A tool needing a scope outside the catalogue: refused, nothing written.
    let bad = file(
        &d,
        "bad.toml",
        &V2.replace(
            "scopes = [\"crm:customers:read\"]\ndescription",
            "scopes = [\"crm:nope\"]\ndescription",
        ),
    );
    let o = gatehouse(&d, &["resource", "update", "--file", &bad, "--yes"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("crm:nope"));
    assert!(ok(&d, &["resource", "show", URI]).contains("# version: 2\n"));
    std::fs::remove_dir_all(&d).ok();
}

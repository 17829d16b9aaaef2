//! `gatehouse connection add-dev` (ADR 0017), run as the real binary on a SQLite data dir: refused
//! with DEVIDP0001 (and nothing written) unless the issuer is a loopback http URL; added, and
//! listed as development, on the default issuer; every flag documented.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const USERS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/quickstart/users.toml"
);

fn fresh_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!("gh_cli_devidp_{}_{nanos}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gatehouse(dir: &Path, issuer: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.arg("--data-dir").arg(dir).args(args);
    for v in [
        "GATEHOUSE_MASTER_KEY",
        "GATEHOUSE_DATA_DIR",
        "GATEHOUSE_CONFIG",
        "GATEHOUSE_ISSUER",
        "DATABASE_URL",
    ] {
        cmd.env_remove(v);
    }
    if let Some(i) = issuer {
        cmd.env("GATEHOUSE_ISSUER", i);
    }
    cmd.output().expect("run gatehouse")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn add_dev_is_refused_unless_the_issuer_is_loopback_http() {
    let dir = fresh_dir();
    let create = [
        "tenant",
        "create",
        "--slug",
        "demo",
        "--name",
        "Demo",
        "--domain",
        "example.com",
    ];
    assert!(gatehouse(&dir, None, &create).status.success());
    let add = [
        "connection",
        "add-dev",
        "--tenant",
        "demo",
        "--users",
        USERS,
    ];
    for issuer in ["https://auth.example.com", "http://[::1]:8080"] {
        let o = gatehouse(&dir, Some(issuer), &add);
        if issuer.starts_with("https") {
            assert!(!o.status.success(), "refused on {issuer}");
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("DEVIDP0001"), "{err}");
            assert!(err.contains("loopback"), "{err}");
            assert!(
                !err.contains("alice-dev-password"),
                "no password in the message"
            );
            let list = gatehouse(&dir, None, &["connection", "list", "--tenant", "demo"]);
            assert!(
                !stdout(&list).contains("development"),
                "nothing was written"
            );
        } else {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let out = stdout(&o);
            assert!(out.contains("kind: development"), "{out}");
            assert!(out.contains("users: 2"), "{out}");
        }
    }
    let list = stdout(&gatehouse(
        &dir,
        None,
        &["connection", "list", "--tenant", "demo"],
    ));
    assert!(list.contains(" dev development enabled "), "{list}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn add_dev_documents_every_flag() {
    let o = gatehouse(&fresh_dir(), None, &["connection", "add-dev", "--help"]);
    let help = stdout(&o);
    for flag in ["--tenant <TENANT>", "--users <USERS>", "--name <NAME>"] {
        let lines: Vec<&str> = help.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} in\n{help}"));
        // The text is on the flag's line, or (long help) on the lines below it.
        let same_line = lines[i].trim().len() > flag.len() + 5;
        let below = lines
            .get(i + 1)
            .is_some_and(|l| !l.trim().is_empty() && !l.trim_start().starts_with('-'));
        assert!(same_line || below, "{flag} has help text:\n{help}");
    }
}

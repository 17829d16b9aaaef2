//! The operator's error paths (issue 16 §4), run as the real binary: each failure is one line
//! on stderr with a stable code and a non-zero exit, quotes no secret and no file content, and
//! comes at once rather than after a pool's timeout.
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// A wait this long means the binary hangs: far above the 5 s connect timeout, far below the
/// 30 s pool timeout it replaced.
const HANG: Duration = Duration::from_secs(20);

fn fresh_dir(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "gh_operr_{label}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    c.arg("--data-dir")
        .arg(dir)
        .env_remove("GATEHOUSE_MASTER_KEY")
        .env_remove("GATEHOUSE_DATA_DIR")
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("GATEHOUSE_LISTEN")
        .env_remove("GATEHOUSE_ISSUER")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info");
    c
}

/// Runs `c` to completion; fails the test if it has not exited after [`HANG`].
fn run(mut c: Command) -> Output {
    let child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gatehouse");
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(HANG) {
        Ok(o) => o.expect("wait for gatehouse"),
        Err(_) => {
            // Ours, by pid: the child this test started.
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("gatehouse did not exit within {HANG:?}");
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Exactly one non-empty line on stderr, no panic, no backtrace; returns it.
fn one_line_failure(o: &Output) -> String {
    assert!(!o.status.success(), "must fail: {}", text(&o.stdout));
    let err = text(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr:\n{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    lines[0].to_string()
}

fn tenant(dir: &Path) {
    let mut c = command(dir);
    c.args([
        "tenant",
        "create",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--domain",
        "acme.test",
    ]);
    let o = run(c);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

fn add_saml(dir: &Path, file: &Path) -> Output {
    let mut c = command(dir);
    c.args([
        "connection",
        "add-saml",
        "--tenant",
        "acme",
        "--metadata-file",
    ])
    .arg(file);
    run(c)
}

#[test]
fn add_saml_names_a_file_that_is_not_metadata_without_printing_it() {
    let dir = fresh_dir("saml");
    tenant(&dir);
    let secret = "INTERNAL-SECRET-do-not-print";
    let readme = dir.join("README.md");
    std::fs::write(
        &readme,
        format!("# Gatehouse\n\nA <b>README</b> with a line that must stay private: {secret}\n"),
    )
    .unwrap();
    let o = add_saml(&dir, &readme);
    let line = one_line_failure(&o);
    assert!(line.contains("SAML0023"), "{line}");
    assert!(line.contains("not SAML metadata"), "{line}");
    assert!(line.contains("EntityDescriptor"), "{line}");
    assert!(!text(&o.stderr).contains(secret) && !text(&o.stdout).contains(secret));

    // Metadata, but of a service provider: another code, and the reason.
    let sp = dir.join("sp-metadata.xml");
    std::fs::write(
        &sp,
        format!(
            r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example.test/{secret}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.test/acs" index="0"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#
        ),
    )
    .unwrap();
    let o = add_saml(&dir, &sp);
    let line = one_line_failure(&o);
    assert!(line.contains("SAML0024"), "{line}");
    assert!(!text(&o.stderr).contains(secret), "{line}");

    // Nothing was written: the tenant still has no connection.
    let mut c = command(&dir);
    c.args(["connection", "list", "--tenant", "acme"]);
    let o = run(c);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        !text(&o.stdout).contains("connection:"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn add_saml_without_a_source_names_both_sources() {
    let dir = fresh_dir("saml_nosource");
    let mut c = command(&dir);
    c.args(["connection", "add-saml", "--tenant", "acme"]);
    let o = run(c);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("--metadata-file") && err.contains("--metadata-url"),
        "{err}"
    );
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn an_unreachable_database_is_one_line_at_once() {
    let dir = fresh_dir("nodb");
    let port = closed_port();
    let url = format!("postgres://gatehouse:db-password-42@127.0.0.1:{port}/gatehouse");
    for args in [
        &["tenant", "list"][..],
        &["migrate"][..],
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--issuer",
            "http://127.0.0.1:8080",
        ][..],
    ] {
        let mut c = command(&dir);
        c.args(args)
            .env("DATABASE_URL", &url)
            .env("GATEHOUSE_MASTER_KEY", "11".repeat(32));
        let o = run(c);
        let line = one_line_failure(&o);
        assert!(
            line.contains(&format!(
                "DB0001: cannot reach the database at postgres://gatehouse@127.0.0.1:{port}/gatehouse"
            )),
            "{args:?}: {line}"
        );
        assert!(line.contains("connection refused"), "{args:?}: {line}");
        assert!(!line.contains("db-password-42"), "{line}");
        let out = text(&o.stdout);
        assert!(!out.contains("db-password-42"), "{out}");
        assert!(!out.contains("listening"), "{out}");
    }
}

#[test]
fn a_port_in_use_is_one_line_and_nothing_says_listening() {
    let dir = fresh_dir("busy");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut c = command(&dir);
    c.args([
        "serve",
        "--listen",
        &addr,
        "--issuer",
        "http://127.0.0.1:8080",
    ]);
    let o = run(c);
    let line = one_line_failure(&o);
    assert!(
        line.contains(&format!("LISTEN0001: cannot listen on {addr}")),
        "{line}"
    );
    assert!(line.contains("already in use"), "{line}");
    assert!(
        !text(&o.stdout).contains("listening"),
        "{}",
        text(&o.stdout)
    );
    drop(taken);
}

#[test]
fn listening_is_logged_once_the_port_is_bound() {
    let dir = fresh_dir("listen");
    let mut child = command(&dir)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--issuer",
            "http://127.0.0.1:8080",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run gatehouse serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("gatehouse listening") {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let line = rx.recv_timeout(HANG);
    // Port 0: the line names the port the kernel gave, so it can only come after the bind.
    let reached = line.as_ref().ok().and_then(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        let listen = v["fields"]["listen"].as_str()?.to_string();
        Some((listen.clone(), TcpStream::connect(&listen).is_ok()))
    });
    let _ = child.kill();
    let _ = child.wait();
    let (listen, connected) = reached.unwrap_or_else(|| panic!("no listening line: {line:?}"));
    assert!(!listen.ends_with(":0"), "{listen}");
    assert!(connected, "nothing accepts on {listen}");
}

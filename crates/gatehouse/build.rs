//! Lays out the release binary's code so that what a running node executes sits together
//! (ADR 0031): `link-order.txt` lists the functions a node ran from start through the
//! benchmark's flows, and the linker puts them first, in that order. A node then maps less than
//! half of the binary's pages it mapped when those functions were spread over the whole binary
//! (11.0 against 23.6 MB after the benchmark's setup; the kernel maps 64 KB around every page a
//! process touches). `scripts/link-order.sh`
//! regenerates the list; a name the binary no longer has is skipped, so a stale list only
//! helps less.
use std::env;

fn main() {
    println!("cargo:rerun-if-changed=link-order.txt");
    println!("cargo:rerun-if-env-changed=GATEHOUSE_LINK_ORDER");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let on = |var: &str, want: &str| env::var(var).is_ok_and(|v| v == want);
    // Rust's own LLD links x86_64 Linux binaries (Rust 1.90 and later); other linkers do not
    // all take the option.
    let lld = on("CARGO_CFG_TARGET_ARCH", "x86_64")
        && on("CARGO_CFG_TARGET_OS", "linux")
        && on("CARGO_CFG_TARGET_ENV", "gnu");
    let wanted = !on("GATEHOUSE_LINK_ORDER", "off") && on("PROFILE", "release");
    if lld && wanted && rust_links_with_lld() {
        let list = format!(
            "{}/link-order.txt",
            env::var("CARGO_MANIFEST_DIR").unwrap_or_default()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={list}");
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// Whether rustc links with its own LLD here: Rust 1.90 or later, and no other linker chosen in
/// the flags cargo passes (`-C linker=…`, `-fuse-ld=…`) unless it is LLD or mold, which take the
/// option too. An older rustc links with the system's `cc` and GNU ld, which does not.
fn rust_links_with_lld() -> bool {
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if (flags.contains("linker") || flags.contains("fuse-ld"))
        && !(flags.contains("lld") || flags.contains("mold"))
    {
        return false;
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = std::process::Command::new(rustc).arg("-vV").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let minor = text
        .lines()
        .find_map(|l| l.strip_prefix("release: "))
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}

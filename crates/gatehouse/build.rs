//! Lays out the release binary's code so that what a running node executes sits together
//! (ADR 0031): `link-order.txt` lists the functions a node ran from start through the
//! benchmark's flows, and the linker puts them first, in that order. A node then maps about a
//! quarter of the code pages it mapped when those functions were spread over the whole binary
//! (the kernel maps 64 KB around every page a process touches). `scripts/link-order.sh`
//! regenerates the list; a name the binary no longer has is skipped, so a stale list only
//! helps less.
use std::env;

fn main() {
    println!("cargo:rerun-if-changed=link-order.txt");
    println!("cargo:rerun-if-env-changed=GATEHOUSE_LINK_ORDER");
    let on = |var: &str, want: &str| env::var(var).is_ok_and(|v| v == want);
    // Rust's own LLD links x86_64 Linux binaries (Rust 1.90 and later); other linkers do not
    // all take the option.
    let lld = on("CARGO_CFG_TARGET_ARCH", "x86_64")
        && on("CARGO_CFG_TARGET_OS", "linux")
        && on("CARGO_CFG_TARGET_ENV", "gnu");
    let wanted = !on("GATEHOUSE_LINK_ORDER", "off") && on("PROFILE", "release");
    if lld && wanted {
        let list = format!(
            "{}/link-order.txt",
            env::var("CARGO_MANIFEST_DIR").unwrap_or_default()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={list}");
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

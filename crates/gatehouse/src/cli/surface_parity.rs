//! Surface parity (issue 16 §2): everything that can be created can be listed, shown, changed
//! and removed, and the CLI, the admin API and the console offer the same operations. Each
//! surface declares its operations where they are defined, as `kind.op`:
//! - the CLI: the subcommand `gatehouse <kind> <op>`, which must take `--json`;
//! - the admin API: the OpenAPI operation id (`operation_id = "domain.remove"`);
//! - the console: the labels in its route table (`console_routes!`, `["domain.remove"]`).
//!
//! This test reads the three lists and compares them with the full matrix.
use std::collections::BTreeSet;

use clap::CommandFactory;
use utoipa::OpenApi;

/// The object kinds an operator or tenant admin creates (the CLI's command names).
const KINDS: &[&str] = &[
    "tenant",
    "domain",
    "connection",
    "resource",
    "grant",
    "client",
    "service-account",
    "scim-token",
    "admin-key",
    "user-key",
    "operator-key",
    "admin",
    "invitation",
];
const OPS: &[&str] = &["list", "show", "update", "remove"];
const SURFACES: &[&str] = &["cli", "api", "console"];

/// Operations a surface does not offer on purpose: (surface, `kind.op`, why). A stale entry
/// (the operation is offered after all) fails the test.
const NOT_OFFERED: &[(&str, &str, &str)] = &[];

/// Operations still to build (issue 16 §2): (surface, `kind.op`). This list only shrinks; a
/// stale entry fails the test, so it cannot hide an operation that now exists.
const GAPS: &[(&str, &str)] = &[];

fn cli_ops() -> BTreeSet<String> {
    let cli = super::Cli::command();
    let mut out = BTreeSet::new();
    for kind in cli.get_subcommands() {
        for op in kind.get_subcommands() {
            let json = op.get_arguments().any(|a| a.get_id() == "json");
            if json {
                out.insert(format!("{}.{}", kind.get_name(), op.get_name()));
            }
        }
    }
    out
}

fn api_ops() -> BTreeSet<String> {
    let doc = serde_json::to_value(admin_api::ApiDoc::openapi()).expect("the document serialises");
    let mut out = BTreeSet::new();
    for item in doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(id) = op["operationId"].as_str() {
                out.insert(id.to_string());
            }
        }
    }
    out
}

fn console_ops() -> BTreeSet<String> {
    admin_api::console::ROUTES
        .iter()
        .chain(admin_api::console::operator::OPERATOR_ROUTES)
        .flat_map(|r| r.ops.iter().map(|s| s.to_string()))
        .collect()
}

#[test]
fn the_cli_the_admin_api_and_the_console_offer_the_same_operations() {
    let matrix: BTreeSet<String> = KINDS
        .iter()
        .flat_map(|k| OPS.iter().map(move |o| format!("{k}.{o}")))
        .collect();
    let offered = [cli_ops(), api_ops(), console_ops()];
    let mut problems = Vec::new();
    // A console label is only ever an operation of the matrix (a typo would hide a gap).
    for op in &offered[2] {
        if !matrix.contains(op) {
            problems.push(format!(
                "console: label {op:?} is not a kind.op of the matrix"
            ));
        }
    }
    for (surface, ops) in SURFACES.iter().zip(&offered) {
        for op in &matrix {
            let has = ops.contains(op);
            let excused = NOT_OFFERED.iter().any(|(s, o, _)| s == surface && o == op);
            let gap = GAPS.iter().any(|(s, o)| s == surface && o == op);
            match (has, excused || gap) {
                (false, false) => problems.push(format!("{surface}: {op} is missing")),
                (true, true) => problems.push(format!(
                    "{surface}: {op} is offered: drop it from the lists"
                )),
                _ => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The operations still to build, for the closing note (`cargo test -p gatehouse --bin
/// gatehouse surface_parity -- --nocapture`).
#[test]
fn surface_parity_gaps_are_listed() {
    for (surface, op) in GAPS {
        println!("gap: {surface} {op}");
    }
    for (surface, op, why) in NOT_OFFERED {
        println!("not offered: {surface} {op}: {why}");
    }
}

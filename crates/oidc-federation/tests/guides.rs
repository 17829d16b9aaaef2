//! The IdP setup guides tell an admin what to paste into the IdP; these must be exactly the
//! values `gatehouse connection add-oidc` prints (both come from `Preset::setup_values`).
use oidc_federation::Preset;

const BASE: &str = "https://gatehouse.example.com";
const CONN: &str = "<connection_id>";

fn block(guide: &str, tag: &str) -> Vec<String> {
    let path = format!("{}/../../docs/idp/{guide}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let fence = format!("```text gatehouse-values {tag}\n");
    let start = text
        .find(&fence)
        .unwrap_or_else(|| panic!("{guide} has no `{fence}` block"))
        + fence.len();
    let end = start + text[start..].find("```").expect("closed block");
    text[start..end].lines().map(str::to_string).collect()
}

fn printed(p: &Preset) -> Vec<String> {
    p.setup_values(BASE, CONN)
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect()
}

#[test]
fn entra_guide_matches_cli_output() {
    let p = Preset::parse("entra", Some("72f988bf-86f1-41af-91ab-2d7cd011db47")).unwrap();
    assert_eq!(block("entra-oidc.md", "entra"), printed(&p));
}

#[test]
fn okta_guide_matches_cli_output() {
    assert_eq!(block("okta-oidc.md", "okta"), printed(&Preset::Okta));
}

#[test]
fn google_guide_matches_cli_output() {
    assert_eq!(block("google-oidc.md", "google"), printed(&Preset::Google));
}

#[test]
fn redirect_uri_is_the_callback_route() {
    let v = printed(&Preset::Okta);
    assert_eq!(
        v[0],
        format!("redirect_uri: {BASE}/federation/oidc/{CONN}/callback")
    );
}

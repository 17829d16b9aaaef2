//! The SAML IdP setup guides tell an admin what to paste into the IdP; these must be exactly the
//! values `gatehouse connection add-saml` prints after its own lines (both come from
//! `saml::sp::setup_values`).
use saml::sp::setup_values;

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

fn printed(preset: &str) -> Vec<String> {
    setup_values(BASE, CONN, preset)
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect()
}

#[test]
fn entra_guide_matches_cli_output() {
    assert_eq!(block("entra-saml.md", "entra-saml"), printed("entra"));
}

#[test]
fn okta_guide_matches_cli_output() {
    assert_eq!(block("okta-saml.md", "okta-saml"), printed("okta"));
}

#[test]
fn google_guide_matches_cli_output() {
    assert_eq!(block("google-saml.md", "google-saml"), printed("google"));
}

#[test]
fn sp_values_are_the_connection_routes() {
    for preset in ["entra", "okta", "google", "generic"] {
        let v = printed(preset);
        assert_eq!(
            v[0],
            format!("sp_entity_id: {BASE}/federation/saml/{CONN}/metadata")
        );
        assert_eq!(v[1], format!("acs_url: {BASE}/federation/saml/{CONN}/acs"));
        assert_eq!(
            v[2],
            format!("metadata_url: {BASE}/federation/saml/{CONN}/metadata")
        );
        assert!(v
            .last()
            .unwrap()
            .starts_with("name_id_format: urn:oasis:names:tc:SAML:"));
    }
}

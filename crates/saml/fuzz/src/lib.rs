//! The fixed test world of `crates/saml/tests/fixtures` (see its README.md and
//! `crates/saml/tests/it/corpus.rs`), shared by the fuzz targets.
use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use saml::{Expectations, IdpMetadata, SamlError, ValidatedAssertion};

pub const SP: &str = "https://auth.example.test/federation/saml/conn-1/metadata";
pub const ACS: &str = "https://auth.example.test/federation/saml/conn-1/acs";
pub const REQUEST_ID: &str = "_0123456789abcdef0123456789abcdef";
const IDP_METADATA: &str = include_str!("../../tests/fixtures/idp-metadata.xml");

struct World {
    idp: IdpMetadata,
    request_ids: Vec<String>,
    now: DateTime<Utc>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| World {
        idp: IdpMetadata::parse(IDP_METADATA).expect("fixture idp-metadata.xml must parse"),
        request_ids: vec![REQUEST_ID.to_string()],
        now: "2026-11-26T00:00:00Z".parse().expect("fixed clock"),
    })
}

/// `validate` with the test world's Expectations (SP, ACS, one outstanding request, fixed
/// clock, 3 minutes of skew, IdP-initiated SSO off).
pub fn validate(xml: &str) -> Result<ValidatedAssertion, SamlError> {
    let w = world();
    let ex = Expectations {
        sp_entity_id: SP,
        acs_url: ACS,
        idp: &w.idp,
        request_ids: &w.request_ids,
        allow_idp_initiated: false,
        skew: Duration::minutes(3),
        now: w.now,
    };
    saml::validate::validate(xml, &ex)
}

//! Attribute mapping on validated corpus responses: the key never comes from an email, users
//! without a NameID work with a key attribute, custom attribute names override the preset's.
use chrono::{DateTime, Duration, Utc};
use saml::mapping::{map, Mapping};
use saml::{Expectations, IdpMetadata};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn validated(file: &str) -> saml::ValidatedAssertion {
    let idp = IdpMetadata::parse(&fixture("idp-metadata.xml")).unwrap();
    let ids = vec!["_0123456789abcdef0123456789abcdef".to_string()];
    let now: DateTime<Utc> = "2026-11-26T00:00:00Z".parse().unwrap();
    let ex = Expectations {
        sp_entity_id: "https://auth.example.test/federation/saml/conn-1/metadata",
        acs_url: "https://auth.example.test/federation/saml/conn-1/acs",
        idp: &idp,
        request_ids: &ids,
        allow_idp_initiated: false,
        skew: Duration::minutes(3),
        now,
    };
    saml::validate::validate(&fixture(file), &ex).unwrap()
}

#[test]
fn entra_keys_by_tenant_and_object_id_even_without_nameid() {
    let m = Mapping::for_preset("entra", None).unwrap();
    for f in ["valid-signed-assertion.xml", "valid-no-nameid-with-oid.xml"] {
        let mapped = map(&m, &validated(f)).unwrap();
        assert_eq!(
            mapped.subject,
            "72f988bf-86f1-41af-91ab-2d7cd011db47:00000000-0000-0000-0000-0000000000a1",
            "{f}"
        );
        assert_eq!(mapped.email.as_deref(), Some("alice@acme.test"));
        assert_eq!(mapped.groups, vec!["g1", "g2"]);
    }
}

#[test]
fn generic_keys_by_persistent_nameid_and_refuses_without_one() {
    let m = Mapping::for_preset("generic", None).unwrap();
    assert_eq!(
        map(&m, &validated("valid-signed-assertion.xml"))
            .unwrap()
            .subject,
        "alice-persistent-id"
    );
    let e = map(&m, &validated("valid-no-nameid-with-oid.xml"))
        .err()
        .unwrap();
    assert_eq!(e.code(), "NO_SUBJECT");
}

#[test]
fn google_needs_a_key_attribute_and_email_is_never_the_key() {
    assert!(Mapping::for_preset("google", None)
        .unwrap_err()
        .contains("--key-attribute"));
    for email_attr in [
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "email",
        "mail",
    ] {
        let e = Mapping::for_preset("google", Some(email_attr.into())).unwrap_err();
        assert!(e.contains("cannot be the user key"), "{email_attr}: {e}");
    }
    let m = Mapping::for_preset(
        "google",
        Some("http://schemas.microsoft.com/identity/claims/objectidentifier".into()),
    )
    .unwrap();
    assert!(map(&m, &validated("valid-signed-assertion.xml")).is_ok());
}

#[test]
fn custom_attribute_names_override_the_preset() {
    let mut m = Mapping::for_preset("generic", None).unwrap();
    m.email_attribute = Some("http://schemas.microsoft.com/identity/claims/tenantid".into());
    m.groups_attribute = Some("nope".into());
    let mapped = map(&m, &validated("valid-signed-assertion.xml")).unwrap();
    assert_eq!(
        mapped.email.as_deref(),
        Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
    );
    assert!(mapped.groups.is_empty());
}

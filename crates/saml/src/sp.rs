//! This service provider's side of a connection: its signing key pair (generated when the
//! connection is created; the private key is sealed by the caller) and its metadata.
//!
//! Encrypted assertions: not offered. samael decrypts AES-128 only, and advertising an
//! encryption key would invite IdPs to use algorithms Gatehouse cannot open; the metadata has
//! no `use="encryption"` key, so IdPs send signed, unencrypted assertions over TLS
//! (docs/adr/0005-saml-encrypted-assertions-and-response-signatures.md).
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};

pub struct SpKeys {
    pub private_key_pem: String,
    pub certificate_pem: String,
}

/// An RSA-2048 key and a self-signed certificate valid ten years (SAML uses the key, not the
/// PKI: the IdP pins the certificate from our metadata).
pub fn generate(common_name: &str) -> Result<SpKeys, String> {
    let e = |x: openssl::error::ErrorStack| x.to_string();
    let pkey = PKey::from_rsa(Rsa::generate(2048).map_err(e)?).map_err(e)?;
    let mut name = X509NameBuilder::new().map_err(e)?;
    name.append_entry_by_text("CN", common_name).map_err(e)?;
    let name = name.build();
    let mut b = X509Builder::new().map_err(e)?;
    b.set_version(2).map_err(e)?;
    let mut serial = BigNum::new().map_err(e)?;
    serial
        .rand(127, openssl::bn::MsbOption::MAYBE_ZERO, false)
        .map_err(e)?;
    let serial = Asn1Integer::from_bn(&serial).map_err(e)?;
    b.set_serial_number(&serial).map_err(e)?;
    b.set_subject_name(&name).map_err(e)?;
    b.set_issuer_name(&name).map_err(e)?;
    b.set_pubkey(&pkey).map_err(e)?;
    let (from, until) = (
        Asn1Time::days_from_now(0).map_err(e)?,
        Asn1Time::days_from_now(3650).map_err(e)?,
    );
    b.set_not_before(&from).map_err(e)?;
    b.set_not_after(&until).map_err(e)?;
    b.sign(&pkey, MessageDigest::sha256()).map_err(e)?;
    let cert = b.build();
    Ok(SpKeys {
        private_key_pem: String::from_utf8(pkey.private_key_to_pem_pkcs8().map_err(e)?)
            .map_err(|x| x.to_string())?,
        certificate_pem: String::from_utf8(cert.to_pem().map_err(e)?).map_err(|x| x.to_string())?,
    })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// SP metadata (SAML metadata §2.4.4): entity ID, the HTTP-POST ACS, the signing certificate,
/// persistent NameIDs preferred, signed assertions wanted.
pub fn metadata(entity_id: &str, acs_url: &str, certificate_pem: &str) -> String {
    let cert_b64: String = certificate_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{eid}">
  <md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        eid = xml_escape(entity_id),
        acs = xml_escape(acs_url),
        cert = cert_b64,
    )
}

/// The SP entity ID of a connection: by convention its metadata URL.
pub fn entity_id(issuer: &str, connection_id: &str) -> String {
    format!("{issuer}/federation/saml/{connection_id}/metadata")
}

/// The assertion consumer service URL of a connection (HTTP-POST binding).
pub fn acs_url(issuer: &str, connection_id: &str) -> String {
    format!("{issuer}/federation/saml/{connection_id}/acs")
}

/// What an admin pastes into the IdP, as `gatehouse connection add-saml` prints it and the
/// guides in docs/idp/*-saml.md show it.
pub fn setup_values(
    issuer: &str,
    connection_id: &str,
    preset: &str,
) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("sp_entity_id", entity_id(issuer, connection_id)),
        ("acs_url", acs_url(issuer, connection_id)),
        ("metadata_url", entity_id(issuer, connection_id)),
    ];
    match preset {
        "entra" => v.push((
            "claims",
            "objectidentifier, tenantid, emailaddress, name (defaults of an Entra enterprise app); add a groups claim if wanted".into(),
        )),
        "okta" => v.push(("attribute_statements", "email = user.email; firstName = user.firstName; lastName = user.lastName; groups (filter) = your groups".into())),
        "google" => v.push(("attribute_mapping", "Employee ID → employeeId (the key: --key-attribute employeeId); Primary email → email".into())),
        _ => {}
    }
    v.push((
        "name_id_format",
        match preset {
            "google" => "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into(),
            _ => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into(),
        },
    ));
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_keys_and_metadata() {
        let k = super::generate("gatehouse sp").unwrap();
        assert!(k.private_key_pem.contains("PRIVATE KEY"));
        let md = super::metadata(
            "https://gh/federation/saml/c/metadata",
            "https://gh/federation/saml/c/acs",
            &k.certificate_pem,
        );
        assert!(md.contains(r#"Location="https://gh/federation/saml/c/acs""#));
        assert!(
            !md.contains("encryption"),
            "no encryption key is advertised"
        );
    }
}

//! IdP metadata import. A connection is trusted only through certificates pinned from its
//! metadata: metadata without a signing certificate is refused here, at configuration time,
//! because samael would otherwise skip signature verification altogether.
//!
//! Errors never quote the document: an operator may point `--metadata-file` at any file, and
//! a fetched URL may answer anything.
use std::str::FromStr;

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::NsReader;
use samael::metadata::EntityDescriptor;

use crate::error::SamlError;

const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/// SAML 2.0 metadata's namespace (saml-metadata-2.0-os §2.1).
const METADATA_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:metadata";

/// The document's root element, as far as metadata import cares.
#[derive(Debug, PartialEq, Eq)]
enum Root {
    EntityDescriptor,
    /// A federation aggregate: several entities, not one IdP.
    EntitiesDescriptor,
    Other,
}

/// Finds the root element without deserialising anything: a README, a JSON file or a SAML
/// response is told apart from metadata before a parser's error could quote it.
fn root(xml: &str) -> Root {
    let mut reader = NsReader::from_str(xml.trim_start_matches('\u{feff}'));
    loop {
        match reader.read_resolved_event() {
            Ok((ns, Event::Start(e) | Event::Empty(e))) => {
                let in_metadata_ns =
                    matches!(ns, ResolveResult::Bound(Namespace(n)) if n == METADATA_NS);
                return match (in_metadata_ns, e.local_name().as_ref()) {
                    (true, b"EntityDescriptor") => Root::EntityDescriptor,
                    (true, b"EntitiesDescriptor") => Root::EntitiesDescriptor,
                    _ => Root::Other,
                };
            }
            Ok((_, Event::Decl(_) | Event::Comment(_) | Event::PI(_))) => continue,
            Ok((_, Event::Text(t))) if t.iter().all(u8::is_ascii_whitespace) => continue,
            _ => return Root::Other,
        }
    }
}

#[derive(Clone, Debug)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_redirect_url: String,
    /// Signing certificates (base64 DER), several during a rollover.
    pub signing_certs: Vec<String>,
    pub(crate) descriptor: EntityDescriptor,
}

impl IdpMetadata {
    pub fn parse(xml: &str) -> Result<IdpMetadata, SamlError> {
        crate::precheck::refuse_dtd(xml)?;
        match root(xml) {
            Root::EntityDescriptor => {}
            Root::EntitiesDescriptor => {
                return Err(SamlError::MetadataUnusable(
                    "it is an EntitiesDescriptor (a federation aggregate); give the one IdP's EntityDescriptor",
                ))
            }
            Root::Other => return Err(SamlError::NotMetadata),
        }
        // samael's error quotes the input: replaced by fixed text.
        let descriptor = EntityDescriptor::from_str(xml).map_err(|_| {
            SamlError::MetadataUnusable(
                "the EntityDescriptor is not well-formed SAML 2.0 metadata (saml-metadata-2.0-os §2.3.2)",
            )
        })?;
        let entity_id = descriptor
            .entity_id
            .clone()
            .ok_or(SamlError::MetadataUnusable(
                "the EntityDescriptor has no entityID",
            ))?;
        let idp = descriptor
            .idp_sso_descriptors
            .as_ref()
            .and_then(|v| v.first())
            .ok_or(SamlError::MetadataUnusable(
                "it describes no identity provider (no IDPSSODescriptor; is it a service provider's metadata?)",
            ))?;
        let sso_redirect_url = idp
            .single_sign_on_services
            .iter()
            .find(|s| s.binding == HTTP_REDIRECT)
            .map(|s| s.location.clone())
            .ok_or(SamlError::MetadataUnusable(
                "the IdP offers no HTTP-Redirect SingleSignOnService",
            ))?;
        let mut signing_certs = Vec::new();
        for kd in &idp.key_descriptors {
            if kd
                .key_use
                .as_deref()
                .map(|u| u == "signing")
                .unwrap_or(true)
            {
                if let Some(x509) = kd.key_info.x509_data.as_ref() {
                    for c in &x509.certificates {
                        let c: String = c.chars().filter(|ch| !ch.is_whitespace()).collect();
                        if !c.is_empty() && !signing_certs.contains(&c) {
                            signing_certs.push(c);
                        }
                    }
                }
            }
        }
        if signing_certs.is_empty() {
            return Err(SamlError::NoSigningCert);
        }
        Ok(IdpMetadata {
            entity_id,
            sso_redirect_url,
            signing_certs,
            descriptor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "INTERNAL-SECRET-42";

    fn refused(xml: &str) -> SamlError {
        let e = IdpMetadata::parse(xml).unwrap_err();
        assert!(!e.to_string().contains(SECRET), "{e}");
        e
    }

    #[test]
    fn a_file_that_is_not_metadata_is_named_so_without_quoting_it() {
        for doc in [
            format!("# Gatehouse\n\nThe README, {SECRET}.\n"),
            format!("{{\"issuer\": \"{SECRET}\"}}"),
            format!("<html><body>{SECRET}</body></html>"),
            format!("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">{SECRET}</samlp:Response>"),
            // The right local name in no namespace is not metadata either.
            format!("<EntityDescriptor>{SECRET}</Entity>"),
            String::new(),
        ] {
            let e = refused(&doc);
            assert_eq!(e, SamlError::NotMetadata, "{doc}");
            assert!(e.to_string().starts_with("SAML0023 "), "{e}");
        }
    }

    #[test]
    fn metadata_that_cannot_configure_a_connection_says_why() {
        let md = "urn:oasis:names:tc:SAML:2.0:metadata";
        let sp = format!(
            "<?xml version=\"1.0\"?>\n<md:EntityDescriptor xmlns:md=\"{md}\" entityID=\"https://sp.example/{SECRET}\"><md:SPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"/></md:EntityDescriptor>"
        );
        let aggregate = format!("<EntitiesDescriptor xmlns=\"{md}\">{SECRET}</EntitiesDescriptor>");
        let broken = format!("<md:EntityDescriptor xmlns:md=\"{md}\"><md:IDPSSODescriptor>{SECRET}</md:EntityDescriptor>");
        for doc in [sp, aggregate, broken] {
            let e = refused(&doc);
            assert!(matches!(e, SamlError::MetadataUnusable(_)), "{e:?}");
            assert!(e.to_string().starts_with("SAML0024 "), "{e}");
        }
    }

    #[test]
    fn real_metadata_still_parses() {
        let xml = include_str!("../tests/fixtures/idp-metadata.xml");
        assert_eq!(root(xml), Root::EntityDescriptor);
        IdpMetadata::parse(xml).unwrap();
    }
}

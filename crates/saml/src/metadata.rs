//! IdP metadata import. A connection is trusted only through certificates pinned from its
//! metadata: metadata without a signing certificate is refused here, at configuration time,
//! because samael would otherwise skip signature verification altogether (DESIGN §6.6).
use std::str::FromStr;

use samael::metadata::EntityDescriptor;

use crate::error::SamlError;

const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

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
        let descriptor =
            EntityDescriptor::from_str(xml).map_err(|e| SamlError::Malformed(e.to_string()))?;
        let entity_id = descriptor
            .entity_id
            .clone()
            .ok_or_else(|| SamlError::Malformed("metadata has no entityID".into()))?;
        let idp = descriptor
            .idp_sso_descriptors
            .as_ref()
            .and_then(|v| v.first())
            .ok_or_else(|| SamlError::Malformed("metadata has no IDPSSODescriptor".into()))?;
        let sso_redirect_url = idp
            .single_sign_on_services
            .iter()
            .find(|s| s.binding == HTTP_REDIRECT)
            .map(|s| s.location.clone())
            .ok_or_else(|| {
                SamlError::Malformed("the IdP offers no HTTP-Redirect SingleSignOnService".into())
            })?;
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

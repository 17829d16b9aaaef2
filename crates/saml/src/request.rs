//! AuthnRequests over the HTTP-Redirect binding (SAML bindings §3.4). IDs are valid `xs:ID`s
//! with 128 random bits (`_` + 32 hex; samael's own carry only 32 bits), stored by the caller
//! with tenant and expiry and consumed once.
use std::io::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::write::DeflateEncoder;
use flate2::Compression;
use rand::RngCore;

pub fn new_request_id() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    format!("_{}", hex::encode(b))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub struct AuthnRequest<'a> {
    pub id: &'a str,
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub idp_sso_url: &'a str,
    /// Step-up: ask the IdP for a fresh authentication (ForceAuthn).
    pub force_authn: bool,
    pub now: DateTime<Utc>,
}

impl AuthnRequest<'_> {
    pub fn xml(&self) -> String {
        format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{t}" Destination="{dest}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"{force}><saml:Issuer>{sp}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#,
            id = xml_escape(self.id),
            t = self.now.to_rfc3339_opts(SecondsFormat::Secs, true),
            dest = xml_escape(self.idp_sso_url),
            acs = xml_escape(self.acs_url),
            force = if self.force_authn {
                r#" ForceAuthn="true""#
            } else {
                ""
            },
            sp = xml_escape(self.sp_entity_id),
        )
    }

    /// The IdP URL to redirect the browser to: DEFLATE + base64 + `RelayState` (an opaque
    /// handle of the login transaction, never a URL).
    pub fn redirect_url(&self, relay_state: &str) -> Result<String, String> {
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
        enc.write_all(self.xml().as_bytes())
            .map_err(|e| e.to_string())?;
        let deflated = enc.finish().map_err(|e| e.to_string())?;
        let mut url = url::Url::parse(self.idp_sso_url).map_err(|e| e.to_string())?;
        url.query_pairs_mut()
            .append_pair("SAMLRequest", &STANDARD.encode(deflated))
            .append_pair("RelayState", relay_state);
        Ok(url.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_xs_ids_with_128_bits() {
        let id = new_request_id();
        assert_eq!(id.len(), 33);
        assert!(id.starts_with('_') && id[1..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(new_request_id(), id);
    }

    #[test]
    fn force_authn_for_step_up() {
        let r = AuthnRequest {
            id: "_abc",
            sp_entity_id: "https://sp",
            acs_url: "https://sp/acs",
            idp_sso_url: "https://idp/sso",
            force_authn: true,
            now: Utc::now(),
        };
        assert!(r.xml().contains(r#"ForceAuthn="true""#));
        let u = r.redirect_url("tx-handle").unwrap();
        assert!(
            u.starts_with("https://idp/sso?SAMLRequest=") && u.ends_with("&RelayState=tx-handle")
        );
    }
}

//! Structural checks on the raw response, before any signature work: what an attacker controls
//! outside the signed subtree must not matter, so its shape is constrained first.
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::SamlError;

/// DTDs and entities are refused outright (entity expansion, external entities).
pub fn refuse_dtd(xml: &str) -> Result<(), SamlError> {
    let upper = xml.to_ascii_uppercase();
    if upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY") {
        return Err(SamlError::Dtd);
    }
    Ok(())
}

#[derive(Debug, Default)]
pub struct Shape {
    pub assertions: usize,
    pub signed_assertions: usize,
    pub response_signed: bool,
    pub destination: Option<String>,
    pub in_response_to: bool,
    /// The `Value` of every top-level `Status/StatusCode` of the Response (one in a valid
    /// response; second-level codes nested inside it are not listed).
    pub status_codes: Vec<String>,
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

/// Unsigned bytes tolerated around an assertion-only-signed response.
pub const MAX_UNSIGNED_ENVELOPE: u64 = 8 * 1024;

const WEAK: [&str; 4] = [
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#sha1",
    "http://www.w3.org/2001/04/xmldsig-more#md5",
];

pub fn scan(xml: &str) -> Result<Shape, SamlError> {
    refuse_dtd(xml)?;
    // Real IdPs never put comments in responses; canonicalisation drops them from what is
    // signed, which is how `user@evil.com<!---->.acme.com` passes a signature check.
    if xml.contains("<!--") {
        return Err(SamlError::CommentInjection);
    }
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut shape = Shape::default();
    // Byte span of the (single) assertion, to bound the unsigned envelope around it.
    let mut assertion_start: Option<u64> = None;
    let mut assertion_bytes: u64 = 0;
    loop {
        let before = reader.buffer_position();
        let ev = reader
            .read_event()
            .map_err(|e| SamlError::Malformed(e.to_string()))?;
        let (e, empty) = match &ev {
            Event::Start(e) => (e.clone(), false),
            Event::Empty(e) => (e.clone(), true),
            Event::End(end) => {
                if end.local_name().as_ref() == b"Assertion" {
                    if let Some(s) = assertion_start.take() {
                        assertion_bytes += reader.buffer_position().saturating_sub(s);
                    }
                }
                stack.pop();
                continue;
            }
            Event::DocType(_) => return Err(SamlError::Dtd),
            Event::Comment(_) => return Err(SamlError::CommentInjection),
            Event::Eof => break,
            _ => continue,
        };
        let local = e.local_name().as_ref().to_vec();
        if let Some(id) = attr(&e, b"ID") {
            if !ids.insert(id.clone()) {
                return Err(SamlError::DuplicateId(id));
            }
        }
        let parent = stack.last().map(Vec::as_slice);
        match local.as_slice() {
            b"Assertion" | b"EncryptedAssertion" => {
                shape.assertions += 1;
                if local.as_slice() == b"Assertion" {
                    assertion_start = Some(before);
                }
            }
            b"Signature" if parent == Some(b"Assertion".as_slice()) => shape.signed_assertions += 1,
            b"Signature" if parent == Some(b"Response".as_slice()) && stack.len() == 1 => {
                shape.response_signed = true
            }
            b"SignatureMethod" | b"DigestMethod" => {
                let alg = attr(&e, b"Algorithm").unwrap_or_default();
                if WEAK.contains(&alg.as_str()) {
                    return Err(SamlError::WeakAlgorithm(alg));
                }
            }
            b"Response" if stack.is_empty() => shape.destination = attr(&e, b"Destination"),
            b"StatusCode"
                if parent == Some(b"Status".as_slice())
                    && stack.len() == 2
                    && stack[0].as_slice() == b"Response" =>
            {
                shape
                    .status_codes
                    .push(attr(&e, b"Value").unwrap_or_default().trim().to_string())
            }
            _ => {}
        }
        // SAML core §1.3.3: instants are UTC xs:dateTime. Anything unparsable or absurd (years
        // outside 2000-9999) is refused here, before date arithmetic could overflow downstream.
        for name in [
            &b"IssueInstant"[..],
            b"NotBefore",
            b"NotOnOrAfter",
            b"AuthnInstant",
            b"SessionNotOnOrAfter",
        ] {
            if let Some(v) = attr(&e, name) {
                let year = chrono::DateTime::parse_from_rfc3339(&v)
                    .ok()
                    .map(|t| chrono::Datelike::year(&t));
                if !matches!(year, Some(2000..=9999)) {
                    return Err(SamlError::Malformed(format!(
                        "{}=\"{}\" is not a UTC instant between 2000 and 9999",
                        String::from_utf8_lossy(name),
                        v.chars().take(40).collect::<String>()
                    )));
                }
            }
        }
        if attr(&e, b"InResponseTo").is_some() {
            shape.in_response_to = true;
        }
        if !empty {
            stack.push(local);
        }
    }
    match (shape.assertions, shape.signed_assertions) {
        (n, s) if n > 1 && s >= n => return Err(SamlError::TwoAssertions(n)),
        (n, _) if n > 1 => return Err(SamlError::UnsignedAssertion),
        _ => {}
    }
    if shape.response_signed && shape.destination.is_none() {
        return Err(SamlError::DestinationMissing);
    }
    // samael 0.0.22 leaks the unsigned envelope of a response whose assertion alone is signed
    // (docs/fuzzing.md, finding 2). Real envelopes (Issuer, Status) are a few hundred bytes:
    // anything bulky around an assertion-only signature is refused before it reaches samael.
    let envelope = (xml.len() as u64).saturating_sub(assertion_bytes);
    if !shape.response_signed && shape.assertions == 1 && envelope > MAX_UNSIGNED_ENVELOPE {
        return Err(SamlError::Malformed(format!(
            "{envelope} bytes of unsigned content around the assertion (at most {MAX_UNSIGNED_ENVELOPE})"
        )));
    }
    Ok(shape)
}

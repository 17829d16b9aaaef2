//! Response validation: structure first (precheck), then signature reduction to the verified
//! subtree with samael + xmlsec (`ValidateAndMarkNoAncestors`, SHA-256-or-stronger signatures
//! only), then every SAML core §2/§3 condition samael checks only "when present" made mandatory,
//! with time from the caller's clock.
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use samael::crypto::{AllowedSignatureAlgorithm, ReduceMode};
use samael::schema::Assertion;
use samael::service_provider::{Error as SpError, ServiceProvider};

use crate::error::SamlError;
use crate::metadata::IdpMetadata;
use crate::precheck;

/// Largest decoded response accepted at the ACS (real responses with many groups reach a few
/// hundred KiB).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

pub struct Expectations<'a> {
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub idp: &'a IdpMetadata,
    /// AuthnRequest IDs this sign-in sent and has not consumed.
    pub request_ids: &'a [String],
    pub allow_idp_initiated: bool,
    pub skew: Duration,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct ValidatedAssertion {
    pub assertion_id: String,
    pub in_response_to: Option<String>,
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub attributes: Vec<(String, Vec<String>)>,
    pub authn_instant: Option<DateTime<Utc>>,
    /// Until when the assertion could be replayed: the replay cache keeps its ID this long.
    pub replay_until: DateTime<Utc>,
}

impl ValidatedAssertion {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }
}

/// Decodes the HTTP-POST binding's `SAMLResponse` (SAML bindings §3.5.4).
pub fn decode_post(b64: &str) -> Result<String, SamlError> {
    let cleaned: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    if cleaned.len() > MAX_RESPONSE_BYTES * 4 / 3 + 4 {
        return Err(SamlError::Malformed(
            "the response is larger than 1 MiB".into(),
        ));
    }
    let bytes = STANDARD
        .decode(cleaned)
        .map_err(|_| SamlError::Malformed("SAMLResponse is not base64".into()))?;
    String::from_utf8(bytes)
        .map_err(|_| SamlError::Malformed("SAMLResponse is not UTF-8 XML".into()))
}

fn map_samael(e: SpError) -> SamlError {
    match e {
        SpError::FailedToValidateSignature => SamlError::Signature,
        SpError::DestinationValidationError {
            response_destination,
            ..
        } => SamlError::Destination(response_destination.unwrap_or_default()),
        SpError::ResponseInResponseToInvalid { .. }
        | SpError::AssertionInResponseToInvalid { .. } => SamlError::InResponseTo,
        SpError::ResponseIssuerMismatch { issuer, .. }
        | SpError::AssertionIssuerMismatch { issuer, .. } => {
            SamlError::Issuer(issuer.unwrap_or_default())
        }
        SpError::ResponseBadStatusCode { code } => SamlError::Status(code),
        SpError::AssertionConditionAudienceRestrictionFailed { .. } => SamlError::Audience,
        SpError::AssertionRecipientMismatch { .. } => SamlError::Recipient,
        SpError::AssertionBearerSubjectConfirmationMissing
        | SpError::AssertionSubjectConfirmationMissing => SamlError::SubjectConfirmation,
        other => SamlError::Malformed(other.to_string()),
    }
}

pub fn validate(xml: &str, ex: &Expectations<'_>) -> Result<ValidatedAssertion, SamlError> {
    if xml.len() > MAX_RESPONSE_BYTES {
        return Err(SamlError::Malformed(
            "the response is larger than 1 MiB".into(),
        ));
    }
    if ex.idp.signing_certs.is_empty() {
        // Checked at configuration time too: without pinned certificates samael would not
        // verify signatures at all.
        return Err(SamlError::NoSigningCert);
    }
    let shape = precheck::scan(xml)?;
    if !shape.in_response_to && !ex.allow_idp_initiated {
        return Err(SamlError::Unsolicited);
    }
    let sp = ServiceProvider {
        entity_id: Some(ex.sp_entity_id.to_string()),
        acs_url: Some(ex.acs_url.to_string()),
        metadata_url: None,
        idp_metadata: ex.idp.descriptor.clone(),
        allow_idp_initiated: ex.allow_idp_initiated && !shape.in_response_to,
        // samael reads the wall clock; time is checked below against the caller's clock.
        max_issue_delay: Duration::days(36_500),
        max_clock_skew: Duration::days(36_500),
        allowed_signature_algorithms: Some(vec![
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::RsaSha384,
            AllowedSignatureAlgorithm::RsaSha512,
            AllowedSignatureAlgorithm::EcdsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha384,
            AllowedSignatureAlgorithm::EcdsaSha512,
        ]),
        ..Default::default()
    };
    let ids: Vec<&str> = ex.request_ids.iter().map(String::as_str).collect();
    let assertion = sp
        .parse_xml_response_with_mode(xml, Some(&ids), ReduceMode::ValidateAndMarkNoAncestors)
        .map_err(map_samael)?;
    check_envelope(&shape, ex)?;
    check_assertion(&assertion, ex)
}

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// What samael checks only on a signed Response that it could parse, checked whatever is
/// signed (DESIGN §6.6): when only the assertion is signed, samael validates the assertion alone
/// and never reads the Response's Status or Destination.
/// - A top-level status other than Success is a failed sign-in, even with a valid assertion.
/// - A Destination, when present, names the ACS, signed or not (SAML bindings §3.5.5.2).
fn check_envelope(shape: &precheck::Shape, ex: &Expectations<'_>) -> Result<(), SamlError> {
    match shape.status_codes.as_slice() {
        [s] if s == SUCCESS => {}
        [s] => return Err(SamlError::Status(s.clone())),
        [] => {
            return Err(SamlError::Malformed(
                "the response has no top-level StatusCode".into(),
            ))
        }
        many => {
            return Err(SamlError::Malformed(format!(
                "the response has {} top-level StatusCodes",
                many.len()
            )))
        }
    }
    match &shape.destination {
        Some(d) if d != ex.acs_url => Err(SamlError::Destination(d.clone())),
        _ => Ok(()),
    }
}

fn check_assertion(a: &Assertion, ex: &Expectations<'_>) -> Result<ValidatedAssertion, SamlError> {
    if a.issuer.value.as_deref().unwrap_or_default() != ex.idp.entity_id {
        return Err(SamlError::Issuer(
            a.issuer.value.clone().unwrap_or_default(),
        ));
    }
    let now = ex.now;
    let skew = ex.skew;
    if a.issue_instant > now + skew {
        return Err(SamlError::NotYetValid(a.issue_instant.to_rfc3339()));
    }
    let conditions = a.conditions.as_ref().ok_or(SamlError::AudienceMissing)?;
    let audiences = conditions
        .audience_restrictions
        .as_ref()
        .filter(|r| !r.is_empty())
        .ok_or(SamlError::AudienceMissing)?;
    // Every AudienceRestriction must name us (SAML core §2.5.1.4: they are ANDed).
    if !audiences
        .iter()
        .all(|r| r.audience.iter().any(|x| x == ex.sp_entity_id))
    {
        return Err(SamlError::Audience);
    }
    if let Some(nb) = conditions.not_before {
        if now + skew < nb {
            return Err(SamlError::NotYetValid(nb.to_rfc3339()));
        }
    }
    if let Some(noa) = conditions.not_on_or_after {
        if noa + skew <= now {
            return Err(SamlError::Expired(noa.to_rfc3339()));
        }
    }
    let subject = a.subject.as_ref().ok_or(SamlError::SubjectConfirmation)?;
    let bearer = subject
        .subject_confirmations
        .iter()
        .flatten()
        .filter(|c| c.method.as_deref() == Some(BEARER))
        .find_map(|c| c.subject_confirmation_data.as_ref())
        .ok_or(SamlError::SubjectConfirmation)?;
    if bearer.recipient.as_deref() != Some(ex.acs_url) {
        return Err(SamlError::Recipient);
    }
    let scd_noa = bearer
        .not_on_or_after
        .ok_or(SamlError::SubjectConfirmation)?;
    if scd_noa + skew <= now {
        return Err(SamlError::Expired(scd_noa.to_rfc3339()));
    }
    if let Some(nb) = bearer.not_before {
        if now + skew < nb {
            return Err(SamlError::NotYetValid(nb.to_rfc3339()));
        }
    }
    match &bearer.in_response_to {
        Some(id) if !ex.request_ids.iter().any(|r| r == id) => return Err(SamlError::InResponseTo),
        None if !ex.allow_idp_initiated => return Err(SamlError::Unsolicited),
        _ => {}
    }
    let attributes = a
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .filter_map(|at| {
            let name = at.name.clone()?;
            Some((
                name,
                at.values.iter().filter_map(|v| v.value.clone()).collect(),
            ))
        })
        .collect();
    let authn_instant = a
        .authn_statements
        .iter()
        .flatten()
        .find_map(|s| s.authn_instant);
    let replay_until = conditions
        .not_on_or_after
        .map(|c| c.max(scd_noa))
        .unwrap_or(scd_noa)
        + skew;
    Ok(ValidatedAssertion {
        assertion_id: a.id.clone(),
        in_response_to: bearer.in_response_to.clone(),
        name_id: subject.name_id.as_ref().map(|n| n.value.clone()),
        name_id_format: subject.name_id.as_ref().and_then(|n| n.format.clone()),
        attributes,
        authn_instant,
        replay_until,
    })
}

/// Step-up (DESIGN §5): the IdP authenticated the user within `window` (with `skew` either way).
pub fn authn_is_fresh(
    a: &ValidatedAssertion,
    now: DateTime<Utc>,
    window: Duration,
    skew: Duration,
) -> bool {
    a.authn_instant
        .map(|t| t <= now + skew && now - t <= window + skew)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_instant(t: Option<DateTime<Utc>>) -> ValidatedAssertion {
        ValidatedAssertion {
            assertion_id: "_a".into(),
            in_response_to: None,
            name_id: None,
            name_id_format: None,
            attributes: vec![],
            authn_instant: t,
            replay_until: Utc::now(),
        }
    }

    #[test]
    fn step_up_freshness() {
        let now = Utc::now();
        let (w, s) = (Duration::minutes(15), Duration::minutes(3));
        assert!(authn_is_fresh(
            &with_instant(Some(now - Duration::minutes(10))),
            now,
            w,
            s
        ));
        assert!(
            !authn_is_fresh(&with_instant(Some(now - Duration::minutes(30))), now, w, s),
            "stale"
        );
        assert!(
            !authn_is_fresh(&with_instant(Some(now + Duration::minutes(30))), now, w, s),
            "future"
        );
        assert!(!authn_is_fresh(&with_instant(None), now, w, s), "missing");
    }
}

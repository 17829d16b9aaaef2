//! Every refusal has a stable code (logged as `SAMLnnnn`, recorded in audit) so an operator can
//! tell a misconfigured IdP from an attack.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SamlError {
    #[error("SAML0001 MALFORMED: the response is not a well-formed SAML response: {0}")]
    Malformed(String),
    #[error("SAML0002 DTD: the response contains a DOCTYPE or entity declaration")]
    Dtd,
    #[error("SAML0003 COMMENT_INJECTION: the response contains XML comments")]
    CommentInjection,
    #[error("SAML0004 DUPLICATE_ID: two elements carry the ID '{0}'")]
    DuplicateId(String),
    #[error("SAML0005 TWO_ASSERTIONS: the response must carry exactly one assertion, it has {0}")]
    TwoAssertions(usize),
    #[error("SAML0006 UNSIGNED_ASSERTION: an assertion is not covered by a signature")]
    UnsignedAssertion,
    #[error("SAML0007 WEAK_ALGORITHM: {0} is not accepted (SHA-256 or stronger only)")]
    WeakAlgorithm(String),
    #[error(
        "SAML0008 SIGNATURE: no valid signature by a pinned IdP certificate covers the assertion"
    )]
    Signature,
    #[error("SAML0009 NO_SIGNING_CERT: the IdP metadata has no signing certificate; refusing to trust it")]
    NoSigningCert,
    #[error(
        "SAML0010 DESTINATION: the response is addressed to '{0}', not this service provider's ACS"
    )]
    Destination(String),
    #[error("SAML0011 DESTINATION_MISSING: a signed response must name its Destination")]
    DestinationMissing,
    #[error("SAML0012 ISSUER: the issuer '{0}' is not this connection's IdP")]
    Issuer(String),
    #[error("SAML0013 STATUS: the IdP answered '{0}'")]
    Status(String),
    #[error("SAML0014 AUDIENCE: the assertion is not meant for this service provider")]
    Audience,
    #[error("SAML0015 AUDIENCE_MISSING: the assertion has no AudienceRestriction")]
    AudienceMissing,
    #[error("SAML0016 RECIPIENT: the bearer confirmation names another recipient")]
    Recipient,
    #[error("SAML0017 SUBJECT_CONFIRMATION: no bearer SubjectConfirmationData with NotOnOrAfter")]
    SubjectConfirmation,
    #[error("SAML0018 EXPIRED: the assertion expired at {0}")]
    Expired(String),
    #[error("SAML0019 NOT_YET_VALID: the assertion is valid only from {0}")]
    NotYetValid(String),
    #[error("SAML0020 IN_RESPONSE_TO: the response answers a request this sign-in did not make")]
    InResponseTo,
    #[error("SAML0021 UNSOLICITED: an unsolicited response (IdP-initiated SSO is off for this connection)")]
    Unsolicited,
    #[error("SAML0022 NO_SUBJECT: neither a persistent NameID nor the key attribute '{0}' identifies the user")]
    NoSubject(String),
    /// The document given as IdP metadata is something else (a response, an HTML page, a
    /// README). The text never quotes the document: it may be anything, secrets included.
    #[error("SAML0023 NOT_METADATA: not SAML metadata: expected an EntityDescriptor element of the SAML 2.0 metadata namespace (urn:oasis:names:tc:SAML:2.0:metadata) as the document's root")]
    NotMetadata,
    /// SAML metadata that cannot configure a connection; the reason is fixed text.
    #[error("SAML0024 METADATA_UNUSABLE: the SAML metadata cannot be used: {0}")]
    MetadataUnusable(&'static str),
}

impl SamlError {
    /// The stable code (the fixture corpus names these).
    pub fn code(&self) -> &'static str {
        match self {
            SamlError::Malformed(_) => "MALFORMED",
            SamlError::Dtd => "DTD",
            SamlError::CommentInjection => "COMMENT_INJECTION",
            SamlError::DuplicateId(_) => "DUPLICATE_ID",
            SamlError::TwoAssertions(_) => "TWO_ASSERTIONS",
            SamlError::UnsignedAssertion => "UNSIGNED_ASSERTION",
            SamlError::WeakAlgorithm(_) => "WEAK_ALGORITHM",
            SamlError::Signature => "SIGNATURE",
            SamlError::NoSigningCert => "NO_SIGNING_CERT",
            SamlError::Destination(_) => "DESTINATION",
            SamlError::DestinationMissing => "DESTINATION_MISSING",
            SamlError::Issuer(_) => "ISSUER",
            SamlError::Status(_) => "STATUS",
            SamlError::Audience => "AUDIENCE",
            SamlError::AudienceMissing => "AUDIENCE_MISSING",
            SamlError::Recipient => "RECIPIENT",
            SamlError::SubjectConfirmation => "SUBJECT_CONFIRMATION",
            SamlError::Expired(_) => "EXPIRED",
            SamlError::NotYetValid(_) => "NOT_YET_VALID",
            SamlError::InResponseTo => "IN_RESPONSE_TO",
            SamlError::Unsolicited => "UNSOLICITED",
            SamlError::NoSubject(_) => "NO_SUBJECT",
            SamlError::NotMetadata => "NOT_METADATA",
            SamlError::MetadataUnusable(_) => "METADATA_UNUSABLE",
        }
    }
}

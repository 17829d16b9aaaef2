//! Error mapping, one per surface: OAuth JSON errors (RFC 6749 §5.2), redirect errors to a
//! validated client redirect URI (§4.1.2.1 + RFC 9207 `iss`), and HTML pages for people.
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// An OAuth JSON error response.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    /// `WWW-Authenticate` for 401 answers (RFC 6749 §5.2 `invalid_client`).
    pub challenge: Option<&'static str>,
    /// `Retry-After` seconds, on every 429.
    pub retry_after: Option<i64>,
    /// `DPoP-Nonce` (RFC 9449 §8): a fresh server nonce, on DPoP errors.
    pub dpop_nonce: Option<String>,
}

impl OAuthError {
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        let status = match code {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "slow_down" | "too_many_requests" => StatusCode::TOO_MANY_REQUESTS,
            "invalid_token" => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        OAuthError {
            status,
            code,
            description: description.into(),
            challenge: None,
            // Every 503 says when to come back (RFC 9110 §10.2.3).
            retry_after: (status == StatusCode::SERVICE_UNAVAILABLE)
                .then_some(authz_core::error::RETRY_AFTER_SECS),
            dpop_nonce: None,
        }
    }
    /// The database is out of reach: `temporarily_unavailable` (RFC 6749 §4.1.2.1) as a 503
    /// with `Retry-After`, logged once as `DB0503` at WARN (ADR 0019).
    pub fn unavailable(err: impl std::fmt::Display) -> Self {
        authz_core::error::log_unavailable(&err);
        Self::new(
            "temporarily_unavailable",
            "the service is temporarily unavailable; retry shortly",
        )
    }
    /// A 429 `too_many_requests` that says when to come back (RFC 6585 §4).
    pub fn too_many(description: impl Into<String>, retry_after_secs: i64) -> Self {
        let mut e = Self::new("too_many_requests", description);
        e.retry_after = Some(retry_after_secs);
        e
    }
    pub fn request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }
    pub fn client(description: impl Into<String>, challenge: bool) -> Self {
        let mut e = Self::new("invalid_client", description);
        if challenge {
            e.challenge = Some("Basic realm=\"gatehouse\"");
        }
        e
    }
    pub fn status(mut self, s: StatusCode) -> Self {
        self.status = s;
        self
    }
    /// Our own fault: `server_error`, logged at ERROR; the database out of reach is
    /// [`OAuthError::unavailable`] instead, whichever edge code met it.
    pub fn server<E: std::fmt::Display + 'static>(err: E) -> Self {
        if authz_core::error::any_unavailable(&err) {
            return Self::unavailable(err);
        }
        tracing::error!(code = "HTTP0500", error = %err, "internal error");
        Self::new("server_error", "the server could not complete the request")
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        r.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(c) = self.challenge {
            r.insert_header((header::WWW_AUTHENTICATE, c));
        }
        if let Some(s) = self.retry_after {
            r.insert_header((header::RETRY_AFTER, s));
        }
        if let Some(n) = &self.dpop_nonce {
            r.insert_header(("DPoP-Nonce", n.as_str()));
        }
        r.json(json!({"error": self.code, "error_description": self.description}))
    }
}

impl From<authz_core::token::TokenError> for OAuthError {
    fn from(e: authz_core::token::TokenError) -> Self {
        OAuthError::new(e.code, e.description)
    }
}

impl From<authz_core::CoreError> for OAuthError {
    fn from(e: authz_core::CoreError) -> Self {
        use authz_core::error::Reason;
        match e.reason() {
            // NotFound's message is "<what> not found"; Invalid, Conflict and Denied carry theirs.
            Reason::Invalid | Reason::NotFound | Reason::Conflict => {
                OAuthError::request(e.to_string())
            }
            Reason::Denied => {
                OAuthError::new("access_denied", e.to_string()).status(StatusCode::FORBIDDEN)
            }
            Reason::Internal => OAuthError::server(e),
            Reason::Unavailable => OAuthError::unavailable(e),
        }
    }
}

/// Malformed or oversized JSON bodies answer 400/413 in OAuth form, never 500.
pub fn json_payload_error(
    err: actix_web::error::JsonPayloadError,
    req: &actix_web::HttpRequest,
) -> actix_web::Error {
    let status = match &err {
        actix_web::error::JsonPayloadError::Overflow { .. }
        | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        _ => StatusCode::BAD_REQUEST,
    };
    // RFC 7591 §3.2.2 names the registration error; other JSON endpoints say invalid_request.
    let code =
        if status != StatusCode::PAYLOAD_TOO_LARGE && req.path().starts_with("/oauth/register") {
            "invalid_client_metadata"
        } else {
            "invalid_request"
        };
    OAuthError::new(
        code,
        format!("the request body is not acceptable JSON: {err}"),
    )
    .status(status)
    .into()
}

//! Errors of the admin API as `application/problem+json` (RFC 9457): `type`, `title`,
//! `status`, `detail`. Each failure has a stable `type` URI under /admin/api/v1/problems/.
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use authz_core::CoreError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// `Retry-After` seconds of a 429 (RFC 9110 §10.2.3); a header, not a member.
    #[serde(skip)]
    pub retry_after: Option<i64>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("/admin/api/v1/problems/{kind}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            retry_after: None,
        }
    }
    /// 429: the caller's requests this minute are used up; come back in `retry_after_secs`.
    pub fn too_many(detail: impl Into<String>, retry_after_secs: i64) -> Problem {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Too many requests",
            detail,
        );
        p.retry_after = Some(retry_after_secs);
        p
    }
    pub fn unauthenticated() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            "send an admin API key as Authorization: Bearer <key>",
        )
    }
    pub fn forbidden(detail: &str) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }
    pub fn invalid(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            detail,
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        if self.status == 401 {
            r.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="admin""#));
        }
        if let Some(s) = self.retry_after {
            r.insert_header((header::RETRY_AFTER, s));
        }
        r.content_type(PROBLEM_JSON)
            .body(serde_json::to_string(self).unwrap_or_default())
    }
}

impl From<CoreError> for Problem {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound(what) => Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                format!("{what} not found"),
            ),
            CoreError::Conflict(m) => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", m),
            CoreError::Invalid(m) => Problem::invalid(m),
            CoreError::Denied(m) => Problem::forbidden(&m),
            // ADR 0019: the database is out of reach; nothing was applied, retry shortly.
            other if other.is_unavailable() => {
                authz_core::error::log_unavailable(&other);
                let mut p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Temporarily unavailable",
                    "the request was not applied; retry shortly",
                );
                p.retry_after = Some(authz_core::error::RETRY_AFTER_SECS);
                p
            }
            other => {
                tracing::error!(code = "ADMIN0500", error = %other, "admin API request failed");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the request was not applied",
                )
            }
        }
    }
}

/// Parses a JSON body. Handlers parse bodies and query strings themselves, after the caller's
/// key was checked: actix polls extractors together, so a body extractor could answer 400
/// before an authorisation extractor answers 401.
pub fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Problem::invalid(format!("the body is not valid: {e}")))?;
    if has_nul(&v) {
        // PostgreSQL text cannot hold U+0000; refuse it here rather than fail in the database.
        return Err(Problem::invalid(
            "the body is not valid: text must not contain NUL (U+0000) characters",
        ));
    }
    serde_json::from_value(v).map_err(|e| Problem::invalid(format!("the body is not valid: {e}")))
}

fn has_nul(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(a) => a.iter().any(has_nul),
        serde_json::Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Parses the query string (see [`json`]).
pub fn query<T: serde::de::DeserializeOwned>(req: &actix_web::HttpRequest) -> Result<T, Problem> {
    web_query::<T>(req.query_string())
}

fn web_query<T: serde::de::DeserializeOwned>(q: &str) -> Result<T, Problem> {
    if q.to_ascii_lowercase().contains("%00") {
        return Err(Problem::invalid(
            "the query string is not valid: it must not contain NUL (%00)",
        ));
    }
    actix_web::web::Query::<T>::from_query(q)
        .map(actix_web::web::Query::into_inner)
        .map_err(|e| Problem::invalid(format!("the query string is not valid: {e}")))
}

/// Bad JSON bodies, query strings and paths become problems too (never actix's plain text).
pub fn json_error(
    e: actix_web::error::JsonPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    Problem::invalid(format!("the body is not valid: {e}")).into()
}

pub fn query_error(
    e: actix_web::error::QueryPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    Problem::invalid(format!("the query string is not valid: {e}")).into()
}

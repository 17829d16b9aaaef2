//! SCIM errors (RFC 7644 §3.12): `application/scim+json` bodies with the Error schema, the
//! HTTP status as a string and, for 400s, a `scimType`. Every failure of a SCIM endpoint —
//! authentication, rate limit, body size, a bad filter — leaves through here.
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use authz_core::CoreError;
use serde_json::json;

use crate::filter::FilterError;
use crate::patch::PatchError;

pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCIM_JSON: &str = "application/scim+json";

#[derive(Debug, Clone)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            retry_after: None,
        }
    }
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        ScimError::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }
    pub fn not_found(what: &str) -> Self {
        ScimError::new(StatusCode::NOT_FOUND, None, format!("{what} not found"))
    }
    pub fn unauthorized() -> Self {
        ScimError::new(
            StatusCode::UNAUTHORIZED,
            None,
            "a valid SCIM bearer token for this tenant is required",
        )
    }
    pub fn precondition() -> Self {
        ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            "the resource has changed since the version named by If-Match",
        )
    }
    pub fn internal() -> Self {
        ScimError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "internal error; the change was not applied",
        )
    }

    pub fn body(&self) -> serde_json::Value {
        let mut b = json!({
            "schemas": [ERROR_URN],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            b["scimType"] = t.into();
        }
        b
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.detail)
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        r.content_type(SCIM_JSON);
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="scim""#));
        }
        if let Some(s) = self.retry_after {
            r.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        let mut resp = r.body(self.body().to_string());
        resp.extensions_mut().insert(Failure {
            scim_type: self.scim_type,
            detail: self.detail.clone(),
        });
        resp
    }
}

/// What a failed response carries for the failure log (see [`super::record_failures`]).
#[derive(Clone, Debug)]
pub struct Failure {
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::bad(e.scim_type(), e.detail().to_string())
    }
}

impl From<PatchError> for ScimError {
    fn from(e: PatchError) -> Self {
        ScimError::bad(e.scim_type(), e.detail().to_string())
    }
}

impl From<CoreError> for ScimError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound(what) => ScimError::not_found(what),
            CoreError::Conflict(m) => ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), m),
            CoreError::Invalid(m) => ScimError::bad("invalidValue", m),
            CoreError::Denied(m) => ScimError::new(StatusCode::FORBIDDEN, None, m),
            // ADR 0019: the database is out of reach; RFC 7644 §3.12 allows any HTTP status.
            other if other.is_unavailable() => {
                authz_core::error::log_unavailable(&other);
                let mut e = ScimError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    "temporarily unavailable; the change was not applied, retry shortly",
                );
                e.retry_after = Some(authz_core::error::RETRY_AFTER_SECS as u64);
                e
            }
            other => {
                tracing::error!(code = "SCIM0500", error = %other, "SCIM request failed");
                ScimError::internal()
            }
        }
    }
}

/// The one place a use case's refusal becomes a SCIM error (RFC 7644 §3.12).
impl From<app::scim::Refused> for ScimError {
    fn from(e: app::scim::Refused) -> Self {
        use app::scim::Refused;
        match e {
            Refused::Core(e) => e.into(),
            Refused::Stale => ScimError::precondition(),
            Refused::KeptChanging => ScimError::new(
                StatusCode::CONFLICT,
                None,
                "the resource kept changing concurrently; retry the request",
            ),
        }
    }
}

/// An unauthenticated request is a 401 with a `WWW-Authenticate` challenge (RFC 7644 §2,
/// RFC 6750 §3); a rate-limited one a 429 with `Retry-After`.
impl From<app::scim::auth::AuthRefused> for ScimError {
    fn from(e: app::scim::auth::AuthRefused) -> Self {
        use app::scim::auth::AuthRefused;
        match e {
            AuthRefused::Unauthenticated => ScimError::unauthorized(),
            AuthRefused::RateLimited { limit, retry_after } => {
                let mut e = ScimError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    None,
                    format!("more than {limit} SCIM requests in a minute with this token"),
                );
                e.retry_after = Some(retry_after);
                e
            }
            AuthRefused::Core(e) => e.into(),
        }
    }
}

impl From<sea_orm::DbErr> for ScimError {
    fn from(e: sea_orm::DbErr) -> Self {
        CoreError::from(e).into()
    }
}

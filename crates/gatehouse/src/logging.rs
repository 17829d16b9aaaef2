//! JSON logs with a request id per request. The root span records method, route template,
//! path and status — never the query string, which can carry authorization codes and state
//! (STYLE §8: no codes or tokens in logs).
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,sea_orm_migration=warn".into());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .try_init();
}

pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(req: &ServiceRequest) -> Span {
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %req.method(),
            route = %route,
            path = %loggable_path(req.path()),
            client_ip = %req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
            // Recorded by the authentication of the caller (authz_core::trace::caller).
            tenant = tracing::field::Empty,
            principal = tracing::field::Empty,
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        span.record("status", status);
        let _guard = span.enter();
        if status == 503 {
            // The database out of reach (ADR 0019): logged as DB0503 where it was met.
            tracing::warn!(status, "request deferred");
        } else if status >= 500 {
            tracing::error!(status, "request failed");
        } else if status >= 400 {
            let reason = match outcome {
                Ok(r) => r.response().error().map(|e| e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            tracing::info!(
                status,
                reason = reason.as_deref().unwrap_or(""),
                "request rejected"
            );
        } else {
            tracing::debug!(status, "request completed");
        }
    }
}

/// The request path as logged: an admin invitation link's token is a credential, so its path
/// is logged without it.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/admin/invitations/") {
        Some(rest) if !rest.is_empty() => "/admin/invitations/<redacted>".into(),
        _ => path.into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn invitation_tokens_are_not_logged() {
        assert_eq!(
            super::loggable_path("/admin/invitations/abcDEF123"),
            "/admin/invitations/<redacted>"
        );
        assert_eq!(super::loggable_path("/admin/t/acme/"), "/admin/t/acme/");
    }
}

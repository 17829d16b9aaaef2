//! Logs: one access line per request, with a request id. The root span records method, route
//! template, path and status — never the query string, which can carry authorization codes and
//! state (STYLE §8: no codes or tokens in logs).
//!
//! - `GATEHOUSE_LOG_FORMAT=json|text`: JSON lines for production, plain text for development.
//!   Default: text when the log stream (standard output) is a terminal, else JSON.
//! - `GATEHOUSE_ACCESS_LOG=off`: no access lines (errors and warnings are still logged).
//! - `RUST_LOG`: the level filter (default `info,sqlx=warn,sea_orm_migration=warn`).
//!
//! Levels: the access line is INFO for every status below 500 (a 4xx is the client's mistake,
//! a 3xx a redirect), WARN for a 5xx (the fault itself is logged at ERROR, with its code, where
//! it happened). tracing-actix-web's own error event is off (its `emit_event_on_error`
//! feature), so a refused request is one line.
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};
use tracing_subscriber::fmt::MakeWriter;

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

impl Format {
    /// `GATEHOUSE_LOG_FORMAT`, else text on a terminal and JSON elsewhere.
    pub fn from_env() -> Format {
        match std::env::var("GATEHOUSE_LOG_FORMAT").ok().as_deref() {
            Some("json") => Format::Json,
            Some("text") => Format::Text,
            _ if std::io::stdout().is_terminal() => Format::Text,
            _ => Format::Json,
        }
    }
}

static ACCESS_LOG: AtomicBool = AtomicBool::new(true);

/// Installs the process's subscriber (standard output) from the environment.
pub fn init() {
    let off = std::env::var("GATEHOUSE_ACCESS_LOG")
        .is_ok_and(|v| matches!(v.trim(), "off" | "false" | "0" | "no"));
    set_access_log(!off);
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_FILTER.into());
    use tracing_subscriber::util::SubscriberInitExt as _;
    // `try_init` also forwards the `log` records of the libraries (actix-server) to it.
    let _ = subscriber(Format::from_env(), &filter, std::io::stdout).try_init();
}

/// The level filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm_migration=warn";

/// Turns the access lines on or off (`GATEHOUSE_ACCESS_LOG`).
pub fn set_access_log(on: bool) {
    ACCESS_LOG.store(on, Ordering::Relaxed);
}

/// The subscriber `gatehouse serve` and `gatehouse gateway` log through, writing to `writer`
/// (tests capture its lines). Beside the log lines (filtered by `filter`), it feeds the
/// database pool's wait histogram from sqlx's hand-out events ([`PoolWaits`]), whatever the
/// log filter.
pub fn subscriber<W>(
    format: Format,
    filter: &str,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::Layer as _;
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let lines = tracing_subscriber::fmt::layer().with_writer(writer);
    let lines = match format {
        Format::Json => lines
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
        Format::Text => lines.with_ansi(false).with_filter(filter).boxed(),
    };
    Box::new(
        tracing_subscriber::registry()
            .with(lines)
            .with(PoolWaits.with_filter(PoolWaits::filter())),
    )
}

/// Turns sqlx's event after each connection hand-out (`authz_core::db::ACQUIRE_EVENT_TARGET`)
/// into `gatehouse_db_pool_acquire_wait_seconds`: sqlx counts no waiters, and this event is the
/// one place the wait for a pooled connection is measured.
pub struct PoolWaits;

impl PoolWaits {
    /// Only sqlx's hand-out events reach this layer.
    pub fn filter() -> tracing_subscriber::filter::Targets {
        tracing_subscriber::filter::Targets::new().with_target(
            authz_core::db::ACQUIRE_EVENT_TARGET,
            authz_core::db::ACQUIRE_EVENT_LEVEL,
        )
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PoolWaits {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Waited(Option<f64>);
        impl tracing::field::Visit for Waited {
            fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
                if field.name() == authz_core::db::ACQUIRE_EVENT_FIELD {
                    self.0 = Some(value);
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        if event.metadata().target() != authz_core::db::ACQUIRE_EVENT_TARGET {
            return;
        }
        let mut waited = Waited(None);
        event.record(&mut waited);
        if let Some(seconds) = waited.0 {
            authz_core::metrics::pool_acquire_wait(seconds);
        }
    }
}

/// When the request began (its latency in the access line).
#[derive(Clone, Copy)]
struct Started(Instant);

pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(req: &ServiceRequest) -> Span {
        req.extensions_mut().insert(Started(Instant::now()));
        // The fields are computed only when the span is enabled (the macro evaluates them in
        // its enabled branch): with access lines filtered out, a request pays for no route
        // match and no id formatting here.
        tracing::info_span!(
            "request",
            request_id = %req
                .extensions()
                .get::<RequestId>()
                .map(|r| r.to_string())
                .unwrap_or_default(),
            method = %req.method(),
            route = %req.match_pattern().unwrap_or_else(|| "unmatched".into()),
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
        if !ACCESS_LOG.load(Ordering::Relaxed) {
            return;
        }
        let _guard = span.enter();
        let latency_ms = match outcome {
            Ok(r) => r
                .request()
                .extensions()
                .get::<Started>()
                .map(|s| s.0.elapsed().as_secs_f64() * 1000.0),
            Err(_) => None,
        }
        .map_or(0.0, |ms| (ms * 1000.0).round() / 1000.0);
        // Why a request was refused: the error's message (never a token or a code: errors
        // name what was wrong, not the value).
        let reason = match outcome {
            Ok(r) => r.response().error().map(|e| e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        match (status >= 500, reason.as_deref()) {
            // 503: the database out of reach (ADR 0019), logged as DB0503 where it was met.
            (true, reason) => tracing::warn!(status, latency_ms, reason, "request failed"),
            (false, Some(reason)) if !reason.is_empty() => {
                tracing::info!(status, latency_ms, reason, "request")
            }
            (false, _) => tracing::info!(status, latency_ms, "request"),
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

//! Every answer the gateway gives itself, never forwarded: the RFC 6750 §3 challenges MCP
//! clients act on (401 with `resource_metadata` and `scope`, RFC 9728 §5.1; 403
//! `insufficient_scope` for step-up), and JSON-RPC error bodies for the rest (MCP spec
//! 2025-11-25 "Transports": the body of an error answer to a POST is a JSON-RPC error).
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

use crate::rpc::{self, error_body};

/// `"a b c"` as an RFC 6750 §3 quoted value (scope tokens never contain `"` or `\`; any other
/// value is stripped of them).
fn quoted(v: &str) -> String {
    v.chars().filter(|c| *c != '"' && *c != '\\').collect()
}

fn rpc_error(status: StatusCode, id: Value, code: i64, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(error_body(id, code, message))
}

/// 401: no token, or one that is not a live token for this resource. `presented`: a token was
/// sent (then `error="invalid_token"`, RFC 6750 §3.1; without one, no error code, §3).
/// `dpop_only`: the resource requires DPoP (`require_dpop`), so the challenge is a `DPoP` one
/// (RFC 9449 §7.1) naming the algorithms accepted.
pub fn unauthorized(
    prm_url: &str,
    scope: &[String],
    presented: bool,
    dpop_only: bool,
    id: Value,
) -> HttpResponse {
    let scheme = if dpop_only {
        format!(
            "DPoP algs=\"{}\",",
            authz_core::jose::SIGNING_ALGS.join(" ")
        )
    } else {
        "Bearer".to_string()
    };
    let mut challenge = format!(
        "{scheme} resource_metadata=\"{}\", scope=\"{}\"",
        quoted(prm_url),
        quoted(&scope.join(" "))
    );
    if presented {
        challenge.push_str(", error=\"invalid_token\", error_description=\"the access token is not valid for this resource\"");
    }
    let mut r = rpc_error(
        StatusCode::UNAUTHORIZED,
        id,
        rpc::UNAUTHORIZED,
        "authorization required",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_str(&challenge)
            .unwrap_or(header::HeaderValue::from_static("Bearer")),
    );
    r
}

/// 401 with an RFC 9449 §7.1 `DPoP` challenge (`invalid_token`, `invalid_dpop_proof` or
/// `use_dpop_nonce`), the algorithms accepted, `resource_metadata` (RFC 9728 §5.1), and a fresh
/// `DPoP-Nonce` (§9) so a client can retry at once.
pub fn dpop(prm_url: &str, code: &str, description: &str, nonce: &str, id: Value) -> HttpResponse {
    let challenge = format!(
        "DPoP error=\"{}\", error_description=\"{}\", algs=\"{}\", resource_metadata=\"{}\"",
        quoted(code),
        quoted(description),
        authz_core::jose::SIGNING_ALGS.join(" "),
        quoted(prm_url)
    );
    let mut r = rpc_error(
        StatusCode::UNAUTHORIZED,
        id,
        rpc::UNAUTHORIZED,
        &format!("{code}: {description}"),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_str(&challenge)
            .unwrap_or(header::HeaderValue::from_static("DPoP")),
    );
    if let Ok(v) = header::HeaderValue::from_str(nonce) {
        r.headers_mut()
            .insert(header::HeaderName::from_static("dpop-nonce"), v);
    }
    r
}

/// 403 `insufficient_scope`: `scope` lists every scope the client should request (what the
/// token has plus what this request needs), so a client that re-authorizes with it keeps
/// what it could already do (MCP spec 2025-11-25 "Authorization", step-up).
pub fn insufficient_scope(
    prm_url: &str,
    scope: &[String],
    description: &str,
    id: Value,
) -> HttpResponse {
    let challenge = format!(
        "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\", error_description=\"{}\"",
        quoted(&scope.join(" ")),
        quoted(prm_url),
        quoted(description)
    );
    let mut r = rpc_error(StatusCode::FORBIDDEN, id, rpc::UNAUTHORIZED, description);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_str(&challenge).unwrap_or(header::HeaderValue::from_static(
            "Bearer error=\"insufficient_scope\"",
        )),
    );
    r
}

/// 403 for a tool the catalogue does not list (no scope would help, so no challenge).
pub fn unlisted(what: &str, id: Value) -> HttpResponse {
    rpc_error(
        StatusCode::FORBIDDEN,
        id,
        rpc::FORBIDDEN,
        &format!("{what} is not in this resource's catalogue"),
    )
}

/// A token in the query string (RFC 6750 §2.3, which MCP forbids: only the header is
/// accepted, and the request is never forwarded).
pub fn query_token(req: &HttpRequest) -> Option<HttpResponse> {
    let has = url::form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, _)| k == "access_token");
    if !has {
        return None;
    }
    let mut r = rpc_error(
        StatusCode::BAD_REQUEST,
        Value::Null,
        rpc::INVALID_REQUEST,
        "invalid_request: send the access token in the Authorization header, never in the URL",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer error=\"invalid_request\", error_description=\"the access token must be sent in the Authorization header\""),
    );
    Some(r)
}

pub fn parse_error() -> HttpResponse {
    rpc_error(
        StatusCode::BAD_REQUEST,
        Value::Null,
        rpc::PARSE_ERROR,
        "parse error: the body is not JSON",
    )
}

pub fn invalid(id: Value, code: i64, message: &str) -> HttpResponse {
    rpc_error(StatusCode::BAD_REQUEST, id, code, message)
}

pub fn too_large(limit: usize) -> HttpResponse {
    rpc_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        Value::Null,
        rpc::INVALID_REQUEST,
        &format!("the body is larger than {limit} bytes"),
    )
}

pub fn rate_limited(retry_after_secs: i64, id: Value) -> HttpResponse {
    let mut r = rpc_error(
        StatusCode::TOO_MANY_REQUESTS,
        id,
        rpc::RATE_LIMITED,
        "too many tool calls; retry later",
    );
    r.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(retry_after_secs.max(1) as u64),
    );
    r
}

/// The upstream did not answer: 502, never a hang.
pub fn bad_gateway(id: Value) -> HttpResponse {
    rpc_error(
        StatusCode::BAD_GATEWAY,
        id,
        rpc::UPSTREAM_UNAVAILABLE,
        "the MCP server behind the gateway is not available",
    )
}

/// Our own fault (the database): logged by the caller with its code. A 503 with `Retry-After`
/// (ADR 0019): the same call may pass once the database answers again.
pub fn internal(id: Value) -> HttpResponse {
    let mut r = rpc_error(
        StatusCode::SERVICE_UNAVAILABLE,
        id,
        rpc::INTERNAL_ERROR,
        "the gateway cannot check this request right now",
    );
    r.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(authz_core::error::RETRY_AFTER_SECS),
    );
    r
}

/// Logs a failure that [`internal`] answers: `DB0503` at WARN when the database is out of
/// reach (the environment's fault), else ERROR with the caller's code (ours).
pub fn log_fault(code: &'static str, e: &authz_core::CoreError, what: &str) {
    if e.is_unavailable() {
        authz_core::error::log_unavailable(e);
    } else {
        tracing::error!(code, error = %e, "{what}");
    }
}

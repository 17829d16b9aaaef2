//! `POST /audit/v1/events`: resource servers report agent tool calls (DESIGN §8). The caller
//! authenticates with its resource-server credentials; the record is attributed to that
//! resource and lands in the tenant's chain.
//!
//! What the resource server claims is checked before it enters a log admins trust (review
//! F6): the client and session must have held a token for this user at this resource, the
//! scopes must be in its catalogue, the time must be near now, the source an IP address, and
//! every string is bounded. The record also names the authenticated resource server itself.
use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use authz_core::audit::{self, AuditEvent};
use authz_core::clock::MICROS;
use authz_core::{tenant, user, TenantId};

use serde::Deserialize;

use crate::error::OAuthError;
use crate::introspect::resource_server;
use crate::nul::NulFreeJson;
use crate::state::AppState;

/// How far back a reported call may lie (late delivery, retries) and how far ahead (clock skew).
pub const MAX_AGE_US: i64 = 7 * 24 * 3600 * MICROS;
pub const MAX_SKEW_US: i64 = 5 * 60 * MICROS;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    tenant: String,
    sub: String,
    client_id: String,
    session_id: Option<String>,
    tool: String,
    #[serde(default)]
    scopes: Vec<String>,
    result: String,
    #[serde(default)]
    parameters: serde_json::Value,
    error: Option<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
    /// Microseconds since the epoch; defaults to receipt time.
    occurred_at: Option<i64>,
}

fn bad(msg: impl Into<String>) -> OAuthError {
    OAuthError::request(msg)
}

/// Bounds every string (400 when over, or when it holds a NUL), the source address and the time.
fn check_shape(ev: &ToolCall, now_us: i64) -> Result<(), OAuthError> {
    let mut fields: Vec<(&str, &str, usize)> = vec![
        ("tenant", &ev.tenant, 64),
        ("sub", &ev.sub, 255),
        ("client_id", &ev.client_id, 2048),
        ("tool", &ev.tool, 200),
        ("result", &ev.result, 16),
    ];
    for (name, v, max) in [
        ("session_id", &ev.session_id, 255),
        ("error", &ev.error, 500),
        ("source_ip", &ev.source_ip, 45),
        ("user_agent", &ev.user_agent, 512),
    ] {
        if let Some(v) = v {
            fields.push((name, v, max));
        }
    }
    if ev.scopes.len() > 64 {
        return Err(bad("at most 64 scopes"));
    }
    for s in &ev.scopes {
        fields.push(("scopes", s, 255));
    }
    for (name, v, max) in fields {
        if v.chars().count() > max {
            return Err(bad(format!("{name} must be at most {max} characters")));
        }
        if v.contains('\0') {
            return Err(bad(format!("{name} must not contain NUL")));
        }
    }
    if let Some(ip) = &ev.source_ip {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(bad("source_ip must be an IPv4 or IPv6 address"));
        }
    }
    if let Some(t) = ev.occurred_at {
        if t < now_us.saturating_sub(MAX_AGE_US) || t > now_us.saturating_add(MAX_SKEW_US) {
            return Err(bad(
                "occurred_at must lie within the last 7 days (5 minutes of clock skew allowed)",
            ));
        }
    }
    Ok(())
}

pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: NulFreeJson<ToolCall>,
) -> Result<HttpResponse, OAuthError> {
    let caller = resource_server(&state, &req, None).await?;
    state
        .node_limits
        .audit_event(state.clock.as_ref(), &caller.id)?;
    let ev = body.into_inner();
    check_shape(&ev, state.clock.now_us())?;
    if !["success", "failure", "error", "denied"].contains(&ev.result.as_str()) {
        return Err(
            OAuthError::request("result must be one of success, failure, error, denied")
                .status(StatusCode::UNPROCESSABLE_ENTITY),
        );
    }
    if ev.tool.is_empty() {
        return Err(OAuthError::request("tool must be 1-200 characters")
            .status(StatusCode::UNPROCESSABLE_ENTITY));
    }
    let tid = TenantId(ev.tenant.clone());
    let unknown =
        || OAuthError::request("unknown tenant or user").status(StatusCode::UNPROCESSABLE_ENTITY);
    tenant::get(&state.store.db, &tid)
        .await
        .map_err(|_| unknown())?;
    user::get(&state.store.db, &tid, &ev.sub)
        .await
        .map_err(|_| unknown())?;
    let held = authz_core::token::attribution_holds(
        &state.store.db,
        &tid,
        &ev.sub,
        &caller.id,
        &ev.client_id,
        ev.session_id.as_deref(),
    )
    .await
    .map_err(OAuthError::server)?;
    if !held {
        return Err(OAuthError::request(
            "this user was never issued a token for the calling resource through this client (and session)",
        )
        .status(StatusCode::FORBIDDEN));
    }
    let (_, catalogue) =
        authz_core::resource::with_catalogue(&state.store, &state.store.db, &caller.id)
            .await
            .map_err(OAuthError::server)?;
    if let Some(s) = ev
        .scopes
        .iter()
        .find(|s| !catalogue.iter().any(|c| &c.name == *s))
    {
        return Err(bad(format!(
            "scope '{s}' is not in the calling resource's catalogue"
        )));
    }
    let mut record = AuditEvent::new(Some(&tid), "tool.called")
        .reported()
        .result(&ev.result)
        .actor(format!("resource:{}", caller.rs_client_id))
        .user(ev.sub)
        .client(ev.client_id)
        .resource(caller.uri.clone())
        .scope(ev.scopes.join(" "))
        .source(ev.source_ip, ev.user_agent)
        .detail("tool", ev.tool)
        .detail("parameters", audit::sanitize_parameters(&ev.parameters))
        // Who said so: the authenticated resource server, beside what it reported.
        .detail(
            "reported_by",
            serde_json::json!({
                "resource_id": caller.id,
                "resource": caller.uri,
                "rs_client_id": caller.rs_client_id,
            }),
        );
    if let Some(s) = ev.session_id {
        record = record.session(s);
    }
    if let Some(e) = ev.error {
        record = record.detail("error", e);
    }
    record.occurred_at = ev.occurred_at;
    let txn = state.store.begin().await.map_err(OAuthError::server)?;
    audit::record(&txn, state.clock.as_ref(), record)
        .await
        .map_err(OAuthError::server)?;
    txn.commit().await.map_err(OAuthError::server)?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"status": "recorded"})))
}

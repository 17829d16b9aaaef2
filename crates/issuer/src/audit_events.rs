//! `POST /audit/v1/events`: resource servers report agent tool calls (DESIGN §8). The caller
//! authenticates with its resource-server credentials; the record is attributed to that
//! resource and lands in the tenant's chain.
use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use authz_core::audit::{self, AuditEvent};
use authz_core::{tenant, user, TenantId};

use serde::Deserialize;

use crate::error::OAuthError;
use crate::introspect::resource_server;
use crate::nul::NulFreeJson;
use crate::state::AppState;

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

pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: NulFreeJson<ToolCall>,
) -> Result<HttpResponse, OAuthError> {
    let caller = resource_server(&state, &req, None).await?;
    let ev = body.into_inner();
    if !["success", "failure", "error", "denied"].contains(&ev.result.as_str()) {
        return Err(
            OAuthError::request("result must be one of success, failure, error, denied")
                .status(StatusCode::UNPROCESSABLE_ENTITY),
        );
    }
    if ev.tool.is_empty() || ev.tool.len() > 200 {
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
    let granted = authz_core::token::user_has_grant(&state.store.db, &tid, &ev.sub, &caller.id)
        .await
        .map_err(OAuthError::server)?;
    if !granted {
        return Err(OAuthError::request(
            "this user was never issued a token for the calling resource",
        )
        .status(StatusCode::FORBIDDEN));
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
        .detail("parameters", audit::sanitize_parameters(&ev.parameters));
    if let Some(s) = ev.session_id {
        record = record.session(s);
    }
    if let Some(e) = ev.error {
        record = record.detail("error", e.chars().take(500).collect::<String>());
    }
    record.occurred_at = ev.occurred_at;
    let txn = state.store.begin().await.map_err(OAuthError::server)?;
    audit::record(&txn, state.clock.as_ref(), record)
        .await
        .map_err(OAuthError::server)?;
    txn.commit().await.map_err(OAuthError::server)?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"status": "recorded"})))
}

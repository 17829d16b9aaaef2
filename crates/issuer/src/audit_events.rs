//! `POST /audit/v1/events`: resource servers report agent tool calls (DESIGN §8). The caller
//! authenticates with its resource-server credentials; the use case
//! `app::resource_events::report` checks the report and records it. Refusals are OAuth-style
//! JSON errors: 400 malformed, 422 unusable, 403 not attributable to the caller.
use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use app::resource_events::{Refused, ToolCall};

use crate::error::OAuthError;
use crate::introspect::resource_server;
use crate::nul::NulFreeJson;
use crate::state::AppState;

pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: NulFreeJson<ToolCall>,
) -> Result<HttpResponse, OAuthError> {
    let caller = resource_server(&state, &req, None).await?;
    let clock = state.clock.as_ref();
    state.node_limits.audit_event(clock, &caller.id)?;
    let caller = app::ResourceServer::verified(caller.id);
    app::resource_events::report(&state.store, clock, &caller, body.into_inner())
        .await
        .map_err(refused)?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"status": "recorded"})))
}

fn refused(r: Refused) -> OAuthError {
    match r {
        Refused::Invalid(m) => OAuthError::request(m),
        Refused::Unprocessable(m) => {
            OAuthError::request(m).status(StatusCode::UNPROCESSABLE_ENTITY)
        }
        Refused::NotAttributable(m) => OAuthError::request(m).status(StatusCode::FORBIDDEN),
        Refused::Unavailable(e) => OAuthError::unavailable(e),
        Refused::Internal(e) => OAuthError::server(e),
    }
}

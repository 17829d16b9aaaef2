//! Dynamic client registration (RFC 7591) and management (RFC 7592).
use actix_web::http::header;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use authz_core::client::{self, Client, ClientMetadata, RegistrationError};
use serde_json::{json, Value};

use crate::error::OAuthError;
use crate::nul::NulFreeJson;
use crate::params::peer_ip;
use crate::state::AppState;

impl From<RegistrationError> for OAuthError {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::InvalidRedirectUri(m) => OAuthError::new("invalid_redirect_uri", m),
            RegistrationError::InvalidMetadata(m) => OAuthError::new("invalid_client_metadata", m),
            e @ RegistrationError::RateLimited { retry_after } => {
                OAuthError::too_many(e.to_string(), retry_after)
            }
            RegistrationError::Core(c) => OAuthError::server(c),
        }
    }
}

/// The registered metadata (RFC 7591 §3.2.1, RFC 7592 §3). Members are strings, arrays or
/// numbers: one without a value is left out, never sent as `null` (the MCP TypeScript SDK
/// rejects the whole response over a single `null`).
fn describe(state: &AppState, c: &Client) -> Value {
    let mut doc = json!({
        "client_id": c.client_id,
        "client_id_issued_at": c.created_at / authz_core::clock::MICROS,
        "client_name": c.client_name,
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": c.auth_method,
    });
    if let Some(scope) = c.scope.as_deref().filter(|s| !s.is_empty()) {
        doc["scope"] = json!(scope);
    }
    if c.is_confidential() {
        doc["registration_client_uri"] =
            json!(format!("{}/oauth/register/{}", state.issuer(), c.client_id));
    }
    doc
}

fn parse_metadata(body: &Value) -> Result<ClientMetadata, OAuthError> {
    if !body.is_object() {
        return Err(OAuthError::new(
            "invalid_client_metadata",
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(body.clone())
        .map_err(|e| OAuthError::new("invalid_client_metadata", e.to_string()))
}

pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: NulFreeJson<Value>,
) -> Result<HttpResponse, OAuthError> {
    let meta = parse_metadata(&body)?;
    let r = client::register_dynamic(
        &state.store,
        state.clock.as_ref(),
        &state.config.redirect_policy,
        &meta,
        &peer_ip(&req),
    )
    .await?;
    let mut doc = describe(&state, &r.client);
    if let Some(s) = r.client_secret {
        doc["client_secret"] = json!(s);
        doc["client_secret_expires_at"] = json!(0);
    }
    if let Some(t) = r.registration_access_token {
        doc["registration_access_token"] = json!(t);
    }
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(doc))
}

/// RFC 7592 §2: the registration access token authorises management of one client.
async fn managed(
    state: &AppState,
    req: &HttpRequest,
    client_id: &str,
) -> Result<Client, OAuthError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| {
            OAuthError::new("invalid_token", "a registration access token is required")
                .with_bearer()
        })?;
    client::authorize_management(&state.store.db, client_id, token)
        .await
        .map_err(OAuthError::server)?
        .ok_or_else(|| {
            OAuthError::new(
                "invalid_token",
                "the registration access token is not valid for this client",
            )
            .with_bearer()
        })
}

impl OAuthError {
    fn with_bearer(mut self) -> Self {
        self.challenge = Some("Bearer error=\"invalid_token\"");
        self
    }
}

pub async fn read(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, OAuthError> {
    let c = managed(&state, &req, &path).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(describe(&state, &c)))
}

pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: NulFreeJson<Value>,
) -> Result<HttpResponse, OAuthError> {
    let c = managed(&state, &req, &path).await?;
    if body
        .get("client_id")
        .and_then(Value::as_str)
        .map(|id| id != c.client_id)
        .unwrap_or(false)
    {
        return Err(OAuthError::new(
            "invalid_client_metadata",
            "client_id in the body must match the client",
        ));
    }
    let meta = parse_metadata(&body)?;
    let updated = client::update_managed(
        &state.store,
        state.clock.as_ref(),
        &state.config.redirect_policy,
        &c,
        &meta,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(describe(&state, &updated)))
}

pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, OAuthError> {
    let c = managed(&state, &req, &path).await?;
    client::delete_managed(&state.store, state.clock.as_ref(), &c)
        .await
        .map_err(OAuthError::server)?;
    Ok(HttpResponse::NoContent().finish())
}

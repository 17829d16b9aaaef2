//! The MCP endpoint's handlers (thin: refuse a token in the URL, read the bounded body, admit,
//! forward).
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use futures::StreamExt;
use serde_json::Value;

use crate::{admit, forward, refuse, rpc, GatewayState};

/// The body, at most `limit` bytes: a larger one is refused before it is read whole.
async fn read_body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Bytes, HttpResponse> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(refuse::too_large(limit));
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| refuse::invalid(Value::Null, rpc::INVALID_REQUEST, "the body could not be read"))?;
        if buf.len() + chunk.len() > limit {
            return Err(refuse::too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// A client's message(s) (MCP spec 2025-11-25 "Transports", sending messages to the server).
pub async fn post(state: web::Data<GatewayState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    if let Some(r) = refuse::query_token(&req) {
        return r;
    }
    let body = match read_body(&req, payload, state.options.max_body_bytes).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match admit::post(&state, &req, &body).await {
        Ok(a) => forward::send(&state, &req, a, Some(body)).await,
        Err(r) => r,
    }
}

/// The server's SSE stream (listening for messages from the server) and, with `DELETE`, the
/// end of a session: passed through for any valid token.
pub async fn get(state: web::Data<GatewayState>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = refuse::query_token(&req) {
        return r;
    }
    match admit::bare(&state, &req).await {
        Ok(a) => forward::send(&state, &req, a, None).await,
        Err(r) => r,
    }
}

pub async fn delete(state: web::Data<GatewayState>, req: HttpRequest) -> HttpResponse {
    get(state, req).await
}

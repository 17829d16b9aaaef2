//! The request to the upstream and its answer back. Only the headers Streamable HTTP needs
//! pass, both ways (MCP spec 2025-11-25 "Transports": `Accept`, `Content-Type`,
//! `Mcp-Session-Id`, `MCP-Protocol-Version`, `Last-Event-ID`); the client's `Authorization`
//! and cookies never do: the upstream gets the gateway's own JWT (the spec forbids token
//! passthrough, "Access Token Privilege Restriction").
use actix_web::http::{header::HeaderValue, StatusCode};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use futures::StreamExt;

use crate::admit::Admitted;
use crate::tap::{Kind, Tap};
use crate::{refuse, GatewayState};

const REQUEST_HEADERS: [&str; 5] = [
    "accept",
    "content-type",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];
const RESPONSE_HEADERS: [&str; 4] = [
    "content-type",
    "cache-control",
    "mcp-session-id",
    "mcp-protocol-version",
];

pub async fn send(
    state: &GatewayState,
    req: &HttpRequest,
    a: Admitted,
    body: Option<Bytes>,
) -> HttpResponse {
    let Admitted {
        route,
        holder,
        mut watch,
        reply_id,
    } = a;
    let route = &state.routes[route];
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .unwrap_or(reqwest::Method::POST);
    let mut rb = state
        .http()
        .request(method, route.upstream.as_str())
        .bearer_auth(state.upstream_jwt(route, &holder));
    for h in REQUEST_HEADERS {
        if let Some(v) = req.headers().get(h) {
            rb = rb.header(h, v.as_bytes());
        }
    }
    if let Some(b) = body {
        rb = rb.body(b);
    }
    let resp = match tokio::time::timeout(state.options.response_timeout, rb.send()).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::warn!(code = "GATEWAY0010", error = %e, upstream = %route.upstream, "the upstream did not answer");
            watch.finish("the upstream is unavailable");
            return refuse::bad_gateway(reply_id);
        }
        Err(_) => {
            tracing::warn!(code = "GATEWAY0011", upstream = %route.upstream, "the upstream's answer timed out");
            watch.finish("the upstream did not answer in time");
            return refuse::bad_gateway(reply_id);
        }
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out = HttpResponse::build(status);
    for h in RESPONSE_HEADERS {
        if let Some(v) = resp
            .headers()
            .get(h)
            .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        {
            out.insert_header((h, v));
        }
    }
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map_or(Kind::Other, Kind::of);
    out.streaming(Tap::new(resp.bytes_stream().boxed(), kind, watch))
}

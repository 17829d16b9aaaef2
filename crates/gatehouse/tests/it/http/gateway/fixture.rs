//! A gateway for the test world's CRM resource, in front of a fresh test MCP server.
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use authz_core::entities::resource_tools;
use authz_core::testkit::world::{self, TenantFx, World};
use gateway::{AuditSink, AuditWriter, GatewayState, Options};
use sea_orm::{EntityTrait, Set};
use serde_json::{json, Value};

use super::upstream::{self, Upstream};

pub const UA: &str = "test-agent/1.0";

pub struct Gw {
    pub w: World,
    pub t: TenantFx,
    pub up: Upstream,
    /// The gateway's origin (it serves the CRM at `/mcp`).
    pub base: String,
    pub sink: AuditSink,
    pub http: reqwest::Client,
    /// The audit writer (a test may shut it down).
    pub writer: Option<AuditWriter>,
    /// The gateway's state (a test may flush what it writes off the request path).
    pub state: web::Data<GatewayState>,
}

/// A tool needing the critical scope, added to the CRM's catalogue (the step-up tests).
pub const CRITICAL_TOOL: &str = "change_settings";

/// The CRM world (tenant `acme` granted every CRM scope) behind a gateway to a test upstream.
pub async fn start() -> Gw {
    let up = upstream::start();
    let url = up.url.clone();
    start_with(up, world::RESOURCE_URI, &url, Options::default()).await
}

pub async fn start_with(
    up: Upstream,
    resource_uri: &str,
    upstream_url: &str,
    options: Options,
) -> Gw {
    let w = World::new().await;
    resource_tools::Entity::insert(resource_tools::ActiveModel {
        resource_id: Set(w.resource.id.clone()),
        name: Set(CRITICAL_TOOL.into()),
        scopes: Set(json!([world::READ, world::SETTINGS]).to_string()),
        description: Set(None),
    })
    .exec(&w.store.db)
    .await
    .unwrap();
    let t = w
        .tenant("acme", "acme.example", &[world::READ, world::DELETE])
        .await;
    authz_core::grant::add_for_everyone_confirmed(
        &w.store,
        &w.clock,
        t.id(),
        &w.resource,
        &[world::SETTINGS.to_string()],
        true,
    )
    .await
    .unwrap();
    let clock: authz_core::clock::SharedClock = Arc::new(w.clock.clone());
    let (sink, writer) = AuditSink::start(w.store.clone(), clock.clone());
    let state = GatewayState::new(
        w.store.clone(),
        clock,
        world::ISSUER,
        w.key.upstream_jwt_signing_key(),
        &[(resource_uri.to_string(), upstream_url.to_string())],
        options,
        sink.clone(),
    )
    .await
    .expect("gateway state");
    let state = web::Data::new(state);
    let served = state.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(move || App::new().configure(gateway::configure(served.clone())))
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    actix_web::rt::spawn(server);
    Gw {
        w,
        t,
        up,
        base,
        sink,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        writer: Some(writer),
        state,
    }
}

pub fn rpc(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

pub fn call(id: i64, tool: &str, arguments: Value) -> Value {
    rpc(
        id,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )
}

impl Gw {
    /// An access token of the tenant's user with `scopes`, through the real code exchange.
    pub async fn token(&self, scopes: &[&str]) -> String {
        self.w.tokens(&self.t, scopes).await.access_token
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("accept", "application/json, text/event-stream")
            .header("user-agent", UA);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb
    }

    /// POSTs `body` to the MCP endpoint.
    pub async fn post(&self, token: Option<&str>, body: &Value) -> reqwest::Response {
        self.request(reqwest::Method::POST, "/mcp", token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// How many requests reached the upstream.
    pub fn forwarded(&self) -> usize {
        self.up.seen().len()
    }

    /// The gateway's audit records of the tenant, once every queued one is written.
    pub async fn audit(&self) -> Vec<authz_core::entities::audit_events::Model> {
        self.sink.flush().await;
        self.w
            .audit_rows(self.t.id().as_str())
            .await
            .into_iter()
            .filter(|r| r.action == "gateway.tool_call")
            .collect()
    }
}

/// The `WWW-Authenticate` header of `r`.
pub fn challenge(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

//! The node's metrics (issue 15 §2), exposed by the binary at `/metrics` in the OpenMetrics text
//! format that Prometheus scrapes. No HTTP here: the protocol crates, the use cases and the
//! binary's middleware count through the functions below, and [`render`] writes the exposition.
//!
//! One registry per process. Metrics describe this node (Prometheus scrapes every node and adds
//! them up), so a process-wide registry makes no node disagree with another about shared state;
//! what is shared (sealer lag, the mail outbox) is read from the database at scrape time
//! ([`gauges`]). Every label takes its value from a bounded set — a route pattern, never a path;
//! a catalogued tool name, else `unknown`; a grant type and an OAuth error code — so a caller
//! cannot grow the series without bound.
use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub mod gauges;
pub mod labels;

/// The content type of [`render`]'s output (OpenMetrics 1.0 text; Prometheus reads it).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every series name starts with this (`gatehouse_http_requests_total`, …).
pub const PREFIX: &str = "gatehouse";

/// Group sizes (`group::MAX_BATCH` at most).
const GROUP_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// Waits for a pooled database connection, seconds: 0.1 ms to the acquire timeout (3 s).
const POOL_WAIT_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Request latency buckets, seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriteLabels {
    grant_type: &'static str,
    path: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActiveLabels {
    active: bool,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CredentialLabels {
    credential: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScimLabels {
    resource: &'static str,
    operation: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StateLabels {
    pub state: &'static str,
}

type SecondsGauge = Gauge<f64, AtomicU64>;

/// The process's metrics and the registry that encodes them.
pub(crate) struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    grants: Family<GrantLabels, Counter>,
    grant_writes: Family<WriteLabels, Counter>,
    introspections: Family<ActiveLabels, Counter>,
    replays: Family<CredentialLabels, Counter>,
    scim: Family<ScimLabels, Counter>,
    gateway_calls: Family<ToolLabels, Counter>,
    rate_limited: Family<LimitLabels, Counter>,
    pub(crate) audit_unsealed: Gauge,
    pub(crate) audit_oldest_unsealed_age: SecondsGauge,
    pub(crate) audit_checkpoint_age: SecondsGauge,
    pub(crate) mail_outbox_depth: Gauge,
    pub(crate) db_pool: Family<StateLabels, Gauge>,
    pub(crate) db_pool_max: Gauge,
    db_pool_wait: Histogram,
    db_unavailable: Counter,
    grant_group: Histogram,
    read_group: Histogram,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Metrics {
    fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix(PREFIX),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            grants: Family::default(),
            grant_writes: Family::default(),
            introspections: Family::default(),
            replays: Family::default(),
            scim: Family::default(),
            gateway_calls: Family::default(),
            rate_limited: Family::default(),
            audit_unsealed: Gauge::default(),
            audit_oldest_unsealed_age: SecondsGauge::default(),
            audit_checkpoint_age: SecondsGauge::default(),
            mail_outbox_depth: Gauge::default(),
            db_pool: Family::default(),
            db_pool_max: Gauge::default(),
            db_pool_wait: Histogram::new(POOL_WAIT_BUCKETS),
            db_unavailable: Counter::default(),
            grant_group: Histogram::new(GROUP_BUCKETS),
            read_group: Histogram::new(GROUP_BUCKETS),
        };
        let r = &mut m.registry;
        r.register(
            "http_requests",
            "HTTP requests by matched route pattern, method and status",
            m.http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time to the response head, by matched route pattern and method",
            m.http_duration.clone(),
        );
        r.register(
            "grants",
            "Token endpoint requests by grant type and result (ok or the OAuth error code)",
            m.grants.clone(),
        );
        r.register(
            "grant_writes",
            "Issued grants by grant type and how they were written: one_statement (PostgreSQL, the common case) or transaction (SQLite, and what the one statement leaves to the transactional path)",
            m.grant_writes.clone(),
        );
        r.register(
            "introspections",
            "Answered token introspections (RFC 7662), active or not",
            m.introspections.clone(),
        );
        r.register(
            "replays_detected",
            "Credentials presented a second time (rotated refresh tokens, used codes); the grant was revoked",
            m.replays.clone(),
        );
        r.register(
            "scim_operations",
            "SCIM requests by resource type, operation and status",
            m.scim.clone(),
        );
        r.register(
            "gateway_calls",
            "MCP tool calls through the gateway by catalogued tool (else unknown) and result",
            m.gateway_calls.clone(),
        );
        r.register(
            "rate_limited",
            "Requests refused by a rate limit (429), by the limited route",
            m.rate_limited.clone(),
        );
        r.register(
            "audit_unsealed_records",
            "Audit records not yet chained and checkpointed by the sealer",
            m.audit_unsealed.clone(),
        );
        r.register(
            "audit_oldest_unsealed_age_seconds",
            "Age of the oldest audit record the sealer has not sealed yet (0 when none)",
            m.audit_oldest_unsealed_age.clone(),
        );
        r.register(
            "audit_checkpoint_age_seconds",
            "Age of the newest signed audit checkpoint (grows while nothing is audited)",
            m.audit_checkpoint_age.clone(),
        );
        r.register(
            "mail_outbox_depth",
            "Messages in the mail outbox not sent yet",
            m.mail_outbox_depth.clone(),
        );
        r.register(
            "db_pool_connections",
            "Connections of this node's database pool, in use or idle",
            m.db_pool.clone(),
        );
        r.register(
            "db_pool_max_connections",
            "The largest size of this node's database pool",
            m.db_pool_max.clone(),
        );
        r.register(
            "db_pool_acquire_wait_seconds",
            "Time a request waited for a connection of this node's database pool; \
             rate(_sum) is the mean number of requests waiting (Little's law)",
            m.db_pool_wait.clone(),
        );
        r.register(
            "db_unavailable",
            "Requests answered 503 because the database was out of reach \
             (including a wait for a pooled connection past the acquire timeout)",
            m.db_unavailable.clone(),
        );
        r.register(
            "grant_group_size",
            "Grant statements taken together by one writer of a node's group commit \
             (token::group_commit); 1 when grants do not overlap",
            m.grant_group.clone(),
        );
        r.register(
            "read_group_size",
            "Reads of introspections and of refreshes taken together by one statement \
             of a node (token::lookup, token::refresh_reads); 1 when requests do not overlap",
            m.read_group.clone(),
        );
        m
    }
}

pub(crate) fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// One HTTP request: `route` is the matched route pattern (`labels::route`), `seconds` the time
/// to its response head.
pub fn http_request(route: &str, method: &str, status: u16, seconds: f64) {
    let m = get();
    let method = labels::method(method);
    m.http_requests
        .get_or_create(&HttpLabels {
            route: route.to_string(),
            method,
            status,
        })
        .inc();
    m.http_duration
        .get_or_create(&RouteLabels {
            route: route.to_string(),
            method,
        })
        .observe(seconds);
}

/// One token endpoint answer: `grant_type` as the client sent it (mapped to a bounded set by
/// `labels::grant_type`), `result` `ok` or the OAuth error code (RFC 6749 §5.2).
pub fn grant(grant_type: Option<&str>, result: &'static str) {
    get()
        .grants
        .get_or_create(&GrantLabels {
            grant_type: labels::grant_type(grant_type),
            result,
        })
        .inc();
}

/// One grant written (`grant_type`: `authorization_code`, `refresh_token`,
/// `client_credentials`), by one statement or by a transaction (ADR 0022).
pub fn grant_written(grant_type: &'static str, one_statement: bool) {
    get()
        .grant_writes
        .get_or_create(&WriteLabels {
            grant_type,
            path: if one_statement {
                "one_statement"
            } else {
                "transaction"
            },
        })
        .inc();
}

/// One answered introspection.
pub fn introspection(active: bool) {
    get()
        .introspections
        .get_or_create(&ActiveLabels { active })
        .inc();
}

/// A credential presented a second time (`refresh_token`, `code`).
pub fn replay(credential: &'static str) {
    get()
        .replays
        .get_or_create(&CredentialLabels { credential })
        .inc();
}

/// One SCIM request, with its resource type and operation from `labels::scim`.
pub fn scim_operation(resource: &'static str, operation: &'static str, status: u16) {
    get()
        .scim
        .get_or_create(&ScimLabels {
            resource,
            operation,
            status,
        })
        .inc();
}

/// One gateway tool call. `tool` must be a tool of the resource's catalogue, or `None`
/// (counted as `unknown`): an unlisted name is the caller's choice and would grow the series.
pub fn gateway_call(tool: Option<&str>, result: &'static str) {
    get()
        .gateway_calls
        .get_or_create(&ToolLabels {
            tool: tool.unwrap_or("unknown").to_string(),
            result,
        })
        .inc();
}

/// One connection handed out by a database pool after `seconds` of waiting for it (the
/// binary's subscriber reads sqlx's event: `db::ACQUIRE_EVENT_TARGET`). The histogram's sum
/// grows by the time spent waiting, so its rate is the mean number of waiters (Little's law):
/// the pool's "waiting" series, which sqlx does not count itself.
pub fn pool_acquire_wait(seconds: f64) {
    get().db_pool_wait.observe(seconds);
}

/// `n` grant statements taken together by a writer of the group commit.
pub(crate) fn grant_group(n: usize) {
    get().grant_group.observe(n as f64);
}

/// `n` reads (introspections or refreshes) taken together in one statement.
pub(crate) fn read_group(n: usize) {
    get().read_group.observe(n as f64);
}

/// One request answered 503 because the database was out of reach (`error::log_unavailable`).
pub fn db_unavailable() {
    get().db_unavailable.inc();
}

/// One request refused by a rate limit; `limit` names it (the limited route).
pub fn rate_limited(limit: &str) {
    get()
        .rate_limited
        .get_or_create(&LimitLabels {
            limit: limit.to_string(),
        })
        .inc();
}

/// The exposition: the gauges read from `store` now (when the node has a database), then every
/// series. A failed read is logged and leaves the previous values, so a database outage does not
/// also take the metrics away.
pub async fn render(store: Option<&crate::Store>, now_us: i64) -> String {
    // One scrape at a time: a concurrent one must not set the gauges between this one's read
    // and its encoding.
    static SCRAPE: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    let _one = SCRAPE.get_or_init(Default::default).lock().await;
    if let Some(store) = store {
        gauges::refresh(store, now_us).await;
    }
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &get().registry) {
        tracing::error!(code = "METRICS0001", error = %e, "cannot encode the metrics");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn series_carry_the_prefix_and_their_labels() {
        http_request("/oauth/token", "POST", 200, 0.003);
        grant(Some("refresh_token"), "invalid_grant");
        gateway_call(None, "denied");
        let text = render(None, 0).await;
        assert!(text.contains(
            "gatehouse_http_requests_total{route=\"/oauth/token\",method=\"POST\",status=\"200\"}"
        ));
        assert!(text.contains("gatehouse_http_request_duration_seconds_bucket{"));
        assert!(text.contains(
            "gatehouse_grants_total{grant_type=\"refresh_token\",result=\"invalid_grant\"}"
        ));
        assert!(text.contains("gatehouse_gateway_calls_total{tool=\"unknown\",result=\"denied\"}"));
        assert!(text.ends_with("# EOF\n"));
    }
}

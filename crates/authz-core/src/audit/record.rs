use sea_orm::{ConnectionTrait, EntityTrait, NotSet, Set};
use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::entities::audit_events;
use crate::error::CoreResult;
use crate::tenant::TenantId;

/// Chain key of events that have no tenant yet (client registrations, operator actions).
pub const PLATFORM_CHAIN: &str = "00000000-0000-0000-0000-000000000000";

/// Upper bound on the stored parameters of one event.
const MAX_DETAILS_BYTES: usize = 4096;

/// One security event or agent tool call (DESIGN §8 fields).
#[derive(Clone, Debug, Default)]
pub struct AuditEvent {
    pub tenant: Option<TenantId>,
    pub action: String,
    pub result: String,
    pub actor: Option<String>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub session_id: Option<String>,
    pub resource: Option<String>,
    pub scope: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: Value,
    /// Time of the event if reported by someone else (resource servers); else `now`.
    pub occurred_at: Option<i64>,
    /// Reported by someone else (a resource server's tool call): the request's own address
    /// and user agent are not the event's source.
    pub reported: bool,
}

impl AuditEvent {
    pub fn new(tenant: Option<&TenantId>, action: &str) -> Self {
        AuditEvent {
            tenant: tenant.cloned(),
            action: action.to_string(),
            result: "success".into(),
            details: Value::Object(Map::new()),
            ..Default::default()
        }
    }
    pub fn result(mut self, r: &str) -> Self {
        self.result = r.to_string();
        self
    }
    pub fn actor(mut self, a: impl Into<String>) -> Self {
        self.actor = Some(a.into());
        self
    }
    pub fn user(mut self, u: impl Into<String>) -> Self {
        self.user_id = Some(u.into());
        self
    }
    pub fn client(mut self, c: impl Into<String>) -> Self {
        self.client_id = Some(c.into());
        self
    }
    pub fn session(mut self, s: impl Into<String>) -> Self {
        self.session_id = Some(s.into());
        self
    }
    pub fn resource(mut self, r: impl Into<String>) -> Self {
        self.resource = Some(r.into());
        self
    }
    pub fn scope(mut self, s: impl Into<String>) -> Self {
        self.scope = Some(s.into());
        self
    }
    pub fn source(mut self, ip: Option<String>, ua: Option<String>) -> Self {
        self.source_ip = ip;
        self.user_agent = ua.map(|u| u.chars().take(256).collect());
        self
    }
    /// The event was reported by a resource server: its source is what the report says, never
    /// the reporting request's ([`super::origin`]).
    pub fn reported(mut self) -> Self {
        self.reported = true;
        self
    }
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        if let Value::Object(m) = &mut self.details {
            m.insert(key.to_string(), value.into());
        }
        self
    }
}

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    [
        "secret",
        "pass",
        "token",
        "assertion",
        "auth",
        "cookie",
        "code",
        "key",
        "credential",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// Redacts values under secret-looking keys (recursively) and bounds the size: the log keeps
/// what happened, never a credential.
pub fn sanitize_parameters(v: &Value) -> Value {
    sanitize_parameters_within(v, MAX_DETAILS_BYTES)
}

/// [`sanitize_parameters`] bounded to `max_bytes` of JSON: a larger result is replaced by a
/// note of its size.
pub fn sanitize_parameters_within(v: &Value, max_bytes: usize) -> Value {
    fn walk(v: &Value, depth: usize) -> Value {
        if depth > 8 {
            return Value::String("[truncated]".into());
        }
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .take(64)
                    .map(|(k, v)| {
                        let v = if is_secret_key(k) {
                            Value::String("[redacted]".into())
                        } else {
                            walk(v, depth + 1)
                        };
                        (k.chars().take(128).collect(), v)
                    })
                    .collect(),
            ),
            Value::Array(a) => {
                Value::Array(a.iter().take(64).map(|x| walk(x, depth + 1)).collect())
            }
            Value::String(s) if s.len() > 512 => {
                Value::String(format!("{}…", s.chars().take(512).collect::<String>()))
            }
            other => other.clone(),
        }
    }
    let out = walk(v, 0);
    let size = out.to_string().len();
    if size > max_bytes {
        serde_json::json!({"omitted": "parameters too large", "bytes": size})
    } else {
        out
    }
}

/// Appends an event inside the caller's transaction, so the change and its record commit
/// together (DESIGN §6.5). The sealer chains it later.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    ev: AuditEvent,
) -> CoreResult<()> {
    audit_events::Entity::insert(row_of(clock, ev))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Appends many events in one multi-row INSERT (the gateway's per-call records, written in
/// batches off the request path): one round trip and one statement for the batch instead of
/// one per record. Same rows as [`record`]; the sealer chains them later.
pub async fn record_all<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    events: impl IntoIterator<Item = AuditEvent>,
) -> CoreResult<()> {
    let rows: Vec<_> = events.into_iter().map(|ev| row_of(clock, ev)).collect();
    // PostgreSQL allows 65,535 bind parameters per statement (16 columns here); runs of powers
    // of two keep the statement shapes few (`db::pow2_chunks`).
    for chunk in crate::db::pow2_chunks(&rows, 512) {
        audit_events::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// The row [`record`] inserts (the one-statement grants insert it with the grant's writes).
pub(crate) fn row_of(clock: &dyn Clock, ev: AuditEvent) -> audit_events::ActiveModel {
    // Gatehouse's own details are chosen by this code and never hold secrets; parameters
    // reported from outside (tool calls) are sanitised by the caller. Both are size-bounded.
    let mut ev = ev;
    if !ev.reported {
        if let Some(o) = super::origin::current() {
            if ev.source_ip.is_none() && ev.user_agent.is_none() {
                ev = ev.source(o.ip, o.user_agent);
            }
        }
    }
    let mut details = ev.details.to_string();
    if details.len() > MAX_DETAILS_BYTES {
        details = serde_json::json!({"truncated": true, "bytes": details.len()}).to_string();
    }
    audit_events::ActiveModel {
        id: NotSet,
        tenant_id: Set(ev
            .tenant
            .map(|t| t.to_string())
            .unwrap_or_else(|| PLATFORM_CHAIN.to_string())),
        occurred_at: Set(ev.occurred_at.unwrap_or_else(|| clock.now_us())),
        action: Set(ev.action),
        result: Set(ev.result),
        actor: Set(ev.actor),
        user_id: Set(ev.user_id),
        client_id: Set(ev.client_id),
        session_id: Set(ev.session_id),
        resource: Set(ev.resource),
        scope: Set(ev.scope),
        source_ip: Set(ev.source_ip),
        user_agent: Set(ev.user_agent),
        details: Set(details),
        writer_xact: NotSet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn secrets_are_redacted() {
        let v =
            serde_json::json!({"query":"acme","api_key":"s3cr3t","nested":{"password":"x","n":1}});
        let s = sanitize_parameters(&v).to_string();
        assert!(!s.contains("s3cr3t"));
        assert!(s.contains("acme"));
        assert!(s.contains("[redacted]"));
    }
}

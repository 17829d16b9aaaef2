//! A resource server reports an agent's tool call (`POST /audit/v1/events`, DESIGN §8). The
//! record is attributed to the authenticated [`ResourceServer`] and lands in the tenant's chain.
//!
//! What the resource server claims is checked before it enters a log admins trust (review
//! F6): the client and session must have held a token for this user at this resource, the
//! scopes must be in its catalogue, the time must be near now, the source an IP address, and
//! every string is bounded. The record also names the authenticated resource server itself.
use authz_core::audit::{self, AuditEvent};
use authz_core::clock::{Clock, MICROS};
use authz_core::{tenant, user, Store, TenantId};
use serde::{Deserialize, Serialize};

use crate::ResourceServer;

/// How far back a reported call may lie (late delivery, retries) and how far ahead (clock skew).
pub const MAX_AGE_US: i64 = 7 * 24 * 3600 * MICROS;
pub const MAX_SKEW_US: i64 = 5 * 60 * MICROS;

/// The reported call, as the resource server sends it.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    pub tenant: String,
    pub sub: String,
    pub client_id: String,
    pub session_id: Option<String>,
    pub tool: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub result: String,
    #[serde(default)]
    pub parameters: serde_json::Value,
    pub error: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Microseconds since the epoch; defaults to receipt time.
    pub occurred_at: Option<i64>,
}

/// Why a report was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Malformed: a bound, the source address, the time, or a scope outside the catalogue.
    #[error("{0}")]
    Invalid(String),
    /// Well-formed but unusable: the result or tool, or an unknown tenant or user.
    #[error("{0}")]
    Unprocessable(String),
    /// The calling resource was never party to this user's tokens through this client.
    #[error("{0}")]
    NotAttributable(String),
    /// A storage failure.
    #[error("{0}")]
    Internal(String),
    /// The database is out of reach (ADR 0019): nothing was recorded, retry shortly.
    #[error("{0}")]
    Unavailable(String),
}

fn internal(e: impl Into<authz_core::CoreError>) -> Refused {
    let e = e.into();
    if e.is_unavailable() {
        Refused::Unavailable(e.to_string())
    } else {
        Refused::Internal(e.to_string())
    }
}

/// Checks the report and records it as `tool.called`.
pub async fn report(
    store: &Store,
    clock: &dyn Clock,
    caller: &ResourceServer,
    ev: ToolCall,
) -> Result<(), Refused> {
    check_shape(&ev, clock.now_us())?;
    if !["success", "failure", "error", "denied"].contains(&ev.result.as_str()) {
        return Err(Refused::Unprocessable(
            "result must be one of success, failure, error, denied".into(),
        ));
    }
    if ev.tool.is_empty() {
        return Err(Refused::Unprocessable(
            "tool must be 1-200 characters".into(),
        ));
    }
    let unknown = || Refused::Unprocessable("unknown tenant or user".into());
    // A tenant id that is not even a UUID names no tenant: the same answer, without a query.
    let tid = TenantId::parse(&ev.tenant).map_err(|_| unknown())?;
    // An unreachable database is not an unknown tenant or user (ADR 0019).
    let known = |e: authz_core::CoreError| match e.is_unavailable() {
        true => internal(e),
        false => unknown(),
    };
    tenant::get(&store.db, &tid).await.map_err(known)?;
    let is_user = match user::get(&store.db, &tid, &ev.sub).await {
        Err(e) if e.is_unavailable() => return Err(internal(e)),
        found => found.is_ok(),
    };
    // The subject is a directory user or a service account (issue 14 §3).
    if !is_user
        && authz_core::service_account::name_of(&store.db, &tid, &ev.sub)
            .await
            .map_err(internal)?
            .is_none()
    {
        return Err(unknown());
    }
    let held = authz_core::token::attribution_holds(
        &store.db,
        &tid,
        &ev.sub,
        caller.resource_id(),
        &ev.client_id,
        ev.session_id.as_deref(),
    )
    .await
    .map_err(internal)?;
    if !held {
        return Err(Refused::NotAttributable(
            "this user was never issued a token for the calling resource through this client (and session)".into(),
        ));
    }
    let (res, catalogue) =
        authz_core::resource::with_catalogue(store, &store.db, clock, caller.resource_id())
            .await
            .map_err(internal)?;
    if let Some(s) = ev
        .scopes
        .iter()
        .find(|s| !catalogue.iter().any(|c| &c.name == *s))
    {
        return Err(Refused::Invalid(format!(
            "scope '{s}' is not in the calling resource's catalogue"
        )));
    }
    let mut record = AuditEvent::new(Some(&tid), "tool.called")
        .reported()
        .result(&ev.result)
        .actor(format!("resource:{}", res.rs_client_id))
        .user(ev.sub)
        .client(ev.client_id)
        .resource(res.uri.clone())
        .scope(ev.scopes.join(" "))
        .source(ev.source_ip, ev.user_agent)
        .detail("tool", ev.tool)
        .detail("parameters", audit::sanitize_parameters(&ev.parameters))
        // Who said so: the authenticated resource server, beside what it reported.
        .detail(
            "reported_by",
            serde_json::json!({
                "resource_id": res.id,
                "resource": res.uri,
                "rs_client_id": res.rs_client_id,
            }),
        );
    if let Some(s) = ev.session_id {
        record = record.session(s);
    }
    if let Some(e) = ev.error {
        record = record.detail("error", e);
    }
    record.occurred_at = ev.occurred_at;
    let txn = store.begin().await.map_err(internal)?;
    audit::record(&txn, clock, record).await.map_err(internal)?;
    txn.commit().await.map_err(internal)?;
    Ok(())
}

/// Bounds every string (refused when over, or when it holds a NUL), the source address and the
/// time.
fn check_shape(ev: &ToolCall, now_us: i64) -> Result<(), Refused> {
    let bad = |m: String| Err(Refused::Invalid(m));
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
        return bad("at most 64 scopes".into());
    }
    for s in &ev.scopes {
        fields.push(("scopes", s, 255));
    }
    for (name, v, max) in fields {
        if v.chars().count() > max {
            return bad(format!("{name} must be at most {max} characters"));
        }
        if v.contains('\0') {
            return bad(format!("{name} must not contain NUL"));
        }
    }
    if let Some(ip) = &ev.source_ip {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return bad("source_ip must be an IPv4 or IPv6 address".into());
        }
    }
    if let Some(t) = ev.occurred_at {
        if t < now_us.saturating_sub(MAX_AGE_US) || t > now_us.saturating_add(MAX_SKEW_US) {
            return bad(
                "occurred_at must lie within the last 7 days (5 minutes of clock skew allowed)"
                    .into(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> ToolCall {
        serde_json::from_value(serde_json::json!({
            "tenant": "t", "sub": "u", "client_id": "c", "tool": "search", "result": "success",
        }))
        .unwrap()
    }

    /// Review F6: what a resource server claims is bounded before it enters the log.
    #[test]
    fn reports_are_bounded_in_size_source_and_time() {
        let now = 1_000 * 24 * 3600 * MICROS;
        assert!(check_shape(&call(), now).is_ok());
        let mut long = call();
        long.tool = "x".repeat(201);
        assert!(
            matches!(check_shape(&long, now), Err(Refused::Invalid(m)) if m == "tool must be at most 200 characters")
        );
        let mut ip = call();
        ip.source_ip = Some("not-an-ip".into());
        assert!(matches!(check_shape(&ip, now), Err(Refused::Invalid(_))));
        let mut old = call();
        old.occurred_at = Some(now - MAX_AGE_US - 1);
        assert!(matches!(check_shape(&old, now), Err(Refused::Invalid(_))));
        let mut ahead = call();
        ahead.occurred_at = Some(now + MAX_SKEW_US);
        assert!(check_shape(&ahead, now).is_ok());
        let mut nul = call();
        nul.sub = "a\0b".into();
        assert!(
            matches!(check_shape(&nul, now), Err(Refused::Invalid(m)) if m == "sub must not contain NUL")
        );
    }
}

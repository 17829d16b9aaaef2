//! The gateway's per-call audit records (issue 13 §1 "Per-call audit"): written by Gatehouse
//! itself, so trusted unlike events a resource server posts. The gateway queues them off the
//! request path and a writer task hands them here in batches: one transaction per batch, one
//! record per call in the tenant's chain (sealed later like every record, DESIGN §8).
use authz_core::audit::{self, AuditEvent};
use authz_core::clock::Clock;
use authz_core::{CoreResult, Store};
use serde_json::Value;

use super::TokenHolder;

/// Stored parameters are cut to about this many bytes.
pub const MAX_PARAMETER_BYTES: usize = 2048;

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// The upstream answered with a result.
    Success,
    /// The upstream answered with a JSON-RPC error (code, message).
    RpcError(i64, String),
    /// The tool ran and reported failure (`result.isError`, MCP "Tools" error handling).
    ToolError,
    /// Refused by the gateway (scope, step-up, unlisted tool); the reason.
    Denied(String),
    /// Over the tenant's calls-per-minute limit.
    RateLimited,
    /// No answer: the upstream failed, or the stream ended or the client left first.
    NoAnswer(String),
}

impl CallOutcome {
    fn result(&self) -> &'static str {
        match self {
            CallOutcome::Success => "success",
            CallOutcome::RpcError(..) => "error",
            CallOutcome::ToolError => "tool_error",
            CallOutcome::Denied(_) => "denied",
            CallOutcome::RateLimited => "rate_limited",
            CallOutcome::NoAnswer(_) => "failure",
        }
    }
}

/// One call through the gateway. Attribution comes from a [`TokenHolder`] only.
#[derive(Clone, Debug)]
pub struct GatewayCall {
    holder: TokenHolder,
    resource: String,
    tool: String,
    parameters: Value,
    scopes_used: Vec<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
    occurred_at_us: i64,
    latency_ms: i64,
    outcome: CallOutcome,
    /// Whether `tool` is in the resource's catalogue: only then is it a metric label.
    listed: bool,
}

impl GatewayCall {
    /// A call of `tool` at `resource` (its URI) by `holder`, begun at `occurred_at_us`;
    /// `arguments` are sanitised here.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        holder: &TokenHolder,
        resource: &str,
        tool: &str,
        arguments: &Value,
        scopes_used: Vec<String>,
        source: (Option<String>, Option<String>),
        occurred_at_us: i64,
    ) -> Self {
        GatewayCall {
            holder: holder.clone(),
            resource: resource.to_string(),
            tool: tool.chars().take(200).collect(),
            parameters: sanitize_parameters(arguments),
            scopes_used,
            source_ip: source.0,
            user_agent: source.1,
            occurred_at_us,
            latency_ms: 0,
            outcome: CallOutcome::NoAnswer("pending".into()),
            listed: false,
        }
    }

    /// Marks the tool as one of the catalogue's (see [`Self::count`]).
    pub fn listed(mut self, listed: bool) -> Self {
        self.listed = listed;
        self
    }

    /// Counts the ended call in `gatehouse_gateway_calls_total`: by tool when the catalogue
    /// lists it, else as `unknown` (a name the caller chose must not grow the series).
    pub fn count(&self) {
        let tool = self.listed.then_some(self.tool.as_str());
        authz_core::metrics::gateway_call(tool, self.outcome.result());
    }

    /// The call ended with `outcome` after `latency_ms`.
    pub fn ended(mut self, outcome: CallOutcome, latency_ms: i64) -> Self {
        self.outcome = outcome;
        self.latency_ms = latency_ms;
        self
    }

    fn into_event(self) -> AuditEvent {
        let h = &self.holder;
        let mut ev = AuditEvent::new(Some(h.tenant()), "gateway.tool_call")
            .result(self.outcome.result())
            .actor(format!("{}:{}", h.kind().subject_type(), h.user_id()))
            .user(h.user_id())
            .client(h.client_id())
            .session(h.session_id())
            .resource(self.resource)
            .scope(self.scopes_used.join(" "))
            .source(self.source_ip, self.user_agent)
            .detail("credential_kind", h.kind().as_str())
            .detail("tool", self.tool)
            .detail("parameters", self.parameters)
            .detail("latency_ms", self.latency_ms);
        ev = match self.outcome {
            CallOutcome::RpcError(code, message) => ev.detail(
                "error",
                serde_json::json!({"code": code, "message": truncate(&message, 256)}),
            ),
            CallOutcome::Denied(why) | CallOutcome::NoAnswer(why) => {
                ev.detail("reason", truncate(&why, 256))
            }
            _ => ev,
        };
        ev.occurred_at = Some(self.occurred_at_us);
        ev
    }
}

impl GatewayCall {
    /// The call as a resource server reports it to a remote Gatehouse (`POST /audit/v1/events`,
    /// `ToolCall`): the gateway in introspection mode has no database of its own. The report's
    /// result is one of the four it accepts (a tool error is an `error`, a refusal or a rate
    /// limit `denied`, no answer a `failure`); the reason and the latency go in `error`.
    pub fn to_tool_call(&self) -> crate::resource_events::ToolCall {
        let (result, error) = match &self.outcome {
            CallOutcome::Success => ("success", None),
            CallOutcome::RpcError(code, message) => (
                "error",
                Some(format!("JSON-RPC error {code}: {}", truncate(message, 256))),
            ),
            CallOutcome::ToolError => ("error", Some("the tool reported an error".to_string())),
            CallOutcome::Denied(why) => ("denied", Some(truncate(why, 256))),
            CallOutcome::RateLimited => ("denied", Some("rate limited".to_string())),
            CallOutcome::NoAnswer(why) => ("failure", Some(truncate(why, 256))),
        };
        let error = Some(match error {
            Some(e) => format!("{e} (latency {} ms)", self.latency_ms),
            None => format!("latency {} ms", self.latency_ms),
        })
        .filter(|_| !matches!(self.outcome, CallOutcome::Success));
        let h = &self.holder;
        crate::resource_events::ToolCall {
            tenant: h.tenant().to_string(),
            sub: h.user_id().to_string(),
            client_id: h.client_id().to_string(),
            session_id: Some(h.session_id().to_string()),
            tool: self.tool.clone(),
            scopes: self.scopes_used.clone(),
            result: result.to_string(),
            parameters: self.parameters.clone(),
            error,
            source_ip: self.source_ip.clone(),
            user_agent: self
                .user_agent
                .as_ref()
                .map(|u| u.chars().take(512).collect()),
            occurred_at: Some(self.occurred_at_us),
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Records a batch of calls in one transaction, one multi-row statement.
pub async fn record_calls(
    store: &Store,
    clock: &dyn Clock,
    calls: Vec<GatewayCall>,
) -> CoreResult<()> {
    if calls.is_empty() {
        return Ok(());
    }
    let txn = store.begin().await?;
    audit::record_all(&txn, clock, calls.into_iter().map(GatewayCall::into_event)).await?;
    txn.commit().await?;
    Ok(())
}

/// Tool arguments as the log keeps them: values under secret-looking keys redacted at any
/// depth, long strings cut, and the whole bounded to [`MAX_PARAMETER_BYTES`] (the audit
/// module's one sanitiser, which posted tool-call events go through too).
pub fn sanitize_parameters(v: &Value) -> Value {
    authz_core::audit::sanitize_parameters_within(v, MAX_PARAMETER_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_by_key_and_size_is_bounded() {
        let v = serde_json::json!({
            "query": "acme",
            "Password": "p1",
            "nested": {"apiKey": "k1", "AUTHORIZATION": "Bearer x", "session_cookie": "c", "n": 1},
            "list": [{"client_secret": "s"}, {"accessToken": "t"}, {"credentials": "c2"}],
        });
        let s = sanitize_parameters(&v).to_string();
        for secret in ["p1", "k1", "Bearer x", "\"c\"", "\"s\"", "\"t\"", "c2"] {
            assert!(!s.contains(secret), "{secret} leaked: {s}");
        }
        assert!(s.contains("acme"));
        let big = serde_json::json!({"rows": vec!["x".repeat(200); 40]});
        let out = sanitize_parameters(&big);
        assert_eq!(out["omitted"], "parameters too large");
        assert!(out.to_string().len() < MAX_PARAMETER_BYTES);
    }
}

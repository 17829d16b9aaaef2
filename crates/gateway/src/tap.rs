//! The upstream's answer on its way to the client, streamed chunk by chunk (SSE event by
//! event), never buffered whole (MCP spec 2025-11-25 "Transports": a POST may be answered with
//! one JSON object or an SSE stream). On the way the gateway
//! - records each `tools/call` when its response passes (success, JSON-RPC error, or
//!   `isError`), with its latency; a call whose response never comes is recorded when the
//!   stream ends or the client leaves;
//! - filters `tools/list` results to the tools the token may call (resource setting
//!   `filter_tools_list`): an SSE event is rewritten on its own; a JSON answer to a body with
//!   a `tools/list` is the one answer held until complete (bounded), since it is one object.
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::web::Bytes;
use app::gateway::{CallOutcome, GatewayCall};
use authz_core::mcp_policy::McpPolicy;
use futures::stream::{BoxStream, Stream};
use serde_json::Value;

use crate::audit::AuditSink;

/// Largest JSON answer the gateway inspects (for the audit) or holds (to filter a tool list).
pub const MAX_JSON_INSPECT: usize = 4 * 1024 * 1024;

/// What the gateway waits for in the answer.
pub struct Watch {
    sink: AuditSink,
    pending: Vec<(Option<Value>, GatewayCall, Instant)>,
    /// The policy and the token's scopes, when `tools/list` answers are filtered.
    filter: Option<(Arc<McpPolicy>, Vec<String>)>,
    list_ids: Vec<Value>,
}

impl Watch {
    pub fn new(
        sink: AuditSink,
        calls: Vec<(Option<Value>, GatewayCall)>,
        filter: Option<(Arc<McpPolicy>, Vec<String>)>,
        list_ids: Vec<Value>,
    ) -> Watch {
        let now = Instant::now();
        Watch {
            sink,
            pending: calls.into_iter().map(|(id, c)| (id, c, now)).collect(),
            filter,
            list_ids,
        }
    }

    fn rewrites(&self) -> bool {
        self.filter.is_some() && !self.list_ids.is_empty()
    }

    /// One message from the upstream; true when it was rewritten.
    fn observe(&mut self, msg: &mut Value) -> bool {
        if let Value::Array(items) = msg {
            let mut changed = false;
            for m in items {
                changed |= self.observe(m);
            }
            return changed;
        }
        let Some(id) = msg.get("id").filter(|_| msg.get("method").is_none()).cloned() else {
            return false;
        };
        let mut changed = false;
        if let (true, Some((policy, granted))) = (self.list_ids.contains(&id), &self.filter) {
            if let Some(tools) = msg.pointer_mut("/result/tools").and_then(Value::as_array_mut) {
                let before = tools.len();
                tools.retain(|t| {
                    t.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| policy.may_call(n, granted))
                });
                changed = tools.len() != before;
            }
        }
        if let Some(i) = self.pending.iter().position(|(p, _, _)| p.as_ref() == Some(&id)) {
            let (_, call, started) = self.pending.swap_remove(i);
            let outcome = if let Some(e) = msg.get("error") {
                CallOutcome::RpcError(
                    e.get("code").and_then(Value::as_i64).unwrap_or(0),
                    e.get("message").and_then(Value::as_str).unwrap_or("").to_string(),
                )
            } else if msg.pointer("/result/isError") == Some(&Value::Bool(true)) {
                CallOutcome::ToolError
            } else {
                CallOutcome::Success
            };
            self.sink.send(call.ended(outcome, started.elapsed().as_millis() as i64));
        }
        changed
    }

    /// Records every call still waiting as unanswered (idempotent).
    pub fn finish(&mut self, why: &str) {
        for (_, call, started) in self.pending.drain(..) {
            self.sink.send(call.ended(
                CallOutcome::NoAnswer(why.to_string()),
                started.elapsed().as_millis() as i64,
            ));
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Json,
    Sse,
    Other,
}

impl Kind {
    pub fn of(content_type: &str) -> Kind {
        let ct = content_type.trim().to_ascii_lowercase();
        if ct.starts_with("text/event-stream") {
            Kind::Sse
        } else if ct.starts_with("application/json") {
            Kind::Json
        } else {
            Kind::Other
        }
    }
}

/// The answer stream with the [`Watch`] on it.
pub struct Tap {
    inner: BoxStream<'static, reqwest::Result<Bytes>>,
    kind: Kind,
    /// JSON: a copy of what passed (or everything, when it is held to be rewritten); SSE: the
    /// incomplete event.
    buf: Vec<u8>,
    overflow: bool,
    watch: Watch,
    done: bool,
}

impl Tap {
    pub fn new(inner: BoxStream<'static, reqwest::Result<Bytes>>, kind: Kind, watch: Watch) -> Tap {
        Tap {
            inner,
            kind,
            buf: Vec::new(),
            overflow: false,
            watch,
            done: false,
        }
    }

    /// What to send on for `chunk` (nothing yet: `None`).
    fn on_chunk(&mut self, chunk: Bytes) -> io::Result<Option<Bytes>> {
        match self.kind {
            Kind::Other => Ok(Some(chunk)),
            Kind::Json => {
                if self.buf.len() + chunk.len() > MAX_JSON_INSPECT {
                    if self.watch.rewrites() {
                        return Err(io::Error::other("the tools/list answer is too large to filter"));
                    }
                    self.overflow = true;
                    self.buf = Vec::new();
                } else if !self.overflow {
                    self.buf.extend_from_slice(&chunk);
                }
                Ok((!self.watch.rewrites()).then_some(chunk))
            }
            Kind::Sse => {
                self.buf.extend_from_slice(&chunk);
                if self.buf.len() > MAX_JSON_INSPECT {
                    // One event larger than the bound: passed on as it is, uninspected.
                    return Ok(Some(Bytes::from(std::mem::take(&mut self.buf))));
                }
                let out = self.complete_events();
                Ok((!out.is_empty()).then(|| Bytes::from(out)))
            }
        }
    }

    /// The complete SSE events in the buffer, each inspected (and rewritten if need be).
    fn complete_events(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(end) = event_end(&self.buf) {
            let event: Vec<u8> = self.buf.drain(..end).collect();
            out.extend(self.sse_event(event));
        }
        out
    }

    fn sse_event(&mut self, event: Vec<u8>) -> Vec<u8> {
        let Ok(text) = std::str::from_utf8(&event) else {
            return event;
        };
        let mut data = String::new();
        let mut others = Vec::new();
        for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
            if let Some(d) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            } else if !line.is_empty() {
                others.push(line);
            }
        }
        let Ok(mut msg) = serde_json::from_str::<Value>(&data) else {
            return event;
        };
        if !self.watch.observe(&mut msg) {
            return event;
        }
        let mut rebuilt = String::new();
        for l in others {
            rebuilt.push_str(l);
            rebuilt.push('\n');
        }
        rebuilt.push_str(&format!("data: {msg}\n\n"));
        rebuilt.into_bytes()
    }

    /// The end of the upstream's answer: what is left to send.
    fn on_end(&mut self) -> Option<Bytes> {
        let rest = std::mem::take(&mut self.buf);
        match self.kind {
            Kind::Other => None,
            Kind::Sse => (!rest.is_empty()).then(|| Bytes::from(rest)),
            Kind::Json if self.overflow => None,
            Kind::Json => match serde_json::from_slice::<Value>(&rest) {
                Ok(mut v) => {
                    let changed = self.watch.observe(&mut v);
                    match (self.watch.rewrites(), changed) {
                        (true, true) => Some(Bytes::from(v.to_string())),
                        (true, false) => Some(Bytes::from(rest)),
                        (false, _) => None,
                    }
                }
                Err(_) => self.watch.rewrites().then(|| Bytes::from(rest)),
            },
        }
    }
}

/// Where the first complete SSE event of `buf` ends (after its blank line), if there is one.
fn event_end(buf: &[u8]) -> Option<usize> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Stream for Tap {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => match this.on_chunk(chunk) {
                    Ok(Some(out)) => return Poll::Ready(Some(Ok(out))),
                    Ok(None) => continue,
                    Err(e) => {
                        this.done = true;
                        this.watch.finish("the answer could not be inspected");
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    this.watch.finish("the upstream's answer broke off");
                    return Poll::Ready(Some(Err(io::Error::other(e))));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    let rest = this.on_end();
                    this.watch.finish("the upstream's answer ended without a response");
                    return Poll::Ready(rest.filter(|b| !b.is_empty()).map(Ok));
                }
            }
        }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.watch.finish("the client left before the response");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_end_at_a_blank_line_of_either_style() {
        assert_eq!(event_end(b"data: 1\n\ndata: 2"), Some(9));
        assert_eq!(event_end(b"data: 1\r\n\r\n"), Some(11));
        assert_eq!(event_end(b"data: 1\n"), None);
        assert_eq!(Kind::of("text/event-stream; charset=utf-8"), Kind::Sse);
        assert_eq!(Kind::of("Application/JSON"), Kind::Json);
    }
}

//! JSON-RPC 2.0 as MCP carries it over Streamable HTTP (MCP spec 2025-11-25 "Transports"):
//! a POST body is one message, or (as earlier revisions allowed, and some clients still send)
//! a batch. Anything else is refused before it can reach the upstream.
use serde_json::{json, Value};

/// JSON-RPC 2.0 §5.1 codes, and the gateway's own (in the server-error range).
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// No valid token, or one without the scopes or the fresh sign-in the call needs.
pub const UNAUTHORIZED: i64 = -32001;
/// The upstream did not answer (down, timed out).
pub const UPSTREAM_UNAVAILABLE: i64 = -32002;
/// Refused by the catalogue (an unlisted tool).
pub const FORBIDDEN: i64 = -32003;
/// Over the tenant's calls-per-minute limit.
pub const RATE_LIMITED: i64 = -32029;

/// One message of a POST body.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Requests and responses carry an id; notifications none.
    pub id: Option<Value>,
    /// Requests and notifications; `None` for a response the client sends back.
    pub method: Option<String>,
    pub params: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    pub messages: Vec<Message>,
    pub batch: bool,
}

impl Body {
    /// The id an error answer to the whole body carries: the single message's, else null.
    pub fn reply_id(&self) -> Value {
        match (self.batch, self.messages.first()) {
            (false, Some(m)) => m.id.clone().unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON (§5.1 parse error).
    Parse,
    /// JSON, but not a JSON-RPC 2.0 message or batch (§5.1 invalid request).
    Invalid(String),
}

pub fn parse(body: &[u8]) -> Result<Body, BodyError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| BodyError::Parse)?;
    match v {
        Value::Array(items) if items.is_empty() => {
            Err(BodyError::Invalid("an empty batch".into()))
        }
        Value::Array(items) => Ok(Body {
            messages: items.into_iter().map(message).collect::<Result<_, _>>()?,
            batch: true,
        }),
        other => Ok(Body {
            messages: vec![message(other)?],
            batch: false,
        }),
    }
}

fn message(v: Value) -> Result<Message, BodyError> {
    let Value::Object(mut m) = v else {
        return Err(BodyError::Invalid("a message must be an object".into()));
    };
    if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(BodyError::Invalid("jsonrpc must be \"2.0\"".into()));
    }
    let id = m.remove("id");
    if let Some(id) = &id {
        if !(id.is_string() || id.is_number() || id.is_null()) {
            return Err(BodyError::Invalid("an id is a string or a number".into()));
        }
    }
    let method = match m.remove("method") {
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(BodyError::Invalid("method must be a string".into())),
        None if id.is_some() && (m.contains_key("result") || m.contains_key("error")) => None,
        None => return Err(BodyError::Invalid("neither a request nor a response".into())),
    };
    let params = m.remove("params").unwrap_or(Value::Null);
    if !(params.is_object() || params.is_array() || params.is_null()) {
        return Err(BodyError::Invalid("params must be an object or an array".into()));
    }
    Ok(Message { id, method, params })
}

/// A JSON-RPC error object for `id`.
pub fn error_body(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_messages_batches_and_refusals() {
        let one = parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).unwrap();
        assert!(!one.batch);
        assert_eq!(one.reply_id(), json!(1));
        assert_eq!(one.messages[0].method.as_deref(), Some("tools/list"));
        let b = parse(br#"[{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":"a","result":{}}]"#).unwrap();
        assert!(b.batch);
        assert_eq!(b.messages[0].id, None);
        assert_eq!(b.messages[1].method, None);
        assert_eq!(b.reply_id(), Value::Null);
        assert_eq!(parse(b"{not json"), Err(BodyError::Parse));
        for bad in [
            &br#"[]"#[..],
            br#"{"id":1,"method":"x"}"#,
            br#"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
            br#"{"jsonrpc":"2.0","id":1}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#,
            br#"[1]"#,
        ] {
            assert!(matches!(parse(bad), Err(BodyError::Invalid(_))), "{}", String::from_utf8_lossy(bad));
        }
    }
}

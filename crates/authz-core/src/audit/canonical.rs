//! The canonical encoding hashed into the chain: a JSON object with keys in lexicographic order,
//! no insignificant whitespace, instants as integer microseconds, absent values as `null`
//! (the RFC 8785 shape for the value types we use: strings, integers, null).
use sha2::{Digest, Sha256};

use crate::entities::audit_events;

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn s(v: &Option<String>) -> serde_json::Value {
    match v {
        Some(x) => serde_json::Value::String(x.clone()),
        None => serde_json::Value::Null,
    }
}

/// Canonical bytes of a record at sequence `seq`.
pub fn canonical_record(r: &audit_events::Model, seq: i64) -> String {
    let mut fields: Vec<(&str, serde_json::Value)> = vec![
        ("action", r.action.clone().into()),
        ("actor", s(&r.actor)),
        ("client_id", s(&r.client_id)),
        ("details", r.details.clone().into()),
        ("occurred_at", r.occurred_at.into()),
        ("resource", s(&r.resource)),
        ("result", r.result.clone().into()),
        ("scope", s(&r.scope)),
        ("seq", seq.into()),
        ("session_id", s(&r.session_id)),
        ("source_ip", s(&r.source_ip)),
        ("tenant_id", r.tenant_id.clone().into()),
        ("user_agent", s(&r.user_agent)),
        ("user_id", s(&r.user_id)),
    ];
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::with_capacity(256);
    out.push('{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).expect("string serialises"));
        out.push(':');
        out.push_str(&serde_json::to_string(v).expect("value serialises"));
    }
    out.push('}');
    out
}

/// `SHA-256(prev_hash || canonical)`, hex.
pub fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

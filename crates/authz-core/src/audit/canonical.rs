//! The canonical encoding hashed into the chain: a JSON object with keys in lexicographic order,
//! no insignificant whitespace, instants as integer microseconds, absent values as `null`
//! (the RFC 8785 shape for the value types we use: strings, integers, null).
use sha2::{Digest, Sha256};

use crate::entities::audit_events;

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Canonical bytes of a record at sequence `seq`.
pub fn canonical_record(r: &audit_events::Model, seq: i64) -> String {
    let mut out = Vec::with_capacity(512);
    canonical_into(r, seq, &mut out);
    // Only JSON string escapes and ASCII were written around valid UTF-8 input.
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the canonical bytes of `r` at `seq` into `out` (cleared first), without building
/// intermediate values: the sealer and the verifier run it once per record.
pub fn canonical_into(r: &audit_events::Model, seq: i64, out: &mut Vec<u8>) {
    out.clear();
    RecordView::of(r).append_canonical(seq, out);
}

/// A record's hashed fields, borrowed: from a model, or straight from a database row (the
/// verifier reads a million rows without copying each field into a `String` first).
#[derive(Clone, Copy, Debug)]
pub struct RecordView<'a> {
    pub tenant_id: &'a str,
    pub occurred_at: i64,
    pub action: &'a str,
    pub result: &'a str,
    pub actor: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub resource: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub details: &'a str,
}

impl<'a> RecordView<'a> {
    pub fn of(r: &'a audit_events::Model) -> RecordView<'a> {
        RecordView {
            tenant_id: &r.tenant_id,
            occurred_at: r.occurred_at,
            action: &r.action,
            result: &r.result,
            actor: r.actor.as_deref(),
            user_id: r.user_id.as_deref(),
            client_id: r.client_id.as_deref(),
            session_id: r.session_id.as_deref(),
            resource: r.resource.as_deref(),
            scope: r.scope.as_deref(),
            source_ip: r.source_ip.as_deref(),
            user_agent: r.user_agent.as_deref(),
            details: &r.details,
        }
    }

    /// Appends the canonical bytes of this record at `seq` to `out`.
    pub fn append_canonical(&self, seq: i64, out: &mut Vec<u8>) {
        enum V<'a> {
            S(&'a str),
            O(Option<&'a str>),
            I(i64),
        }
        // Already in lexicographic key order.
        let fields: [(&str, V); 14] = [
            ("action", V::S(self.action)),
            ("actor", V::O(self.actor)),
            ("client_id", V::O(self.client_id)),
            ("details", V::S(self.details)),
            ("occurred_at", V::I(self.occurred_at)),
            ("resource", V::O(self.resource)),
            ("result", V::S(self.result)),
            ("scope", V::O(self.scope)),
            ("seq", V::I(seq)),
            ("session_id", V::O(self.session_id)),
            ("source_ip", V::O(self.source_ip)),
            ("tenant_id", V::S(self.tenant_id)),
            ("user_agent", V::O(self.user_agent)),
            ("user_id", V::O(self.user_id)),
        ];
        out.push(b'{');
        for (i, (k, v)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
            match v {
                V::S(s) | V::O(Some(s)) => write_str(out, s),
                V::O(None) => out.extend_from_slice(b"null"),
                V::I(n) => {
                    let _ = std::io::Write::write_fmt(out, format_args!("{n}"));
                }
            }
        }
        out.push(b'}');
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaping, as before: the bytes hashed must not change.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// `SHA-256(prev_hash || canonical)`, hex.
pub fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    chain_hash_bytes(prev_hash, canonical.as_bytes())
}

/// [`chain_hash`] of canonical bytes.
pub fn chain_hash_bytes(prev_hash: &str, canonical: &[u8]) -> String {
    let hex = chain_hash_hex(prev_hash.as_bytes(), canonical);
    // Hex digits are ASCII.
    String::from_utf8_lossy(&hex).into_owned()
}

/// [`chain_hash_bytes`] as its 64 hex digits, without allocating (the verifier compares them
/// with the stored hash's bytes).
pub fn chain_hash_hex(prev_hash: &[u8], canonical: &[u8]) -> [u8; 64] {
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(canonical);
    let mut out = [0u8; 64];
    // 32 bytes always fit 64 hex digits.
    let _ = hex::encode_to_slice(h.finalize(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoding of the first implementation (serde_json values, sorted keys): records
    /// sealed by it must verify with the new writer.
    fn reference(r: &audit_events::Model, seq: i64) -> String {
        let s = |v: &Option<String>| match v {
            Some(x) => serde_json::Value::String(x.clone()),
            None => serde_json::Value::Null,
        };
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
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    #[test]
    fn the_writer_encodes_exactly_as_the_first_implementation() {
        let tricky = [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "control \u{0} \u{1f} \n \t \r",
            "unicode é 日本 🦀 \u{2028}",
            "{\"json\":[1,2,{\"x\":null}]}",
        ];
        for (i, t) in tricky.iter().enumerate() {
            let r = audit_events::Model {
                id: i as i64,
                tenant_id: format!("tenant-{t}"),
                occurred_at: -1_700_000_000_000_000 + i as i64,
                action: t.to_string(),
                result: "ok".into(),
                actor: (i % 2 == 0).then(|| t.to_string()),
                user_id: Some(t.to_string()),
                client_id: None,
                session_id: (i % 3 == 0).then(|| "s".to_string()),
                resource: Some(t.to_string()),
                scope: None,
                source_ip: Some("::1".into()),
                user_agent: (i % 2 == 1).then(|| t.to_string()),
                details: t.to_string(),
                writer_xact: 0,
            };
            for seq in [1, i64::MAX, 0, -5] {
                assert_eq!(canonical_record(&r, seq), reference(&r, seq), "{t:?}");
            }
        }
    }
}

//! Representations as returned (RFC 7643 §3.1 `meta`, RFC 7644 §3.4.2.5 `attributes` and
//! `excludedAttributes`, §3.14 versions).
use authz_core::directory::groups::{DirGroup, Member};
use authz_core::directory::users::DirUser;
use serde_json::{json, Map, Value};

use crate::patch::{ENTERPRISE_USER_URN, GROUP_URN, USER_URN};

/// The weak ETag of a version (`W/"3"`); also `meta.version`.
pub fn etag(version: i64) -> String {
    app::scim::etag(version)
}

/// Whether an `If-Match` value names this version (`*` names every version).
pub fn matches(if_match: &str, version: i64) -> bool {
    app::scim::IfMatch::new(if_match).names(version)
}

fn rfc3339(micros: i64) -> String {
    authz_core::clock::rfc3339(micros, chrono::SecondsFormat::Millis)
}

fn meta(kind: &str, location: String, created: i64, updated: i64, version: i64) -> Value {
    json!({
        "resourceType": kind,
        "created": rfc3339(created),
        "lastModified": rfc3339(updated),
        "location": location,
        "version": etag(version),
    })
}

pub fn user(base: &str, u: &DirUser, groups: &[Member]) -> Value {
    let mut v = match &u.resource {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    let mut schemas = vec![json!(USER_URN)];
    if v.contains_key(ENTERPRISE_USER_URN) {
        schemas.push(json!(ENTERPRISE_USER_URN));
    }
    v.insert("schemas".into(), Value::Array(schemas));
    v.insert("id".into(), json!(u.id));
    if !groups.is_empty() {
        v.insert(
            "groups".into(),
            groups
                .iter()
                .map(|g| {
                    json!({"value": g.id, "display": g.display, "$ref": format!("{base}/Groups/{}", g.id), "type": "direct"})
                })
                .collect(),
        );
    }
    v.insert(
        "meta".into(),
        meta(
            "User",
            format!("{base}/Users/{}", u.id),
            u.created_at,
            u.updated_at,
            u.version,
        ),
    );
    Value::Object(v)
}

/// A group; `members` is `None` when the client excluded them (not loaded at all).
pub fn group(base: &str, g: &DirGroup, members: Option<&[Member]>) -> Value {
    let mut v = match &g.resource {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    v.insert("schemas".into(), json!([GROUP_URN]));
    v.insert("id".into(), json!(g.id));
    if let Some(ms) = members {
        if !ms.is_empty() {
            v.insert(
                "members".into(),
                ms.iter()
                    .map(|m| {
                        json!({"value": m.id, "display": m.display, "$ref": format!("{base}/Users/{}", m.id), "type": "User"})
                    })
                    .collect(),
            );
        }
    }
    v.insert(
        "meta".into(),
        meta(
            "Group",
            format!("{base}/Groups/{}", g.id),
            g.created_at,
            g.updated_at,
            g.version,
        ),
    );
    Value::Object(v)
}

/// One attribute named in `attributes` / `excludedAttributes`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sel {
    /// `Some` for an extension attribute (the extension URN).
    ext: Option<String>,
    /// `None` selects the whole extension object.
    attr: Option<String>,
    sub: Option<String>,
}

fn parse_list(list: &str, core: &str) -> Vec<Sel> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let lower = item.to_ascii_lowercase();
            let (ext, rest) = if lower == ENTERPRISE_USER_URN.to_ascii_lowercase() {
                (Some(ENTERPRISE_USER_URN.to_string()), None)
            } else if lower.starts_with(&format!("{}:", ENTERPRISE_USER_URN.to_ascii_lowercase())) {
                (
                    Some(ENTERPRISE_USER_URN.to_string()),
                    Some(&item[ENTERPRISE_USER_URN.len() + 1..]),
                )
            } else if lower.starts_with(&format!("{}:", core.to_ascii_lowercase())) {
                (None, Some(&item[core.len() + 1..]))
            } else {
                (None, Some(item))
            };
            match rest {
                None => Sel {
                    ext,
                    attr: None,
                    sub: None,
                },
                Some(r) => {
                    let (a, s) = match r.split_once('.') {
                        Some((a, s)) => (a.to_string(), Some(s.to_string())),
                        None => (r.to_string(), None),
                    };
                    Sel {
                        ext,
                        attr: Some(a),
                        sub: s,
                    }
                }
            }
        })
        .collect()
}

fn key_of(o: &Map<String, Value>, name: &str) -> Option<String> {
    o.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// Whether `attributes`/`excludedAttributes` leave `name` (a core attribute) in the response:
/// lets a handler skip loading group members nobody asked for.
pub fn wants(attributes: Option<&str>, excluded: Option<&str>, core: &str, name: &str) -> bool {
    if let Some(a) = attributes.filter(|a| !a.trim().is_empty()) {
        return parse_list(a, core).iter().any(|s| {
            s.ext.is_none() && s.attr.as_deref().map(|x| x.eq_ignore_ascii_case(name)) == Some(true)
        });
    }
    if let Some(e) = excluded {
        return !parse_list(e, core).iter().any(|s| {
            s.ext.is_none()
                && s.sub.is_none()
                && s.attr.as_deref().map(|x| x.eq_ignore_ascii_case(name)) == Some(true)
        });
    }
    true
}

/// Applies `attributes` (keep only these, plus `id` and `schemas`, which are always returned)
/// or else `excludedAttributes` (drop these, never `id` or `schemas`).
pub fn project(v: Value, attributes: Option<&str>, excluded: Option<&str>, core: &str) -> Value {
    let Value::Object(src) = v else { return v };
    if let Some(a) = attributes.filter(|a| !a.trim().is_empty()) {
        let mut out = Map::new();
        for k in ["schemas", "id"] {
            if let Some(x) = src.get(k) {
                out.insert(k.into(), x.clone());
            }
        }
        for sel in parse_list(a, core) {
            let (from, to): (&Map<String, Value>, &mut Map<String, Value>) = match &sel.ext {
                None => (&src, &mut out),
                Some(u) => {
                    let Some(Value::Object(e)) = src.get(u) else {
                        continue;
                    };
                    let slot = out.entry(u.clone()).or_insert_with(|| json!({}));
                    let Value::Object(slot) = slot else { continue };
                    match &sel.attr {
                        None => {
                            *slot = e.clone();
                            continue;
                        }
                        Some(_) => (e, slot),
                    }
                }
            };
            let Some(name) = sel.attr.as_deref().and_then(|n| key_of(from, n)) else {
                continue;
            };
            let val = &from[&name];
            match &sel.sub {
                None => {
                    to.insert(name, val.clone());
                }
                Some(sub) => {
                    let pick = |o: &Value| -> Option<(String, Value)> {
                        let o = o.as_object()?;
                        let k = key_of(o, sub)?;
                        Some((k.clone(), o[&k].clone()))
                    };
                    match val {
                        Value::Array(items) => {
                            let picked: Vec<Value> = items
                                .iter()
                                .filter_map(|i| pick(i).map(|(k, v)| json!({ k: v })))
                                .collect();
                            to.insert(name, Value::Array(picked));
                        }
                        Value::Object(_) => {
                            if let Some((k, x)) = pick(val) {
                                let slot = to.entry(name).or_insert_with(|| json!({}));
                                if let Value::Object(s) = slot {
                                    s.insert(k, x);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        return Value::Object(out);
    }
    let mut out = src;
    if let Some(e) = excluded {
        for sel in parse_list(e, core) {
            let target: &mut Map<String, Value> = match &sel.ext {
                None => &mut out,
                Some(u) => {
                    if sel.attr.is_none() {
                        out.remove(u);
                        continue;
                    }
                    match out.get_mut(u) {
                        Some(Value::Object(o)) => o,
                        _ => continue,
                    }
                }
            };
            let Some(name) = sel.attr.as_deref().and_then(|n| key_of(target, n)) else {
                continue;
            };
            if sel.ext.is_none() && (name == "id" || name == "schemas") {
                continue;
            }
            match &sel.sub {
                None => {
                    target.remove(&name);
                }
                Some(sub) => match target.get_mut(&name) {
                    Some(Value::Array(items)) => {
                        for i in items {
                            if let Some(o) = i.as_object_mut() {
                                if let Some(k) = key_of(o, sub) {
                                    o.remove(&k);
                                }
                            }
                        }
                    }
                    Some(Value::Object(o)) => {
                        if let Some(k) = key_of(o, sub) {
                            o.remove(&k);
                        }
                    }
                    _ => {}
                },
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_keep_id_and_schemas_and_select_sub_attributes() {
        let v = json!({"schemas": ["u"], "id": "1", "userName": "a", "name": {"givenName": "G", "familyName": "F"},
            "emails": [{"value": "x", "type": "work"}], ENTERPRISE_USER_URN: {"department": "D", "division": "V"}});
        let p = project(v.clone(), Some("name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"), None, USER_URN);
        assert_eq!(
            p,
            json!({"schemas": ["u"], "id": "1", "name": {"givenName": "G"}, "emails": [{"value": "x"}], ENTERPRISE_USER_URN: {"department": "D"}})
        );
        let e = project(v, None, Some("name,id,emails.type"), USER_URN);
        assert!(e.get("name").is_none());
        assert_eq!(e["id"], "1");
        assert_eq!(e["emails"], json!([{"value": "x"}]));
    }

    #[test]
    fn if_match_compares_weak_and_strong_forms() {
        assert!(matches("W/\"3\"", 3));
        assert!(matches("\"3\"", 3));
        assert!(matches("*", 9));
        assert!(!matches("W/\"2\"", 3));
    }

    #[test]
    fn wants_follows_attributes_then_exclusions() {
        assert!(!wants(None, Some("members"), GROUP_URN, "members"));
        assert!(wants(None, None, GROUP_URN, "members"));
        assert!(!wants(Some("displayName"), None, GROUP_URN, "members"));
        assert!(wants(Some("members.value"), None, GROUP_URN, "members"));
    }
}

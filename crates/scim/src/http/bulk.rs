//! `/Bulk` (RFC 7644 §3.7): operations run in the order given, each in its own transaction
//! through the same functions as the single-resource endpoints. `bulkId:` references in a
//! later operation's path or data are replaced by the id an earlier POST created; a reference
//! to an unknown or failed bulkId fails that operation. With `failOnErrors: n`, processing
//! stops after the n-th error (§3.7.3).
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use super::{
    groups, read_json, users, Rendered, ScimError, ScimPrincipal, ScimState, MAX_BULK_OPERATIONS,
};

pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

fn get<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(k))
        .map(|(_, v)| v)
}

/// Replaces every `bulkId:X` string with X's id; `Err(X)` names an unresolved reference.
fn resolve(v: &mut Value, ids: &HashMap<String, String>) -> Result<(), String> {
    match v {
        Value::String(s) => {
            if let Some(r) = s.strip_prefix("bulkId:") {
                *s = ids.get(r).cloned().ok_or_else(|| r.to_string())?;
            }
            Ok(())
        }
        Value::Array(a) => a.iter_mut().try_for_each(|x| resolve(x, ids)),
        Value::Object(o) => o.values_mut().try_for_each(|x| resolve(x, ids)),
        _ => Ok(()),
    }
}

fn resolve_path(path: &str, ids: &HashMap<String, String>) -> Result<String, String> {
    path.split('/')
        .map(|seg| match seg.strip_prefix("bulkId:") {
            Some(r) => ids.get(r).cloned().ok_or_else(|| r.to_string()),
            None => Ok(seg.to_string()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|segs| segs.join("/"))
}

async fn dispatch(
    st: &ScimState,
    p: &ScimPrincipal,
    method: &str,
    path: &str,
    data: &Value,
    version: Option<&str>,
) -> Result<Rendered, ScimError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let kind = segs
        .first()
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    let id = segs.get(1).copied();
    if segs.len() > 2 || (kind != "users" && kind != "groups") {
        return Err(ScimError::bad(
            "invalidPath",
            format!("'{path}' is not /Users[/id] or /Groups[/id]"),
        ));
    }
    let users_ = kind == "users";
    match (method, id) {
        ("POST", None) if users_ => users::create(st, p, data).await,
        ("POST", None) => groups::create(st, p, data).await,
        ("PUT", Some(id)) if users_ => users::replace(st, p, id, data, version).await,
        ("PUT", Some(id)) => groups::replace(st, p, id, data, version, false).await,
        ("PATCH", Some(id)) if users_ => users::patch(st, p, id, data, version).await,
        ("PATCH", Some(id)) => groups::patch(st, p, id, data, version, false).await,
        ("DELETE", Some(id)) if users_ => users::delete(st, p, id, version).await,
        ("DELETE", Some(id)) => groups::delete(st, p, id, version).await,
        _ => Err(ScimError::bad(
            "invalidSyntax",
            format!("{method} {path} is not a bulk operation this server runs"),
        )),
    }
}

pub async fn run(st: &ScimState, p: &ScimPrincipal, body: &Value) -> Result<Value, ScimError> {
    let Some(o) = body.as_object() else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        ));
    };
    let is_bulk = get(o, "schemas")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .any(|s| s.as_str().map(|s| s.eq_ignore_ascii_case(BULK_REQUEST_URN)) == Some(true))
        })
        .unwrap_or(false);
    if !is_bulk {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must contain {BULK_REQUEST_URN}"),
        ));
    }
    let fail_on = match get(o, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
            ScimError::bad("invalidValue", "failOnErrors must be a positive integer")
        })?),
    };
    let ops = get(o, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "Operations must be an array"))?;
    if ops.len() > MAX_BULK_OPERATIONS {
        let mut e = ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("tooMany"),
            format!("at most {MAX_BULK_OPERATIONS} operations per bulk request"),
        );
        e.retry_after = None;
        return Err(e);
    }
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results = Vec::new();
    let mut errors = 0u64;
    for op in ops {
        if fail_on.map(|n| errors >= n).unwrap_or(false) {
            break;
        }
        let Some(op) = op.as_object() else {
            return Err(ScimError::bad(
                "invalidSyntax",
                "each operation must be an object",
            ));
        };
        let method = get(op, "method")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_uppercase();
        let bulk_id = get(op, "bulkId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let version = get(op, "version")
            .and_then(Value::as_str)
            .map(str::to_string);
        let raw_path = get(op, "path")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut data = get(op, "data").cloned().unwrap_or(Value::Null);
        let outcome = match (resolve_path(&raw_path, &ids), resolve(&mut data, &ids)) {
            (Err(r), _) | (_, Err(r)) => Err(ScimError::new(
                StatusCode::CONFLICT,
                Some("invalidValue"),
                format!("bulkId '{r}' does not name a resource created earlier in this request"),
            )),
            (Ok(path), Ok(())) => dispatch(st, p, &method, &path, &data, version.as_deref()).await,
        };
        let mut entry = json!({"method": method});
        if let Some(b) = &bulk_id {
            entry["bulkId"] = json!(b);
        }
        match outcome {
            Ok(r) => {
                let location = r.location.clone().or_else(|| {
                    (method != "DELETE")
                        .then(|| format!("{}/{}", st.base(&p.slug), raw_path.trim_matches('/')))
                });
                if let (Some(b), Some(id)) =
                    (&bulk_id, r.body.as_ref().and_then(|b| b["id"].as_str()))
                {
                    if method == "POST" {
                        ids.insert(b.clone(), id.to_string());
                    }
                }
                if let Some(l) = location {
                    entry["location"] = json!(l);
                }
                if let Some(v) = r.version {
                    entry["version"] = json!(super::render::etag(v));
                }
                entry["status"] = json!(r.status.as_u16().to_string());
            }
            Err(e) => {
                errors += 1;
                entry["status"] = json!(e.status.as_u16().to_string());
                entry["response"] = e.body();
            }
        }
        results.push(entry);
    }
    Ok(json!({"schemas": [BULK_RESPONSE_URN], "Operations": results}))
}

pub async fn handler(
    st: web::Data<ScimState>,
    p: ScimPrincipal,
    body: web::Payload,
) -> Result<HttpResponse, ScimError> {
    let body = read_json(body).await?;
    let out = run(&st, &p, &body).await?;
    Ok(HttpResponse::Ok()
        .content_type(super::error::SCIM_JSON)
        .body(out.to_string()))
}

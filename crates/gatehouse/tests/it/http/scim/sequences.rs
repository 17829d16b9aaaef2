//! Recorded request sequences shaped like Entra ID's and Okta's provisioning (see
//! `tests/sequences/*.json`, each naming its sources) replayed against the SCIM endpoints,
//! with the end state each expects. Every quirk of the PATCH list has a step.
use super::common;

use std::collections::HashMap;

use common::*;
use serde_json::Value;

/// Subset match: objects by their expected keys, arrays by length and element-wise subset
/// match in any order; "$absent" and "$any" as documented in the fixtures.
fn matches(expected: &Value, actual: Option<&Value>, at: &str) -> Result<(), String> {
    match expected {
        Value::String(s) if s == "$absent" => match actual {
            None => Ok(()),
            Some(a) => Err(format!("{at}: expected absent, got {a}")),
        },
        Value::String(s) if s == "$any" => actual.map(|_| ()).ok_or(format!("{at}: missing")),
        Value::Object(eo) => {
            let Some(Value::Object(ao)) = actual else {
                return Err(format!("{at}: expected an object, got {actual:?}"));
            };
            for (k, ev) in eo {
                matches(ev, ao.get(k), &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        Value::Array(ea) => {
            let Some(Value::Array(aa)) = actual else {
                return Err(format!("{at}: expected an array, got {actual:?}"));
            };
            if ea.len() != aa.len() {
                return Err(format!(
                    "{at}: expected {} elements, got {}: {}",
                    ea.len(),
                    aa.len(),
                    Value::Array(aa.clone())
                ));
            }
            let mut used = vec![false; aa.len()];
            for (i, e) in ea.iter().enumerate() {
                let hit = aa
                    .iter()
                    .enumerate()
                    .find(|(j, a)| !used[*j] && matches(e, Some(a), "").is_ok())
                    .map(|(j, _)| j);
                match hit {
                    Some(j) => used[j] = true,
                    None => {
                        return Err(format!(
                            "{at}[{i}]: no element matches {e} in {}",
                            Value::Array(aa.clone())
                        ))
                    }
                }
            }
            Ok(())
        }
        other => match actual {
            Some(a) if a == other => Ok(()),
            _ => Err(format!("{at}: expected {other}, got {actual:?}")),
        },
    }
}

fn substitute(v: &Value, vars: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => {
            let mut out = s.clone();
            for (k, val) in vars {
                out = out.replace(&format!("${{{k}}}"), val);
            }
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, vars)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

async fn replay(file: &str) {
    let text = std::fs::read_to_string(format!(
        "{}/tests/sequences/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let seq: Value = serde_json::from_str(&text).expect("fixture JSON");
    let fx = fixture().await;
    let app = app(&fx).await;
    let mut vars: HashMap<String, String> = HashMap::new();
    for (i, step) in seq["steps"].as_array().expect("steps").iter().enumerate() {
        let step = substitute(step, &vars);
        let note = step["note"].as_str().unwrap_or_default();
        let method = step["method"].as_str().expect("method");
        let path = step["path"].as_str().expect("path");
        let body = step.get("body").cloned();
        let r = call(&app, &fx, method, path, body).await;
        let want = &step["expect"]["status"];
        let ok = match want {
            Value::Array(list) => list
                .iter()
                .any(|s| s.as_u64() == Some(r.status.as_u16() as u64)),
            s => s.as_u64() == Some(r.status.as_u16() as u64),
        };
        assert!(
            ok,
            "{file} step {} ({note}): {method} {path}: status {} (want {want}): {}",
            i + 1,
            r.status,
            r.json
        );
        if let Some(j) = step["expect"].get("json") {
            if let Err(e) = matches(j, Some(&r.json), "$") {
                panic!(
                    "{file} step {} ({note}): {method} {path}: {e}\nbody: {}",
                    i + 1,
                    r.json
                );
            }
        }
        if let Some(Value::Object(cap)) = step.get("capture") {
            for (name, field) in cap {
                let v = r.json[field.as_str().expect("field")]
                    .as_str()
                    .expect("captured field")
                    .to_string();
                vars.insert(name.clone(), v);
            }
        }
    }
}

#[actix_web::test]
async fn entra_user_lifecycle() {
    replay("entra_user_lifecycle.json").await;
}

#[actix_web::test]
async fn entra_group_push() {
    replay("entra_group_push.json").await;
}

#[actix_web::test]
async fn entra_quirks() {
    replay("entra_quirks.json").await;
}

#[actix_web::test]
async fn okta_user_lifecycle() {
    replay("okta_user_lifecycle.json").await;
}

#[actix_web::test]
async fn okta_group_push() {
    replay("okta_group_push.json").await;
}

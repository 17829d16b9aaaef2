//! From a client's JSON to the directory's records, and the checks on the way (RFC 7643 §2-4).
//!
//! A POST or PUT body is normalised by the PATCH engine: it is applied as one path-less `add`
//! to an empty resource, so creation and replacement accept exactly what PATCH accepts (case-
//! insensitive names, booleans and numbers sent as strings, extension objects under their URN)
//! and refuse the same (unknown attributes, wrong types). Read-only attributes in the body
//! (`id`, `meta`, a user's `groups`) are ignored (RFC 7644 §3.5.1). `password` is never stored:
//! Gatehouse authenticates through the IdP only.
use std::collections::HashMap;

use authz_core::directory::{Email, GroupFields, UserFields};
use serde_json::{json, Map, Value};

use crate::http::error::ScimError;
use crate::patch::{apply, PatchRequest, PatchSchema, ENTERPRISE_USER_URN, GROUP_URN, USER_URN};

/// Schemas Entra ID puts in a group's `schemas` beside the core one; tolerated and dropped.
const TOLERATED_SCHEMAS: &[&str] =
    &["http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"];

fn check_schemas(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ScimError> {
    let Some(s) = body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v)
    else {
        return Ok(());
    };
    let Some(list) = s.as_array() else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "schemas must be an array of schema URNs",
        ));
    };
    for v in list {
        let Some(u) = v.as_str() else {
            return Err(ScimError::bad(
                "invalidSyntax",
                "schemas must be an array of schema URNs",
            ));
        };
        let known = allowed
            .iter()
            .chain(TOLERATED_SCHEMAS)
            .any(|a| a.eq_ignore_ascii_case(u));
        if !known {
            return Err(ScimError::bad(
                "invalidValue",
                format!(
                    "unknown schema '{u}'; this resource type accepts {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Applies `body` (minus read-only and separately handled keys) to an empty resource.
fn normalise(
    body: &Value,
    allowed: &[&str],
    drop: &[&str],
    schema: &PatchSchema,
) -> Result<Value, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        ));
    };
    check_schemas(obj, allowed)?;
    let mut rest = Map::new();
    for (k, v) in obj {
        if drop.iter().any(|d| d.eq_ignore_ascii_case(k)) {
            continue;
        }
        rest.insert(k.clone(), v.clone());
    }
    let req = PatchRequest::from_json(&json!({
        "schemas": [crate::patch::PATCH_OP_URN],
        "Operations": [{"op": "add", "value": Value::Object(rest)}],
    }))?;
    let mut out = json!({});
    apply(&mut out, &req, schema)?;
    if let Some(o) = out.as_object_mut() {
        o.remove("schemas");
    }
    Ok(out)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// The user a POST or PUT body describes.
pub fn user_from_body(body: &Value) -> Result<UserFields, ScimError> {
    let resource = normalise(
        body,
        &[USER_URN, ENTERPRISE_USER_URN],
        &["schemas", "id", "meta", "groups"],
        &PatchSchema::user(),
    )?;
    user_fields(resource)
}

/// The fields of a normalised user representation (after POST/PUT normalisation or a PATCH).
pub fn user_fields(mut resource: Value) -> Result<UserFields, ScimError> {
    if let Some(o) = resource.as_object_mut() {
        o.remove("password");
        o.remove("id");
        o.remove("meta");
        o.remove("groups");
        o.remove("schemas");
        // An emptied extension object is no extension at all.
        if o.get(ENTERPRISE_USER_URN)
            .map(|e| e.as_object().map(Map::is_empty).unwrap_or(false))
            == Some(true)
        {
            o.remove(ENTERPRISE_USER_URN);
        }
    }
    let user_name = str_at(&resource, &["userName"])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ScimError::bad("invalidValue", "userName is required and must not be empty")
        })?
        .to_string();
    if user_name.len() > 256 {
        return Err(ScimError::bad(
            "invalidValue",
            "userName is longer than 256 characters",
        ));
    }
    let active = match resource.get("active") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ScimError::bad("invalidValue", "active must be a boolean")),
    };
    let ent = |k: &str| str_at(&resource, &[ENTERPRISE_USER_URN, k]).map(str::to_string);
    let emails = resource
        .get("emails")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    Some(Email {
                        value: e.get("value")?.as_str()?.to_string(),
                        kind: e.get("type").and_then(Value::as_str).map(str::to_string),
                        primary: e.get("primary").and_then(Value::as_bool).unwrap_or(false),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(UserFields {
        external_id: str_at(&resource, &["externalId"]).map(str::to_string),
        display_name: str_at(&resource, &["displayName"]).map(str::to_string),
        given_name: str_at(&resource, &["name", "givenName"]).map(str::to_string),
        family_name: str_at(&resource, &["name", "familyName"]).map(str::to_string),
        title: str_at(&resource, &["title"]).map(str::to_string),
        user_type: str_at(&resource, &["userType"]).map(str::to_string),
        employee_number: ent("employeeNumber"),
        department: ent("department"),
        user_name,
        active,
        emails,
        resource,
    })
}

/// Members named in a `members` value: ids, and display names where sent. Nested groups are
/// refused (members are users).
pub fn members_of(v: Option<&Value>) -> Result<(Vec<String>, HashMap<String, String>), ScimError> {
    let mut ids = Vec::new();
    let mut display = HashMap::new();
    let Some(v) = v else {
        return Ok((ids, display));
    };
    if v.is_null() {
        return Ok((ids, display));
    }
    let Some(list) = v.as_array() else {
        return Err(ScimError::bad("invalidValue", "members must be an array"));
    };
    if list.len() > crate::patch::MAX_VALUES_PER_OPERATION {
        return Err(ScimError::bad("tooMany", "too many members in one request"));
    }
    for m in list {
        let id = m
            .get("value")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ScimError::bad("invalidValue", "each member needs a value (the user's id)")
            })?;
        if m.get("type")
            .and_then(Value::as_str)
            .map(|t| t.eq_ignore_ascii_case("Group"))
            == Some(true)
        {
            return Err(ScimError::bad(
                "invalidValue",
                "nested groups are not supported: members are users",
            ));
        }
        if let Some(d) = m.get("display").and_then(Value::as_str) {
            display.insert(id.to_string(), d.to_string());
        }
        ids.push(id.to_string());
    }
    Ok((ids, display))
}

/// What a group body holds: its fields, its members' ids, and their display names where sent
/// (by member id).
pub type GroupBody = (GroupFields, Vec<String>, HashMap<String, String>);

/// The group a POST or PUT body describes, and its members.
pub fn group_from_body(body: &Value) -> Result<GroupBody, ScimError> {
    let members_raw = body.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("members"))
            .map(|(_, v)| v.clone())
    });
    let resource = normalise(
        body,
        &[GROUP_URN],
        &["schemas", "id", "meta", "members"],
        &PatchSchema::group(),
    )?;
    let (ids, display) = members_of(members_raw.as_ref())?;
    Ok((group_fields(resource)?, ids, display))
}

pub fn group_fields(mut resource: Value) -> Result<GroupFields, ScimError> {
    if let Some(o) = resource.as_object_mut() {
        for k in ["id", "meta", "members", "schemas"] {
            o.remove(k);
        }
    }
    let display_name = str_at(&resource, &["displayName"])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ScimError::bad(
                "invalidValue",
                "displayName is required and must not be empty",
            )
        })?
        .to_string();
    Ok(GroupFields {
        external_id: str_at(&resource, &["externalId"]).map(str::to_string),
        display_name,
        resource,
    })
}

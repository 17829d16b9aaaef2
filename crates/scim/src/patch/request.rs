//! The PATCH request body (RFC 7644 §3.5.2) and its paths, parsed before anything is applied,
//! so a malformed operation late in the list fails the request without side effects.
use serde_json::{Map, Value};

use super::{PatchError, MAX_OPERATIONS, MAX_VALUES_PER_OPERATION};
use crate::filter::{parse_attr_path, parse_filter, AttrPath, Filter};

/// The message schema every PATCH body must declare.
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// An operation's kind; parsed case-insensitively (Entra ID sends `Add`, `Replace`, `Remove`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

impl OpKind {
    pub fn keyword(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Replace => "replace",
            OpKind::Remove => "remove",
        }
    }
}

/// A PATCH `path`: `attrPath` or `valuePath ["." subAttr]` (RFC 7644 §3.5.2, Figure 1).
///
/// `attr.sub` is the sub-attribute named after the attribute (`name.givenName`) or after the
/// value filter (`emails[type eq "work"].value`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
}

impl PatchPath {
    /// Parses a path. Errors are `invalidPath`.
    pub fn parse(input: &str) -> Result<PatchPath, PatchError> {
        let input = input.trim();
        let bad = |m: String| PatchError::InvalidPath(format!("invalid path '{input}': {m}"));
        let Some(open) = input.find('[') else {
            let attr = parse_attr_path(input).map_err(|e| bad(e.detail().to_string()))?;
            return Ok(PatchPath { attr, filter: None });
        };
        let close = closing_bracket(input, open)
            .ok_or_else(|| bad(format!("the '[' at {open} is not closed")))?;
        let mut attr = parse_attr_path(&input[..open]).map_err(|e| bad(e.detail().to_string()))?;
        if attr.sub.is_some() {
            return Err(bad(
                "a value filter applies to an attribute, not a sub-attribute".into(),
            ));
        }
        let filter =
            parse_filter(&input[open + 1..close]).map_err(|e| bad(e.detail().to_string()))?;
        let rest = &input[close + 1..];
        if !rest.is_empty() {
            let Some(sub) = rest.strip_prefix('.') else {
                return Err(bad(format!(
                    "expected '.subAttribute' or the end after ']', found '{rest}'"
                )));
            };
            let sub_path = parse_attr_path(sub).map_err(|e| bad(e.detail().to_string()))?;
            if sub_path.schema.is_some() || sub_path.sub.is_some() {
                return Err(bad(format!("'{sub}' is not a sub-attribute name")));
            }
            attr.sub = Some(sub_path.attr);
        }
        Ok(PatchPath {
            attr,
            filter: Some(filter),
        })
    }
}

/// The `]` matching the `[` at `open`, skipping quoted strings.
fn closing_bracket(input: &str, open: usize) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in input[open + 1..].char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ']' {
            return Some(open + 1 + i);
        }
    }
    None
}

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: OpKind,
    /// The path as sent, for messages.
    pub raw_path: Option<String>,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// A parsed PATCH request body.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<Operation>,
}

impl PatchRequest {
    /// Parses a request body. Invalid JSON is `invalidSyntax`.
    pub fn from_slice(body: &[u8]) -> Result<PatchRequest, PatchError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            PatchError::InvalidSyntax(format!("the request body is not valid JSON: {e}"))
        })?;
        PatchRequest::from_json(&value)
    }

    /// Parses a request body already read as JSON.
    ///
    /// Tolerated beyond RFC 7644: member names of the body and of each operation in any case
    /// (`Operations`/`operations`, `op`/`Op`), `op` in any case, and an empty `path` meaning
    /// none.
    pub fn from_json(body: &Value) -> Result<PatchRequest, PatchError> {
        let syntax = |m: &str| PatchError::InvalidSyntax(m.to_string());
        let Value::Object(body) = body else {
            return Err(syntax("the request body must be a JSON object"));
        };
        let schemas = get_ci(body, "schemas").ok_or_else(|| {
            syntax(&format!(
                "'schemas' is missing; it must contain '{PATCH_OP_URN}'"
            ))
        })?;
        let declared = match schemas {
            Value::Array(items) => items.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_URN))
            }),
            Value::String(s) => s.eq_ignore_ascii_case(PATCH_OP_URN),
            _ => false,
        };
        if !declared {
            return Err(syntax(&format!("'schemas' must contain '{PATCH_OP_URN}'")));
        }
        let Some(ops) = get_ci(body, "Operations") else {
            return Err(syntax("'Operations' is missing"));
        };
        let Value::Array(ops) = ops else {
            return Err(syntax("'Operations' must be an array"));
        };
        if ops.is_empty() {
            return Err(syntax("'Operations' is empty"));
        }
        if ops.len() > MAX_OPERATIONS {
            return Err(PatchError::InvalidValue(format!(
                "the request has {} operations; at most {MAX_OPERATIONS} are accepted",
                ops.len()
            )));
        }
        let operations = ops
            .iter()
            .enumerate()
            .map(|(i, op)| parse_operation(op).map_err(|e| e.in_operation(i)))
            .collect::<Result<_, _>>()?;
        Ok(PatchRequest { operations })
    }
}

fn parse_operation(op: &Value) -> Result<Operation, PatchError> {
    let syntax = |m: String| PatchError::InvalidSyntax(m);
    let Value::Object(op) = op else {
        return Err(syntax("an operation must be a JSON object".into()));
    };
    let kind = match get_ci(op, "op") {
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "add" => OpKind::Add,
            "replace" => OpKind::Replace,
            "remove" => OpKind::Remove,
            _ => {
                return Err(syntax(format!(
                    "unknown op '{s}' (expected add, replace or remove)"
                )))
            }
        },
        Some(_) => return Err(syntax("'op' must be a string".into())),
        None => return Err(syntax("'op' is missing".into())),
    };
    let raw_path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(PatchError::InvalidPath("'path' must be a string".into())),
    };
    let path = raw_path.as_deref().map(PatchPath::parse).transpose()?;
    let value = get_ci(op, "value").cloned();
    if let Some(Value::Array(items)) = &value {
        if items.len() > MAX_VALUES_PER_OPERATION {
            return Err(PatchError::InvalidValue(format!(
                "the operation has {} values; at most {MAX_VALUES_PER_OPERATION} are accepted",
                items.len()
            )));
        }
    }
    Ok(Operation {
        op: kind,
        raw_path,
        path,
        value,
    })
}

/// A member of `map` by case-insensitive name; an exact match wins.
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

//! Value filters of PATCH paths (`emails[type eq "work"]`), evaluated against the values of one
//! multi-valued attribute in memory. This is the only in-memory filter evaluation: it sees one
//! attribute's values of one resource, never a table. Paths inside the filter name
//! sub-attributes; for a multi-valued attribute of simple values, `value` is the value itself.
use serde_json::{Map, Value as Json};

use super::request::get_ci;
use super::schema::{Attr, AttrType};
use super::PatchError;
use crate::filter::{fold_case, AttrPath, CompareOp, Filter, Value};

/// Checks that every path of `filter` names a sub-attribute of `attr`, so a wrong filter is
/// refused even when the attribute has no values to evaluate it on.
pub(crate) fn check(filter: &Filter, attr: &Attr) -> Result<(), PatchError> {
    match filter {
        Filter::Compare { path, .. } | Filter::Present(path) => sub_of(path, attr).map(|_| ()),
        Filter::And(a, b) | Filter::Or(a, b) => {
            check(a, attr)?;
            check(b, attr)
        }
        Filter::Not(a) => check(a, attr),
        Filter::ValuePath { path, .. } => Err(PatchError::InvalidPath(format!(
            "value filters cannot be nested ('{path}[…]' inside '{}[…]')",
            attr.name
        ))),
    }
}

/// The sub-attribute a filter path names; `None` is the value itself (simple multi-valued).
fn sub_of<'a>(path: &AttrPath, attr: &'a Attr) -> Result<Option<&'a Attr>, PatchError> {
    let unknown = || {
        PatchError::InvalidPath(format!(
            "'{path}' in the value filter is not a sub-attribute of '{}'",
            attr.name
        ))
    };
    if path.schema.is_some() || path.sub.is_some() {
        return Err(unknown());
    }
    if attr.ty != AttrType::Complex {
        return if path.attr.eq_ignore_ascii_case("value") {
            Ok(None)
        } else {
            Err(unknown())
        };
    }
    attr.find_sub(&path.attr).map(Some).ok_or_else(unknown)
}

/// Whether the value `elem` of `attr` satisfies `filter` (checked by [`check`] first).
pub(crate) fn matches(filter: &Filter, elem: &Json, attr: &Attr) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, elem, attr) && matches(b, elem, attr),
        Filter::Or(a, b) => matches(a, elem, attr) || matches(b, elem, attr),
        Filter::Not(a) => !matches(a, elem, attr),
        Filter::Present(path) => match field(path, elem, attr) {
            Some((Json::String(s), _)) => !s.is_empty(),
            Some((Json::Array(a), _)) => !a.is_empty(),
            Some((Json::Null, _)) | None => false,
            Some(_) => true,
        },
        Filter::Compare { path, op, value } => match field(path, elem, attr) {
            None | Some((Json::Null, _)) => {
                matches!(
                    (op, value),
                    (CompareOp::Eq, Value::Null) | (CompareOp::Ne, _)
                )
            }
            Some((actual, case_exact)) => compare(actual, *op, value, case_exact),
        },
        Filter::ValuePath { .. } => false,
    }
}

fn field<'a>(path: &AttrPath, elem: &'a Json, attr: &Attr) -> Option<(&'a Json, bool)> {
    match sub_of(path, attr).ok()? {
        None => Some((elem, attr.case_exact)),
        Some(sub) => match elem {
            Json::Object(map) => get_ci(map, &sub.name).map(|v| (v, sub.case_exact)),
            _ => None,
        },
    }
}

fn compare(actual: &Json, op: CompareOp, expected: &Value, case_exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (actual, expected) {
        (_, Value::Null) => return op == CompareOp::Ne,
        (Json::String(a), Value::Str(e)) => {
            let (a, e) = if case_exact {
                (a.clone(), e.clone())
            } else {
                (fold_case(a), fold_case(e))
            };
            match op {
                CompareOp::Co => return a.contains(&e),
                CompareOp::Sw => return a.starts_with(&e),
                CompareOp::Ew => return a.ends_with(&e),
                _ => Some(a.cmp(&e)),
            }
        }
        // Booleans on either side may arrive as strings ("True").
        (Json::Bool(a), Value::Str(e)) => parse_bool(e).map(|e| a.cmp(&e)),
        (Json::String(a), Value::Bool(e)) => parse_bool(a).map(|a| a.cmp(e)),
        (Json::Bool(a), Value::Bool(e)) => Some(a.cmp(e)),
        (Json::Number(a), Value::Num(e)) => a.as_f64().and_then(|a| a.partial_cmp(e)),
        _ => None,
    };
    let Some(ordering) = ordering else {
        return op == CompareOp::Ne;
    };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The ids a filter selects when it is `value eq "id"` or an `or` of those (Entra ID's member
/// removal), so they can be reported without the members being loaded.
pub(crate) fn value_eq_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Value::Str(id),
        } if path.schema.is_none()
            && path.sub.is_none()
            && path.attr.eq_ignore_ascii_case("value") =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = value_eq_ids(a)?;
            ids.extend(value_eq_ids(b)?);
            Some(ids)
        }
        _ => None,
    }
}

/// The value a filter of `eq` comparisons joined by `and` describes (`type eq "work"` gives
/// `{"type": "work"}`), for creating the value a value path did not find. `None` when the
/// filter is anything else, or the attribute is not complex.
pub(crate) fn entry_from_filter(filter: &Filter, attr: &Attr) -> Option<Map<String, Json>> {
    if attr.ty != AttrType::Complex {
        return None;
    }
    let mut entry = Map::new();
    fill(filter, attr, &mut entry).then_some(entry)
}

fn fill(filter: &Filter, attr: &Attr, entry: &mut Map<String, Json>) -> bool {
    match filter {
        Filter::And(a, b) => fill(a, attr, entry) && fill(b, attr, entry),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => {
            let Ok(Some(sub)) = sub_of(path, attr) else {
                return false;
            };
            let v = match (value, sub.ty) {
                (Value::Str(s), AttrType::Boolean) => match parse_bool(s) {
                    Some(b) => Json::Bool(b),
                    None => return false,
                },
                (Value::Str(s), _) => Json::String(s.clone()),
                (Value::Bool(b), _) => Json::Bool(*b),
                (Value::Num(n), _) => match serde_json::Number::from_f64(*n) {
                    Some(n) => Json::Number(n),
                    None => return false,
                },
                (Value::Null, _) => return false,
            };
            entry.insert(sub.name.clone(), v);
            true
        }
        _ => false,
    }
}

//! Query parameters of list and search requests (RFC 7644 §3.4.2, §3.4.3), read into the
//! directory's list query. Which attributes can be filtered and sorted on, and where they live,
//! is the core's (`authz_core::directory::filter::{users, groups}`).
use authz_core::directory::{filter, ListQuery};
use sea_orm::sea_query::Condition;
use serde_json::Value;

use super::{ScimError, DEFAULT_COUNT, MAX_RESULTS};
use crate::filter::{parse_filter, FilterError};

/// What a list or search request asks for.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub attributes: Option<String>,
    pub excluded: Option<String>,
}

impl ListParams {
    /// From a query string; parameter names match case-insensitively.
    pub fn from_query(q: &str) -> ListParams {
        let mut p = ListParams::default();
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            let v = Some(v.into_owned());
            match k.to_ascii_lowercase().as_str() {
                "filter" => p.filter = v,
                "sortby" => p.sort_by = v,
                "sortorder" => p.sort_order = v,
                "startindex" => p.start_index = v,
                "count" => p.count = v,
                "attributes" => p.attributes = v,
                "excludedattributes" => p.excluded = v,
                _ => {}
            }
        }
        p
    }

    /// From a `/.search` body (RFC 7644 §3.4.3).
    pub fn from_search(body: &Value) -> Result<ListParams, ScimError> {
        let Some(o) = body.as_object() else {
            return Err(ScimError::bad(
                "invalidSyntax",
                "the search body must be a JSON object",
            ));
        };
        let get = |k: &str| -> Option<String> {
            o.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .and_then(|(_, v)| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Array(a) => Some(
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    _ => None,
                })
        };
        Ok(ListParams {
            filter: get("filter"),
            sort_by: get("sortBy"),
            sort_order: get("sortOrder"),
            start_index: get("startIndex"),
            count: get("count"),
            attributes: get("attributes"),
            excluded: get("excludedAttributes"),
        })
    }

    fn number(v: &Option<String>, name: &str) -> Result<Option<i64>, ScimError> {
        match v.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => s
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ScimError::bad("invalidValue", format!("{name} must be an integer"))),
        }
    }

    /// The storage query, with the filter translated to SQL over the users' or groups' schema.
    pub fn to_query(&self, users: bool) -> Result<ListQuery, ScimError> {
        let schema = if users {
            filter::users()
        } else {
            filter::groups()
        };
        let condition = match self
            .filter
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            Some(f) => schema
                .to_condition(&parse_filter(f)?)
                .map_err(FilterError::from)?,
            None => Condition::all(),
        };
        // RFC 7644 §3.4.2.4: startIndex below 1 is 1; a negative count is 0.
        let start_index = Self::number(&self.start_index, "startIndex")?
            .unwrap_or(1)
            .max(1) as u64;
        let count = Self::number(&self.count, "count")?
            .map(|c| c.max(0) as u64)
            .unwrap_or(DEFAULT_COUNT)
            .min(MAX_RESULTS);
        let asc = match self
            .sort_order
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("ascending") => true,
            Some("descending") => false,
            Some(other) => {
                return Err(ScimError::bad(
                    "invalidValue",
                    format!("sortOrder must be ascending or descending, not '{other}'"),
                ))
            }
        };
        let sort = match self
            .sort_by
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(p) => Some((
                schema
                    .sort_column(p)
                    .ok_or_else(|| ScimError::bad("invalidPath", format!("cannot sort by '{p}'")))?
                    .to_string(),
                asc,
            )),
        };
        Ok(ListQuery {
            condition,
            sort,
            start_index,
            count,
        })
    }
}

/// A ListResponse (RFC 7644 §3.4.2).
pub fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

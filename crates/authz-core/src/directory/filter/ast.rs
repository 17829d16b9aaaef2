//! The protocol-neutral filter AST (STYLE §5). SCIM filters parse into it (the `scim` crate
//! owns that grammar), the console's and admin API's searches build it directly, and one
//! function ([`Schema::to_condition`](super::Schema::to_condition)) turns it into SQL.
//! Nothing here knows SCIM's wire syntax or any table.
use std::fmt;

/// An attribute path: `[schema ":"] attr ["." sub]` (RFC 7644 §3.4.2.2, `attrPath`).
///
/// Names keep the client's spelling; matching against a schema is case-insensitive
/// (RFC 7643 §2.1), which is the translator's job, not the parser's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// Schema URN prefix, e.g. `urn:ietf:params:scim:schemas:core:2.0:User`.
    pub schema: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path without schema URN or sub-attribute.
    pub fn new(attr: impl Into<String>) -> Self {
        AttrPath {
            schema: None,
            attr: attr.into(),
            sub: None,
        }
    }

    /// A path `attr.sub` without schema URN.
    pub fn with_sub(attr: impl Into<String>, sub: impl Into<String>) -> Self {
        AttrPath {
            schema: None,
            attr: attr.into(),
            sub: Some(sub.into()),
        }
    }

    /// A path as a [`Schema`](super::Schema) declares it: `[urn ":"] attr ["." sub]`. The URN
    /// may itself contain dots (`…:2.0:User`), so the attribute starts after the last colon —
    /// the split SCIM's grammar makes (RFC 7644 §3.10).
    ///
    /// # Panics
    /// If `path` is not of that shape: declarations are written by us, not by clients.
    pub fn declared(path: &str) -> Self {
        let (schema, rest) = match path.rfind(':') {
            Some(i) => (Some(path[..i].to_string()), &path[i + 1..]),
            None => (None, path),
        };
        let mut parts = rest.split('.');
        let attr = parts.next().unwrap_or_default();
        let sub = parts.next();
        let name_ok = |n: &str| {
            n.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        assert!(
            parts.next().is_none()
                && name_ok(attr)
                && sub.is_none_or(name_ok)
                && schema
                    .as_deref()
                    .is_none_or(|s| !s.is_empty() && !s.ends_with(':')),
            "not a declarable attribute path: {path}"
        );
        AttrPath {
            schema,
            attr: attr.to_string(),
            sub: sub.map(str::to_string),
        }
    }

    /// The same path qualified by a schema URN.
    pub fn in_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// The comparison operators of RFC 7644 §3.4.2.2 Table 3, except `pr` (see [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// Parses an operator keyword, case-insensitively (`Eq`, `EQ` and `eq` are one operator).
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }

    pub fn keyword(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// A comparison value (`compValue`): JSON `false / null / true / number / string`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

impl Value {
    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Num(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Null => "null",
        }
    }
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    /// `attrPath pr`: the attribute has a non-empty value.
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attrPath "[" valFilter "]"`: some value of a multi-valued (or the value of a complex)
    /// attribute satisfies `filter` as a whole. The paths inside `filter` name sub-attributes.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

impl Filter {
    pub fn compare(path: AttrPath, op: CompareOp, value: Value) -> Filter {
        Filter::Compare { path, op, value }
    }

    pub fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    pub fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    pub fn value_path(path: AttrPath, filter: Filter) -> Filter {
        Filter::ValuePath {
            path,
            filter: Box::new(filter),
        }
    }
}

//! Translation of a [`Filter`] into a sea-query [`Condition`] over an allow-listed [`Schema`].
//!
//! Only attributes the schema names can be filtered on; anything else is
//! [`FilterError::UnknownAttribute`] (SCIM answers `invalidFilter`, RFC 7644 §3.4.2.2), so a
//! filter can never reach a column (a password hash, a tenant id) that was not meant for it.
//! Values are always bound parameters; `co`/`sw`/`ew` escape the user's `%`, `_` and `\`.
//!
//! Semantics chosen where RFC 7644 §3.4.2.2 leaves room, the same on SQLite and PostgreSQL:
//! - Case-insensitive strings (RFC 7643 §2.1, `caseExact: false`) are compared through a
//!   lowercase shadow column: the value is folded with [`fold`], which the writer of the
//!   shadow column also uses (SQLite's `lower()` folds ASCII only, PostgreSQL's follows the
//!   locale, so the database never folds).
//! - Case-exact `co`/`sw`/`ew` add a `replace`/`substr` check to `LIKE`, because SQLite's `LIKE`
//!   ignores ASCII case while PostgreSQL's does not.
//! - `ne` also matches an absent value: `col IS NULL OR col <> v` ("not equal" is true of a
//!   user without a title).
//! - `not (f)` holds exactly when `f` does not: `NOT COALESCE(f, FALSE)`, so comparisons with
//!   a NULL column (unknown in SQL) count as false before negation.
//! - `pr` is `IS NOT NULL`, and for strings also `<> ''` (RFC 7643 §2.5: empty is unassigned).
//! - `eq null` is `not (pr)`, `ne null` is `pr`; other operators refuse `null`.
//! - On a multi-valued attribute (`emails`), a comparison holds when some value satisfies it: an
//!   `EXISTS` on the sub-table. `emails co "x"` compares the default sub-attribute (`value`).
//! - `gt`/`ge`/`lt`/`le` on strings compare code points only if the PostgreSQL column uses the
//!   `"C"` collation; the migrations must create shadow columns that way.
use sea_orm::sea_query::{
    Alias, Condition, Expr, Func, LikeExpr, Query, SimpleExpr, Value as SqlValue,
};

use super::ast::{AttrPath, CompareOp, Filter, Value};
use super::FilterError;
use crate::directory::fold;

/// Deepest alternation of and/or/not/value-path accepted when translating. The parser bounds
/// depth already; this protects against ASTs built elsewhere (admin search).
const MAX_TRANSLATE_DEPTH: usize = 64;

/// How a column is compared (RFC 7643 §2.3 data types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// A `caseExact: false` string; the column is the lowercase shadow column.
    CiString,
    /// A case-insensitive string without a shadow column: the database's `lower()` folds the
    /// column when the query runs (ASCII only on SQLite), the value is folded with [`fold`].
    /// Only for tables that have no shadow column (an SSO identity's `name`).
    LoweredString,
    /// A `caseExact: true` string.
    ExactString,
    Boolean,
    /// An xsd:dateTime stored as integer microseconds since the Unix epoch (UTC).
    DateTime,
    Integer,
}

/// A column a SCIM attribute maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
}

impl Column {
    /// A case-insensitive string, filtered through its lowercase shadow column `shadow`.
    pub fn ci_string(shadow: &str) -> Column {
        Column::of(shadow, ColumnType::CiString)
    }
    /// A case-insensitive string compared as `lower(name)` (see [`ColumnType::LoweredString`]).
    pub fn lowered_string(name: &str) -> Column {
        Column::of(name, ColumnType::LoweredString)
    }
    pub fn exact_string(name: &str) -> Column {
        Column::of(name, ColumnType::ExactString)
    }
    pub fn boolean(name: &str) -> Column {
        Column::of(name, ColumnType::Boolean)
    }
    /// A dateTime stored as integer microseconds since the epoch.
    pub fn datetime(micros: &str) -> Column {
        Column::of(micros, ColumnType::DateTime)
    }
    pub fn integer(name: &str) -> Column {
        Column::of(name, ColumnType::Integer)
    }
    fn is_string(&self) -> bool {
        matches!(
            self.ty,
            ColumnType::CiString | ColumnType::LoweredString | ColumnType::ExactString
        )
    }
    fn of(name: &str, ty: ColumnType) -> Column {
        Column {
            name: name.to_string(),
            ty,
        }
    }
}

/// A multi-valued attribute stored in its own table, one row per value, joined to the resource
/// by `fk_column = <resource table>.<id column>`.
#[derive(Debug, Clone)]
pub struct MultiValued {
    table: String,
    fk_column: String,
    /// The sub-attribute compared when the filter names only the attribute (`emails co "x"`).
    default_sub: Option<String>,
    attrs: Vec<(String, Column)>,
}

impl MultiValued {
    /// `default_sub` starts as `value`, as for every multi-valued attribute of RFC 7643.
    pub fn new(table: &str, fk_column: &str) -> MultiValued {
        MultiValued {
            table: table.to_string(),
            fk_column: fk_column.to_string(),
            default_sub: Some("value".into()),
            attrs: Vec::new(),
        }
    }

    /// Allows filtering on sub-attribute `name` (matched case-insensitively).
    pub fn attr(mut self, name: &str, column: Column) -> MultiValued {
        self.attrs.push((name.to_ascii_lowercase(), column));
        self
    }

    /// Changes (or with `None` removes) the sub-attribute compared by `emails op value`.
    pub fn default_sub(mut self, name: Option<&str>) -> MultiValued {
        self.default_sub = name.map(str::to_string);
        self
    }

    fn column(&self, sub: &str) -> Option<&Column> {
        let sub = sub.to_ascii_lowercase();
        self.attrs.iter().find(|(n, _)| *n == sub).map(|(_, c)| c)
    }
}

/// The allow-list of one resource type: which attribute paths may be filtered on and where they
/// live. Names and schema URNs match case-insensitively; a path without a URN belongs to the
/// core schema (RFC 7644 §3.10).
#[derive(Debug, Clone)]
pub struct Schema {
    core_urn: String,
    table: String,
    id_column: String,
    /// Each single-valued attribute with the path it was declared as (`sortBy` matches that).
    attrs: Vec<(Key, Column, String)>,
    multi: Vec<(Key, MultiValued)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    urn: String,
    attr: String,
    sub: Option<String>,
}

/// A resolved attribute path.
enum Target<'a> {
    Single(&'a Column),
    /// A multi-valued attribute, and the sub-attribute column named (or defaulted), if any.
    Multi(&'a MultiValued, Option<&'a Column>),
}

/// Where paths are resolved: the resource table, one value of a multi-valued attribute, or the
/// value of a single-valued complex attribute (`name[givenName eq "x"]`).
#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource,
    Multi(&'a MultiValued, &'a AttrPath),
    Complex(&'a AttrPath),
}

impl Schema {
    /// An empty allow-list for resources of `core_urn` stored in `table`, keyed by `id_column`.
    pub fn new(core_urn: &str, table: &str, id_column: &str) -> Schema {
        Schema {
            core_urn: core_urn.to_string(),
            table: table.to_string(),
            id_column: id_column.to_string(),
            attrs: Vec::new(),
            multi: Vec::new(),
        }
    }

    /// Allows filtering on `path` (`userName`, `name.familyName`, or a URN-qualified extension
    /// attribute), compared as `column`.
    ///
    /// # Panics
    /// If `path` is not an attribute path: schemas are written by us, not by clients.
    pub fn attr(mut self, path: &str, column: Column) -> Schema {
        let key = self.key(&AttrPath::declared(path));
        self.attrs.push((key, column, path.to_string()));
        self
    }

    /// Allows filtering on the multi-valued attribute `path` (`emails`), with value paths.
    ///
    /// # Panics
    /// If `path` is not an attribute path or names a sub-attribute.
    pub fn multi_valued(mut self, path: &str, values: MultiValued) -> Schema {
        let path = AttrPath::declared(path);
        assert!(
            path.sub.is_none(),
            "a multi-valued attribute has no sub-attribute"
        );
        let key = self.key(&path);
        self.multi.push((key, values));
        self
    }

    /// Translates `filter` into a condition on this resource's table. The only way to apply a
    /// filter: there is no in-memory evaluation.
    pub fn to_condition(&self, filter: &Filter) -> Result<Condition, FilterError> {
        self.translate(filter, Scope::Resource, 0)
    }

    /// The column `sortBy` names (RFC 7644 §3.4.2.3): a single-valued attribute, as declared,
    /// optionally prefixed by the core schema URN; matched case-insensitively. Multi-valued
    /// attributes do not sort (`emails`, `emails.value`).
    pub fn sort_column(&self, path: &str) -> Option<&str> {
        let core = &self.core_urn;
        let p = path.trim();
        let p = match p.get(..core.len() + 1) {
            Some(prefix) if prefix.eq_ignore_ascii_case(&format!("{core}:")) => {
                &p[core.len() + 1..]
            }
            _ => p,
        };
        if p.eq_ignore_ascii_case("emails") || p.eq_ignore_ascii_case("emails.value") {
            return None;
        }
        self.attrs
            .iter()
            .find(|(_, _, declared)| declared.eq_ignore_ascii_case(p))
            .map(|(_, c, _)| c.name.as_str())
    }

    fn key(&self, path: &AttrPath) -> Key {
        Key {
            urn: path
                .schema
                .as_deref()
                .unwrap_or(&self.core_urn)
                .to_ascii_lowercase(),
            attr: path.attr.to_ascii_lowercase(),
            sub: path.sub.as_ref().map(|s| s.to_ascii_lowercase()),
        }
    }

    fn resolve(&self, path: &AttrPath) -> Result<Target<'_>, FilterError> {
        let key = self.key(path);
        let whole = Key {
            sub: None,
            ..key.clone()
        };
        if let Some((_, mv)) = self.multi.iter().find(|(k, _)| *k == whole) {
            let sub = match path.sub.as_deref().or(mv.default_sub.as_deref()) {
                Some(sub) => Some(mv.column(sub).ok_or_else(|| not_filterable(path))?),
                None => None,
            };
            return Ok(Target::Multi(mv, sub));
        }
        self.attrs
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, c, _)| Target::Single(c))
            .ok_or_else(|| not_filterable(path))
    }

    fn translate(
        &self,
        filter: &Filter,
        scope: Scope<'_>,
        depth: usize,
    ) -> Result<Condition, FilterError> {
        if depth > MAX_TRANSLATE_DEPTH {
            return Err(FilterError::InvalidFilter(format!(
                "the filter nests deeper than {MAX_TRANSLATE_DEPTH} levels"
            )));
        }
        match filter {
            Filter::And(..) | Filter::Or(..) => {
                let is_and = matches!(filter, Filter::And(..));
                let mut cond = if is_and {
                    Condition::all()
                } else {
                    Condition::any()
                };
                for operand in flatten(filter, is_and) {
                    cond = cond.add(self.translate(operand, scope, depth + 1)?);
                }
                Ok(cond)
            }
            Filter::Not(inner) => {
                // SQL's NOT of an unknown (a NULL column) is unknown, which would hide users
                // without a title from `not (title eq "x")`; COALESCE makes "unknown" false.
                let inner: SimpleExpr = self.translate(inner, scope, depth + 1)?.into();
                let known = Func::coalesce([inner, Expr::val(false).into()]);
                Ok(Condition::all().add(Expr::expr(known).not()))
            }
            Filter::Compare {
                path,
                op,
                value: Value::Null,
            } => match op {
                CompareOp::Eq => Ok(self.present(path, scope)?.not()),
                CompareOp::Ne => self.present(path, scope),
                _ => Err(FilterError::InvalidFilter(format!(
                    "'{path} {op} null' compares nothing: only eq and ne accept null"
                ))),
            },
            Filter::Compare { path, op, value } => self.on_target(path, scope, |table, col| {
                compare(table, col, path, *op, value)
            }),
            Filter::Present(path) => self.present(path, scope),
            Filter::ValuePath {
                path,
                filter: inner,
            } => {
                let Scope::Resource = scope else {
                    return Err(FilterError::InvalidFilter(format!(
                        "value paths cannot be nested ('{path}[…]')"
                    )));
                };
                let whole = AttrPath {
                    sub: None,
                    ..path.clone()
                };
                let key = self.key(&whole);
                if let Some((_, mv)) = self.multi.iter().find(|(k, _)| *k == key) {
                    let inner = self.translate(inner, Scope::Multi(mv, path), depth + 1)?;
                    return Ok(Condition::all().add(self.exists(mv, Some(inner))));
                }
                let complex = self
                    .attrs
                    .iter()
                    .any(|(k, _, _)| k.urn == key.urn && k.attr == key.attr && k.sub.is_some());
                if !complex {
                    return Err(not_filterable(path));
                }
                self.translate(inner, Scope::Complex(path), depth + 1)
            }
        }
    }

    /// `pr`: present and, for strings, not empty. On a multi-valued attribute without a
    /// sub-attribute: at least one value exists.
    fn present(&self, path: &AttrPath, scope: Scope<'_>) -> Result<Condition, FilterError> {
        self.on_target(path, scope, |table, col| {
            let c = || column_expr(table, col);
            let mut cond = Condition::all().add(c().is_not_null());
            if col.is_string() {
                cond = cond.add(c().ne(""));
            }
            Ok(cond)
        })
        .or_else(|e| match (scope, self.resolve(path)) {
            (Scope::Resource, Ok(Target::Multi(mv, None))) => {
                Ok(Condition::all().add(self.exists(mv, None)))
            }
            _ => Err(e),
        })
    }

    /// Resolves `path` in `scope` to one column and builds `leaf` on it, wrapping it in an
    /// `EXISTS` when the column lives in a multi-valued attribute's table.
    fn on_target(
        &self,
        path: &AttrPath,
        scope: Scope<'_>,
        leaf: impl Fn(&str, &Column) -> Result<Condition, FilterError>,
    ) -> Result<Condition, FilterError> {
        match scope {
            Scope::Resource => match self.resolve(path)? {
                Target::Single(col) => leaf(&self.table, col),
                Target::Multi(mv, Some(col)) => {
                    let inner = leaf(&mv.table, col)?;
                    Ok(Condition::all().add(self.exists(mv, Some(inner))))
                }
                Target::Multi(_, None) => Err(FilterError::InvalidFilter(format!(
                    "'{path}' has several sub-attributes: name one, as in '{path}.value'"
                ))),
            },
            Scope::Multi(mv, outer) => {
                let col = sub_attr(path)
                    .and_then(|sub| mv.column(sub))
                    .ok_or_else(|| not_in_value_path(path, outer))?;
                leaf(&mv.table, col)
            }
            Scope::Complex(outer) => {
                let sub = sub_attr(path).ok_or_else(|| not_in_value_path(path, outer))?;
                let full = AttrPath {
                    schema: outer.schema.clone(),
                    attr: outer.attr.clone(),
                    sub: Some(sub.to_string()),
                };
                match self.resolve(&full) {
                    Ok(Target::Single(col)) => leaf(&self.table, col),
                    _ => Err(not_in_value_path(path, outer)),
                }
            }
        }
    }

    /// `EXISTS (SELECT 1 FROM values WHERE values.fk = resource.id [AND inner])`.
    fn exists(&self, mv: &MultiValued, inner: Option<Condition>) -> SimpleExpr {
        let mut cond = Condition::all().add(
            Expr::col((Alias::new(&mv.table), Alias::new(&mv.fk_column)))
                .equals((Alias::new(&self.table), Alias::new(&self.id_column))),
        );
        if let Some(inner) = inner {
            cond = cond.add(inner);
        }
        let select = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new(&mv.table))
            .cond_where(cond)
            .to_owned();
        Expr::exists(select)
    }
}

/// Operands of a chain of the same connective, left to right, without recursion: a 4 KiB filter
/// of `a pr and b pr and …` is a few hundred levels deep as an AST but one level as SQL.
fn flatten(filter: &Filter, is_and: bool) -> Vec<&Filter> {
    let mut out = Vec::new();
    let mut stack = vec![filter];
    while let Some(f) = stack.pop() {
        match f {
            Filter::And(a, b) if is_and => {
                stack.push(b);
                stack.push(a);
            }
            Filter::Or(a, b) if !is_and => {
                stack.push(b);
                stack.push(a);
            }
            other => out.push(other),
        }
    }
    out
}

/// The sub-attribute a path inside `outer[…]` names: a bare name such as `type`.
fn sub_attr(path: &AttrPath) -> Option<&str> {
    (path.schema.is_none() && path.sub.is_none()).then_some(path.attr.as_str())
}

fn not_filterable(path: &AttrPath) -> FilterError {
    FilterError::UnknownAttribute(format!(
        "'{path}' is not an attribute that can be filtered on"
    ))
}

fn not_in_value_path(path: &AttrPath, outer: &AttrPath) -> FilterError {
    FilterError::UnknownAttribute(format!(
        "'{path}' is not a sub-attribute of '{outer}' that can be filtered on"
    ))
}

fn wrong_value(path: &AttrPath, col: &Column, op: CompareOp, value: &Value) -> FilterError {
    let expected = match col.ty {
        ColumnType::CiString | ColumnType::LoweredString | ColumnType::ExactString => {
            "a quoted string"
        }
        ColumnType::Boolean => "true or false",
        ColumnType::DateTime => "a quoted dateTime such as \"2011-05-13T04:42:34Z\"",
        ColumnType::Integer => "an integer",
    };
    FilterError::InvalidFilter(format!(
        "'{path} {op}' needs {expected}, not {}",
        value.kind()
    ))
}

fn wrong_operator(path: &AttrPath, col: &Column, op: CompareOp) -> FilterError {
    let (kind, allowed) = match col.ty {
        ColumnType::Boolean => ("a boolean", "eq, ne and pr"),
        ColumnType::DateTime => ("a dateTime", "eq, ne, gt, ge, lt, le and pr"),
        ColumnType::Integer => ("an integer", "eq, ne, gt, ge, lt, le and pr"),
        ColumnType::CiString | ColumnType::LoweredString | ColumnType::ExactString => {
            ("a string", "every operator")
        }
    };
    FilterError::InvalidFilter(format!(
        "'{op}' does not apply to '{path}', which is {kind} (it allows {allowed})"
    ))
}

/// The SQL value a filter value becomes for `col`, or why it cannot.
fn sql_value(
    path: &AttrPath,
    col: &Column,
    op: CompareOp,
    value: &Value,
) -> Result<SqlValue, FilterError> {
    match (col.ty, value) {
        (ColumnType::CiString | ColumnType::LoweredString, Value::Str(s)) => Ok(fold(s).into()),
        (ColumnType::ExactString, Value::Str(s)) => Ok(s.clone().into()),
        (ColumnType::Boolean, Value::Bool(b)) => Ok((*b).into()),
        (ColumnType::DateTime, Value::Str(s)) => parse_datetime_micros(s).map(Into::into).ok_or_else(|| {
            FilterError::InvalidFilter(format!(
                "'{path} {op}' needs an xsd:dateTime such as \"2011-05-13T04:42:34Z\"; {} is not one",
                serde_json::Value::from(s.as_str())
            ))
        }),
        // Exact integers only: 2^53 bounds what an f64 holds without rounding.
        (ColumnType::Integer, Value::Num(n)) if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 => {
            Ok((*n as i64).into())
        }
        _ => Err(wrong_value(path, col, op, value)),
    }
}

/// xsd:dateTime (RFC 7643 §2.3.5) to microseconds since the epoch; without an offset, UTC.
fn parse_datetime_micros(s: &str) -> Option<i64> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_micros());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|dt| dt.and_utc().timestamp_micros())
}

/// The column as compared: itself, or `lower(column)` for a [`ColumnType::LoweredString`].
fn column_expr(table: &str, col: &Column) -> Expr {
    let c = Expr::col((Alias::new(table), Alias::new(&col.name)));
    match col.ty {
        ColumnType::LoweredString => Expr::expr(Func::lower(c)),
        _ => c,
    }
}

/// `\`-escapes the LIKE wildcards and the escape character itself.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn compare(
    table: &str,
    col: &Column,
    path: &AttrPath,
    op: CompareOp,
    value: &Value,
) -> Result<Condition, FilterError> {
    let c = || column_expr(table, col);
    let allowed = match col.ty {
        ColumnType::CiString | ColumnType::LoweredString | ColumnType::ExactString => true,
        ColumnType::Boolean => matches!(op, CompareOp::Eq | CompareOp::Ne),
        ColumnType::DateTime | ColumnType::Integer => {
            !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
        }
    };
    if !allowed {
        return Err(wrong_operator(path, col, op));
    }
    let v = sql_value(path, col, op, value)?;
    let one = |e: SimpleExpr| Ok(Condition::all().add(e));
    match op {
        CompareOp::Eq => one(c().eq(v)),
        CompareOp::Ne => Ok(Condition::any().add(c().is_null()).add(c().ne(v))),
        CompareOp::Gt => one(c().gt(v)),
        CompareOp::Ge => one(c().gte(v)),
        CompareOp::Lt => one(c().lt(v)),
        CompareOp::Le => one(c().lte(v)),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            let SqlValue::String(Some(s)) = v else {
                unreachable!("string operators only reach string columns")
            };
            let escaped = like_escape(&s);
            let pattern = match op {
                CompareOp::Co => format!("%{escaped}%"),
                CompareOp::Sw => format!("{escaped}%"),
                _ => format!("%{escaped}"),
            };
            let mut cond = Condition::all().add(c().like(LikeExpr::new(pattern).escape('\\')));
            if col.ty == ColumnType::ExactString && !s.is_empty() {
                cond = cond.add(case_exact_check(c, op, &s));
            }
            Ok(cond)
        }
    }
}

/// SQLite's LIKE ignores ASCII case; these functions do not, on either database. Applied after
/// the LIKE has matched, so lengths are already sufficient.
fn case_exact_check(c: impl Fn() -> Expr, op: CompareOp, s: &str) -> SimpleExpr {
    let n = s.chars().count() as i64;
    match op {
        CompareOp::Co => Expr::expr(
            Func::cust(Alias::new("replace"))
                .arg(c())
                .arg(s.to_string())
                .arg(""),
        )
        .ne(c()),
        CompareOp::Sw => {
            Expr::expr(Func::cust(Alias::new("substr")).arg(c()).arg(1).arg(n)).eq(s.to_string())
        }
        _ => Expr::expr(
            Func::cust(Alias::new("substr"))
                .arg(c())
                .arg(Expr::expr(Func::cust(Alias::new("length")).arg(c())).sub(n - 1)),
        )
        .eq(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_escape_escapes_wildcards_and_the_escape() {
        assert_eq!(like_escape(r"50%_off\"), r"50\%\_off\\");
        assert_eq!(like_escape("plain"), "plain");
    }

    #[test]
    fn datetimes_become_utc_microseconds() {
        assert_eq!(
            parse_datetime_micros("1970-01-01T00:00:01Z"),
            Some(1_000_000)
        );
        assert_eq!(
            parse_datetime_micros("1970-01-01T01:00:01.5+01:00"),
            Some(1_500_000)
        );
        assert_eq!(
            parse_datetime_micros("1970-01-01T00:00:01"),
            Some(1_000_000)
        );
        assert_eq!(parse_datetime_micros("yesterday"), None);
        assert_eq!(parse_datetime_micros("2011-05-13"), None);
    }

    #[test]
    fn fold_is_unicode_aware() {
        assert_eq!(fold("ÉLODIE"), "élodie");
    }
}

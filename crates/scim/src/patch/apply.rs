//! Applying a parsed [`PatchRequest`] to a resource. See the module documentation of
//! [`crate::patch`] for the semantics chosen.
use std::collections::HashSet;

use serde_json::{Map, Value};

use super::eval;
use super::request::{OpKind, Operation, PatchPath, PatchRequest};
use super::schema::{Attr, AttrType, Mutability, PatchSchema, SchemaAttrs};
use super::PatchError;

/// What a successful PATCH did, besides changing the resource in place.
///
/// The member fields describe the net change of the `members` attribute (for a schema that has
/// one, see [`Attr::members`]) relative to the stored group, as set operations: when
/// `members_replaced` is `Some`, the membership becomes exactly that list and the other two are
/// empty; otherwise add `members_added` and delete `members_removed` (both idempotent: an id
/// may already be, or not be, a member).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchOutcome {
    /// Whether the resource or its membership changed (a caller bumps the version only then).
    pub changed: bool,
    pub members_added: Vec<String>,
    pub members_removed: Vec<String>,
    pub members_replaced: Option<Vec<String>>,
}

/// Applies `req` to `resource` (a JSON object) as one atomic change: on error the resource is
/// left as it was.
pub fn apply(
    resource: &mut Value,
    req: &PatchRequest,
    schema: &PatchSchema,
) -> Result<PatchOutcome, PatchError> {
    let Value::Object(original) = &*resource else {
        return Err(PatchError::InvalidValue(
            "the resource to patch is not a JSON object".into(),
        ));
    };
    let mut root = original.clone();
    let mut engine = Engine {
        schema,
        members: MemberDelta::default(),
    };
    for (i, op) in req.operations.iter().enumerate() {
        engine
            .operation(&mut root, op)
            .map_err(|e| e.in_operation(i))?;
    }
    let members = engine.members;
    let members_changed = members.replaced.is_some()
        || !members.added.live.is_empty()
        || !members.removed.live.is_empty();
    let changed = root != *original || members_changed;
    *resource = Value::Object(root);
    Ok(PatchOutcome {
        changed,
        members_added: members.added.into_vec(),
        members_removed: members.removed.into_vec(),
        members_replaced: members.replaced.map(OrderedSet::into_vec),
    })
}

/// A set that remembers insertion order; removal is O(1) (the order is filtered at the end).
#[derive(Debug, Default)]
struct OrderedSet {
    order: Vec<String>,
    live: HashSet<String>,
}

impl OrderedSet {
    fn insert(&mut self, id: &str) {
        if self.live.insert(id.to_string()) {
            self.order.push(id.to_string());
        }
    }
    fn remove(&mut self, id: &str) {
        self.live.remove(id);
    }
    fn into_vec(mut self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.live.len());
        for id in self.order {
            if self.live.remove(&id) {
                out.push(id);
            }
        }
        out
    }
}

/// The net membership change of the request so far.
#[derive(Debug, Default)]
struct MemberDelta {
    added: OrderedSet,
    removed: OrderedSet,
    replaced: Option<OrderedSet>,
}

impl MemberDelta {
    fn add(&mut self, id: &str) {
        match &mut self.replaced {
            Some(set) => set.insert(id),
            None => {
                self.removed.remove(id);
                self.added.insert(id);
            }
        }
    }
    fn remove(&mut self, id: &str) {
        match &mut self.replaced {
            Some(set) => set.remove(id),
            None => {
                self.added.remove(id);
                self.removed.insert(id);
            }
        }
    }
    fn replace<'a>(&mut self, ids: impl Iterator<Item = &'a str>) {
        self.added = OrderedSet::default();
        self.removed = OrderedSet::default();
        let mut set = OrderedSet::default();
        for id in ids {
            set.insert(id);
        }
        self.replaced = Some(set);
    }
}

struct Engine<'s> {
    schema: &'s PatchSchema,
    members: MemberDelta,
}

/// Where a resolved path points.
struct Resolved<'s> {
    /// `None` for the core schema.
    ext: Option<&'s SchemaAttrs>,
    attr: &'s Attr,
    sub: Option<&'s Attr>,
}

impl<'s> Engine<'s> {
    fn operation(
        &mut self,
        root: &mut Map<String, Value>,
        op: &Operation,
    ) -> Result<(), PatchError> {
        match (&op.path, op.op) {
            (None, OpKind::Remove) => Err(PatchError::NoTarget(
                "'remove' needs a 'path' naming what to remove".into(),
            )),
            (None, kind) => match &op.value {
                Some(Value::Object(obj)) => self.pathless(root, kind, obj, None),
                Some(_) => Err(PatchError::InvalidValue(format!(
                    "'{}' without a 'path' needs an object 'value' of attributes",
                    kind.keyword()
                ))),
                None => Err(PatchError::InvalidValue(format!(
                    "'{}' needs a 'value'",
                    kind.keyword()
                ))),
            },
            (Some(path), kind) => {
                let raw = op.raw_path.as_deref().unwrap_or_default();
                if kind != OpKind::Remove && op.value.is_none() {
                    return Err(PatchError::InvalidValue(format!(
                        "'{}' of '{raw}' needs a 'value'",
                        kind.keyword()
                    )));
                }
                self.at_path(root, kind, path, op.value.as_ref(), raw)
            }
        }
    }

    /// A path-less `add`/`replace`: each key is a path (or an extension URN holding an object).
    fn pathless(
        &mut self,
        root: &mut Map<String, Value>,
        kind: OpKind,
        obj: &Map<String, Value>,
        ext: Option<&'s SchemaAttrs>,
    ) -> Result<(), PatchError> {
        for (key, value) in obj {
            // `schemas` is maintained by the engine, at the top and inside an extension object
            // (scim2-tester sends `{"schemas": [urn], ...}` as an extension's value).
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if ext.is_none() {
                if let Some(e) = self.schema.extension(key) {
                    self.whole_extension(root, kind, e, Some(value))?;
                    continue;
                }
            }
            let mut path = PatchPath::parse(key)?;
            if let (Some(e), None) = (ext, &path.attr.schema) {
                path.attr.schema = Some(e.urn.clone());
            }
            self.at_path(root, kind, &path, Some(value), key)?;
        }
        Ok(())
    }

    /// An operation on an extension as a whole (`path` is the extension URN).
    fn whole_extension(
        &mut self,
        root: &mut Map<String, Value>,
        kind: OpKind,
        ext: &'s SchemaAttrs,
        value: Option<&Value>,
    ) -> Result<(), PatchError> {
        match (kind, value) {
            (OpKind::Remove, _) | (_, Some(Value::Null)) => {
                for attr in &ext.attrs {
                    if let Some(container) = container(root, Some(ext), false) {
                        let before = take(container, &attr.name);
                        check_change(attr, &attr.name, before.as_ref(), None)?;
                    }
                }
                tidy_extension(root, ext);
                Ok(())
            }
            (_, Some(Value::Object(obj))) => self.pathless(root, kind, obj, Some(ext)),
            _ => Err(PatchError::InvalidValue(format!(
                "the value of '{}' must be an object of its attributes",
                ext.urn
            ))),
        }
    }

    fn resolve(&self, path: &PatchPath, raw: &str) -> Result<Resolved<'s>, PatchError> {
        let schema = self.schema;
        let p = &path.attr;
        let scope = schema.scope(p.schema.as_deref()).ok_or_else(|| {
            PatchError::InvalidPath(format!(
                "'{raw}': unknown schema '{}'",
                p.schema.as_deref().unwrap_or_default()
            ))
        })?;
        let attr = scope.find(&p.attr).ok_or_else(|| {
            PatchError::InvalidPath(format!(
                "'{raw}': '{}' is not an attribute of {}",
                p.attr, scope.urn
            ))
        })?;
        let sub = match &p.sub {
            None => None,
            Some(s) => Some(attr.find_sub(s).ok_or_else(|| {
                PatchError::InvalidPath(format!(
                    "'{raw}': '{s}' is not a sub-attribute of '{}'",
                    attr.name
                ))
            })?),
        };
        if let Some(filter) = &path.filter {
            if !attr.multi {
                return Err(PatchError::InvalidPath(format!(
                    "'{raw}': a value filter needs a multi-valued attribute, and '{}' is not",
                    attr.name
                )));
            }
            eval::check(filter, attr)?;
        }
        let ext = (!std::ptr::eq(scope, &schema.core)).then_some(scope);
        Ok(Resolved { ext, attr, sub })
    }

    fn at_path(
        &mut self,
        root: &mut Map<String, Value>,
        kind: OpKind,
        path: &PatchPath,
        value: Option<&Value>,
        raw: &str,
    ) -> Result<(), PatchError> {
        if let (None, None, Some(urn)) = (&path.filter, &path.attr.sub, &path.attr.schema) {
            if let Some(ext) = self.schema.extension(&format!("{urn}:{}", path.attr.attr)) {
                return self.whole_extension(root, kind, ext, value);
            }
        }
        let target = self.resolve(path, raw)?;
        let Some(container) = container(root, target.ext, kind != OpKind::Remove) else {
            return Ok(()); // removing from an extension the resource does not have
        };
        let attr = target.attr;
        match (&path.filter, attr.multi, target.sub) {
            (None, true, None) => self.multi_whole(container, kind, attr, value, raw)?,
            (None, false, None) => single(container, kind, attr, value, raw)?,
            (None, false, Some(sub)) => single_sub(container, kind, attr, sub, value)?,
            (filter, _, sub) => {
                self.filtered(container, kind, attr, filter.as_ref(), sub, value, raw)?
            }
        }
        if let Some(ext) = target.ext {
            tidy_extension(root, ext);
        }
        Ok(())
    }

    /// A multi-valued attribute as a whole: append, replace the list, or remove.
    fn multi_whole(
        &mut self,
        container: &mut Map<String, Value>,
        kind: OpKind,
        attr: &Attr,
        value: Option<&Value>,
        raw: &str,
    ) -> Result<(), PatchError> {
        let before = take(container, &attr.name);
        let kept = keep_for_check(attr, &before);
        let had = before.is_some();
        let existing = match before {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other],
        };
        let after = match kind {
            OpKind::Add => {
                let new = elements(attr, value, raw)?;
                let mut seen: HashSet<String> =
                    existing.iter().map(|v| identity(attr, v)).collect();
                let mut list = existing;
                for v in new {
                    if attr.members {
                        self.members.add(member_id(&v).unwrap_or_default());
                    }
                    if seen.insert(identity(attr, &v)) {
                        list.push(v);
                    }
                }
                list
            }
            OpKind::Replace => {
                let new = elements(attr, value, raw)?;
                let mut seen = HashSet::new();
                let list: Vec<Value> = new
                    .into_iter()
                    .filter(|v| seen.insert(identity(attr, v)))
                    .collect();
                if attr.members {
                    self.members
                        .replace(list.iter().map(|v| member_id(v).unwrap_or_default()));
                }
                list
            }
            OpKind::Remove => match value {
                Some(v) if !v.is_null() => {
                    let listed = elements(attr, Some(v), raw)?;
                    let gone: HashSet<String> = listed.iter().map(|v| identity(attr, v)).collect();
                    if attr.members {
                        for v in &listed {
                            self.members.remove(member_id(v).unwrap_or_default());
                        }
                    }
                    existing
                        .into_iter()
                        .filter(|v| !gone.contains(&identity(attr, v)))
                        .collect()
                }
                _ => {
                    if attr.members {
                        self.members.replace(std::iter::empty());
                    }
                    Vec::new()
                }
            },
        };
        let after = (!after.is_empty()).then_some(Value::Array(after));
        check_change_kept(attr, &attr.name, had, kept.as_ref(), after.as_ref())?;
        if let Some(after) = after {
            container.insert(attr.name.clone(), after);
        }
        Ok(())
    }

    /// Values of a multi-valued attribute selected by a value filter (or all of them, for
    /// `emails.value`), optionally one sub-attribute of each.
    #[allow(clippy::too_many_arguments)]
    fn filtered(
        &mut self,
        container: &mut Map<String, Value>,
        kind: OpKind,
        attr: &Attr,
        filter: Option<&crate::filter::Filter>,
        sub: Option<&Attr>,
        value: Option<&Value>,
        raw: &str,
    ) -> Result<(), PatchError> {
        let before = take(container, &attr.name);
        let kept = keep_for_check(attr, &before);
        let had = before.is_some();
        let mut items = match before {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other],
        };
        let matched: Vec<usize> = (0..items.len())
            .filter(|&i| filter.is_none_or(|f| eval::matches(f, &items[i], attr)))
            .collect();
        match kind {
            OpKind::Remove => match sub {
                Some(sub) => {
                    if attr.members && sub.name == "value" {
                        return Err(members_value_path(raw));
                    }
                    for &i in &matched {
                        if let Value::Object(obj) = &mut items[i] {
                            let b = take(obj, &sub.name);
                            check_change(sub, raw, b.as_ref(), None)?;
                        }
                    }
                    items.retain(|v| !matches!(v, Value::Object(o) if o.is_empty()));
                }
                None => {
                    if attr.members {
                        if let Some(ids) = filter.and_then(eval::value_eq_ids) {
                            for id in &ids {
                                self.members.remove(id);
                            }
                        }
                        for &i in &matched {
                            self.members
                                .remove(member_id(&items[i]).unwrap_or_default());
                        }
                    }
                    let gone: HashSet<usize> = matched.into_iter().collect();
                    let mut i = 0;
                    items.retain(|_| {
                        i += 1;
                        !gone.contains(&(i - 1))
                    });
                }
            },
            OpKind::Add | OpKind::Replace => {
                let value = value.unwrap_or(&Value::Null);
                if attr.members && sub.is_some_and(|s| s.name == "value") {
                    return Err(members_value_path(raw));
                }
                if matched.is_empty() {
                    // Only an `eq`-only filter describes the value to create.
                    let entry = filter.and_then(|f| eval::entry_from_filter(f, attr));
                    let Some(mut entry) = entry else {
                        return Err(PatchError::NoTarget(format!(
                            "'{raw}' selects no value to {}",
                            kind.keyword()
                        )));
                    };
                    match sub {
                        Some(sub) => {
                            let v = coerce(sub, unwrap_single(value), raw)?;
                            if !v.is_null() {
                                entry.insert(sub.name.clone(), v);
                            }
                        }
                        None => {
                            if let Value::Object(fields) = element(attr, value, raw)? {
                                entry.extend(fields);
                            }
                        }
                    }
                    let entry = Value::Object(entry);
                    if attr.members {
                        let id = member_id(&entry).ok_or_else(|| missing_member_value(raw))?;
                        self.members.add(id);
                    }
                    items.push(entry);
                } else {
                    for &i in &matched {
                        let old_id = member_id(&items[i]).map(str::to_string);
                        match sub {
                            Some(sub) => {
                                let v = coerce(sub, unwrap_single(value), raw)?;
                                if let Value::Object(obj) = &mut items[i] {
                                    let b = take(obj, &sub.name);
                                    let a = (!v.is_null()).then_some(v);
                                    check_change(sub, raw, b.as_ref(), a.as_ref())?;
                                    if let Some(a) = a {
                                        obj.insert(sub.name.clone(), a);
                                    }
                                }
                            }
                            None => {
                                let new = element(attr, value, raw)?;
                                match (kind, &mut items[i], new) {
                                    (OpKind::Add, Value::Object(obj), Value::Object(fields)) => {
                                        obj.extend(fields)
                                    }
                                    (_, slot, new) => *slot = new,
                                }
                            }
                        }
                        if attr.members {
                            let new_id = member_id(&items[i])
                                .ok_or_else(|| missing_member_value(raw))?
                                .to_string();
                            if old_id.as_deref() != Some(new_id.as_str()) {
                                if let Some(old) = &old_id {
                                    self.members.remove(old);
                                }
                                self.members.add(&new_id);
                            }
                        }
                    }
                }
            }
        }
        let after = (!items.is_empty()).then_some(Value::Array(items));
        check_change_kept(attr, raw, had, kept.as_ref(), after.as_ref())?;
        if let Some(after) = after {
            container.insert(attr.name.clone(), after);
        }
        Ok(())
    }
}

/// A single-valued attribute as a whole. Complex values merge into the current value.
fn single(
    container: &mut Map<String, Value>,
    kind: OpKind,
    attr: &Attr,
    value: Option<&Value>,
    raw: &str,
) -> Result<(), PatchError> {
    let before = take(container, &attr.name);
    let after = match (kind, value) {
        (OpKind::Remove, _) | (_, None) => None,
        (_, Some(v)) => match (coerce(attr, unwrap_single(v), raw)?, &before) {
            (Value::Null, _) => None,
            (Value::Object(new), Some(Value::Object(cur))) => {
                let mut merged = cur.clone();
                for (k, v) in new {
                    let sub = attr
                        .find_sub(&k)
                        .expect("coerce keeps known sub-attributes");
                    let b = take(&mut merged, &sub.name);
                    let a = (!v.is_null()).then_some(v);
                    check_change(
                        sub,
                        &format!("{}.{}", attr.name, sub.name),
                        b.as_ref(),
                        a.as_ref(),
                    )?;
                    if let Some(a) = a {
                        merged.insert(sub.name.clone(), a);
                    }
                }
                (!merged.is_empty()).then_some(Value::Object(merged))
            }
            (Value::Object(new), _) => {
                let stripped = strip_nulls(new);
                (!stripped.is_empty()).then_some(Value::Object(stripped))
            }
            (new, _) => Some(new),
        },
    };
    check_change(attr, raw, before.as_ref(), after.as_ref())?;
    if let Some(after) = after {
        container.insert(attr.name.clone(), after);
    }
    Ok(())
}

/// One sub-attribute of a single-valued complex attribute (`name.givenName`).
fn single_sub(
    container: &mut Map<String, Value>,
    kind: OpKind,
    attr: &Attr,
    sub: &Attr,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    let label = format!("{}.{}", attr.name, sub.name);
    let before = take(container, &attr.name);
    let kept = keep_for_check(attr, &before);
    let had = before.is_some();
    let mut obj = match before {
        Some(Value::Object(obj)) => obj,
        _ => Map::new(),
    };
    let b = take(&mut obj, &sub.name);
    let a = match (kind, value) {
        (OpKind::Remove, _) | (_, None) => None,
        (_, Some(v)) => Some(coerce(sub, unwrap_single(v), &label)?).filter(|v| !v.is_null()),
    };
    check_change(sub, &label, b.as_ref(), a.as_ref())?;
    if let Some(a) = a {
        obj.insert(sub.name.clone(), a);
    }
    let after = (!obj.is_empty()).then_some(Value::Object(obj));
    check_change_kept(attr, &label, had, kept.as_ref(), after.as_ref())?;
    if let Some(after) = after {
        container.insert(attr.name.clone(), after);
    }
    Ok(())
}

/// The container of an attribute: the resource itself, or the object under an extension URN
/// (created when `create`, which also adds the URN to `schemas`).
fn container<'r>(
    root: &'r mut Map<String, Value>,
    ext: Option<&SchemaAttrs>,
    create: bool,
) -> Option<&'r mut Map<String, Value>> {
    let Some(ext) = ext else {
        return Some(root);
    };
    let present = match take(root, &ext.urn) {
        Some(Value::Object(obj)) => Some(obj),
        _ => None,
    };
    let obj = match present {
        Some(obj) => obj,
        None if create => {
            add_schema_urn(root, &ext.urn);
            Map::new()
        }
        None => return None,
    };
    root.insert(ext.urn.clone(), Value::Object(obj));
    root.get_mut(&ext.urn).and_then(Value::as_object_mut)
}

/// Drops an extension object left empty, and its URN from `schemas`.
fn tidy_extension(root: &mut Map<String, Value>, ext: &SchemaAttrs) {
    let empty = matches!(root.get(&ext.urn), Some(Value::Object(o)) if o.is_empty());
    if empty {
        root.remove(&ext.urn);
        if let Some(Value::Array(schemas)) = root.get_mut("schemas") {
            schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&ext.urn)));
        }
    }
}

fn add_schema_urn(root: &mut Map<String, Value>, urn: &str) {
    if let Some(Value::Array(schemas)) = root.get_mut("schemas") {
        if !schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
        {
            schemas.push(Value::String(urn.to_string()));
        }
    }
}

/// Removes every member of `map` named `name` in any case, returning the value (an exact-case
/// member wins).
fn take(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let exact = map.remove(name);
    let others: Vec<String> = map
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    let mut found = exact;
    for k in others {
        let v = map.remove(&k);
        if found.is_none() {
            found = v;
        }
    }
    found.filter(|v| !v.is_null())
}

/// Whether a change from `before` to `after` respects the attribute's mutability and
/// requiredness. Writing the current value again is never a change.
fn check_change(
    attr: &Attr,
    label: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<(), PatchError> {
    if before == after {
        return Ok(());
    }
    match attr.mutability {
        Mutability::ReadOnly => {
            return Err(PatchError::Mutability(format!(
                "'{label}' is read-only and cannot be changed"
            )))
        }
        Mutability::Immutable if before.is_some() => {
            return Err(PatchError::Mutability(format!(
                "'{label}' is immutable and already has a value"
            )))
        }
        _ => {}
    }
    if attr.required && after.is_none() {
        return Err(PatchError::InvalidValue(format!(
            "'{label}' is required and cannot be removed"
        )));
    }
    Ok(())
}

/// The value before the change, kept only where [`check_change_kept`] needs it (read-only and
/// immutable attributes), so appending to a large list does not copy it.
fn keep_for_check(attr: &Attr, before: &Option<Value>) -> Option<Value> {
    match attr.mutability {
        Mutability::ReadOnly | Mutability::Immutable => before.clone(),
        _ => None,
    }
}

fn check_change_kept(
    attr: &Attr,
    label: &str,
    had: bool,
    kept: Option<&Value>,
    after: Option<&Value>,
) -> Result<(), PatchError> {
    match attr.mutability {
        Mutability::ReadOnly | Mutability::Immutable => check_change(attr, label, kept, after),
        _ if attr.required && had && after.is_none() => Err(PatchError::InvalidValue(format!(
            "'{label}' is required and cannot be removed"
        ))),
        _ => Ok(()),
    }
}

/// A value sent as a one-element array for a single-valued attribute is that element.
fn unwrap_single(v: &Value) -> &Value {
    match v {
        Value::Array(items) if items.len() == 1 => &items[0],
        other => other,
    }
}

/// Coerces and validates `v` as a value of `attr` (ignoring plurality). `null` stays `null`;
/// complex values keep `null` sub-attributes (a merge unassigns them).
fn coerce(attr: &Attr, v: &Value, label: &str) -> Result<Value, PatchError> {
    let wrong = |expected: &str| {
        PatchError::InvalidValue(format!("'{label}' expects {expected}, not {}", describe(v)))
    };
    Ok(match (attr.ty, v) {
        (_, Value::Null) => Value::Null,
        (AttrType::Boolean, Value::Bool(_)) => v.clone(),
        (AttrType::Boolean, Value::String(s)) => {
            Value::Bool(eval::parse_bool(s.trim()).ok_or_else(|| wrong("a boolean"))?)
        }
        (AttrType::Boolean, _) => return Err(wrong("a boolean")),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => v.clone(),
        (AttrType::Integer, Value::String(s)) => {
            Value::from(s.trim().parse::<i64>().map_err(|_| wrong("an integer"))?)
        }
        (AttrType::Integer, _) => return Err(wrong("an integer")),
        (AttrType::Decimal, Value::Number(_)) => v.clone(),
        (AttrType::Decimal, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| wrong("a decimal number"))?,
        (AttrType::Decimal, _) => return Err(wrong("a decimal number")),
        (AttrType::DateTime, Value::String(s)) => {
            chrono::DateTime::parse_from_rfc3339(s).map_err(|_| wrong("an RFC 3339 date-time"))?;
            v.clone()
        }
        (AttrType::DateTime, _) => return Err(wrong("an RFC 3339 date-time")),
        (AttrType::String | AttrType::Binary | AttrType::Reference, Value::String(_)) => v.clone(),
        (AttrType::String | AttrType::Binary | AttrType::Reference, _) => {
            return Err(wrong("a string"))
        }
        (AttrType::Complex, Value::Object(obj)) => {
            let mut out = Map::new();
            for (k, sv) in obj {
                let sub = attr.find_sub(k).ok_or_else(|| {
                    PatchError::InvalidValue(format!(
                        "'{k}' is not a sub-attribute of '{}'",
                        attr.name
                    ))
                })?;
                let sv = coerce(sub, sv, &format!("{}.{}", attr.name, sub.name))?;
                out.insert(sub.name.clone(), sv);
            }
            Value::Object(out)
        }
        // A bare value for a complex attribute with a `value` sub-attribute (Entra ID's
        // `manager`, members as plain ids).
        (AttrType::Complex, Value::String(_) | Value::Number(_) | Value::Bool(_)) => {
            match attr.find_sub("value") {
                Some(value_sub) => {
                    let mut out = Map::new();
                    out.insert(value_sub.name.clone(), coerce(value_sub, v, label)?);
                    Value::Object(out)
                }
                None => return Err(wrong("an object")),
            }
        }
        (AttrType::Complex, _) => return Err(wrong("an object")),
    })
}

/// One value of a multi-valued attribute, coerced, without `null` sub-attributes.
fn element(attr: &Attr, v: &Value, raw: &str) -> Result<Value, PatchError> {
    let v = match coerce(attr, v, raw)? {
        Value::Object(obj) => Value::Object(strip_nulls(obj)),
        other => other,
    };
    if attr.members && member_id(&v).is_none() {
        return Err(missing_member_value(raw));
    }
    Ok(v)
}

/// The values an operation lists: an array, or one value on its own. Empty objects and nulls
/// are skipped.
fn elements(attr: &Attr, value: Option<&Value>, raw: &str) -> Result<Vec<Value>, PatchError> {
    let items: &[Value] = match value {
        None | Some(Value::Null) => &[],
        Some(Value::Array(items)) => items,
        Some(one) => std::slice::from_ref(one),
    };
    if items.len() > super::MAX_VALUES_PER_OPERATION {
        return Err(PatchError::InvalidValue(format!(
            "'{raw}' has {} values; at most {} are accepted",
            items.len(),
            super::MAX_VALUES_PER_OPERATION
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let v = element(attr, item, raw)?;
        if !(v.is_null() || matches!(&v, Value::Object(o) if o.is_empty())) {
            out.push(v);
        }
    }
    Ok(out)
}

fn strip_nulls(obj: Map<String, Value>) -> Map<String, Value> {
    obj.into_iter().filter(|(_, v)| !v.is_null()).collect()
}

fn member_id(v: &Value) -> Option<&str> {
    match v {
        Value::Object(obj) => obj.get("value").and_then(Value::as_str),
        _ => None,
    }
}

fn missing_member_value(raw: &str) -> PatchError {
    PatchError::InvalidValue(format!(
        "'{raw}': every member needs a string 'value' (its id)"
    ))
}

fn members_value_path(raw: &str) -> PatchError {
    PatchError::InvalidPath(format!(
        "'{raw}': a member's 'value' is its id; add or remove the member instead"
    ))
}

/// When two values of `attr` are the same value: by `value` for members, else as a whole.
fn identity(attr: &Attr, v: &Value) -> String {
    if attr.identified_by_value {
        if let Some(id) = member_id(v) {
            return format!("v:{id}");
        }
    }
    let mut out = String::from("j:");
    canonical(v, &mut out);
    out
}

/// A serialization with object keys sorted, so equal values serialize equally.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(obj) => {
            let mut keys: Vec<&String> = obj.keys().collect();
            keys.sort();
            out.push('{');
            for k in keys {
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&obj[k], out);
                out.push(',');
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for item in items {
                canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

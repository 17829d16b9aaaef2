//! The pages every kind of object shares in the console (issue 16 §2): a detail page (the
//! same view the admin API and the CLI's `--json` show, as a table, with an edit form and a
//! link to remove), a list page, and the removal that asks first. A removal's `GET …/remove`
//! and a `POST` without `confirm=yes` both run the use case as a preview (`dry_run`) and show
//! what it would revoke; only the confirmed `POST` removes.
use actix_web::HttpResponse;
use minijinja::{context, Value};
use serde::Serialize;

use super::form::Form;
use super::Console;

/// A view's fields as (key, value) rows, in the view's order; lists are joined by spaces.
pub fn fields(view: &impl Serialize) -> Vec<Value> {
    let v = serde_json::to_value(view).unwrap_or_default();
    let mut out = Vec::new();
    for (k, v) in v.as_object().into_iter().flatten() {
        let value = match v {
            serde_json::Value::Null => "—".to_string(),
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string()))
                .collect::<Vec<_>>()
                .join(" "),
            other => other.to_string(),
        };
        out.push(context! { key => k.replace('_', " "), value => value });
    }
    out
}

/// One input of an edit or create form.
pub fn input(name: &str, label: &str, kind: &str, value: &str) -> Value {
    context! { name => name, label => label, type => kind, value => value, required => kind != "hidden" }
}

/// A form: its heading, where it posts (below the tenant), its inputs and its button.
pub fn form(c: &Console, title: &str, action: &str, inputs: Vec<Value>, button: &str) -> Value {
    let action = format!("/admin/t/{}{action}", c.slug());
    context! { title => title, action => action, inputs => inputs, button => button }
}

/// A detail page (`back`, `remove`: paths below the tenant).
pub struct Detail<'a> {
    pub nav: &'a str,
    pub title: String,
    pub back: (&'a str, &'a str),
    pub edit: Option<Value>,
    pub remove: Option<String>,
}

pub fn detail(c: &Console, d: Detail<'_>, view: &impl Serialize) -> HttpResponse {
    let slug = c.slug();
    c.render(
        "console/object.html",
        d.nav,
        context! {
            title => d.title,
            fields => fields(view),
            edit => d.edit,
            remove => d.remove.map(|r| format!("/admin/t/{slug}{r}")),
            back => format!("/admin/t/{slug}{}", d.back.0),
            back_label => d.back.1,
        },
    )
}

/// One row of a list page: its cells (the first links to `link`, below the tenant) and its
/// removal page.
pub fn row(c: &Console, cells: Vec<String>, link: &str, remove: Option<String>) -> Value {
    let slug = c.slug();
    context! {
        cells => cells,
        link => format!("/admin/t/{slug}{link}"),
        remove => remove.map(|r| format!("/admin/t/{slug}{r}")),
    }
}

/// A list page.
pub struct List<'a> {
    pub nav: &'a str,
    pub title: &'a str,
    pub intro: &'a str,
    pub columns: &'a [&'a str],
    pub empty: &'a str,
    pub create: Option<Value>,
}

pub fn list(c: &Console, l: List<'_>, rows: Vec<Value>) -> HttpResponse {
    c.render(
        "console/objects.html",
        l.nav,
        context! {
            title => l.title, intro => l.intro, columns => l.columns, rows => rows,
            empty => l.empty, create => l.create,
        },
    )
}

/// Did the person confirm the removal on its confirmation page?
pub fn confirmed(f: &Form) -> bool {
    f.get("confirm") == Some("yes")
}

/// What a removal's confirmation page says: the kind, the object's name, the path (below the
/// tenant) the confirmed form posts to, and where Cancel and success go.
pub struct Ask<'a> {
    pub nav: &'a str,
    pub what: &'a str,
    pub name: String,
    pub action: String,
    pub back: &'a str,
}

/// The answer of a removal: unconfirmed, the confirmation page with what the preview counted;
/// confirmed, back to the list.
pub fn removal<V>(
    c: &Console,
    r: &app::manage::Removed<V>,
    dry_run: bool,
    ask: Ask<'_>,
) -> HttpResponse {
    if dry_run {
        let Ask {
            nav,
            what,
            name,
            action,
            back,
        } = ask;
        return super::confirm_removal(c, nav, what, &name, &r.revoked, &action, back);
    }
    let kind = ask.what.replace(' ', "+");
    super::see_other(c.slug(), &format!("{}?removed={kind}", ask.back))
}

/// A yes/no form field sent as `yes` (a hidden input or a checkbox).
pub fn confirmed_field(f: &Form, name: &str) -> bool {
    matches!(f.get(name), Some("yes" | "on" | "true" | "1"))
}

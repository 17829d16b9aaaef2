//! The admin API reference at `/admin/api/v1/docs`: HTML rendered on the server from the same
//! OpenAPI document as `/admin/api/v1/openapi.json` (ADR 0020). No script, no CDN: the page is
//! built from the embedded template and the document alone, so it works on an offline node and
//! under the console's Content-Security-Policy, and it can never disagree with the router.
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{get, HttpResponse};
use serde::Serialize;
use serde_json::Value;
use utoipa::OpenApi;

use crate::ApiDoc;

const TEMPLATE: &str = include_str!("../../../web/templates/api_reference.html");

/// No script at all, styles from this origin only.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// The order operations of one path are listed in.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[derive(Serialize)]
struct Page {
    title: String,
    description: String,
    version: String,
    base: String,
    security_schemes: Vec<Row>,
    operations: Vec<Operation>,
    schemas: Vec<Schema>,
}

#[derive(Serialize)]
struct Operation {
    anchor: String,
    method: String,
    path: String,
    /// The path under the base, for the side list.
    short_path: String,
    summary: String,
    description: String,
    tags: Vec<String>,
    parameters: Vec<Row>,
    request_body: Vec<Row>,
    responses: Vec<Row>,
    /// Security scheme names; empty: public.
    security: Vec<String>,
}

/// One table row: a name, a type (a schema name or a JSON type), whether it is required, a
/// description.
#[derive(Serialize)]
struct Row {
    name: String,
    kind: String,
    /// The component schema `kind` names, if any (linked to its section).
    schema: Option<String>,
    required: bool,
    description: String,
}

#[derive(Serialize)]
struct Schema {
    name: String,
    description: String,
    properties: Vec<Row>,
}

/// The reference page (public, like the document it renders).
#[get("/docs")]
pub async fn api_reference() -> HttpResponse {
    static HTML: OnceLock<Result<String, String>> = OnceLock::new();
    match HTML.get_or_init(render) {
        Ok(html) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
            .body(html.clone()),
        Err(e) => {
            tracing::error!(code = "ADMIN0900", error = %e, "admin API reference rendering failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body("The API reference could not be displayed; /admin/api/v1/openapi.json has the document.")
        }
    }
}

/// The page, from [`ApiDoc`]'s JSON form (what clients see, modifiers applied).
fn render() -> Result<String, String> {
    let doc: Value = serde_json::from_str(&ApiDoc::openapi().to_json().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let mut env = minijinja::Environment::new();
    env.add_template("api_reference.html", TEMPLATE)
        .map_err(|e| e.to_string())?;
    env.get_template("api_reference.html")
        .and_then(|t| t.render(page(&doc)))
        .map_err(|e| e.to_string())
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn page(doc: &Value) -> Page {
    let base = doc["servers"][0]["url"].as_str().unwrap_or(crate::BASE);
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                operations.push(operation(base, path, m, item, op));
            }
        }
    }
    let security_schemes = doc["components"]["securitySchemes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| Row {
            name: name.clone(),
            schema: None,
            kind: [text(&s["type"]), text(&s["scheme"])]
                .join(" ")
                .trim()
                .into(),
            required: false,
            description: text(&s["description"]),
        })
        .collect();
    let schemas = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| Schema {
            name: name.clone(),
            description: text(&s["description"]),
            properties: properties(s),
        })
        .collect();
    Page {
        title: text(&doc["info"]["title"]),
        description: text(&doc["info"]["description"]),
        version: text(&doc["info"]["version"]),
        base: base.to_string(),
        security_schemes,
        operations,
        schemas,
    }
}

fn operation(base: &str, path: &str, method: &str, item: &Value, op: &Value) -> Operation {
    // Path-level parameters apply to every operation of the path (OpenAPI 3.1 §4.8.9).
    let parameters = item["parameters"]
        .as_array()
        .into_iter()
        .chain(op["parameters"].as_array())
        .flatten()
        .map(|p| Row {
            name: format!("{} ({})", text(&p["name"]), text(&p["in"])),
            kind: type_name(&p["schema"]),
            schema: component(&p["schema"]),
            required: p["required"].as_bool().unwrap_or(false),
            description: text(&p["description"]),
        })
        .collect();
    let body = &op["requestBody"];
    let request_body = content_rows(&body["content"], &text(&body["description"]))
        .into_iter()
        .map(|mut r| {
            r.required = body["required"].as_bool().unwrap_or(false);
            r
        })
        .collect();
    let mut responses = Vec::new();
    for (status, r) in op["responses"].as_object().into_iter().flatten() {
        let rows = content_rows(&r["content"], &text(&r["description"]));
        if rows.is_empty() {
            responses.push(Row {
                name: status.clone(),
                kind: String::new(),
                schema: None,
                required: false,
                description: text(&r["description"]),
            });
        }
        responses.extend(rows.into_iter().map(|row| Row {
            name: status.clone(),
            ..row
        }));
    }
    let security = op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|req| req.as_object())
        .flat_map(|req| req.keys().cloned())
        .collect();
    let id = op["operationId"].as_str().unwrap_or(path);
    Operation {
        anchor: format!(
            "op-{}",
            id.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        ),
        method: method.to_ascii_uppercase(),
        path: format!("{}{}", base.trim_end_matches('/'), path),
        short_path: path.to_string(),
        summary: text(&op["summary"]),
        description: text(&op["description"]),
        tags: op["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect(),
        parameters,
        request_body,
        responses,
        security,
    }
}

/// One row per media type of a request or response body: the media type and its schema.
fn content_rows(content: &Value, description: &str) -> Vec<Row> {
    content
        .as_object()
        .into_iter()
        .flatten()
        .map(|(media, c)| Row {
            name: media.clone(),
            kind: type_name(&c["schema"]),
            schema: component(&c["schema"]),
            required: false,
            description: description.to_string(),
        })
        .collect()
}

fn properties(schema: &Value) -> Vec<Row> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, p)| Row {
            name: name.clone(),
            kind: type_name(p),
            schema: component(p),
            required: required.contains(&name.as_str()),
            description: text(&p["description"]),
        })
        .collect()
}

/// The component a schema refers to, directly or as an array's items.
fn component(s: &Value) -> Option<String> {
    match s["$ref"].as_str() {
        Some(r) => r.rsplit('/').next().map(str::to_string),
        None if !s["items"].is_null() => component(&s["items"]),
        None => None,
    }
}

/// A schema in a few words: a component's name, `array of X`, `string | null`, `A or B`.
fn type_name(s: &Value) -> String {
    if let Some(r) = s["$ref"].as_str() {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    for (key, sep) in [("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")] {
        if let Some(v) = s[key].as_array() {
            return v.iter().map(type_name).collect::<Vec<_>>().join(sep);
        }
    }
    let kind = match &s["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts.iter().map(text).collect::<Vec<_>>().join(" | "),
        _ => return String::new(),
    };
    if kind.starts_with("array") && !s["items"].is_null() {
        return format!("{kind} of {}", type_name(&s["items"]));
    }
    match s["format"].as_str() {
        Some(f) => format!("{kind} ({f})"),
        None => kind,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn schema_types_read_as_words() {
        assert_eq!(
            super::type_name(&json!({"$ref": "#/components/schemas/Problem"})),
            "Problem"
        );
        assert_eq!(
            super::type_name(
                &json!({"type": "array", "items": {"$ref": "#/components/schemas/Grant"}})
            ),
            "array of Grant"
        );
        assert_eq!(
            super::type_name(&json!({"type": ["string", "null"]})),
            "string | null"
        );
        assert_eq!(
            super::type_name(&json!({"type": "integer", "format": "int64"})),
            "integer (int64)"
        );
    }

    #[test]
    fn the_page_renders_every_operation() {
        let html = super::render().unwrap();
        assert!(html.contains("GET"), "{html}");
        assert!(!html.contains("<script"), "no script on the page");
    }
}

//! Personal API keys on `/account` (issue 14 §1): the hand-off page an IDE opens
//! (`GET /account/keys/new?resource=<uri>&client=cursor|vscode|claude-code`, a form that
//! creates nothing), the form's POST (the key, shown once, with the exact configuration for
//! Cursor, VS Code and Claude Code and a copy button) and revocation. The use cases are
//! `app::api_keys::mine`; this checks the session cookie and the form's CSRF token, and renders.
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use authz_core::CoreError;
use minijinja::context;
use serde_json::json;

use crate::account::{back_to_account, csrf, csrf_matches, fmt, parse, signed_in};
use crate::pages::PageError;
use crate::state::AppState;

/// The page that shows a new key may run the same-origin copy script (`/static/console.js`).
const CSP_WITH_SCRIPT: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn not_signed_in() -> PageError {
    PageError::new(
        StatusCode::UNAUTHORIZED,
        "You are not signed in",
        "A key is created with your organisation's sign-in, and this browser has none.",
        "Connect any app through your organisation's sign-in (or open your account page from your identity provider), then open this link again.",
    )
}

fn forged() -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "Nothing was changed",
        "The form could not be verified (it may have come from another site or an old tab).",
        "Reload the page and try again.",
    )
}

/// A refusal of the key's rules, as a page the person can act on.
fn refused(e: CoreError) -> PageError {
    match e {
        CoreError::Denied(m) => PageError::new(
            StatusCode::FORBIDDEN,
            "No key was created",
            m,
            "Ask your IT administrator if you think you should be able to create this key.",
        ),
        CoreError::Invalid(m) | CoreError::Conflict(m) => {
            PageError::bad_request("No key was created", m, "Go back and correct the form.")
        }
        CoreError::NotFound(what) => PageError::new(
            StatusCode::NOT_FOUND,
            "No key was created",
            format!("The {what} was not found."),
            "Check the link your IDE or the resource's documentation gave you.",
        ),
        other => PageError::internal(other),
    }
}

#[derive(serde::Deserialize)]
pub struct NewQuery {
    resource: Option<String>,
    client: Option<String>,
}

/// `GET /account/keys/new`: the form, pre-filled for the IDE; nothing is created by a GET.
pub async fn new_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<NewQuery>,
) -> Result<HttpResponse, PageError> {
    let Some((user, cookie)) = signed_in(&state, &req).await? else {
        // Sign in first, then come back to this very form (issue 16 §3).
        let enc = |v: &Option<String>| {
            url::form_urlencoded::byte_serialize(v.as_deref().unwrap_or_default().as_bytes())
                .collect::<String>()
        };
        let back = format!(
            "/account/keys/new?resource={}&client={}",
            enc(&q.resource),
            enc(&q.client)
        );
        return crate::account::sign_in_page(&state, &req, Some(&back));
    };
    let resource = q.resource.as_deref().unwrap_or_default();
    let offer = app::api_keys::mine::offer(&state.store, &user, resource, q.client.as_deref())
        .await
        .map_err(refused)?;
    Ok(state.templates.page(
        StatusCode::OK,
        "account_key_new.html",
        context! {
            resource_uri => offer.resource.uri,
            resource_name => offer.resource.display_name,
            client => offer.client_label,
            scopes => offer.scopes,
            max_days => offer.max_days,
            csrf => csrf(&cookie),
        },
    ))
}

/// `POST /account/keys`: creates the key and shows it once, with the IDE configuration.
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = parse(&body)?;
    let Some((user, cookie)) = signed_in(&state, &req).await? else {
        return Err(not_signed_in());
    };
    if crate::browser::cross_site(&req) || !csrf_matches(&p, &cookie) {
        return Err(forged());
    }
    let scopes = p.all("scope");
    let clock = state.clock.as_ref();
    let created = app::api_keys::mine::create(&state.store, clock, &user, key_form(&p, &scopes))
        .await
        .map_err(refused)?;
    Ok(render_created(&state, created))
}

/// The form's fields; what is missing or malformed is refused by the use case.
fn key_form<'a>(
    p: &'a crate::params::Params,
    scopes: &'a [String],
) -> app::api_keys::mine::KeyForm<'a> {
    app::api_keys::mine::KeyForm {
        resource: p.get("resource").unwrap_or_default(),
        name: p.get("name").unwrap_or_default(),
        client_label: p.get("client").unwrap_or("other"),
        scopes,
        days: p
            .get("days")
            .and_then(|d| d.trim().parse::<i64>().ok())
            .unwrap_or(0),
    }
}

/// The key, shown this once, with the IDE snippets; the page may run the copy script.
fn render_created(state: &AppState, created: authz_core::personal_key::CreatedKey) -> HttpResponse {
    let k = &created.key;
    let snippets = snippets(
        &server_name(&k.resource_name),
        &k.resource_uri,
        &created.secret,
    );
    let mut resp = state.templates.page(
        StatusCode::OK,
        "account_key_created.html",
        context! {
            secret => created.secret,
            id => k.id,
            name => k.name,
            client => k.client_label,
            resource_name => k.resource_name,
            scopes => k.scopes,
            expires => fmt(k.expires_at),
            capped => created.capped,
            snippets => snippets,
        },
    );
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CSP_WITH_SCRIPT),
    );
    resp
}

/// `POST /account/keys/{key_id}/revoke`: the person revokes one of their keys.
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, PageError> {
    let p = parse(&body)?;
    let Some((user, cookie)) = signed_in(&state, &req).await? else {
        return Err(not_signed_in());
    };
    if crate::browser::cross_site(&req) || !csrf_matches(&p, &cookie) {
        return Err(forged());
    }
    let clock = state.clock.as_ref();
    app::api_keys::mine::revoke(&state.store, clock, &user, &path)
        .await
        .map_err(refused)?;
    Ok(back_to_account(&state))
}

/// The MCP server's name in the IDE's configuration: the resource's name, lower case, letters,
/// digits and dashes (what every three clients accept as a key).
fn server_name(display: &str) -> String {
    let mut out = String::new();
    for c in display.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "gatehouse".into()
    } else {
        out
    }
}

/// One IDE's configuration for the key.
#[derive(serde::Serialize)]
struct Snippet {
    id: &'static str,
    title: &'static str,
    file: &'static str,
    text: String,
}

/// The exact configuration for Cursor (`~/.cursor/mcp.json`), VS Code (`.vscode/mcp.json`) and
/// Claude Code (`claude mcp add`), each sending the key as `Authorization: Bearer`.
fn snippets(name: &str, url: &str, key: &str) -> Vec<Snippet> {
    let bearer = format!("Bearer {key}");
    let pretty = |v: serde_json::Value| serde_json::to_string_pretty(&v).unwrap_or_default();
    vec![
        Snippet {
            id: "cursor",
            title: "Cursor",
            file: "~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
            text: pretty(
                json!({"mcpServers": {name: {"url": url, "headers": {"Authorization": bearer}}}}),
            ),
        },
        Snippet {
            id: "vscode",
            title: "VS Code",
            file: ".vscode/mcp.json",
            text: pretty(
                json!({"servers": {name: {"type": "http", "url": url, "headers": {"Authorization": bearer}}}}),
            ),
        },
        Snippet {
            id: "claude-code",
            title: "Claude Code",
            file: "a terminal",
            text: format!(
                "claude mcp add --transport http {name} {url} --header \"Authorization: {bearer}\""
            ),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_are_plain() {
        assert_eq!(server_name("Acme CRM"), "acme-crm");
        assert_eq!(server_name("  --- "), "gatehouse");
        assert_eq!(server_name("Docs (internal)"), "docs-internal");
    }

    #[test]
    fn snippets_carry_the_key_as_a_bearer_header() {
        let s = snippets("acme-crm", "https://mcp.example/mcp", "gatehouse_pat_x");
        let cursor: serde_json::Value = serde_json::from_str(&s[0].text).unwrap();
        assert_eq!(
            cursor["mcpServers"]["acme-crm"]["headers"]["Authorization"],
            "Bearer gatehouse_pat_x"
        );
        let vscode: serde_json::Value = serde_json::from_str(&s[1].text).unwrap();
        assert_eq!(vscode["servers"]["acme-crm"]["type"], "http");
        assert_eq!(
            vscode["servers"]["acme-crm"]["url"],
            "https://mcp.example/mcp"
        );
        assert_eq!(
            s[2].text,
            "claude mcp add --transport http acme-crm https://mcp.example/mcp --header \"Authorization: Bearer gatehouse_pat_x\""
        );
    }
}

//! The SCIM provisioning guides (docs/idp/entra-scim.md, okta-scim.md, google-scim.md) tell an
//! admin what to run and what to paste into the IdP. This keeps them true:
//!
//! - every `gatehouse …` command they quote parses with the real binary, and those without a
//!   `<placeholder>` succeed on a fresh tenant `acme`;
//! - the values to paste (the `text gatehouse-scim <idp>` blocks) are the tenant's SCIM base URL
//!   as the server builds it and a token of the form it issues, and they authenticate;
//! - the SCIM paths and URLs they name are served, the attributes their mapping tables name are
//!   published at `/Schemas`, and every SCIM URN they quote is one the server knows;
//! - the error details, limits, lifetimes and the SCIM–SSO link they describe are the code's.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test as atest;

use authz_core::clock::SystemClock;
use authz_core::connection::{self, NewOidcConnection};
use authz_core::crypto::MasterKey;
use authz_core::directory::{admission, policy, Provisioning};
use authz_core::entities::audit_events;
use authz_core::scope::{Tier, REFRESH_ABSOLUTE_SECS};
use authz_core::session::SESSION_SECS;
use authz_core::user::FederatedIdentity;
use authz_core::{scim_token, tenant, CoreError, Store, TenantId};
use scim::http::error::ERROR_URN;
use scim::http::{
    DEFAULT_COUNT, DEFAULT_RATE_PER_MINUTE, MAX_BULK_OPERATIONS, MAX_PAYLOAD, MAX_RESULTS,
};
use scim::patch::{ENTERPRISE_USER_URN, GROUP_URN, USER_URN};
use scim::ScimState;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

/// The issuer and tenant the guides use in their examples.
const ISSUER: &str = "https://gatehouse.example.com";
const TENANT: &str = "acme";
const SCIM_GUIDES: [&str; 2] = ["entra-scim.md", "okta-scim.md"];
const ALL_GUIDES: [&str; 3] = ["entra-scim.md", "okta-scim.md", "google-scim.md"];

// ---------------------------------------------------------------------------------------------
// Reading the guides

fn guide(name: &str) -> String {
    let path = format!("{}/../../docs/idp/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The guide with every run of whitespace folded to one space, for phrases that a line break
/// may split.
fn flat(name: &str) -> String {
    guide(name).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text outside fenced blocks, and the fenced blocks as (info string, body lines).
fn split_fences(text: &str) -> (String, Vec<(String, Vec<String>)>) {
    let mut prose = String::new();
    let mut blocks = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut current, fence) {
            (None, Some(info)) => current = Some((info.trim().to_string(), Vec::new())),
            (Some(_), Some(_)) => blocks.push(current.take().expect("open block")),
            (Some((_, body)), None) => body.push(line.to_string()),
            (None, None) => {
                prose.push_str(line);
                prose.push('\n');
            }
        }
    }
    assert!(current.is_none(), "unclosed fenced block");
    (prose, blocks)
}

/// Inline code spans of the prose (tables included), with line breaks inside a span folded.
fn code_spans(prose: &str) -> Vec<String> {
    let parts: Vec<&str> = prose.split('`').collect();
    assert!(parts.len() % 2 == 1, "unbalanced backticks");
    parts
        .iter()
        .skip(1)
        .step_by(2)
        .map(|s| s.replace('\n', " "))
        .collect()
}

/// Shell lines of the ```sh blocks, continuation lines joined.
fn shell_lines(blocks: &[(String, Vec<String>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (info, body) in blocks {
        if info != "sh" {
            continue;
        }
        let mut acc = String::new();
        for line in body {
            match line.trim_end().strip_suffix('\\') {
                Some(head) => {
                    acc.push_str(head);
                    acc.push(' ');
                }
                None => {
                    acc.push_str(line);
                    out.push(acc.trim().to_string());
                    acc.clear();
                }
            }
        }
        assert!(acc.is_empty(), "a ```sh block ends with a continuation");
    }
    out
}

/// Every `gatehouse …` command line the guide quotes: in ```sh blocks and in inline code.
fn commands(text: &str) -> Vec<String> {
    let (prose, blocks) = split_fences(text);
    shell_lines(&blocks)
        .into_iter()
        .chain(code_spans(&prose))
        .filter(|l| l.starts_with("gatehouse "))
        .collect()
}

/// A command line split into words as a shell would, except that a `<placeholder>` (which may
/// hold spaces) is one word. Anything beyond plain words is refused: the guides' commands must
/// be copyable as they are.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == c {
                        break;
                    }
                    cur.push(q);
                }
            }
            '<' => {
                in_word = true;
                cur.push('<');
                for p in chars.by_ref() {
                    cur.push(p);
                    if p == '>' {
                        break;
                    }
                }
                assert!(cur.ends_with('>'), "unclosed placeholder in: {line}");
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '|' | ';' | '&' | '$' | '>' | '`' | '\\' => {
                panic!("not a plain command ('{c}'): {line}")
            }
            '#' if !in_word => break,
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

fn has_placeholder(words: &[String]) -> bool {
    words.iter().any(|w| w.contains('<') && w.contains('>'))
}

/// How the guides show a token: what the Entra paste block shows before the `…`.
fn token_prefix() -> String {
    let block = paste_block(&guide("entra-scim.md"), "entra");
    let line = block
        .iter()
        .find_map(|l| l.strip_prefix("Secret Token: "))
        .expect("a Secret Token line");
    line.split('…').next().unwrap().to_string()
}

/// The `text gatehouse-scim <tag>` block: what the admin pastes into the IdP.
fn paste_block(text: &str, tag: &str) -> Vec<String> {
    let (_, blocks) = split_fences(text);
    blocks
        .into_iter()
        .find(|(info, _)| *info == format!("text gatehouse-scim {tag}"))
        .unwrap_or_else(|| panic!("no ```text gatehouse-scim {tag} block"))
        .1
}

// ---------------------------------------------------------------------------------------------
// The real binary

fn fresh_dir(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let d = std::env::temp_dir().join(format!(
        "gh_scim_guides_{label}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn gatehouse<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("GATEHOUSE_MASTER_KEY")
        .env_remove("GATEHOUSE_MASTER_KEY_PREVIOUS")
        .env_remove("GATEHOUSE_DATA_DIR")
        .env_remove("GATEHOUSE_CONFIG")
        .env_remove("GATEHOUSE_AUTO_MIGRATE")
        .env_remove("DATABASE_URL")
        .output()
        .expect("run gatehouse")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// clap exits with 2 on a usage error; `main` exits with 1 when a parsed command fails.
const USAGE_ERROR: i32 = 2;

/// A data dir holding the tenant the guides name.
fn dir_with_tenant(label: &str) -> PathBuf {
    let d = fresh_dir(label);
    let o = gatehouse(
        &d,
        &[
            "tenant",
            "create",
            "--slug",
            TENANT,
            "--name",
            "Acme",
            "--domain",
            "acme.example",
        ],
    );
    assert!(o.status.success(), "tenant create: {}", text(&o.stderr));
    d
}

#[test]
fn the_exit_code_tells_usage_errors_from_failures() {
    let d = dir_with_tenant("exit_codes");
    let o = gatehouse(&d, &["scim-token", "create", "--tenant", TENANT, "--bogus"]);
    assert_eq!(o.status.code(), Some(USAGE_ERROR), "{}", text(&o.stderr));
    let o = gatehouse(
        &d,
        &[
            "tenant",
            "set-provisioning",
            "--tenant",
            TENANT,
            "--policy",
            "x",
        ],
    );
    assert_eq!(o.status.code(), Some(USAGE_ERROR), "{}", text(&o.stderr));
    let o = gatehouse(
        &d,
        &["scim-token", "revoke", "--tenant", TENANT, "--id", "nope"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
}

/// Subcommands (first two words after `gatehouse`) each guide must quote.
fn required(guide: &str) -> &'static [&'static str] {
    match guide {
        "entra-scim.md" | "okta-scim.md" => &[
            "scim-token create",
            "scim-token list",
            "scim-token rotate",
            "scim-token revoke",
            "tenant set-provisioning",
            "connection list",
            "connection set-scim-link",
            "grant add",
            "token revoke",
        ],
        _ => &["tenant set-provisioning", "grant add", "token revoke"],
    }
}

#[test]
fn quoted_commands_parse_with_the_real_cli() {
    for name in ALL_GUIDES {
        let text_ = guide(name);
        let cmds: Vec<Vec<String>> = commands(&text_).iter().map(|c| words(c)).collect();
        for sub in required(name) {
            assert!(
                cmds.iter().any(|w| w[1..].join(" ").starts_with(sub)),
                "{name} quotes no `gatehouse {sub}` command"
            );
        }
        let d = dir_with_tenant(name.trim_end_matches(".md"));
        // The id printed by the last `scim-token create`, for the commands that name
        // `<token_id>`: rotating a real token shows what `rotate` prints.
        let mut token_id: Option<String> = None;
        for w in &cmds {
            if let Some(i) = w.iter().position(|a| a == "--tenant") {
                assert_eq!(
                    w.get(i + 1).map(String::as_str),
                    Some(TENANT),
                    "{name}: `{}` names another tenant than its URLs",
                    w.join(" ")
                );
            }
            let args: Vec<String> = w[1..]
                .iter()
                .map(|a| match (a.as_str(), &token_id) {
                    ("<token_id>", Some(id)) => id.clone(),
                    _ => a.clone(),
                })
                .collect();
            let o = gatehouse(&d, &args);
            let out = text(&o.stdout);
            assert_ne!(
                o.status.code(),
                Some(USAGE_ERROR),
                "{name}: `{}` does not parse:\n{}",
                w.join(" "),
                text(&o.stderr)
            );
            if !has_placeholder(&args) {
                assert!(
                    o.status.success(),
                    "{name}: `{}` must run as written on tenant {TENANT}, but failed:\n{}",
                    w.join(" "),
                    text(&o.stderr)
                );
            }
            let sub = args[..2].join(" ");
            if sub == "scim-token create" || sub == "scim-token rotate" {
                // What the guides say these print: token_id, expires_at and the token, which
                // begins as the paste blocks show it; rotate also the old token's end.
                let value = |key: &str| {
                    out.lines()
                        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
                        .unwrap_or_else(|| panic!("{name}: `{}` prints no {key}", w.join(" ")))
                        .to_string()
                };
                assert!(value("token").starts_with(&token_prefix()));
                value("expires_at");
                if sub == "scim-token rotate" {
                    value("previous_token_until");
                } else {
                    token_id = Some(value("token_id"));
                }
            }
        }
    }
    // Group grants need SCIM groups: the Entra and Okta guides grant to a group.
    for name in SCIM_GUIDES {
        assert!(
            commands(&guide(name))
                .iter()
                .any(|c| c.starts_with("gatehouse grant add") && c.contains(" --group ")),
            "{name} shows no grant to a group"
        );
    }
    // Google provisions nobody over SCIM: its guide must never set the policy to scim.
    let google = commands(&guide("google-scim.md"));
    assert!(google.iter().any(|c| c.contains("--policy jit")));
    assert!(!google.iter().any(|c| c.contains("--policy scim")));
    assert!(!google
        .iter()
        .any(|c| c.contains(" --group ") || c.contains("scim-token")));
}

#[test]
fn quoted_cli_errors_are_the_clis() {
    let d = dir_with_tenant("cli_errors");
    let o = gatehouse(
        &d,
        &[
            "token",
            "revoke",
            "--tenant",
            TENANT,
            "--user",
            "nobody@acme.example",
        ],
    );
    let err = text(&o.stderr);
    let quoted = err
        .trim()
        .trim_start_matches("error: ")
        .replace("nobody@acme.example", "…");
    assert_eq!(
        quoted,
        format!("no user with email '…' in tenant '{TENANT}'")
    );
    assert!(flat("google-scim.md").contains(&format!("`{quoted}`")));
}

// ---------------------------------------------------------------------------------------------
// The SCIM server, on a fresh store

struct Live {
    store: Store,
    state: ScimState,
    acme: TenantId,
    token: String,
    beta_token: String,
}

async fn live(rate_per_minute: i64) -> Live {
    let dir = fresh_dir("live");
    let url = format!("sqlite://{}?mode=rwc", dir.join("gatehouse.db").display());
    Store::migrate(&url).await.expect("migrate");
    let store = Store::connect(&url).await.expect("connect");
    let clock = SystemClock;
    let acme = tenant::create(&store, &clock, TENANT, "Acme", &["acme.example".into()])
        .await
        .expect("tenant acme");
    let beta = tenant::create(&store, &clock, "beta", "Beta", &["beta.example".into()])
        .await
        .expect("tenant beta");
    let (_, token) = scim_token::create(&store, &clock, &acme.id, "guide", 3600)
        .await
        .expect("token");
    let (_, beta_token) = scim_token::create(&store, &clock, &beta.id, "guide", 3600)
        .await
        .expect("token");
    let state = ScimState::new(store.clone(), Arc::new(SystemClock), ISSUER)
        .with_rate_per_minute(rate_per_minute);
    Live {
        store,
        state,
        acme: acme.id,
        token,
        beta_token,
    }
}

/// The path part of a URL under the issuer.
fn path_of(url: &str) -> &str {
    url.strip_prefix(ISSUER).expect("a URL under the issuer")
}

/// Sends one request to a service built from `scim::configure`; (status, headers, JSON body).
macro_rules! call {
    ($app:expr, $req:expr) => {{
        let resp = atest::call_service($app, $req.to_request()).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = atest::read_body(resp).await;
        let json: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or(Value::Null)
        };
        (status, headers, json)
    }};
}

macro_rules! scim_app {
    ($live:expr) => {
        crate::http::world::Node::for_scim($live.state.clone())
            .app()
            .await
    };
}

fn get(path: &str, token: &str) -> atest::TestRequest {
    atest::TestRequest::get()
        .uri(path)
        .insert_header(("Authorization", format!("Bearer {token}")))
}

fn post(path: &str, token: &str, body: Value) -> atest::TestRequest {
    atest::TestRequest::post()
        .uri(path)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "application/scim+json"))
        .set_payload(body.to_string())
}

/// A GET with a filter, percent-encoded as curl's `--data-urlencode` sends it.
fn filtered(path: &str, filter: &str) -> String {
    let q: String = filter
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{path}?filter={q}")
}

#[actix_web::test]
async fn pasted_values_are_what_the_server_answers_to() {
    let lv = live(1_000_000).await;
    let app = scim_app!(lv);
    let base = lv.state.base(TENANT);
    assert_eq!(base, format!("{ISSUER}/scim/v2/{TENANT}"));
    // The token's printed form: a prefix, then the secret.
    let prefix = &lv.token[..=lv.token.find('_').expect("token prefix")];
    let token_line = format!("{prefix}… (the token: line of scim-token create, shown once)");

    assert_eq!(
        paste_block(&guide("entra-scim.md"), "entra"),
        vec![
            format!("Tenant URL: {base}"),
            format!("Secret Token: {token_line}"),
        ]
    );
    assert_eq!(
        paste_block(&guide("okta-scim.md"), "okta"),
        vec![
            format!("SCIM connector base URL: {base}"),
            "Unique identifier field for users: userName".to_string(),
            "Authentication Mode: HTTP Header".to_string(),
            format!("Bearer token: {token_line}"),
        ]
    );
    assert!(
        !guide("google-scim.md").contains("gatehouse-scim"),
        "Google pushes no SCIM: nothing to paste"
    );

    // The token, sent as `Authorization: Bearer …`, works at the base URL; another tenant's
    // does not.
    let spc = format!("{}/ServiceProviderConfig", path_of(&base));
    let (s, _, _) = call!(&app, get(&spc, &lv.token));
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = call!(&app, get(&spc, &lv.beta_token));
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Okta's unique identifier field: userName, unique on the server and filterable with `eq`
    // (Okta's existence check before it creates a user).
    let (s, _, schemas) = call!(&app, get(&format!("{}/Schemas", path_of(&base)), &lv.token));
    assert_eq!(s, StatusCode::OK);
    let user_name = schema_attrs(&schemas, USER_URN)
        .into_iter()
        .find(|a| a["name"] == "userName")
        .expect("userName published");
    assert_eq!(user_name["uniqueness"], "server");
    let users = filtered(
        &format!("{}/Users", path_of(&base)),
        "userName eq \"test.user@okta.local\"",
    );
    let (s, _, list) = call!(&app, get(&users, &lv.token));
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["totalResults"], 0);
}

/// The attributes a published schema lists.
fn schema_attrs(list: &Value, urn: &str) -> Vec<Value> {
    list["Resources"]
        .as_array()
        .expect("a ListResponse of schemas")
        .iter()
        .find(|s| s["id"] == urn)
        .unwrap_or_else(|| panic!("/Schemas does not publish {urn}"))["attributes"]
        .as_array()
        .expect("attributes")
        .clone()
}

#[actix_web::test]
async fn quoted_scim_paths_and_urls_are_served() {
    let lv = live(1_000_000).await;
    let app = scim_app!(lv);
    let base = lv.state.base(TENANT);
    let base_path = path_of(&base).to_string();
    let mut checked = 0;
    for name in SCIM_GUIDES {
        let text_ = guide(name);
        // Absolute URLs: always the tenant's base URL, or below it.
        let mut paths = Vec::new();
        for (i, _) in text_.match_indices(&format!("{ISSUER}/scim")) {
            let url: String = text_[i..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !"`)\"'".contains(*c))
                .collect();
            assert!(
                url.starts_with(&base),
                "{name}: {url} is not under the tenant's SCIM base URL {base}"
            );
            if url.len() > base.len() {
                paths.push(path_of(&url).to_string());
            }
        }
        // Endpoint names in inline code: `/Users`, `/Groups/.search`, `/Me` …
        let (prose, _) = split_fences(&text_);
        for span in code_spans(&prose) {
            let mut cs = span.chars();
            if cs.next() == Some('/') && cs.next().is_some_and(|c| c.is_ascii_uppercase()) {
                let p = span
                    .split('?')
                    .next()
                    .unwrap()
                    .replace("{id}", "00000000-0000-0000-0000-000000000000");
                paths.push(format!("{base_path}{p}"));
            }
        }
        assert!(paths.len() >= 8, "{name} names too few SCIM endpoints");
        for p in paths {
            let (s, _, body) = call!(&app, get(&p, &lv.token));
            assert!(
                !(s == StatusCode::NOT_FOUND && body["detail"] == "no such SCIM endpoint"),
                "{name}: {p} is not a SCIM endpoint"
            );
            if p == format!("{base_path}/Me") {
                assert_eq!(s, StatusCode::NOT_IMPLEMENTED, "{name}: /Me answers 501");
            }
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// One attribute named in a mapping table, resolved against the published schemas: a core or
/// extension attribute, with its sub-attribute if the name has one (`name.givenName`,
/// `emails[type eq "work"].value`). `externalId` and `id` are common attributes (RFC 7643
/// §3.1), which belong to no schema.
fn assert_published(name: &str, attr: &str, user: &[Value], group: &[Value], ext: &[Value]) {
    let find = |list: &[Value], n: &str| list.iter().find(|a| a["name"] == n).cloned();
    if let Some(rest) = attr.strip_prefix(&format!("{ENTERPRISE_USER_URN}:")) {
        assert!(
            find(ext, rest).is_some(),
            "{name}: {attr} is not in the published enterprise extension"
        );
        return;
    }
    let top_end = attr.find(['[', '.']).unwrap_or(attr.len());
    let top = &attr[..top_end];
    if matches!(top, "externalId" | "id") {
        return;
    }
    let def = find(user, top)
        .or_else(|| find(group, top))
        .unwrap_or_else(|| panic!("{name}: `{attr}`: `{top}` is not a published attribute"));
    let sub = match attr.find("].") {
        Some(i) => Some(&attr[i + 2..]),
        None => attr[top_end..].strip_prefix('.'),
    };
    if let Some(sub) = sub {
        let subs = def["subAttributes"].as_array().cloned().unwrap_or_default();
        assert!(
            find(&subs, sub).is_some(),
            "{name}: `{attr}`: `{top}` has no sub-attribute `{sub}`"
        );
    }
}

/// The backticked values of the "SCIM attribute" column of every table in the guide.
fn mapped_attributes(text: &str) -> Vec<String> {
    let (prose, _) = split_fences(text);
    let mut out = Vec::new();
    // None: not in a table; Some(None): in a table without that column.
    let mut column: Option<Option<usize>> = None;
    for line in prose.lines() {
        if !line.starts_with('|') {
            column = None;
            continue;
        }
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
        if cells
            .iter()
            .all(|c| c.trim().chars().all(|ch| ch == '-' || ch == ':'))
        {
            continue;
        }
        match column {
            None => column = Some(cells.iter().position(|c| c.trim() == "SCIM attribute")),
            Some(Some(i)) => {
                let cell = cells.get(i).copied().unwrap_or_default();
                out.extend(code_spans(&format!("{cell}\n")));
            }
            Some(None) => {}
        }
    }
    out
}

#[actix_web::test]
async fn mapped_attributes_and_urns_are_published() {
    let lv = live(1_000_000).await;
    let app = scim_app!(lv);
    let schemas_path = format!("{}/Schemas", path_of(&lv.state.base(TENANT)));
    let (s, _, schemas) = call!(&app, get(&schemas_path, &lv.token));
    assert_eq!(s, StatusCode::OK);
    let user = schema_attrs(&schemas, USER_URN);
    let group = schema_attrs(&schemas, GROUP_URN);
    let ext = schema_attrs(&schemas, ENTERPRISE_USER_URN);
    for name in SCIM_GUIDES {
        let text_ = guide(name);
        let attrs = mapped_attributes(&text_);
        for must in ["externalId", "userName", "active", "displayName", "members"] {
            assert!(
                attrs.iter().any(|a| a == must),
                "{name}: the mapping tables do not name `{must}`"
            );
        }
        for a in &attrs {
            assert_published(name, a, &user, &group, &ext);
        }
        // Every SCIM URN the guide quotes is one the server uses.
        for (i, _) in text_.match_indices("urn:ietf:params:scim:") {
            let urn: String = text_[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || ":.".contains(*c))
                .collect();
            let urn = urn.trim_end_matches(['.', ':']);
            let known = [USER_URN, GROUP_URN, ENTERPRISE_USER_URN, ERROR_URN].contains(&urn)
                || urn.starts_with(&format!("{ENTERPRISE_USER_URN}:"));
            assert!(known, "{name}: unknown SCIM URN {urn}");
        }
        assert!(text_.contains(ENTERPRISE_USER_URN) && text_.contains(ERROR_URN));
    }
}

/// An error body's detail, with the value it names (if any) replaced by `…`, as the guides
/// quote it.
fn detail(error: &Value, value: Option<&str>) -> String {
    let d = error["detail"].as_str().expect("an error detail");
    match value {
        Some(v) => {
            assert!(d.contains(v), "{d} does not name {v}");
            d.replace(v, "…")
        }
        None => d.to_string(),
    }
}

#[actix_web::test]
async fn quoted_error_answers_are_the_servers() {
    let lv = live(1_000_000).await;
    let app = scim_app!(lv);
    let base_path = path_of(&lv.state.base(TENANT)).to_string();
    let mut quoted = Vec::new();

    // 401: a token of another tenant (and the same for an unknown tenant).
    let (s, h, e) = call!(&app, get(&format!("{base_path}/Users"), &lv.beta_token));
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(h.contains_key("www-authenticate"));
    assert_eq!(e["schemas"][0], ERROR_URN);
    let (s2, _, e2) = call!(&app, get("/scim/v2/nosuchtenant/Users", &lv.token));
    assert_eq!((s2, &e2["detail"]), (s, &e["detail"]));
    quoted.push(detail(&e, None));

    // 409: userName is unique per tenant, case-insensitively.
    let users = format!("{base_path}/Users");
    let alice = json!({"schemas": [USER_URN], "userName": "alice@contoso.com", "externalId": "a1"});
    let (s, _, _) = call!(&app, post(&users, &lv.token, alice));
    assert_eq!(s, StatusCode::CREATED);
    let again = json!({"schemas": [USER_URN], "userName": "Alice@Contoso.com", "externalId": "a2"});
    let (s, _, e) = call!(&app, post(&users, &lv.token, again));
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(e["scimType"], "uniqueness");
    quoted.push(detail(&e, Some("Alice@Contoso.com")));
    quoted.push("uniqueness".into());

    // 409: a group's displayName is unique per tenant.
    let groups = format!("{base_path}/Groups");
    let g = json!({"schemas": [GROUP_URN], "displayName": "MCP users"});
    let (s, _, created) = call!(&app, post(&groups, &lv.token, g.clone()));
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, e) = call!(&app, post(&groups, &lv.token, g));
    assert_eq!(s, StatusCode::CONFLICT);
    quoted.push(detail(&e, Some("MCP users")));

    // The group id to grant to: what Gatehouse returned, as the audit record and the
    // displayName filter show it.
    let id = created["id"].as_str().expect("group id").to_string();
    let rec = audit_events::Entity::find()
        .filter(audit_events::Column::TenantId.eq(lv.acme.to_string()))
        .filter(audit_events::Column::Action.eq("scim.group.created"))
        .one(&lv.store.db)
        .await
        .unwrap()
        .expect("a scim.group.created record");
    let details: Value = serde_json::from_str(&rec.details).unwrap();
    assert_eq!(details["scim_group_id"], id.as_str());
    assert_eq!(details["display_name"], "MCP users");
    let lookup = filtered(&groups, "displayName eq \"MCP users\"");
    let (s, _, list) = call!(
        &app,
        get(&format!("{lookup}&excludedAttributes=members"), &lv.token)
    );
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["Resources"][0]["id"], id.as_str());
    quoted.extend(["scim.group.created", "scim_group_id", "display_name"].map(String::from));

    // 400: a group as a member.
    let nested = json!({"schemas": [GROUP_URN], "displayName": "outer",
                        "members": [{"value": id, "type": "Group"}]});
    let (s, _, e) = call!(&app, post(&groups, &lv.token, nested));
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["scimType"], "invalidValue");
    quoted.push(detail(&e, None));
    quoted.push("invalidValue".into());

    for name in SCIM_GUIDES {
        let text_ = flat(name);
        for q in &quoted {
            assert!(
                text_.contains(&format!("`{q}`")),
                "{name} does not quote `{q}`"
            );
        }
    }
}

#[actix_web::test]
async fn quoted_rate_limit_answer_is_the_servers() {
    let lv = live(1).await;
    let app = scim_app!(lv);
    let path = format!("{}/Users", path_of(&lv.state.base(TENANT)));
    // Three requests: at least two fall in one minute window.
    let mut limited = None;
    for _ in 0..3 {
        let (s, h, e) = call!(&app, get(&path, &lv.token));
        if s == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((h, e));
        }
    }
    let (h, e) = limited.expect("a 429 beyond the limit");
    assert!(h.contains_key("retry-after"));
    let detail = e["detail"].as_str().unwrap();
    let at_default = detail.replacen(" 1 ", &format!(" {DEFAULT_RATE_PER_MINUTE} "), 1);
    assert_ne!(detail, at_default, "the detail names the limit: {detail}");
    for name in SCIM_GUIDES {
        assert!(
            flat(name).contains(&format!("`{at_default}`")),
            "{name} does not quote `{at_default}`"
        );
    }
}

#[test]
fn quoted_limits_and_lifetimes_are_the_codes() {
    const MIB: usize = 1024 * 1024;
    assert_eq!(MAX_PAYLOAD % MIB, 0);
    let days = scim_token::MAX_TTL_SECS / 86_400;
    assert_eq!(days * 86_400, scim_token::MAX_TTL_SECS);
    for name in SCIM_GUIDES {
        let text_ = flat(name);
        for phrase in [
            format!("at most {} MiB (413 beyond)", MAX_PAYLOAD / MIB),
            format!("at most {MAX_BULK_OPERATIONS} operations"),
            format!("at most {MAX_RESULTS} resources per page (default {DEFAULT_COUNT})"),
            format!("at most {DEFAULT_RATE_PER_MINUTE} requests per minute per token by default"),
            format!("A token lives at most {days} days"),
            "GATEHOUSE_SCIM_RATE_PER_MINUTE".to_string(),
        ] {
            assert!(text_.contains(&phrase), "{name} does not say \"{phrase}\"");
        }
    }
    // The variable the guides name is the one the server reads.
    assert!(include_str!("../../src/config.rs").contains(
        "\"GATEHOUSE_SCIM_RATE_PER_MINUTE\",\n            scim::http::DEFAULT_RATE_PER_MINUTE"
    ));

    assert_eq!(
        Tier::Sensitive.access_token_secs(),
        Tier::Critical.access_token_secs()
    );
    let google = flat("google-scim.md");
    for phrase in [
        format!(
            "a Gatehouse sign-in session lives {} hours",
            SESSION_SECS / 3600
        ),
        format!(
            "access tokens live {} minutes ({} minutes for sensitive and critical scopes)",
            Tier::Routine.access_token_secs() / 60,
            Tier::Sensitive.access_token_secs() / 60
        ),
        format!(
            "for up to {} days from the original authorization",
            REFRESH_ABSOLUTE_SECS / 86_400
        ),
    ] {
        assert!(
            google.contains(&phrase),
            "google-scim.md does not say \"{phrase}\""
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The SCIM–SSO link the guides describe

fn identity(conn: &connection::Connection, subject: &str) -> FederatedIdentity {
    FederatedIdentity {
        connection_id: conn.id.clone(),
        subject: subject.to_string(),
        email: None,
        name: None,
        auth_time: None,
        acr: None,
        amr: Vec::new(),
        groups: Vec::new(),
        groups_overage: false,
    }
}

#[actix_web::test]
async fn the_link_is_the_object_id_or_the_subject_never_the_email() {
    let lv = live(1_000_000).await;
    let app = scim_app!(lv);
    let clock = SystemClock;
    let key = MasterKey::parse(&MasterKey::generate()).unwrap();
    let users = format!("{}/Users", path_of(&lv.state.base(TENANT)));
    let add = |name: &'static str, preset: &'static str, issuer: &'static str| {
        connection::add_oidc(
            &lv.store,
            &SystemClock,
            &key,
            &lv.acme,
            NewOidcConnection {
                name,
                issuer,
                client_id: "client",
                client_secret: "secret",
                preset,
                settings: json!({}),
            },
        )
    };
    policy::set(&lv.store, &clock, &lv.acme, Provisioning::Scim, "operator")
        .await
        .unwrap();

    // Entra: externalId carries the object id; the connection's key is `tid:oid`. Case does
    // not matter.
    let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let oid = "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF";
    let entra = add("Entra", "entra", "https://login.microsoftonline.com/t/v2.0")
        .await
        .expect("entra connection");
    let body = json!({"schemas": [USER_URN], "userName": "alice@contoso.com", "externalId": oid,
                      "emails": [{"value": "alice@contoso.com", "primary": true}]});
    let (s, _, _) = call!(&app, post(&users, &lv.token, body));
    assert_eq!(s, StatusCode::CREATED);
    let alice = identity(&entra, &format!("{tid}:{}", oid.to_lowercase()));
    admission::admit(&lv.store.db, &clock, &lv.acme, &entra, &alice)
        .await
        .expect("linked by object id");

    // Not provisioned under `scim`: refused, with the message the guides quote.
    let bob = identity(
        &entra,
        &format!("{tid}:11111111-2222-3333-4444-555555555555"),
    );
    let refusal = match admission::admit(&lv.store.db, &clock, &lv.acme, &entra, &bob).await {
        Err(CoreError::Invalid(m)) => m,
        other => panic!("an unprovisioned user must be refused, got {other:?}"),
    };
    for name in ALL_GUIDES {
        assert!(
            flat(name).contains(&refusal),
            "{name} does not quote \"{refusal}\""
        );
    }

    // Linking an Entra connection on userName (the UPN) matches nobody: the key is the oid.
    connection::set_scim_link(&lv.store, &clock, &lv.acme, &entra.id, "userName")
        .await
        .unwrap();
    let entra = connection::get(&lv.store.db, &lv.acme, &entra.id)
        .await
        .unwrap();
    let fresh = identity(&entra, &format!("{tid}:{}", oid.to_lowercase()));
    let link = admission::link_for(&entra, &fresh.subject);
    assert_eq!(
        (link.attr, link.value.as_str()),
        ("userName", oid.to_lowercase().as_str())
    );
    assert!(
        admission::admit(&lv.store.db, &clock, &lv.acme, &entra, &fresh)
            .await
            .is_err()
    );

    // Okta: externalId carries the Okta user id, which is the connection's key (the OIDC
    // `sub`, or the SAML NameID set to the user id).
    let okta = add("Okta", "okta", "https://example.okta.com")
        .await
        .expect("okta connection");
    let body = json!({"schemas": [USER_URN], "userName": "carol@example.com",
                      "externalId": "00uCAROL1234567890h7"});
    let (s, _, _) = call!(&app, post(&users, &lv.token, body));
    assert_eq!(s, StatusCode::CREATED);
    admission::admit(
        &lv.store.db,
        &clock,
        &lv.acme,
        &okta,
        &identity(&okta, "00ucarol1234567890h7"),
    )
    .await
    .expect("linked by the Okta user id");

    // A SAML connection keyed by the Okta username links on userName instead.
    let okta_name = add("Okta by username", "okta", "https://example.okta.com/u")
        .await
        .expect("okta connection");
    connection::set_scim_link(&lv.store, &clock, &lv.acme, &okta_name.id, "userName")
        .await
        .unwrap();
    let okta_name = connection::get(&lv.store.db, &lv.acme, &okta_name.id)
        .await
        .unwrap();
    let body = json!({"schemas": [USER_URN], "userName": "dave@example.com",
                      "externalId": "00uDAVE1234567890h7"});
    let (s, _, _) = call!(&app, post(&users, &lv.token, body));
    assert_eq!(s, StatusCode::CREATED);
    admission::admit(
        &lv.store.db,
        &clock,
        &lv.acme,
        &okta_name,
        &identity(&okta_name, "Dave@Example.com"),
    )
    .await
    .expect("linked by userName");

    // Never by email: an identity whose key is Alice's email is not Alice.
    let by_email = identity(&okta, "alice@contoso.com");
    assert!(
        admission::admit(&lv.store.db, &clock, &lv.acme, &okta, &by_email)
            .await
            .is_err()
    );
}

//! The audit log as the customer's admin reads it (DESIGN §8): search by time range, user,
//! client, action or tool, and result; every field of a record; the filtered result exported as
//! CSV or JSON Lines, streamed page by page from the database (never built in memory); and the
//! chain's verification status (recomputed hashes and signed checkpoints).
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use authz_core::audit::names::Names;
use authz_core::audit::search::Listed as Record;
use authz_core::audit::search::{self, AuditQuery};
use authz_core::{Store, TenantId};
use chrono::{NaiveDate, NaiveDateTime};
use minijinja::context;

use super::{when, Admin, Console, ConsoleError, ConsoleResult};

/// Rows per page on screen, and per database round trip of an export.
const PAGE: u64 = 100;
const EXPORT_BATCH: u64 = 500;

#[derive(serde::Deserialize, Default, Clone)]
pub struct Filter {
    pub from: Option<String>,
    pub to: Option<String>,
    pub user: Option<String>,
    pub client: Option<String>,
    pub action: Option<String>,
    pub result: Option<String>,
    pub tool: Option<String>,
    pub before: Option<i64>,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `2026-11-26`, `2026-11-26T10:30` (a datetime-local field) or RFC 3339, as UTC microseconds.
/// `end_of_day` (an upper bound): a date includes its whole day, a minute its whole minute.
fn instant(v: &str, end_of_day: bool) -> Result<i64, ConsoleError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp_micros());
    }
    for (f, minute) in [
        ("%Y-%m-%dT%H:%M:%S", false),
        ("%Y-%m-%dT%H:%M", true),
        ("%Y-%m-%d %H:%M", true),
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, f) {
            // An upper bound given to the minute includes that minute.
            let extra = if minute && end_of_day { 60_000_000 } else { 0 };
            return Ok(t.and_utc().timestamp_micros() + extra);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let d = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_micros())
            .unwrap_or_default());
    }
    Err(ConsoleError::bad_request(format!(
        "'{v}' is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)."
    )))
}

impl Filter {
    /// The query for this filter; a user given by email is looked up in the tenant.
    async fn query(&self, c: &Console, limit: u64) -> Result<AuditQuery, ConsoleError> {
        let user_id = match nonempty(&self.user) {
            Some(u) if u.contains('@') => Some(
                authz_core::user::find_by_email(&c.st.store.db, &c.tenant.id, &u)
                    .await?
                    .into_iter()
                    .next()
                    .map(|x| x.id)
                    .ok_or_else(|| {
                        ConsoleError::bad_request(format!(
                            "No user of this organisation has the address {u}."
                        ))
                    })?,
            ),
            other => other,
        };
        let result = nonempty(&self.result);
        if let Some(r) = &result {
            if !["success", "failure", "error", "denied"].contains(&r.as_str()) {
                return Err(ConsoleError::bad_request(
                    "The result must be success, failure, error or denied.",
                ));
            }
        }
        Ok(AuditQuery {
            from_us: nonempty(&self.from)
                .map(|v| instant(&v, false))
                .transpose()?,
            to_us: nonempty(&self.to).map(|v| instant(&v, true)).transpose()?,
            user_id,
            client_id: nonempty(&self.client),
            action_prefix: nonempty(&self.action),
            result,
            tool: nonempty(&self.tool),
            before_id: self.before,
            limit,
        })
    }

    /// The filter as a query string (for export links and the next page).
    fn query_string(&self) -> String {
        let pairs: Vec<(&str, String)> = [
            ("from", nonempty(&self.from)),
            ("to", nonempty(&self.to)),
            ("user", nonempty(&self.user)),
            ("client", nonempty(&self.client)),
            ("action", nonempty(&self.action)),
            ("result", nonempty(&self.result)),
            ("tool", nonempty(&self.tool)),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

fn tool(r: &Record) -> Option<String> {
    let d: serde_json::Value = serde_json::from_str(&r.details).ok()?;
    d.get("tool").and_then(|t| t.as_str()).map(str::to_string)
}

/// A row of the list: people and clients by name (ids only in the record's detail view).
fn row(r: &Record, names: &Names) -> minijinja::Value {
    let user = r
        .user_id
        .as_deref()
        .map(|id| names.user(id).unwrap_or(id).to_string());
    let client = r
        .client_id
        .as_deref()
        .map(|id| names.client(id).unwrap_or(id).to_string());
    context! {
        id => r.id, at => when(r.occurred_at), action => r.action, result => r.result,
        actor => r.actor.as_deref().map(|a| names.actor(a)), user => user, client => client,
        resource => r.resource, scope => r.scope, tool => tool(r), source_ip => r.source_ip,
    }
}

pub async fn page(Admin(c): Admin, f: web::Query<Filter>) -> ConsoleResult {
    let q = f.query(&c, PAGE + 1).await?;
    // The chain is recomputed whole: on the first page only, not for every "older records".
    let keys = f.before.is_none().then_some(c.st.audit_keys.as_slice());
    let l = app::console::audit::listing(&c.st.store, &c.tenant.id, &q, keys).await?;
    let mut records = l.records;
    // One more than a page tells whether an older page exists.
    let more = records.len() as u64 > PAGE;
    records.truncate(PAGE as usize);
    let next = more.then(|| records.last().map(|r| r.id)).flatten();
    let qs = f.query_string();
    Ok(c.render(
        "console/audit.html",
        "audit",
        context! {
            f => context! {
                from => f.from, to => f.to, user => f.user, client => f.client,
                action => f.action, result => f.result, tool => f.tool,
            },
            records => records.iter().map(|r| row(r, &l.names)).collect::<Vec<_>>(),
            next => next.map(|id| format!("?{qs}{}before={id}", if qs.is_empty() { "" } else { "&" })),
            qs => qs,
            chain => l.chain.map(|report| context! {
                ok => report.ok(), records => report.records, checkpoints => report.checkpoints,
                unsealed => report.unsealed, problem => report.first_break,
                purged => report.purged_through,
                head => report.head.map(|(seq, h)| format!("{seq}:{h}")),
            }),
        },
    ))
}

pub async fn event(Admin(c): Admin, path: web::Path<(String, String)>) -> ConsoleResult {
    let id: i64 = path
        .1
        .parse()
        .map_err(|_| ConsoleError::not_found("audit record"))?;
    let (r, names) = app::console::audit::event(&c.st.store, &c.tenant.id, id).await?;
    let details: serde_json::Value = serde_json::from_str(&r.details).unwrap_or_default();
    // The name first; the id beside it, marked as the detail view's id (issue 16 §3).
    let named = |id: &Option<String>, f: &dyn Fn(&str) -> Option<String>| {
        id.as_deref().map(|i| context! { name => f(i), id => i })
    };
    Ok(c.render(
        "console/audit_event.html",
        "audit",
        context! {
            r => context! {
                id => r.id, seq => r.seq, at => when(r.occurred_at), occurred_at_us => r.occurred_at,
                action => r.action, result => r.result,
                actor => r.actor.as_deref().map(|a| {
                    let n = names.actor(a);
                    context! { name => (n != a).then_some(n), id => a }
                }),
                user => named(&r.user_id, &|i| names.user(i).map(str::to_string)),
                client => named(&r.client_id, &|i| names.client(i).map(str::to_string)),
                session => r.session_id, resource => r.resource,
                scope => r.scope, source_ip => r.source_ip, user_agent => r.user_agent,
                prev_hash => r.prev_hash, hash => r.hash,
            },
            details => serde_json::to_string_pretty(&details).unwrap_or_default(),
        },
    ))
}

/// A CSV field, quoted when needed, with spreadsheet formulas neutralised (OWASP "CSV
/// injection": a leading `=`, `+`, `-`, `@`, tab or CR gets a `'`).
fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

pub const CSV_HEADER: &str = "id,seq,occurred_at,action,result,actor,user_id,client_id,session_id,resource,scope,source_ip,user_agent,details,hash\n";

fn csv_line(r: &Record) -> String {
    let o = |v: &Option<String>| csv_field(v.as_deref().unwrap_or(""));
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        r.id,
        r.seq.map(|s| s.to_string()).unwrap_or_default(),
        authz_core::clock::rfc3339(r.occurred_at, chrono::SecondsFormat::Micros),
        csv_field(&r.action),
        csv_field(&r.result),
        o(&r.actor),
        o(&r.user_id),
        o(&r.client_id),
        o(&r.session_id),
        o(&r.resource),
        o(&r.scope),
        o(&r.source_ip),
        o(&r.user_agent),
        csv_field(&r.details),
        o(&r.hash),
    )
}

fn json_line(r: &Record) -> String {
    let details: serde_json::Value = serde_json::from_str(&r.details).unwrap_or_default();
    let mut s = serde_json::json!({
        "id": r.id, "seq": r.seq,
        "occurred_at": authz_core::clock::rfc3339(r.occurred_at, chrono::SecondsFormat::Micros),
        "action": r.action, "result": r.result, "actor": r.actor, "user_id": r.user_id,
        "client_id": r.client_id, "session_id": r.session_id, "resource": r.resource,
        "scope": r.scope, "source_ip": r.source_ip, "user_agent": r.user_agent,
        "details": details, "prev_hash": r.prev_hash, "hash": r.hash,
    })
    .to_string();
    s.push('\n');
    s
}

struct Export {
    store: Store,
    tenant: TenantId,
    q: AuditQuery,
    header: Option<&'static str>,
    line: fn(&Record) -> String,
    done: bool,
}

/// The export as a stream: one database page at a time, newest first, until the filter is
/// exhausted. A failure mid-stream ends the body early (logged): the client sees a short file,
/// never a made-up one.
fn stream(e: Export) -> impl futures::Stream<Item = Result<Bytes, actix_web::Error>> + 'static {
    futures::stream::unfold(e, |mut e| async move {
        if e.done {
            return None;
        }
        let mut out = String::new();
        if let Some(h) = e.header.take() {
            out.push_str(h);
        }
        match search::search(&e.store.db, &e.tenant, &e.q).await {
            Ok(batch) => {
                if (batch.len() as u64) < EXPORT_BATCH {
                    e.done = true;
                }
                e.q.before_id = batch.last().map(|r| r.id);
                for r in &batch {
                    out.push_str(&(e.line)(r));
                }
            }
            Err(err) => {
                tracing::error!(code = "CONSOLE0601", error = %err, "audit export failed mid-stream");
                e.done = true;
                // An error item aborts the response: the download fails visibly instead of
                // ending early as if complete.
                return Some((
                    Err(actix_web::error::ErrorInternalServerError(
                        "the export could not be completed",
                    )),
                    e,
                ));
            }
        }
        if out.is_empty() {
            None
        } else {
            Some((Ok(Bytes::from(out)), e))
        }
    })
}

async fn export(c: Console, f: Filter, format: &'static str) -> ConsoleResult {
    let mut q = f.query(&c, EXPORT_BATCH).await?;
    q.before_id = None;
    app::console::audit::exported(
        &c.st.store,
        c.st.clock.as_ref(),
        &c.principal(),
        format,
        f.query_string(),
    )
    .await?;
    let (content_type, header, line): (&str, Option<&'static str>, fn(&Record) -> String) =
        match format {
            "csv" => ("text/csv; charset=utf-8", Some(CSV_HEADER), csv_line),
            _ => ("application/x-ndjson; charset=utf-8", None, json_line),
        };
    let name = format!(
        "gatehouse-audit-{}-{}.{}",
        c.tenant.slug,
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        if format == "csv" { "csv" } else { "jsonl" }
    );
    let body = stream(Export {
        store: c.st.store.clone(),
        tenant: c.tenant.id.clone(),
        q,
        header,
        line,
        done: false,
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}

pub async fn export_csv(Admin(c): Admin, f: web::Query<Filter>) -> ConsoleResult {
    export(c, f.into_inner(), "csv").await
}

pub async fn export_jsonl(Admin(c): Admin, f: web::Query<Filter>) -> ConsoleResult {
    export(c, f.into_inner(), "jsonl").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(1)"), "'@SUM(1)");
    }

    #[test]
    fn dates_parse_as_utc() {
        assert_eq!(instant("2026-11-26", false).unwrap(), 1_795_651_200_000_000);
        assert_eq!(instant("2026-11-26", true).unwrap(), 1_795_737_600_000_000);
        assert!(instant("yesterday", false).is_err());
    }
}

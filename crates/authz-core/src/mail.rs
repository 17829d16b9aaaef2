//! The mail outbox and the security alerts written to it (issue "console" §5).
//!
//! A message is a row of `mail_outbox`, inserted in the transaction of the change it reports, so
//! a committed change always has its notice and a rolled-back one never does. Senders on every
//! node claim pending rows for a minute, send them (SMTP, or the data dir's file outbox when no
//! SMTP is configured) and mark them sent; a failed send is retried with the error recorded.
//! Templates live in `web/email/` (plain text and HTML; values are HTML-escaped in the HTML).
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, QueryResult};

use crate::clock::{Clock, MICROS};
use crate::db::Store;
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

fn t(n: &str) -> Alias {
    Alias::new(n)
}

/// Replaced by the public issuer URL when a message is sent.
pub const ISSUER_PLACEHOLDER: &str = "{issuer}";

/// How long a sender owns the messages it claimed.
pub const CLAIM_SECS: i64 = 60;
/// Attempts before a message is left for the operator (it stays in the outbox with its error).
pub const MAX_ATTEMPTS: i64 = 10;

#[derive(Clone, Debug)]
pub struct Message {
    pub id: String,
    pub tenant: Option<TenantId>,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Queues one message per recipient, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: Option<&TenantId>,
    kind: &str,
    recipients: &[String],
    subject: &str,
    text: &str,
    html: &str,
) -> CoreResult<Vec<String>> {
    let mut ids = Vec::new();
    for to in recipients {
        let id = uuid::Uuid::new_v4().to_string();
        let q = Query::insert()
            .into_table(t("mail_outbox"))
            .columns([
                t("id"),
                t("tenant_id"),
                t("kind"),
                t("recipient"),
                t("subject"),
                t("body_text"),
                t("body_html"),
                t("created_at"),
            ])
            .values_panic([
                id.clone().into(),
                tenant.map(|t| t.0.clone()).into(),
                kind.into(),
                to.clone().into(),
                subject.into(),
                text.into(),
                html.into(),
                clock.now_us().into(),
            ])
            .to_owned();
        conn.execute(conn.get_database_backend().build(&q)).await?;
        ids.push(id);
    }
    Ok(ids)
}

fn row(r: &QueryResult) -> CoreResult<Message> {
    let tenant: Option<String> = r.try_get("", "tenant_id")?;
    Ok(Message {
        id: r.try_get("", "id")?,
        tenant: tenant.map(TenantId),
        kind: r.try_get("", "kind")?,
        recipient: r.try_get("", "recipient")?,
        subject: r.try_get("", "subject")?,
        text: r.try_get("", "body_text")?,
        html: r.try_get("", "body_html")?,
    })
}

/// Claims up to `limit` pending messages for this sender (no other node sends them meanwhile).
pub async fn claim(store: &Store, clock: &dyn Clock, limit: u64) -> CoreResult<Vec<Message>> {
    let now = clock.now_us();
    let txn = store.begin().await?;
    let pick = Query::select()
        .column(t("id"))
        .from(t("mail_outbox"))
        .and_where(Expr::col(t("sent_at")).is_null())
        .and_where(Expr::col(t("attempts")).lt(MAX_ATTEMPTS))
        .cond_where(
            sea_orm::sea_query::Cond::any()
                .add(Expr::col(t("claimed_until")).is_null())
                .add(Expr::col(t("claimed_until")).lt(now)),
        )
        .order_by(t("created_at"), sea_orm::Order::Asc)
        .limit(limit)
        .to_owned();
    let ids: Vec<String> = txn
        .query_all(txn.get_database_backend().build(&pick))
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "id"))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Claim only rows still unclaimed: on PostgreSQL two nodes may have picked the same ids.
    let claim = Query::update()
        .table(t("mail_outbox"))
        .value(t("claimed_until"), now + CLAIM_SECS * MICROS)
        .value(t("attempts"), Expr::col(t("attempts")).add(1))
        .and_where(Expr::col(t("id")).is_in(ids))
        .and_where(Expr::col(t("sent_at")).is_null())
        .cond_where(
            sea_orm::sea_query::Cond::any()
                .add(Expr::col(t("claimed_until")).is_null())
                .add(Expr::col(t("claimed_until")).lt(now)),
        )
        .returning(Query::returning().columns([
            t("id"),
            t("tenant_id"),
            t("kind"),
            t("recipient"),
            t("subject"),
            t("body_text"),
            t("body_html"),
        ]))
        .to_owned();
    let claimed = txn
        .query_all(txn.get_database_backend().build(&claim))
        .await?
        .iter()
        .map(row)
        .collect::<CoreResult<Vec<_>>>()?;
    txn.commit().await?;
    Ok(claimed)
}

/// Records the outcome of a send.
pub async fn finish(
    store: &Store,
    clock: &dyn Clock,
    id: &str,
    error: Option<&str>,
) -> CoreResult<()> {
    let mut q = Query::update();
    q.table(t("mail_outbox"))
        .and_where(Expr::col(t("id")).eq(id));
    match error {
        None => q
            .value(t("sent_at"), clock.now_us())
            .value(t("last_error"), Option::<String>::None),
        Some(e) => q
            .value(t("claimed_until"), Option::<i64>::None)
            .value(t("last_error"), e.chars().take(500).collect::<String>()),
    };
    let txn = store.begin().await?;
    txn.execute(txn.get_database_backend().build(&q)).await?;
    if error.is_none() {
        // An invitation carries a one-time link (a credential): once delivered, the outbox
        // keeps no copy of it (tokens are stored only as hashes, DESIGN §6.2).
        let forget = Query::update()
            .table(t("mail_outbox"))
            .value(t("body_text"), DELIVERED_CREDENTIAL)
            .value(t("body_html"), DELIVERED_CREDENTIAL)
            .and_where(Expr::col(t("id")).eq(id))
            .and_where(Expr::col(t("kind")).eq("admin_invitation"))
            .to_owned();
        txn.execute(txn.get_database_backend().build(&forget))
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// What a delivered invitation's body becomes in the outbox.
pub const DELIVERED_CREDENTIAL: &str = "[delivered; the one-time link is not kept]";

/// A tenant's security-alert recipients.
pub async fn alert_recipients<C: ConnectionTrait>(
    conn: &C,
    tenant: &TenantId,
) -> CoreResult<Vec<String>> {
    let q = Query::select()
        .column(t("alert_recipients"))
        .from(t("tenants"))
        .and_where(Expr::col(t("id")).eq(tenant.0.clone()))
        .to_owned();
    let r = conn
        .query_one(conn.get_database_backend().build(&q))
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    let raw: String = r.try_get("", "alert_recipients")?;
    Ok(serde_json::from_str(&raw).unwrap_or_default())
}

/// A plain email address (no display name, no list), trimmed and lower-cased.
pub fn normalize_address(e: &str) -> CoreResult<String> {
    let e = e.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !e.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        });
    if ok {
        Ok(e)
    } else {
        Err(CoreError::invalid(format!("'{e}' is not an email address")))
    }
}

/// Checks and normalises a recipient list (plain addresses, lower case, deduplicated, at most
/// 20) without storing it.
pub fn validate_recipients(emails: &[String]) -> CoreResult<Vec<String>> {
    let mut list: Vec<String> = Vec::new();
    for e in emails {
        let e = normalize_address(e)?;
        if !list.contains(&e) {
            list.push(e);
        }
    }
    if list.len() > 20 {
        return Err(CoreError::invalid("at most 20 alert recipients"));
    }
    Ok(list)
}

/// Sets the recipients (plain addresses, at most 20), audited.
pub async fn set_alert_recipients(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    emails: &[String],
    actor: &str,
) -> CoreResult<()> {
    let list = validate_recipients(emails)?;
    let txn = store.begin().await?;
    let q = Query::update()
        .table(t("tenants"))
        .value(
            t("alert_recipients"),
            serde_json::to_string(&list).unwrap_or_default(),
        )
        .and_where(Expr::col(t("id")).eq(tenant.0.clone()))
        .to_owned();
    txn.execute(txn.get_database_backend().build(&q)).await?;
    crate::audit::record(
        &txn,
        clock,
        crate::audit::AuditEvent::new(Some(tenant), "tenant.alert_recipients_changed")
            .actor(actor)
            .detail("recipients", list.len()),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub(crate) fn fill(template: &str, values: &[(&str, &str)], html: bool) -> String {
    let mut out = template.to_string();
    for (k, v) in values {
        let v = if html { html_escape(v) } else { v.to_string() };
        out = out.replace(&format!("{{{k}}}"), &v);
    }
    out
}

/// A security alert from the generic template (`web/email/security-alert.*`): a title and
/// labelled facts, queued for the tenant's recipients in the caller's transaction; nothing when
/// the tenant has none. `action` is the audit action the link filters on.
pub async fn alert<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    kind: &str,
    title: &str,
    action: &str,
    facts: &[(&str, String)],
) -> CoreResult<()> {
    let recipients = alert_recipients(conn, tenant).await?;
    if recipients.is_empty() {
        return Ok(());
    }
    let tenant_row = crate::tenant::get(conn, tenant).await?;
    let audit_url = format!(
        "{ISSUER_PLACEHOLDER}/admin/t/{}/audit?action={action}",
        tenant_row.slug
    );
    let at = crate::clock::rfc3339(clock.now_us(), chrono::SecondsFormat::Secs);
    let mut all: Vec<(&str, String)> = facts.to_vec();
    all.push(("At", at));
    let text_rows: String = all.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
    let html_rows: String = all
        .iter()
        .map(|(k, v)| {
            format!(
                "<tr><th align=\"left\">{}</th><td>{}</td></tr>\n",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    let base = [
        ("tenant", tenant_row.name.as_str()),
        ("title", title),
        ("audit_url", audit_url.as_str()),
    ];
    // Rows are filled last and unescaped in HTML: they were escaped above.
    let text = fill(
        include_str!("../../../web/email/security-alert.txt"),
        &base,
        false,
    )
    .replace("{rows}", &text_rows);
    let html = fill(
        include_str!("../../../web/email/security-alert.html"),
        &base,
        true,
    )
    .replace("{rows}", &html_rows);
    let subject = format!("[Gatehouse] {title} in {}", tenant_row.name);
    enqueue(
        conn,
        clock,
        Some(tenant),
        kind,
        &recipients,
        &subject,
        &text,
        &html,
    )
    .await?;
    Ok(())
}

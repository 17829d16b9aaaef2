//! The mail outbox and the security alerts written to it (issue "console" §5).
//!
//! A message is a row of `mail_outbox`, inserted in the transaction of the change it reports, so
//! a committed change always has its notice and a rolled-back one never does. Senders on every
//! node claim pending rows for a minute, send them (SMTP, or the data dir's file outbox when no
//! SMTP is configured) and mark them sent; a failed send is retried with the error recorded.
//! Templates live in `web/email/` (plain text and HTML; values are HTML-escaped in the HTML).
use sea_orm::sea_query::{Cond, Expr};
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set,
};

use crate::clock::{Clock, MICROS};
use crate::db::Store;
use crate::entities::mail_outbox::{self, Column, Entity};
use crate::entities::tenants;
use crate::error::{CoreError, CoreResult};
use crate::tenant::TenantId;

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
        Entity::insert(mail_outbox::ActiveModel {
            id: Set(id.clone()),
            tenant_id: Set(tenant.map(|t| t.to_string())),
            kind: Set(kind.to_string()),
            recipient: Set(to.clone()),
            subject: Set(subject.to_string()),
            body_text: Set(text.to_string()),
            body_html: Set(html.to_string()),
            created_at: Set(clock.now_us()),
            claimed_until: NotSet,
            attempts: NotSet,
            sent_at: NotSet,
            last_error: NotSet,
        })
        .exec_without_returning(conn)
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

impl From<mail_outbox::Model> for Message {
    fn from(m: mail_outbox::Model) -> Self {
        Message {
            id: m.id,
            tenant: m.tenant_id.map(TenantId::from_stored),
            kind: m.kind,
            recipient: m.recipient,
            subject: m.subject,
            text: m.body_text,
            html: m.body_html,
        }
    }
}

/// Unclaimed, or claimed by a sender whose minute has passed.
fn claimable(now: i64) -> Cond {
    Cond::any()
        .add(Column::ClaimedUntil.is_null())
        .add(Column::ClaimedUntil.lt(now))
}

/// Claims up to `limit` pending messages for this sender (no other node sends them meanwhile).
pub async fn claim(store: &Store, clock: &dyn Clock, limit: u64) -> CoreResult<Vec<Message>> {
    let now = clock.now_us();
    let txn = store.begin().await?;
    let ids: Vec<String> = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::SentAt.is_null())
        .filter(Column::Attempts.lt(MAX_ATTEMPTS))
        .filter(claimable(now))
        .order_by_asc(Column::CreatedAt)
        .limit(limit)
        .into_tuple()
        .all(&txn)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Claim only rows still unclaimed: on PostgreSQL two nodes may have picked the same ids.
    let mut claim = Entity::update_many()
        .col_expr(Column::ClaimedUntil, Expr::value(now + CLAIM_SECS * MICROS))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::Id.is_in(ids))
        .filter(Column::SentAt.is_null())
        .filter(claimable(now))
        .into_query();
    claim.returning_all();
    let claimed = Entity::find()
        .from_raw_sql(txn.get_database_backend().build(&claim))
        .all(&txn)
        .await?
        .into_iter()
        .map(Message::from)
        .collect();
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
    let q = Entity::update_many().filter(Column::Id.eq(id));
    let q = match error {
        None => q
            .col_expr(Column::SentAt, Expr::value(clock.now_us()))
            .col_expr(Column::LastError, Expr::value(Option::<String>::None)),
        Some(e) => q
            .col_expr(Column::ClaimedUntil, Expr::value(Option::<i64>::None))
            .col_expr(
                Column::LastError,
                Expr::value(e.chars().take(500).collect::<String>()),
            ),
    };
    let txn = store.begin().await?;
    q.exec(&txn).await?;
    if error.is_none() {
        // An invitation carries a one-time link (a credential): once delivered, the outbox
        // keeps no copy of it (tokens are stored only as hashes, DESIGN §6.2).
        Entity::update_many()
            .col_expr(Column::BodyText, Expr::value(DELIVERED_CREDENTIAL))
            .col_expr(Column::BodyHtml, Expr::value(DELIVERED_CREDENTIAL))
            .filter(Column::Id.eq(id))
            .filter(Column::Kind.eq("admin_invitation"))
            .exec(&txn)
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
    let raw: String = tenants::Entity::find_by_id(tenant.to_string())
        .select_only()
        .column(tenants::Column::AlertRecipients)
        .into_tuple()
        .one(conn)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
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
    let txn = store.begin().await?;
    set_alert_recipients_in(&txn, clock, tenant, emails, actor).await?;
    txn.commit().await?;
    Ok(())
}

/// [`set_alert_recipients`] inside the caller's transaction.
pub async fn set_alert_recipients_in<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    tenant: &TenantId,
    emails: &[String],
    actor: &str,
) -> CoreResult<()> {
    let list = validate_recipients(emails)?;
    tenants::Entity::update_many()
        .col_expr(
            tenants::Column::AlertRecipients,
            Expr::value(serde_json::to_string(&list).unwrap_or_default()),
        )
        .filter(tenants::Column::Id.eq(tenant.to_string()))
        .exec(txn)
        .await?;
    crate::audit::record(
        txn,
        clock,
        crate::audit::AuditEvent::new(Some(tenant), "tenant.alert_recipients_changed")
            .actor(actor)
            .detail("recipients", list.len()),
    )
    .await?;
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

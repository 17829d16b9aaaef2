//! Sends what `authz_core::mail` queued: through SMTP when `GATEHOUSE_SMTP_URL` is set
//! (`smtp://host:587?tls=required` for STARTTLS, `smtps://host:465` for TLS, `smtp://host:25`
//! for a local relay; credentials in the URL's user info), else into the file outbox
//! `<data dir>/outbox/<message id>.eml`. Nothing is dropped: a failed send stays queued with its
//! error and is retried. Logs name the message id and kind, never its body (which may hold a
//! link).
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use authz_core::clock::SharedClock;
use authz_core::mail::{self, Message, ISSUER_PLACEHOLDER};
use authz_core::Store;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

pub struct Mailer {
    pub transport: Transport,
    pub from: Mailbox,
    pub issuer: String,
}

impl Mailer {
    /// From the environment: `GATEHOUSE_SMTP_URL` (optional) and `GATEHOUSE_MAIL_FROM`
    /// (default `gatehouse@<issuer host>`).
    pub fn from_env(data_dir: &std::path::Path, issuer: &str) -> Result<Mailer> {
        let host = url::Url::parse(issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "localhost".into());
        let from = std::env::var("GATEHOUSE_MAIL_FROM")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| format!("Gatehouse <gatehouse@{host}>"));
        let from: Mailbox = from
            .parse()
            .with_context(|| format!("GATEHOUSE_MAIL_FROM '{from}' is not a mailbox"))?;
        let transport = match std::env::var("GATEHOUSE_SMTP_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(u) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(&u)
                    .context("GATEHOUSE_SMTP_URL is not a valid smtp:// or smtps:// URL")?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            ),
            None => Transport::Outbox(data_dir.join("outbox")),
        };
        Ok(Mailer {
            transport,
            from,
            issuer: issuer.trim_end_matches('/').to_string(),
        })
    }

    fn build(&self, m: &Message) -> Result<lettre::Message> {
        let to: Mailbox = m.recipient.parse().context("recipient is not a mailbox")?;
        let text = m.text.replace(ISSUER_PLACEHOLDER, &self.issuer);
        let html = m.html.replace(ISSUER_PLACEHOLDER, &self.issuer);
        Ok(lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .message_id(Some(format!("<{}@gatehouse>", m.id)))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )?)
    }

    async fn deliver(&self, m: &Message) -> Result<()> {
        let email = self.build(m)?;
        match &self.transport {
            Transport::Smtp(t) => {
                t.send(email).await.context("SMTP delivery failed")?;
            }
            Transport::Outbox(dir) => {
                // The message may hold an invitation link (a credential): owner-only files.
                crate::config::create_private_dir(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let file = dir.join(format!("{}.eml", m.id));
                crate::config::write_private_file(&file, &email.formatted())
                    .with_context(|| format!("cannot write {}", file.display()))?;
            }
        }
        Ok(())
    }

    /// Sends what is queued now; returns how many were sent.
    pub async fn send_pending(
        &self,
        store: &Store,
        clock: &dyn authz_core::Clock,
    ) -> Result<usize> {
        let mut sent = 0;
        for m in mail::claim(store, clock, 20).await? {
            match self.deliver(&m).await {
                Ok(()) => {
                    mail::finish(store, clock, &m.id, None).await?;
                    tracing::info!(message_id = %m.id, kind = %m.kind, "mail sent");
                    sent += 1;
                }
                Err(e) => {
                    mail::finish(store, clock, &m.id, Some(&format!("{e:#}"))).await?;
                    tracing::warn!(code = "MAIL0001", message_id = %m.id, kind = %m.kind, error = %format!("{e:#}"), "mail not sent; it stays queued");
                }
            }
        }
        Ok(sent)
    }
}

/// The background sender of each node.
pub fn spawn(mailer: Mailer, store: Store, clock: SharedClock) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            if let Err(e) = mailer.send_pending(&store, clock.as_ref()).await {
                let core = e.downcast_ref::<authz_core::CoreError>();
                let db = e.downcast_ref::<sea_orm::DbErr>();
                if core.is_some_and(|c| c.is_unavailable())
                    || db.is_some_and(authz_core::error::db_unavailable)
                {
                    // ADR 0019: the outbox waits for the database; nothing is lost.
                    authz_core::error::log_unavailable(&format!("{e:#}"));
                } else {
                    tracing::error!(code = "MAIL0002", error = %format!("{e:#}"), "mail sender failed");
                }
            }
        }
    });
}

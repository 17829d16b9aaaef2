//! The per-call audit records, off the request's latency path (issue 13 §1): a request (or the
//! stream carrying its answer) queues a record and goes on; one writer task writes them in
//! batches, every [`FLUSH_EVERY`] or [`BATCH`] records, through `app::gateway::record_calls`
//! into the tenant's chain. On a clean shutdown [`AuditWriter::shutdown`] closes the queue and
//! writes everything still in it before the process exits.
//!
//! The queue is unbounded: a record is never dropped because the database is slow for a
//! moment; its size is bounded by the request rate times the write latency. A batch that fails
//! is kept and retried on the next tick (up to [`MAX_PENDING`] records, then the oldest are
//! dropped with an error log: the database has been unavailable for a long time).
//!
//! In introspection mode ([`AuditSink::start_remote`]) the same writer batches the records but
//! posts each one to the remote Gatehouse's `POST /audit/v1/events` as the resource server's
//! report (`app::resource_events::ToolCall`), one POST per record; a failed post is logged and
//! retried once, then dropped with an error log.
use std::sync::Arc;
use std::time::Duration;

use app::gateway::{record_calls, GatewayCall};
use authz_core::clock::SharedClock;
use authz_core::Store;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::remote::Remote;

/// Where the writer puts the records.
enum Writer {
    Database(Store, SharedClock),
    Remote(Arc<Remote>),
}

pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
pub const BATCH: usize = 100;
pub const MAX_PENDING: usize = 100_000;

enum Msg {
    Call(Box<GatewayCall>),
    Flush(oneshot::Sender<()>),
}

/// Where the gateway queues its records (cheap to clone).
#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::UnboundedSender<Msg>,
}

/// The writer task; [`AuditWriter::shutdown`] drains it.
pub struct AuditWriter {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl AuditSink {
    /// Starts the writer task (on the current tokio runtime).
    pub fn start(store: Store, clock: SharedClock) -> (AuditSink, AuditWriter) {
        Self::start_with(Writer::Database(store, clock))
    }

    /// Starts the writer task of the introspection mode: records go to `remote`.
    pub fn start_remote(remote: Arc<Remote>) -> (AuditSink, AuditWriter) {
        Self::start_with(Writer::Remote(remote))
    }

    fn start_with(writer: Writer) -> (AuditSink, AuditWriter) {
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(write_loop(writer, rx, stop.clone()));
        (AuditSink { tx }, AuditWriter { stop, task })
    }

    pub fn send(&self, call: GatewayCall) {
        if self.tx.send(Msg::Call(Box::new(call))).is_err() {
            tracing::error!(
                code = "GATEWAY0002",
                "audit record queued after the writer stopped"
            );
        }
    }

    /// Returns once every record queued before the call is written (tests, shutdown checks).
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Flush(ack)).is_ok() {
            let _ = done.await;
        }
    }
}

impl AuditWriter {
    /// Stops taking records, writes every queued one, and returns when they are stored.
    pub async fn shutdown(self) {
        self.stop.notify_one();
        if let Err(e) = self.task.await {
            tracing::error!(code = "GATEWAY0003", error = %e, "the audit writer failed");
        }
    }
}

async fn write_loop(writer: Writer, mut rx: mpsc::UnboundedReceiver<Msg>, stop: Arc<Notify>) {
    let mut batch: Vec<GatewayCall> = Vec::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(Msg::Call(c)) => {
                    batch.push(*c);
                    if batch.len() >= BATCH {
                        write(&writer, &mut batch).await;
                    }
                }
                Some(Msg::Flush(ack)) => {
                    write(&writer, &mut batch).await;
                    let _ = ack.send(());
                }
                None => break,
            },
            _ = tick.tick() => write(&writer, &mut batch).await,
            _ = stop.notified() => {
                rx.close();
                while let Some(m) = rx.recv().await {
                    match m {
                        Msg::Call(c) => batch.push(*c),
                        Msg::Flush(ack) => { let _ = ack.send(()); }
                    }
                }
                break;
            }
        }
    }
    write(&writer, &mut batch).await;
}

async fn write(writer: &Writer, batch: &mut Vec<GatewayCall>) {
    if batch.is_empty() {
        return;
    }
    let (store, clock) = match writer {
        Writer::Database(store, clock) => (store, clock),
        Writer::Remote(remote) => {
            for call in batch.drain(..) {
                remote.report(&call.to_tool_call()).await;
            }
            return;
        }
    };
    match record_calls(store, clock.as_ref(), batch.clone()).await {
        Ok(()) => batch.clear(),
        Err(e) => {
            tracing::error!(code = "GATEWAY0001", error = %e, records = batch.len(), "gateway audit write failed; retrying");
            if batch.len() > MAX_PENDING {
                let over = batch.len() - MAX_PENDING;
                batch.drain(..over);
                tracing::error!(
                    code = "GATEWAY0001",
                    dropped = over,
                    "gateway audit records dropped"
                );
            }
        }
    }
}

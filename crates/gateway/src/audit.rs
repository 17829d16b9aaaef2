//! The per-call audit records, off the request's latency path (issue 13 §1): a request (or the
//! stream carrying its answer) queues a record and goes on, without waking anyone; one writer
//! task writes them in batches (one multi-row INSERT), every [`FLUSH_EVERY`] or [`BATCH`] records, through `app::gateway::record_calls`
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
use tokio::sync::{oneshot, Notify};

use crate::remote::Remote;

/// Where the writer puts the records.
enum Writer {
    Database(Store, SharedClock),
    Remote(Arc<Remote>),
}

pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
pub const BATCH: usize = 100;
pub const MAX_PENDING: usize = 100_000;

/// The queue between the requests and the writer. A request appends under a short lock and
/// wakes the writer only when a batch is full: a wake per call would cost a cross-thread
/// hand-off (an eventfd write and a context switch) on every request, most of a trivial call's
/// time through the gateway. The writer otherwise takes the queue every [`FLUSH_EVERY`].
#[derive(Default)]
struct Queue {
    calls: std::sync::Mutex<Vec<GatewayCall>>,
    /// Set once the writer stops taking records.
    closed: std::sync::atomic::AtomicBool,
    /// A full batch, a flush request or the stop.
    wake: Notify,
    /// Flush requests waiting for the next write.
    acks: std::sync::Mutex<Vec<oneshot::Sender<()>>>,
}

impl Queue {
    fn take(&self) -> Vec<GatewayCall> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Where the gateway queues its records (cheap to clone).
#[derive(Clone)]
pub struct AuditSink {
    queue: Arc<Queue>,
}

/// The writer task; [`AuditWriter::shutdown`] drains it.
pub struct AuditWriter {
    queue: Arc<Queue>,
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
        let queue = Arc::new(Queue::default());
        let task = tokio::spawn(write_loop(writer, queue.clone()));
        (
            AuditSink {
                queue: queue.clone(),
            },
            AuditWriter { queue, task },
        )
    }

    /// Queues the record of an ended call and counts it (`gatehouse_gateway_calls_total`).
    pub fn send(&self, call: GatewayCall) {
        call.count();
        let full = {
            let mut q = self.queue.calls.lock().unwrap_or_else(|e| e.into_inner());
            // Checked under the lock: the writer's last take, after it saw the flag, sees
            // every record pushed before it was set.
            if self.queue.closed.load(std::sync::atomic::Ordering::Acquire) {
                drop(q);
                tracing::error!(
                    code = "GATEWAY0002",
                    "audit record queued after the writer stopped"
                );
                return;
            }
            q.push(call);
            q.len() >= BATCH
        };
        if full {
            self.queue.wake.notify_one();
        }
    }

    /// Returns once every record queued before the call is written (tests, shutdown checks).
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        self.queue
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ack);
        self.queue.wake.notify_one();
        let _ = done.await;
    }
}

impl AuditWriter {
    /// Stops taking records, writes every queued one, and returns when they are stored.
    pub async fn shutdown(self) {
        self.queue
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.queue.wake.notify_one();
        if let Err(e) = self.task.await {
            tracing::error!(code = "GATEWAY0003", error = %e, "the audit writer failed");
        }
    }
}

async fn write_loop(writer: Writer, queue: Arc<Queue>) {
    let mut batch: Vec<GatewayCall> = Vec::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = queue.wake.notified() => {}
        }
        let closed = queue.closed.load(std::sync::atomic::Ordering::Acquire);
        // Flush requests made before this point are answered after this write.
        let acks = std::mem::take(&mut *queue.acks.lock().unwrap_or_else(|e| e.into_inner()));
        batch.extend(queue.take());
        write(&writer, &mut batch).await;
        for a in acks {
            let _ = a.send(());
        }
        if closed {
            // A record sent while the flag was being set is still in the queue: take it too.
            batch.extend(queue.take());
            write(&writer, &mut batch).await;
            return;
        }
    }
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

//! When a personal API key was last used, written off the request path (issue 14 §1). A use
//! is noted synchronously ([`UsageRecorder::note`]); a node-local throttle lets through at most
//! one note per key per [`USED_EVERY_SECS`], so a busy key costs one queued message a minute,
//! not one UPDATE per call; a writer task runs the conditional UPDATE
//! (`authz_core::personal_key::touch`), which decides across nodes which one records
//! `api_key.used`. A note lost in a crash only leaves `last_used_at` a minute behind: it is
//! telemetry, never a security decision (revocation and expiry are read from the token row).
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use authz_core::clock::{SharedClock, MICROS};
use authz_core::personal_key::{self, USED_EVERY_SECS};
use authz_core::{Store, TenantId};
use tokio::sync::{mpsc, oneshot};

enum Msg {
    Used {
        tenant: TenantId,
        key_id: String,
        via: &'static str,
    },
    Flush(oneshot::Sender<()>),
}

/// One per node (issuer state, gateway state); cheap to share behind an `Arc`.
pub struct UsageRecorder {
    store: Store,
    clock: SharedClock,
    /// Key id → when this node last queued a use (µs, by the injected clock).
    queued: Mutex<HashMap<String, i64>>,
    /// The writer task's queue, started on the first note (on the runtime that serves it).
    tx: OnceLock<mpsc::UnboundedSender<Msg>>,
}

/// Keys remembered by the throttle before it starts afresh (bounded memory).
const MAX_REMEMBERED: usize = 100_000;

impl UsageRecorder {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        UsageRecorder {
            store,
            clock,
            queued: Mutex::new(HashMap::new()),
            tx: OnceLock::new(),
        }
    }

    /// Notes a use of key `key_id` (`via`: `gateway` or `introspection`); returns at once.
    pub fn note(&self, tenant: &TenantId, key_id: &str, via: &'static str) {
        let now = self.clock.now_us();
        {
            let Ok(mut q) = self.queued.lock() else {
                return;
            };
            if let Some(at) = q.get(key_id) {
                if now - at < USED_EVERY_SECS * MICROS {
                    return;
                }
            }
            if q.len() >= MAX_REMEMBERED {
                q.clear();
            }
            q.insert(key_id.to_string(), now);
        }
        self.send(Msg::Used {
            tenant: tenant.clone(),
            key_id: key_id.to_string(),
            via,
        });
    }

    /// Returns once every use noted before the call is written (tests, shutdown).
    pub async fn flush(&self) {
        if self.tx.get().is_none() {
            return;
        }
        let (done, wait) = oneshot::channel();
        self.send(Msg::Flush(done));
        let _ = wait.await;
    }

    fn send(&self, m: Msg) {
        let tx = self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(write(self.store.clone(), self.clock.clone(), rx));
            tx
        });
        if tx.send(m).is_err() {
            tracing::warn!(
                code = "APIKEY0002",
                "key use noted after the writer stopped"
            );
        }
    }
}

async fn write(store: Store, clock: SharedClock, mut rx: mpsc::UnboundedReceiver<Msg>) {
    while let Some(m) = rx.recv().await {
        match m {
            Msg::Used {
                tenant,
                key_id,
                via,
            } => {
                if let Err(e) =
                    personal_key::touch(&store, clock.as_ref(), &tenant, &key_id, via).await
                {
                    tracing::warn!(code = "APIKEY0001", error = %e, "cannot record a key's use");
                }
            }
            Msg::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

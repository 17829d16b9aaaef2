//! One `Arc<McpPolicy>` per resource, shared by every request of this node. The catalogue
//! changes rarely; a node compares the stored version with the one it holds at most every
//! [`CHECK_EVERY`] (one indexed read) and reloads when they differ. Staleness is so bounded to
//! about two seconds after a catalogue update at any node (issue 13 §2). Token validity is
//! never cached here.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authz_core::mcp_policy::{self, McpPolicy};
use authz_core::CoreResult;
use sea_orm::ConnectionTrait;

pub const CHECK_EVERY: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct PolicyCache {
    entries: Mutex<HashMap<String, (Arc<McpPolicy>, Instant)>>,
}

impl PolicyCache {
    fn cached(&self, id: &str) -> Option<(Arc<McpPolicy>, Instant)> {
        self.entries.lock().ok()?.get(id).cloned()
    }

    fn put(&self, id: &str, p: Arc<McpPolicy>) {
        if let Ok(mut m) = self.entries.lock() {
            m.insert(id.to_string(), (p, Instant::now()));
        }
    }

    /// The policy of resource `id`, current to within [`CHECK_EVERY`].
    pub async fn get<C: ConnectionTrait>(&self, conn: &C, id: &str) -> CoreResult<Arc<McpPolicy>> {
        if let Some((p, checked)) = self.cached(id) {
            if checked.elapsed() < CHECK_EVERY {
                return Ok(p);
            }
            if mcp_policy::stored_version(conn, id).await? == p.version {
                self.put(id, p.clone());
                return Ok(p);
            }
        }
        let p = Arc::new(mcp_policy::load(conn, id).await?);
        self.put(id, p.clone());
        Ok(p)
    }
}

//! Recomputes a chain from its first record and checks every signed checkpoint against the
//! recomputed hashes.
use std::collections::{BTreeMap, VecDeque};

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::canonical::{chain_hash_hex, GENESIS_HASH};
use super::page::Page;
use super::seal::signed_checkpoint_message;
use crate::db::Store;
use crate::entities::{audit_checkpoints, audit_events};
use crate::error::CoreResult;

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub records: i64,
    pub unsealed: u64,
    pub checkpoints: usize,
    /// The newest signed checkpoint (seq, head hash): keep a copy outside the database, so a
    /// later cut of records *and* checkpoints is caught by comparing against it.
    pub head: Option<(i64, String)>,
    /// The first problem found, naming the record or checkpoint.
    pub first_break: Option<String>,
    /// Records up to this sequence number were deleted by retention; the rest verifies from the
    /// signed checkpoint at it.
    pub purged_through: Option<i64>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.first_break.is_none()
    }
}

const PAGE: u64 = 10_000;

/// How many pages are read ahead of the one being hashed: enough to keep both the database and
/// the hashing busy on two cores, few enough to hold little memory (a page is a few megabytes).
const PAGES_READ_AHEAD: usize = 3;

/// The shortest retention (one year of 365 days; purges count 366) in microseconds.
const RETENTION_FLOOR_US: i64 = 365 * 86_400 * 1_000_000;

pub async fn verify_chain(
    store: &Store,
    chain: &str,
    key: &VerifyingKey,
) -> CoreResult<VerifyReport> {
    verify_chain_with_keys(store, chain, std::slice::from_ref(key)).await
}

/// Like [`verify_chain`], accepting checkpoints signed by any of `keys` (each checkpoint names
/// its key by `key_id`, the first 8 bytes of the verifying key).
pub async fn verify_chain_with_keys(
    store: &Store,
    chain: &str,
    keys: &[VerifyingKey],
) -> CoreResult<VerifyReport> {
    verify_in_pages(store, chain, keys, PAGE).await
}

/// [`verify_chain_with_keys`] with pages of `page` records: tests read a chain of a few hundred
/// records in many pages, as the verifier reads a large one.
#[cfg(feature = "testkit")]
pub async fn verify_chain_in_pages(
    store: &Store,
    chain: &str,
    keys: &[VerifyingKey],
    page: u64,
) -> CoreResult<VerifyReport> {
    verify_in_pages(store, chain, keys, page.max(1)).await
}

async fn verify_in_pages(
    store: &Store,
    chain: &str,
    keys: &[VerifyingKey],
    page: u64,
) -> CoreResult<VerifyReport> {
    let mut report = VerifyReport::default();
    let cps = audit_checkpoints::Entity::find()
        .filter(audit_checkpoints::Column::TenantId.eq(chain))
        .order_by_asc(audit_checkpoints::Column::Seq)
        .all(&store.db)
        .await?;
    report.checkpoints = cps.len();
    report.head = cps.last().map(|c| (c.seq, c.head_hash.clone()));
    let mut cp_heads: BTreeMap<i64, &audit_checkpoints::Model> = BTreeMap::new();
    for cp in &cps {
        let msg = signed_checkpoint_message(&cp.tenant_id, cp.seq, &cp.head_hash, cp.created_at);
        let sig_ok = hex::decode(&cp.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|b| {
                keys.iter()
                    .filter(|k| hex::encode(&k.to_bytes()[..8]) == cp.key_id)
                    .any(|k| k.verify(msg.as_bytes(), &Signature::from_bytes(&b)).is_ok())
            })
            .unwrap_or(false);
        if !sig_ok {
            report.first_break = Some(format!(
                "checkpoint at seq {}: signature does not verify",
                cp.seq
            ));
            return Ok(report);
        }
        cp_heads.insert(cp.seq, cp);
    }

    // After a retention purge the chain starts later: at the record after a kept, signed
    // checkpoint, whose head hash it must link to (see `retention`).
    let first = super::sealed::page(store, chain, None, 1)
        .await?
        .into_iter()
        .next();
    let first_seq: i64 = first.as_ref().map(|r| r.seq).unwrap_or(1);
    let (mut expected_seq, mut prev) = if first_seq > 1 {
        match cp_heads.get(&(first_seq - 1)) {
            Some(cp) => {
                report.purged_through = Some(first_seq - 1);
                (first_seq, cp.head_hash.clone())
            }
            None => {
                report.first_break = Some(format!(
                    "record seq 1 is missing (next present record is seq {first_seq}, id {}); no signed checkpoint at seq {} anchors the rest, so it was not a retention purge",
                    first.as_ref().map(|r| r.record.id).unwrap_or_default(),
                    first_seq - 1
                ));
                return Ok(report);
            }
        }
    } else {
        (1i64, GENESIS_HASH.to_string())
    };
    // Pages are ranges of sequence numbers, so several are read at once (each on its own
    // connection, decoded on its own task) while the oldest one is hashed (on blocking threads,
    // split across the cores). Reading and hashing a million records each take seconds; one
    // page read at a time left a core idle for a third of the run (issue 15 §1: verify 1M
    // records < 3 s). A range that comes back empty or short (records removed) shows as the
    // gap it is when its successor is checked; the walk ends at the highest seal read below.
    let heads: std::sync::Arc<BTreeMap<i64, String>> = std::sync::Arc::new(
        cp_heads
            .iter()
            .map(|(seq, cp)| (*seq, cp.head_hash.clone()))
            .collect(),
    );
    // Counted while the pages are read: a count over the whole chain, on a core of its own.
    let mut unsealed = {
        let (store, chain) = (store.clone(), chain.to_string());
        Aborting(tokio::spawn(async move {
            super::sealed::unsealed_anywhere(&store.db, &chain).await
        }))
    };
    let last_sealed = super::sealed::last_seq(store, chain).await?;
    let step = i64::try_from(page).unwrap_or(i64::MAX);
    let mut starts = (expected_seq - 1..last_sealed).step_by(usize::try_from(page).unwrap_or(1));
    let read = |after: i64| {
        let (store, chain) = (store.clone(), chain.to_string());
        tokio::spawn(async move {
            super::page::read(&store, &chain, after, after.saturating_add(step)).await
        })
    };
    let mut reading: VecDeque<_> = starts.by_ref().take(PAGES_READ_AHEAD).map(read).collect();
    let failed = |e: tokio::task::JoinError| {
        crate::error::CoreError::Config(format!("AUDIT0005: verifier task failed: {e}"))
    };
    while let Some(next) = reading.pop_front() {
        let page = next.await.map_err(failed)??;
        if let Some(after) = starts.next() {
            reading.push_back(read(after));
        }
        let heads = heads.clone();
        let checked =
            tokio::task::spawn_blocking(move || check_page(&page, prev, expected_seq, &heads))
                .await
                .map_err(failed)?;
        match checked {
            Ok((p, e)) => (prev, expected_seq) = (p, e),
            Err(b) => {
                reading.iter().for_each(|r| r.abort());
                report.first_break = Some(b);
                return Ok(report);
            }
        }
    }
    let last_seq = expected_seq - 1;
    report.records = last_seq - report.purged_through.unwrap_or(0);
    if let Some((&cp_seq, _)) = cp_heads.range((last_seq + 1)..).next() {
        report.first_break = Some(format!(
            "checkpoint at seq {cp_seq} but the log ends at seq {last_seq}: records after it were removed (tail cut)"
        ));
        return Ok(report);
    }
    // A prefix is gone only legitimately when a retention purge says so: its own record (in the
    // chain that remains) names the range, and the kept checkpoint is older than the shortest
    // retention (a year) at the time of the purge.
    if let Some(n) = report.purged_through {
        let purges = audit_events::Entity::find()
            .filter(audit_events::Column::TenantId.eq(chain))
            .filter(audit_events::Column::Action.eq("audit.purged"))
            .all(&store.db)
            .await?;
        let purge = purges.iter().find(|p| {
            serde_json::from_str::<serde_json::Value>(&p.details)
                .ok()
                .and_then(|d| d["up_to_seq"].as_i64())
                == Some(n)
        });
        let cp_created = cp_heads.get(&n).map(|c| c.created_at).unwrap_or(i64::MAX);
        match purge {
            None => {
                report.first_break = Some(format!(
                    "records up to seq {n} are missing and no audit.purged record accounts for them (removed, not purged by retention)"
                ));
                return Ok(report);
            }
            Some(p) if p.occurred_at - cp_created < RETENTION_FLOOR_US => {
                report.first_break = Some(format!(
                    "records up to seq {n} were purged less than a year after their checkpoint (retention is at least one year)"
                ));
                return Ok(report);
            }
            Some(_) => {}
        }
    }
    report.unsealed = (&mut unsealed.0).await.map_err(failed)??;
    Ok(report)
}

/// A task that is stopped when its handle is dropped: a verification that ends at a break stops
/// the count it started.
struct Aborting<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for Aborting<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Checks a page that follows `prev` (the previous record's hash) and starts at
/// `expected_seq`; returns the last hash and the next expected sequence number, or the first
/// break in sequence order. Each record's hash depends only on its own content and its stored
/// `prev_hash`, so records are hashed in parallel; the links (each `prev_hash` equals the hash
/// before it) are then walked in order, which makes the stored hashes a chain from `prev`.
fn check_page(
    page: &Page,
    prev: String,
    mut expected_seq: i64,
    heads: &BTreeMap<i64, String>,
) -> Result<(String, i64), String> {
    let rows = page.rows();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = rows.len().div_ceil(threads).max(1);
    let content_ok: Vec<bool> = std::thread::scope(|scope| {
        let parts: Vec<_> = rows
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|e| {
                            chain_hash_hex(page.prev_hash(e), page.canonical(e)) == page.hash(e)
                        })
                        .collect::<Vec<bool>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut last: &[u8] = prev.as_bytes();
    for (i, e) in rows.iter().enumerate() {
        let seq = e.seq;
        if seq != expected_seq {
            return Err(format!(
                "record seq {expected_seq} is missing (next present record is seq {seq}, id {})",
                e.id
            ));
        }
        if page.prev_hash(e) != last {
            return Err(format!(
                "record seq {seq} (id {}): prev_hash does not link to seq {}",
                e.id,
                seq - 1
            ));
        }
        if !content_ok.get(i).copied().unwrap_or(false) {
            return Err(format!(
                "record seq {seq} (id {}): content does not match its hash (altered)",
                e.id
            ));
        }
        let hash = page.hash(e);
        if let Some(head) = heads.get(&seq) {
            if head.as_bytes() != hash {
                return Err(format!(
                    "checkpoint at seq {seq}: signed head hash differs from the recomputed chain \
                     (a record at or before seq {seq} was altered and the chain recomputed)"
                ));
            }
        }
        last = hash;
        expected_seq += 1;
    }
    Ok((String::from_utf8_lossy(last).into_owned(), expected_seq))
}

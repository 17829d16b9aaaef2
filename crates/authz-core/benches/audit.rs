//! Audit chain benchmarks (issue 15 §1: append with chaining ≥ 5,000 records/s; verifying
//! 1,000,000 records < 3 s). Run with `bench/audit.sh` (PostgreSQL), or
//! `cargo bench -p authz-core --features testkit --bench audit` (SQLite unless
//! `GATEHOUSE_TEST_DATABASE_URL` names a PostgreSQL server).
//!
//! 1. criterion, in process: the canonical encoding and chain hash of one record.
//! 2. against the store: appends, one record per transaction from 32 concurrent writers, with
//!    the sealer chaining them as the server's background task does; appends of 100 records
//!    per transaction; the sealer over `AUDIT_BENCH_RECORDS` (default 1,000,000) unsealed
//!    records; and `verify_chain` over them.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authz_core::audit::{self, AuditEvent};
use authz_core::clock::SystemClock;
use authz_core::entities::audit_events;
use authz_core::{testkit, Store, TenantId};
use criterion::Criterion;
use std::hint::black_box;

fn event(tenant: &TenantId, i: u64) -> AuditEvent {
    AuditEvent::new(Some(tenant), "token.issued")
        .user(format!("user-{:08}", i % 5000))
        .client("client-8f0c1d2e-3a4b-4c5d-9e6f-0a1b2c3d4e5f".to_string())
        .session(format!("session-{i:012}"))
        .resource("https://mcp.example.com/crm".to_string())
        .scope("crm:customers:read crm:customers:write".to_string())
        .source(Some("203.0.113.7".into()), Some("bench/1".into()))
        .detail("tier", "routine")
        .detail("dpop", false)
}

fn model() -> audit_events::Model {
    audit_events::Model {
        id: 1,
        tenant_id: "2f9c1a4e-7b1d-4f7e-9a51-6d2c0b9e8a11".into(),
        occurred_at: 1_795_651_200_000_000,
        action: "token.issued".into(),
        result: "success".into(),
        actor: None,
        user_id: Some("user-00000042".into()),
        client_id: Some("client-8f0c1d2e-3a4b-4c5d-9e6f-0a1b2c3d4e5f".into()),
        session_id: Some("session-000000000042".into()),
        resource: Some("https://mcp.example.com/crm".into()),
        scope: Some("crm:customers:read crm:customers:write".into()),
        source_ip: Some("203.0.113.7".into()),
        user_agent: Some("bench/1".into()),
        details: r#"{"dpop":false,"tier":"routine"}"#.into(),
        writer_xact: 0,
    }
}

fn in_process(c: &mut Criterion) {
    let m = model();
    let mut buf = Vec::with_capacity(1024);
    c.bench_function("audit/canonical+chain_hash (one record)", |b| {
        b.iter(|| {
            audit::canonical_into(black_box(&m), 42, &mut buf);
            black_box(audit::chain_hash_bytes(audit::GENESIS_HASH, &buf))
        })
    });
}

async fn tenant(store: &Store) -> TenantId {
    authz_core::tenant::create(
        store,
        &SystemClock,
        "bench",
        "Bench",
        &["bench.example".to_string()],
    )
    .await
    .unwrap()
    .id
}

async fn sealed(store: &Store, chain: &TenantId) -> u64 {
    use authz_core::entities::audit_seals;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    audit_seals::Entity::find()
        .filter(audit_seals::Column::TenantId.eq(chain.to_string()))
        .count(&store.db)
        .await
        .unwrap()
}

/// 32 writers, one record per transaction, for `secs`, with a sealer loop beside them.
async fn append_one_per_txn(store: &Store, t: &TenantId, secs: u64) -> (f64, f64) {
    let key = testkit::master_key().audit_signing_key();
    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let before = sealed(store, t).await;
    let start = Instant::now();
    let mut writers = Vec::new();
    for w in 0..32u64 {
        let (store, t, stop, appended) = (store.clone(), t.clone(), stop.clone(), appended.clone());
        writers.push(tokio::spawn(async move {
            let mut i = w * 1_000_000;
            while !stop.load(Ordering::Relaxed) {
                let txn = store.begin().await.unwrap();
                audit::record(&txn, &SystemClock, event(&t, i))
                    .await
                    .unwrap();
                txn.commit().await.unwrap();
                appended.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    let sealer = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if audit::seal_all(&store, &key, &SystemClock).await.unwrap() == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    sealer.await.unwrap();
    let chained = sealed(store, t).await - before;
    (
        appended.load(Ordering::Relaxed) as f64 / elapsed,
        chained as f64 / elapsed,
    )
}

async fn db_phases() {
    let n: u64 = std::env::var("AUDIT_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let secs: u64 = std::env::var("AUDIT_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let backend = testkit::backend_name();
    let key = testkit::master_key().audit_signing_key();
    println!("\n## audit store benchmarks ({backend})\n");
    println!("| phase | records | seconds | records/s |\n|---|---:|---:|---:|");

    let store = testkit::store().await;
    let t = tenant(&store).await;
    let (appended, chained) = append_one_per_txn(&store, &t, secs).await;
    println!("| append, 1 record per transaction, 32 writers, sealer running | {:.0} appended/s | {secs} | {chained:.0} chained/s |", appended);

    // Batched: 100 records per transaction (a SCIM bulk request, a grant revoking many).
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        let txn = store.begin().await.unwrap();
        audit::record_all(&txn, &SystemClock, (0..100).map(|i| event(&t, done + i)))
            .await
            .unwrap();
        txn.commit().await.unwrap();
        done += 100;
    }
    let e = start.elapsed().as_secs_f64();
    let s0 = Instant::now();
    audit::seal_all(&store, &key, &SystemClock).await.unwrap();
    let total = e + s0.elapsed().as_secs_f64();
    println!(
        "| append, 100 records per transaction, then sealed | {done} | {total:.2} | {:.0} |",
        done as f64 / total
    );

    // A chain of n records: appended unsealed, sealed, verified.
    let store = testkit::store().await;
    let t = tenant(&store).await;
    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let k = (n - i).min(10_000);
        let txn = store.begin().await.unwrap();
        audit::record_all(&txn, &SystemClock, (0..k).map(|j| event(&t, i + j)))
            .await
            .unwrap();
        txn.commit().await.unwrap();
        i += k;
    }
    let e = start.elapsed().as_secs_f64();
    println!(
        "| append unsealed, 10,000 per transaction | {n} | {e:.2} | {:.0} |",
        n as f64 / e
    );
    let start = Instant::now();
    let s = audit::seal_all(&store, &key, &SystemClock).await.unwrap();
    let e = start.elapsed().as_secs_f64();
    println!(
        "| sealer (chain + checkpoint per 2,000) | {s} | {e:.2} | {:.0} |",
        s as f64 / e
    );
    for run in 1..=3 {
        let start = Instant::now();
        let r = audit::verify_chain(&store, t.as_str(), &key.verifying_key())
            .await
            .unwrap();
        let e = start.elapsed().as_secs_f64();
        assert!(r.ok(), "{:?}", r.first_break);
        assert_eq!(
            r.records as u64, s,
            "every sealed record (the tenant's own creation record too)"
        );
        println!(
            "| verify_chain, run {run} | {} | {e:.2} | {:.0} |",
            r.records,
            n as f64 / e
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    in_process(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` and criterion's listing: no store work.
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(db_phases());
}

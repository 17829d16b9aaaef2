//! Time is injected (STYLE §7): domain code asks a `Clock`, tests use `FixedClock`.
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub const MICROS: i64 = 1_000_000;

/// An instant (microseconds since the epoch) as an RFC 3339 UTC timestamp (`…Z`).
pub fn rfc3339(us: i64, precision: chrono::SecondsFormat) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap_or_default()
        .to_rfc3339_opts(precision, true)
}

pub trait Clock: Send + Sync + 'static {
    /// Microseconds since the Unix epoch.
    fn now_us(&self) -> i64;
    fn now_s(&self) -> i64 {
        self.now_us() / MICROS
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_us(&self) -> i64 {
        chrono::Utc::now().timestamp_micros()
    }
}

/// A clock tests move by hand.
#[derive(Clone, Debug)]
pub struct FixedClock(Arc<AtomicI64>);

impl FixedClock {
    pub fn new(now_us: i64) -> Self {
        FixedClock(Arc::new(AtomicI64::new(now_us)))
    }
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * MICROS, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_us(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub type SharedClock = Arc<dyn Clock>;

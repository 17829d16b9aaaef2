//! Fixed-window counters in this process's memory, for limits on the hot paths (grants,
//! introspection, audit ingestion) where one database write per request would cost a large
//! share of the throughput (DESIGN §10). Each node counts on its own, so with N nodes a caller
//! may reach N times the limit (ADR 0008): these are abuse ceilings far above normal use, not
//! security invariants. Windows line up with the shared counters' ([`super::hit`]), so
//! [`super::retry_after`] is the `Retry-After` of both.
use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::Clock;

/// Most keys one counter tracks in a window. Keys are authenticated identities (client and
/// resource-server ids), so this is never reached in practice; past it, new keys go uncounted
/// until the window ends rather than memory growing without bound.
pub const MAX_KEYS: usize = 100_000;

/// Hits per key in the current window; the whole map is dropped when the window ends, so memory
/// is bounded by the keys seen in one window.
#[derive(Debug)]
pub struct NodeCounter {
    window_secs: i64,
    current: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    start: i64,
    hits: HashMap<String, i64>,
}

impl NodeCounter {
    pub fn new(window_secs: i64) -> Self {
        NodeCounter {
            window_secs: window_secs.max(1),
            current: Mutex::new(Window::default()),
        }
    }

    pub fn window_secs(&self) -> i64 {
        self.window_secs
    }

    /// Counts one hit for `key`; once the window's count is over `limit`, `Some(seconds)` until
    /// the window ends.
    pub fn hit(&self, clock: &dyn Clock, key: &str, limit: i64) -> Option<i64> {
        let n = self.with_window(clock, |w| {
            let room = w.hits.len() < MAX_KEYS;
            match w.hits.get_mut(key) {
                Some(n) => {
                    *n = n.saturating_add(1);
                    *n
                }
                None if room => {
                    w.hits.insert(key.to_string(), 1);
                    1
                }
                None => 0,
            }
        });
        (n > limit).then(|| super::retry_after(clock, self.window_secs))
    }

    /// Whether `key` has already used its `limit` in this window, without counting: for limits
    /// on successful work, checked before the work and counted ([`Self::add`]) after it.
    pub fn full(&self, clock: &dyn Clock, key: &str, limit: i64) -> Option<i64> {
        let n = self.with_window(clock, |w| w.hits.get(key).copied().unwrap_or(0));
        (n >= limit).then(|| super::retry_after(clock, self.window_secs))
    }

    /// Counts one hit for `key` (see [`Self::full`]).
    pub fn add(&self, clock: &dyn Clock, key: &str) {
        self.hit(clock, key, i64::MAX);
    }

    fn with_window<T>(&self, clock: &dyn Clock, f: impl FnOnce(&mut Window) -> T) -> T {
        let start = super::window_start(clock, self.window_secs);
        // A panic while holding the lock cannot leave a count half-written: use it anyway.
        let mut w = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if w.start != start {
            w.start = start;
            w.hits.clear();
            w.hits.shrink_to(64);
        }
        f(&mut w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{FixedClock, MICROS};

    #[test]
    fn counts_per_key_and_starts_again_in_the_next_window() {
        let c = FixedClock::new(3_600 * 1000 * MICROS + 15 * MICROS);
        let n = NodeCounter::new(60);
        assert_eq!(n.hit(&c, "a", 2), None);
        assert_eq!(n.hit(&c, "a", 2), None);
        assert_eq!(
            n.hit(&c, "a", 2),
            Some(45),
            "over the limit until the window ends"
        );
        assert_eq!(n.hit(&c, "b", 2), None, "another key has its own count");
        c.advance_secs(45);
        assert_eq!(n.hit(&c, "a", 2), None, "a new window");
    }

    #[test]
    fn full_checks_without_counting() {
        let c = FixedClock::new(3_600 * 1000 * MICROS);
        let n = NodeCounter::new(60);
        assert_eq!(n.full(&c, "a", 1), None);
        assert_eq!(n.full(&c, "a", 1), None, "checking does not count");
        n.add(&c, "a");
        assert_eq!(n.full(&c, "a", 1), Some(60));
        assert_eq!(n.full(&c, "b", 1), None);
        c.advance_secs(60);
        assert_eq!(n.full(&c, "a", 1), None);
    }

    #[test]
    fn memory_is_bounded_by_the_keys_of_one_window() {
        let c = FixedClock::new(3_600 * 1000 * MICROS);
        let n = NodeCounter::new(60);
        for i in 0..MAX_KEYS + 10 {
            n.add(&c, &i.to_string());
        }
        assert_eq!(n.current.lock().unwrap().hits.len(), MAX_KEYS);
        c.advance_secs(60);
        n.add(&c, "x");
        assert_eq!(n.current.lock().unwrap().hits.len(), 1);
    }
}

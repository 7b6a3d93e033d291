//! The access tokens of recent requests, kept in memory by each process so that an
//! authenticated request does not read its token's row again and again.
//!
//! Why: every API request starts by looking its token up; on a home page that read was a
//! twentieth of the instructions, and with the token and its account both cached a
//! request needs no read at all to know who makes it.
//!
//! Correctness: a token's row never changes; it is only deleted (revoked, rotated, signed
//! out, or with its account's deactivation). Every delete of this process empties the
//! whole cache once committed ([`TokenCache::forget_all`]): deletes are rare, and emptying
//! everything needs no knowledge of which tokens went. A read that began before such a
//! delete must not put its token back: it takes a ticket ([`TokenCache::ticket`]) before
//! its snapshot begins, and what it puts back is removed again if a delete came after the
//! ticket. Deletes by other nodes reach this one as revocation events (which empty the
//! cache too, see `service::realtime`); deletes by another process on the same SQLite file
//! (an admin command) are seen once the entry is older than [`TTL`]. The token's account
//! comes from the account cache, with that cache's own rules.

use crate::records::TokenRecord;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long an entry is trusted without this process having seen a delete: how late
/// another process's revocation may take effect here when no event announces it.
pub(crate) const TTL: Duration = Duration::from_secs(2);

/// Tokens kept at most: ~200 bytes each with the cache's own, so ~1.6 MiB.
const CAPACITY: usize = 8_192;

/// A token as cached, with when it was read.
type Entry = (TokenRecord, Instant);

/// Recently used tokens by the hash of their secret, shared by the readers of one
/// [`crate::Db`].
#[derive(Debug)]
pub(crate) struct TokenCache {
    entries: quick_cache::sync::Cache<String, Entry>,
    /// Counts deletes; a ticket is its value when a read began.
    clock: AtomicU64,
}

/// When a read began, as seen by [`TokenCache`] (taken before the read's snapshot).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

impl TokenCache {
    /// An empty cache.
    pub(crate) fn new() -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(CAPACITY),
            clock: AtomicU64::new(0),
        }
    }

    /// A ticket for a read about to begin.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.clock.load(Ordering::SeqCst))
    }

    /// The cached token with this hash, if read less than [`TTL`] ago.
    pub(crate) fn get(&self, hash: &str) -> Option<TokenRecord> {
        let (token, read_at) = self.entries.get(hash)?;
        (read_at.elapsed() < TTL).then_some(token)
    }

    /// Keeps a token read by the read that took `ticket`, unless a delete came since.
    pub(crate) fn put(&self, ticket: Ticket, hash: &str, token: &TokenRecord) {
        self.entries
            .insert(hash.to_owned(), (token.clone(), Instant::now()));
        // Checked after the insert: a delete that comes later empties the cache itself.
        if self.clock.load(Ordering::SeqCst) > ticket.0 {
            self.entries.remove(hash);
        }
    }

    /// Drops every token (after a committed delete of tokens, or news of one).
    pub(crate) fn forget_all(&self) {
        self.clock.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: i64) -> TokenRecord {
        TokenRecord {
            id,
            app_id: Some(1),
            account_id: Some(2),
            scopes: "read".into(),
            created_at: 0,
        }
    }

    #[test]
    fn keeps_what_was_put_until_a_delete() {
        let cache = TokenCache::new();
        cache.put(cache.ticket(), "h1", &token(1));
        assert_eq!(cache.get("h1").map(|t| t.id), Some(1));
        assert!(cache.get("h2").is_none());
        cache.forget_all();
        assert!(cache.get("h1").is_none());
    }

    #[test]
    fn a_read_older_than_a_delete_does_not_put_its_token_back() {
        let cache = TokenCache::new();
        let ticket = cache.ticket();
        // A revocation commits while the read is under way.
        cache.forget_all();
        cache.put(ticket, "h1", &token(1));
        assert!(cache.get("h1").is_none());
        // A read that began after it keeps its token.
        cache.put(cache.ticket(), "h1", &token(1));
        assert!(cache.get("h1").is_some());
    }
}

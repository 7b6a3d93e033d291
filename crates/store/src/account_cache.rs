//! The authors of recent pages, kept in memory by each process so that a page of posts
//! does not read its authors' rows again and again.
//!
//! Why: on a home page of twenty posts by twenty authors, reading the authors cost a sixth
//! of the page's instructions (callgrind) and a third of its page reads from the file.
//! Active authors appear on many pages a second; their rows change rarely (counters on
//! posting and following, profile edits, deactivation).
//!
//! Correctness: every write of this process that changes an account row forgets that
//! account once committed ([`AccountCache::forget`]). A reader that read a row from a
//! snapshot older than such a write must not put it back: it takes a ticket
//! ([`AccountCache::ticket`]) before its snapshot begins, and an entry it puts back is
//! removed again if an account of its stripe was forgotten after the ticket. Changes made
//! by another process (an admin command, another node on PostgreSQL) are seen once the
//! entry is older than [`TTL`].

use crate::records::AccountRecord;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long an entry is trusted without this process having seen a write to it: how late
/// another node's (or process's) change to an account may show on this node's pages.
pub(crate) const TTL: Duration = Duration::from_secs(2);

/// Accounts kept at most: ~450 bytes each with the cache's own, so ~3.5 MiB. Room for all
/// of the benchmark's 10,000 active authors took peak memory just past its 64 MiB target;
/// the recent authors of a page are what matters.
const CAPACITY: usize = 8_192;

/// Stripes of forget counters: a forget spoils the put-backs of readers of its stripe
/// only, so a steady stream of posts (each forgets its author) rarely spoils one.
const STRIPES: usize = 256;

/// An account as cached, with when it was read.
type Entry = (Arc<AccountRecord>, Instant);

/// Recently read accounts, shared by the readers of one [`crate::Db`].
#[derive(Debug)]
pub(crate) struct AccountCache {
    entries: quick_cache::sync::Cache<i64, Entry>,
    /// Counts forgets; a ticket is its value when a read began.
    clock: AtomicU64,
    /// For each stripe of account ids, the clock value of its latest forget.
    forgotten: Vec<AtomicU64>,
}

/// When a read began, as seen by [`AccountCache`] (taken before the read's snapshot).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

impl AccountCache {
    /// An empty cache.
    pub(crate) fn new() -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(CAPACITY),
            clock: AtomicU64::new(0),
            forgotten: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn stripe(&self, id: i64) -> &AtomicU64 {
        &self.forgotten[id.rem_euclid(STRIPES as i64) as usize]
    }

    /// A ticket for a read about to begin.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.clock.load(Ordering::SeqCst))
    }

    /// The cached account `id`, if read less than [`TTL`] ago.
    pub(crate) fn get(&self, id: i64) -> Option<Arc<AccountRecord>> {
        let (account, read_at) = self.entries.get(&id)?;
        (read_at.elapsed() < TTL).then_some(account)
    }

    /// Keeps accounts read by the read that took `ticket`, unless one of them may have
    /// changed since its snapshot.
    pub(crate) fn put(&self, ticket: Ticket, accounts: &[Arc<AccountRecord>]) {
        let now = Instant::now();
        for account in accounts {
            self.entries.insert(account.id, (Arc::clone(account), now));
            // Checked after the insert: a forget that comes later removes the entry itself.
            if self.stripe(account.id).load(Ordering::SeqCst) > ticket.0 {
                self.entries.remove(&account.id);
            }
        }
    }

    /// Drops accounts whose rows a committed write changed.
    pub(crate) fn forget(&self, ids: &[i64]) {
        for &id in ids {
            let now = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
            self.stripe(id).fetch_max(now, Ordering::SeqCst);
            self.entries.remove(&id);
        }
    }

    /// Drops every account (after a write that changed rows it cannot name cheaply).
    pub(crate) fn forget_all(&self) {
        let now = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
        for stripe in &self.forgotten {
            stripe.fetch_max(now, Ordering::SeqCst);
        }
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: i64, name: &str) -> Arc<AccountRecord> {
        Arc::new(AccountRecord {
            id,
            display_name: name.into(),
            ..AccountRecord::default()
        })
    }

    #[test]
    fn keeps_what_was_put_and_forgets_on_write() {
        let cache = AccountCache::new();
        cache.put(cache.ticket(), &[account(1, "a"), account(2, "b")]);
        assert_eq!(
            cache.get(1).map(|a| a.display_name.clone()),
            Some("a".into())
        );
        cache.forget(&[1]);
        assert!(cache.get(1).is_none());
        assert!(cache.get(2).is_some());
        cache.forget_all();
        assert!(cache.get(2).is_none());
    }

    #[test]
    fn a_read_older_than_a_forget_does_not_put_back_its_rows() {
        let cache = AccountCache::new();
        let ticket = cache.ticket();
        // A write commits and forgets account 1 while the read is under way.
        cache.forget(&[1]);
        cache.put(ticket, &[account(1, "old"), account(2, "b")]);
        assert!(cache.get(1).is_none());
        // Account 2 is in another stripe: its row was not written.
        assert!(cache.get(2).is_some());
        // A read that began after the forget keeps its rows.
        cache.put(cache.ticket(), &[account(1, "new")]);
        assert_eq!(
            cache.get(1).map(|a| a.display_name.clone()),
            Some("new".into())
        );
    }

    #[test]
    fn forgetting_everything_spoils_reads_under_way() {
        let cache = AccountCache::new();
        let ticket = cache.ticket();
        cache.forget_all();
        cache.put(ticket, &[account(7, "old")]);
        assert!(cache.get(7).is_none());
    }
}

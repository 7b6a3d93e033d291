//! The fan-out worker: copies queued posts into followers' home feeds in batches.
//!
//! Posting only queues the post (one small write), so it is acknowledged quickly however
//! many followers the author has; the worker then writes the feed rows of the posts queued
//! meanwhile, a batch at a time (one transaction on PostgreSQL, short transactions each
//! covering a slice of the followers on SQLite). Home reads merge the queue, so a post is visible
//! at once either way: the worker only moves work off the request path and batches it.
//! On PostgreSQL several workers (`fan_out_workers`) write disjoint batches at once.

use crate::{Result, Starling};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How often the worker looks at the queue even without being woken (posts queued by
/// another node, or left over from a crash).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Posts fanned out per batch on PostgreSQL (one transaction): large enough to share
/// commits, small enough that a backlog never becomes one endless transaction and
/// shutdown is never held up for long.
const BATCH: i64 = 200;
/// Posts fanned out per batch on SQLite, where a batch is written in short slices (see
/// `Db::fan_out_queued`): the more posts a batch holds, the more rows each page of the
/// feeds takes at once.
const SQLITE_BATCH: i64 = 1000;
/// Pause after a failed round, so a broken database is not hammered.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

impl Starling {
    /// Fans out everything queued now, a batch at a time; returns how many posts this
    /// call took off the queue.
    pub async fn fan_out_queued(&self) -> Result<u64> {
        let batch = self.fan_out_batch();
        let mut total = 0;
        loop {
            let done = self.db().fan_out_queued(batch).await?;
            self.fanned_out().fetch_add(done.removed, Ordering::Relaxed);
            total += done.removed;
            if done.taken < batch as u64 {
                return Ok(total);
            }
        }
    }

    /// Posts this node has fanned out since it started, by its workers and by
    /// [`fan_out_queued`](Self::fan_out_queued) (each post counted by the one batch that
    /// copied it), for monitoring and tests.
    pub fn fanned_out_posts(&self) -> u64 {
        self.fanned_out().load(Ordering::Relaxed)
    }

    /// Posts waiting to be fanned out.
    pub async fn fan_out_backlog(&self) -> Result<i64> {
        Ok(self.db().fan_out_backlog().await?)
    }

    /// Posts per fan-out batch on this node's database.
    fn fan_out_batch(&self) -> i64 {
        match self.db().backend() {
            starling_store::Backend::Sqlite => SQLITE_BATCH,
            starling_store::Backend::Postgres => BATCH,
        }
    }

    /// How many fan-out workers this node runs: one on SQLite (a single writer connection,
    /// so a second worker would only queue behind the first), `fan_out_workers` (at least
    /// one) on PostgreSQL.
    pub fn fan_out_worker_count(&self) -> usize {
        match self.db().backend() {
            starling_store::Backend::Sqlite => 1,
            starling_store::Backend::Postgres => self.settings().fan_out_workers.max(1),
        }
    }

    /// Runs the fan-out workers until `shutdown` resolves. The transaction still being
    /// written then (a batch on PostgreSQL, a slice of one on SQLite) is rolled back, and
    /// what is still queued stays queued (home reads merge it) for the next start.
    ///
    /// On PostgreSQL several workers write batches at once: one worker's transaction is
    /// mostly waiting on the server, and posting outran it (the backlog, merged by every
    /// home read, then slowed reads down). Each batch claims its own posts (see
    /// `Db::fan_out_queued`), and the batches' feed rows never overlap, so the workers
    /// neither repeat each other's work nor wait on each other's locks. Rejected: one worker
    /// per `author_id % N` slice — no locks, but one busy author keeps one worker busy
    /// while the others idle, and a node that stops strands its slices.
    pub async fn run_fan_out_worker(&self, shutdown: impl Future<Output = ()>) {
        let workers = self.fan_out_worker_count();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let app = self.clone();
            set.spawn(async move { app.fan_out_loop(workers > 1).await });
        }
        shutdown.await;
        // Aborting a worker drops its open transaction, which rolls back.
        set.shutdown().await;
    }

    /// One worker: waits to be woken (or for the idle poll), then writes batches while
    /// there is a backlog. With `helpers`, a full batch also wakes another idle worker,
    /// so workers join in as the backlog grows and leave as it drains.
    async fn fan_out_loop(&self, helpers: bool) {
        let batch = self.fan_out_batch();
        let mut backlog = false;
        loop {
            if !backlog {
                tokio::select! {
                    () = self.fan_out_wake().notified() => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
            let started = std::time::Instant::now();
            match self.db().fan_out_queued(batch).await {
                Ok(done) => {
                    if done.taken > 0 {
                        tracing::debug!(
                            posts = done.taken,
                            ms = started.elapsed().as_millis() as u64,
                            "fan-out batch written"
                        );
                    }
                    self.fanned_out().fetch_add(done.removed, Ordering::Relaxed);
                    backlog = done.taken >= batch as u64;
                    if backlog && helpers {
                        self.fan_out_wake().notify_one();
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "fan-out failed; will retry");
                    backlog = false;
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
    }
}

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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

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
/// On SQLite, the least time between the starts of two batches that are not full: posts
/// gather meanwhile. A batch writes about one page per follower whatever its size (each
/// follower's newest page of `home_feed`), so on the benchmark network batches of ~150
/// posts cost ~1 ms of the single writer per post, and larger ones proportionally less.
/// Readers see the gathering posts through the queue; a full batch never waits.
const SQLITE_GATHER: Duration = Duration::from_millis(250);
/// Longest a post waits for the fan-out to catch up (see [`FanOutState::full_batches`]).
const BACKPRESSURE_WAIT: Duration = Duration::from_secs(2);

/// What the fan-out workers and the requests that queue posts share.
#[derive(Debug, Default)]
pub(crate) struct FanOutState {
    /// Wakes a worker when a post is queued.
    pub(crate) wake: Notify,
    /// Told when a batch is written, for posts held back by [`Self::full_batches`].
    progress: Notify,
    /// How many of this node's workers found their last batch full, i.e. posting is
    /// outrunning the fan-out. New posts then wait for the next batch first:
    /// backpressure, so that the backlog (which every home read merges, and which must
    /// be written anyway) stays within about two batches per worker instead of growing
    /// without bound. (A flag set by whichever worker ended last let posts through
    /// whenever one of several workers took a short batch.)
    full_batches: AtomicUsize,
    /// Posts this node has fanned out since it started (see [`Starling::fanned_out_posts`]).
    fanned_out: AtomicU64,
}

impl FanOutState {
    /// Waits for the next batch (at most `limit`) if the last one was full.
    async fn wait_if_behind(&self, limit: Duration) {
        // Registered before the check, so a batch ending in between is not missed.
        let progress = self.progress.notified();
        tokio::pin!(progress);
        progress.as_mut().enable();
        if self.full_batches.load(Ordering::Relaxed) > 0 {
            let _ = tokio::time::timeout(limit, progress).await;
        }
    }

    /// Records the end of a worker's batch (`full`: it took all it could; `was_full`:
    /// the worker's batch before) and lets waiting posts go.
    fn batch_done(&self, was_full: bool, full: bool) {
        match (was_full, full) {
            (false, true) => {
                self.full_batches.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                self.full_batches.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
        self.progress.notify_waiters();
    }
}

/// One worker's part in [`FanOutState::full_batches`]: whether its last batch was full.
/// Dropped with the worker (a panic, shutdown), it takes that part back, so posts are not
/// held back for a worker that no longer writes batches.
struct WorkerPace<'a> {
    state: &'a FanOutState,
    behind: bool,
}

impl<'a> WorkerPace<'a> {
    fn new(state: &'a FanOutState) -> Self {
        Self {
            state,
            behind: false,
        }
    }

    /// Records the end of a batch: `full` if it took all it could.
    fn batch_done(&mut self, full: bool) {
        self.state.batch_done(self.behind, full);
        self.behind = full;
    }
}

impl Drop for WorkerPace<'_> {
    fn drop(&mut self) {
        if self.behind {
            self.state.batch_done(true, false);
        }
    }
}

impl Starling {
    /// Fans out everything queued now, a batch at a time; returns how many posts this
    /// call took off the queue.
    pub async fn fan_out_queued(&self) -> Result<u64> {
        let batch = self.fan_out_batch();
        let mut total = 0;
        loop {
            let done = self.db().fan_out_queued(batch).await?;
            self.fan_out_state()
                .fanned_out
                .fetch_add(done.removed, Ordering::Relaxed);
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
        self.fan_out_state().fanned_out.load(Ordering::Relaxed)
    }

    /// Before a post is queued: waits (at most [`BACKPRESSURE_WAIT`]) for the next batch
    /// if the fan-out is behind.
    pub(crate) async fn wait_for_fan_out(&self) {
        self.fan_out_state().wait_if_behind(BACKPRESSURE_WAIT).await;
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
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(ended) = set.join_next() => {
                    // A worker only ends by panicking (a bug): without another, posts
                    // would stay queued (merged by every home read) for good.
                    tracing::error!(error = ?ended.err(), "fan-out worker stopped; starting another");
                    tokio::time::sleep(RETRY_PAUSE).await;
                    let app = self.clone();
                    set.spawn(async move { app.fan_out_loop(workers > 1).await });
                }
            }
        }
        // Aborting a worker drops its open transaction, which rolls back.
        set.shutdown().await;
    }

    /// One worker: waits to be woken (or for the idle poll), then writes batches while
    /// there is a backlog. With `helpers`, a full batch also wakes another idle worker,
    /// so workers join in as the backlog grows and leave as it drains.
    async fn fan_out_loop(&self, helpers: bool) {
        let batch = self.fan_out_batch();
        let gather = match self.db().backend() {
            starling_store::Backend::Sqlite => SQLITE_GATHER,
            starling_store::Backend::Postgres => Duration::ZERO,
        };
        let state = self.fan_out_state();
        let mut pace = WorkerPace::new(state);
        let mut backlog = false;
        let mut last_start: Option<Instant> = None;
        loop {
            if !backlog {
                tokio::select! {
                    () = state.wake.notified() => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                }
                if let Some(at) = last_start {
                    tokio::time::sleep_until((at + gather).into()).await;
                }
            }
            let started = Instant::now();
            last_start = Some(started);
            match self.db().fan_out_queued(batch).await {
                Ok(done) => {
                    if done.taken > 0 {
                        tracing::debug!(
                            posts = done.taken,
                            ms = started.elapsed().as_millis() as u64,
                            "fan-out batch written"
                        );
                    }
                    state.fanned_out.fetch_add(done.removed, Ordering::Relaxed);
                    backlog = done.taken >= batch as u64;
                    pace.batch_done(backlog);
                    if backlog && helpers {
                        state.wake.notify_one();
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "fan-out failed; will retry");
                    pace.batch_done(false);
                    backlog = false;
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

    use super::*;
    use std::task::Poll;

    /// Posts go straight on while the fan-out keeps up; once a batch comes back full they
    /// wait for the next batch, and no longer than the limit.
    #[tokio::test]
    async fn posts_wait_for_the_next_batch_only_while_the_fan_out_is_behind() {
        let state = FanOutState::default();
        let long = Duration::from_secs(60);
        tokio::time::timeout(Duration::from_secs(1), state.wait_if_behind(long))
            .await
            .expect("not behind: no wait");

        state.batch_done(false, true);
        let mut waiting = Box::pin(state.wait_if_behind(long));
        // Polled once: it has registered for the next batch and is still waiting.
        let pending =
            std::future::poll_fn(|cx| Poll::Ready(waiting.as_mut().poll(cx).is_pending())).await;
        assert!(pending, "behind: the post waits");
        state.batch_done(true, false);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("the next batch lets it go");

        state.batch_done(false, true);
        let started = Instant::now();
        state.wait_if_behind(Duration::from_millis(100)).await;
        assert!(started.elapsed() >= Duration::from_millis(100));
        tokio::time::timeout(Duration::from_secs(1), state.wait_if_behind(long))
            .await
            .expect_err("still behind without a batch: the next post waits too");

        // Two workers: one short batch does not let posts through while the other's
        // last batch was full.
        state.batch_done(false, true);
        state.batch_done(true, false);
        tokio::time::timeout(Duration::from_millis(100), state.wait_if_behind(long))
            .await
            .expect_err("one of two workers still behind");
        state.batch_done(true, false);
        tokio::time::timeout(Duration::from_secs(1), state.wait_if_behind(long))
            .await
            .expect("no worker behind: no wait");
    }

    /// A worker that stops (a panic, shutdown) while its last batch was full no longer
    /// holds posts back.
    #[tokio::test]
    async fn a_worker_gone_while_behind_no_longer_holds_posts_back() {
        let state = FanOutState::default();
        let long = Duration::from_secs(60);
        let mut other = WorkerPace::new(&state);
        other.batch_done(true);
        {
            let mut gone = WorkerPace::new(&state);
            gone.batch_done(true);
            gone.batch_done(true);
        }
        tokio::time::timeout(Duration::from_millis(100), state.wait_if_behind(long))
            .await
            .expect_err("the other worker is still behind");
        drop(other);
        tokio::time::timeout(Duration::from_secs(1), state.wait_if_behind(long))
            .await
            .expect("no worker left behind: no wait");
        assert_eq!(state.full_batches.load(Ordering::Relaxed), 0);
    }
}

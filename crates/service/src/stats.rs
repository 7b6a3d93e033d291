//! The instance's counts (active accounts, posts) for its description, recounted at most
//! once a [`TTL`] and by one task at a time.
//!
//! Why: counting scans whole tables (~1.6 s for a million accounts on PostgreSQL under
//! load) and clients fetch the instance often. When every request that found the counts
//! stale recounted them, the 64 connections of the benchmark's `instance` workload all
//! recounted at once each minute, and the endpoint's slowest request took 4–7 s. Now a
//! request that finds the counts stale answers with them and starts one recount in the
//! background; only the very first requests, with nothing counted yet, wait, for one
//! count between them.

use crate::Result;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long counts are served before they are recounted.
pub(crate) const TTL: Duration = Duration::from_secs(60);

/// Active accounts and posts.
pub(crate) type Counts = (i64, i64);

/// The counts and when they were taken.
#[derive(Debug, Default)]
pub(crate) struct StatsCache {
    counted: Mutex<Option<(Instant, Counts)>>,
    /// Whether a recount is under way in the background.
    recounting: AtomicBool,
    /// Held by the first count; the requests that come meanwhile wait for it.
    first: tokio::sync::Mutex<()>,
}

impl StatsCache {
    fn cached(&self) -> Option<(Instant, Counts)> {
        self.counted.lock().ok().and_then(|c| *c)
    }

    fn store(&self, counts: Counts) {
        if let Ok(mut c) = self.counted.lock() {
            *c = Some((Instant::now(), counts));
        }
    }

    /// The counts: as cached (starting one recount in the background with `recount` when
    /// they are older than [`TTL`]), or, before anything was counted, counted once for
    /// every caller waiting.
    pub(crate) async fn get<F, Fut>(self: &std::sync::Arc<Self>, recount: F) -> Result<Counts>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Counts>> + Send + 'static,
    {
        if let Some((at, counts)) = self.cached() {
            if at.elapsed() >= TTL && !self.recounting.swap(true, Ordering::AcqRel) {
                let cache = std::sync::Arc::clone(self);
                let counting = recount();
                tokio::spawn(async move {
                    match counting.await {
                        Ok(counts) => cache.store(counts),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot recount the instance's figures")
                        }
                    }
                    cache.recounting.store(false, Ordering::Release);
                });
            }
            return Ok(counts);
        }
        let _first = self.first.lock().await;
        // Counted while this request waited.
        if let Some((_, counts)) = self.cached() {
            return Ok(counts);
        }
        let counts = recount().await?;
        self.store(counts);
        Ok(counts)
    }

    /// Test helper: counts as if taken `age` ago.
    #[cfg(test)]
    fn set(&self, counts: Counts, age: Duration) {
        if let Ok(mut c) = self.counted.lock() {
            *c = Instant::now().checked_sub(age).map(|at| (at, counts));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    /// A recount that yields once before it answers (so the requests started with it
    /// overlap it) and says how often it ran.
    fn recount(
        runs: &Arc<AtomicUsize>,
        counts: Counts,
    ) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = Result<Counts>> + Send>> {
        let runs = Arc::clone(runs);
        move || {
            runs.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                tokio::task::yield_now().await;
                Ok(counts)
            })
        }
    }

    /// Eight requests at once, each with a recount to (3, 4) at hand.
    async fn eight_at_once(cache: &Arc<StatsCache>, runs: &Arc<AtomicUsize>) -> Vec<Counts> {
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (cache, runs) = (Arc::clone(cache), Arc::clone(runs));
            requests.spawn(async move { cache.get(recount(&runs, (3, 4))).await.unwrap() });
        }
        requests.join_all().await
    }

    #[tokio::test]
    async fn the_first_requests_share_one_count() {
        let cache = Arc::new(StatsCache::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let all = eight_at_once(&cache, &runs).await;
        assert_eq!(all, vec![(3, 4); 8]);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn stale_counts_are_served_while_one_recount_runs() {
        let cache = Arc::new(StatsCache::default());
        cache.set((1, 2), TTL * 2);
        let runs = Arc::new(AtomicUsize::new(0));
        let all = eight_at_once(&cache, &runs).await;
        assert_eq!(all, vec![(1, 2); 8]);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // Once the background recount is done, its figures are served, and not recounted
        // again. It runs on this test's runtime as soon as this task yields.
        while cache.recounting.load(Ordering::Acquire) {
            tokio::task::yield_now().await;
        }
        assert_eq!(cache.cached().map(|(_, c)| c), Some((3, 4)));
        assert_eq!(cache.get(recount(&runs, (5, 6))).await.unwrap(), (3, 4));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}

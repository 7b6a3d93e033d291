//! The fan-out worker: copies queued posts into followers' home feeds in batches.
//!
//! Posting only queues the post (one small write), so it is acknowledged quickly however
//! many followers the author has; the worker then writes the feed rows of the posts queued
//! meanwhile, up to a batch per transaction. Home reads merge the queue, so a post is visible
//! at once either way: the worker only moves work off the request path and batches it.

use crate::{Result, Starling};
use std::future::Future;
use std::time::Duration;

/// How often the worker looks at the queue even without being woken (posts queued by
/// another node, or left over from a crash).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Posts fanned out per transaction: large enough to share commits, small enough that a
/// backlog never becomes one endless transaction and shutdown is never held up for long.
const BATCH: i64 = 200;
/// Pause after a failed round, so a broken database is not hammered.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

impl Starling {
    /// Fans out everything queued now, a batch per transaction; returns how many posts
    /// were copied.
    pub async fn fan_out_queued(&self) -> Result<u64> {
        let mut total = 0;
        loop {
            let done = self.db().fan_out_queued(BATCH).await?;
            total += done;
            if done < BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// Posts waiting to be fanned out.
    pub async fn fan_out_backlog(&self) -> Result<i64> {
        Ok(self.db().fan_out_backlog().await?)
    }

    /// Runs the fan-out worker until `shutdown` resolves. What is still queued then stays
    /// queued (home reads merge it) for the next start.
    pub async fn run_fan_out_worker(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut backlog = false;
        loop {
            if !backlog {
                tokio::select! {
                    () = &mut shutdown => break,
                    () = self.fan_out_wake().notified() => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                done = self.db().fan_out_queued(BATCH) => match done {
                    Ok(n) => backlog = n >= BATCH as u64,
                    Err(e) => {
                        tracing::warn!(error = %e, "fan-out failed; will retry");
                        backlog = false;
                        tokio::time::sleep(RETRY_PAUSE).await;
                    }
                },
            }
        }
    }
}

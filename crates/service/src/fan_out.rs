//! The fan-out worker: copies queued posts into followers' home feeds in batches.
//!
//! Posting only queues the post (one small write), so it is acknowledged quickly however
//! many followers the author has; the worker then writes the feed rows of every post
//! queued meanwhile in one transaction. Home reads merge the queue, so a post is visible
//! at once either way: the worker only moves work off the request path and batches it.

use crate::{Result, Starling};
use std::future::Future;
use std::time::Duration;

/// How often the worker looks at the queue even without being woken (posts queued by
/// another node, or left over from a crash).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Pause after a failed round, so a broken database is not hammered.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

impl Starling {
    /// Fans out everything queued now; returns how many posts were copied.
    pub async fn fan_out_queued(&self) -> Result<u64> {
        Ok(self.db().fan_out_queued().await?)
    }

    /// Posts waiting to be fanned out.
    pub async fn fan_out_backlog(&self) -> Result<i64> {
        Ok(self.db().fan_out_backlog().await?)
    }

    /// Runs the fan-out worker until `shutdown` resolves, then empties the queue once more.
    pub async fn run_fan_out_worker(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                () = self.fan_out_wake().notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
            if let Err(e) = self.fan_out_queued().await {
                tracing::warn!(error = %e, "fan-out failed; will retry");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
        if let Err(e) = self.fan_out_queued().await {
            tracing::warn!(error = %e, "final fan-out failed; the queue is kept for the next start");
        }
    }
}

//! The push worker: takes queued pushes from the database, decides at delivery time
//! whether each may still go (the subscription's alerts and policy as they are now, and
//! the visibility rule for the recipient — a push never carries what the notifications
//! list would not show), encrypts Mastodon's push JSON for the subscriber and POSTs it to
//! the push service.
//!
//! Answers: 2xx delivered; 404/410 the subscription is gone (RFC 8030 §7.3) and is
//! deleted with its queue; 408, 429 and 5xx (and network errors) are retried with
//! exponential backoff up to `push_retry_max_ms`, honouring `Retry-After`, and given up
//! after `push_max_attempts`; any other 4xx means this request will never be accepted, so
//! the push is dropped (the subscription stays: the next push may fare better).
//!
//! The queue is in the database rather than in memory so that a restart, a crash or a
//! deploy loses no push, and so that any node may deliver what another queued.

use super::crypto;
use crate::views::NotificationView;
use crate::{Result, Starling};
use rand::Rng as _;
use serde::Serialize;
use starling_domain::id::now_millis;
use starling_domain::push::PushPolicy;
use starling_store::StoreError;
use starling_store::push::PushJob;
use std::future::Future;
use std::time::Duration;

/// Most pushes sent at once.
const IN_FLIGHT: usize = 32;
/// Longest wait for a push service's answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for a connection to a push service.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed push is left to its worker before another may take it: longer than
/// a request can take, so a push is only sent twice if its worker died.
const LEASE: Duration = Duration::from_secs(120);
/// How long the push service should keep a message for an offline device (`TTL`): two
/// days, as Mastodon.
const TTL_SECS: u64 = 48 * 60 * 60;
/// How long pushes in flight at shutdown may take to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after the database failed, so a broken database is not hammered.
const DB_RETRY_PAUSE: Duration = Duration::from_secs(1);
/// Longest push body, in characters, as Mastodon (longer text is cut with `...`).
const BODY_CHARS: usize = 140;

/// The JSON a Mastodon client's service worker or push relay decrypts: Mastodon's
/// `Web::NotificationSerializer`. It is the push protocol's message, built and encrypted
/// here and never served by the API. Mastodon also sends the subscription's access token;
/// Starling keeps only hashes of tokens, and the client holds its token anyway.
#[derive(Debug, Serialize)]
struct PushMessage<'a> {
    /// The language of `title` and `body`.
    preferred_locale: &'a str,
    /// The notification's id, a JSON number as Mastodon sends it.
    notification_id: i64,
    /// The notification's type (`mention`, `follow`…).
    notification_type: &'a str,
    /// The avatar of the account that caused it.
    icon: String,
    /// One line saying what happened.
    title: String,
    /// The post's text (or content warning), or the account's bio for follows.
    body: String,
}

/// What became of one attempt.
#[derive(Debug)]
enum Outcome {
    /// The push service accepted it.
    Delivered,
    /// Not to be sent after all (the notification, subscription or account is gone, the
    /// alert or policy no longer allows it, or the recipient may not see it).
    Skipped(&'static str),
    /// The subscription no longer exists at the push service.
    Gone(u16),
    /// The push service will never accept this request.
    Rejected(u16),
    /// Try again later (at least `after`, if the push service said so).
    Retry {
        /// What went wrong.
        cause: String,
        /// The push service's `Retry-After`.
        after: Option<Duration>,
    },
}

/// The HTTP client for push services: https through rustls, no redirects (a push
/// endpoint does not move, and the VAPID audience is bound to its origin).
fn push_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Starling/", env!("CARGO_PKG_VERSION")))
        .build()
}

impl Starling {
    /// Runs the push worker until `shutdown` resolves. Pushes in flight then get
    /// `SHUTDOWN_GRACE` to finish; any still running are abandoned, stay queued and go out
    /// after their lease, from this node's next start or another node.
    ///
    /// Up to `IN_FLIGHT` pushes are sent at once, each in its own task, and the worker
    /// claims more as soon as one finishes: a push service that is slow to answer holds
    /// up its own pushes only, not everyone's.
    pub async fn run_push_worker(&self, shutdown: impl Future<Output = ()>) {
        let client = match push_client() {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the HTTP client: Web Push is off");
                return;
            }
        };
        let poll = Duration::from_millis(self.settings().push_poll_interval_ms.max(1));
        let mut shutdown = std::pin::pin!(shutdown);
        let mut running = tokio::task::JoinSet::new();
        // Look at once: pushes may be left from before a restart.
        let mut look = true;
        loop {
            let free = IN_FLIGHT.saturating_sub(running.len());
            if look && free > 0 {
                match self.claim_due_pushes(free).await {
                    Ok(jobs) => {
                        for job in jobs {
                            let app = self.clone();
                            let client = client.clone();
                            running.spawn(async move { app.deliver_push(&client, job).await });
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "push queue unavailable; will retry");
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(DB_RETRY_PAUSE) => {}
                        }
                    }
                }
            }
            look = tokio::select! {
                () = &mut shutdown => break,
                () = self.push_wake().notified() => true,
                () = tokio::time::sleep(poll) => true,
                // A push finished: room for another.
                Some(done) = running.join_next() => {
                    if let Err(e) = done {
                        tracing::error!(error = %e, "a push delivery task failed");
                    }
                    true
                }
            };
        }
        // Pushes in flight may finish and record their outcome, for a moment.
        let drain = async { while running.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::info!("pushes still in flight at shutdown are left for their lease");
        }
    }

    /// Claims up to `limit` pushes due now.
    async fn claim_due_pushes(&self, limit: usize) -> Result<Vec<PushJob>> {
        let now = now_millis();
        // A read first: most wake-ups (a notification for someone without a subscription)
        // find nothing, and SQLite's single writer stays free for posters.
        if !self.db().push_jobs_due(now).await? {
            return Ok(Vec::new());
        }
        let lease_until = now + LEASE.as_millis() as i64;
        let limit = i64::try_from(limit).unwrap_or(1);
        Ok(self.db().claim_push_jobs(now, lease_until, limit).await?)
    }

    /// One attempt at one push, and what follows from it in the queue.
    async fn deliver_push(&self, client: &reqwest::Client, job: PushJob) {
        let outcome = match self.attempt_push(client, &job).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Retry {
                cause: format!("cannot prepare the push: {e}"),
                after: None,
            },
        };
        let recorded = match outcome {
            Outcome::Delivered => {
                tracing::debug!(?job, "push delivered");
                self.db().finish_push_job(&job).await
            }
            Outcome::Skipped(why) => {
                tracing::debug!(?job, why, "push not sent");
                self.db().finish_push_job(&job).await
            }
            Outcome::Gone(status) => {
                tracing::info!(?job, status, "push subscription expired; removing it");
                self.db()
                    .delete_push_subscription(job.subscription_id)
                    .await
            }
            Outcome::Rejected(status) => {
                tracing::warn!(?job, status, "push refused by the push service; dropped");
                self.db().finish_push_job(&job).await
            }
            Outcome::Retry { cause, after } => {
                let s = self.settings();
                if job.attempts >= i64::from(s.push_max_attempts.max(1)) {
                    tracing::warn!(?job, cause, "push failed too often; given up");
                    self.db().finish_push_job(&job).await
                } else {
                    let delay = retry_delay(
                        job.attempts,
                        Duration::from_millis(s.push_retry_base_ms),
                        Duration::from_millis(s.push_retry_max_ms),
                        after,
                    );
                    tracing::debug!(?job, cause, ?delay, "push failed; will retry");
                    let run_at = now_millis() + delay.as_millis() as i64;
                    self.db().retry_push_job(&job, run_at).await
                }
            }
        };
        if let Err(e) = recorded {
            // The lease runs out and the push is tried again.
            tracing::warn!(?job, error = %e, "cannot record a push's outcome");
        }
    }

    /// Builds, encrypts and sends one push.
    async fn attempt_push(&self, client: &reqwest::Client, job: &PushJob) -> Result<Outcome> {
        let sub = match self.db().push_subscription(job.subscription_id).await {
            Ok(sub) => sub,
            Err(StoreError::NotFound) => return Ok(Outcome::Skipped("subscription removed")),
            Err(e) => return Err(e.into()),
        };
        let note = match self
            .db()
            .notification(sub.account_id, job.notification_id)
            .await
        {
            Ok(note) => note,
            Err(StoreError::NotFound) => return Ok(Outcome::Skipped("notification dismissed")),
            Err(e) => return Err(e.into()),
        };
        // The subscription as it is now: alerts or policy may have changed since.
        let policy = PushPolicy::parse(&sub.policy).unwrap_or(PushPolicy::None);
        if !sub.alerts.wants(&note.kind) || policy == PushPolicy::None {
            return Ok(Outcome::Skipped("alert or policy off"));
        }
        let me = self.db().account(sub.account_id).await?;
        if me.deactivated_at.is_some() {
            return Ok(Outcome::Skipped("recipient deactivated"));
        }
        if policy.needs_relationship() {
            let rel = self
                .db()
                .relationships(me.id, &[note.from_account_id])
                .await?
                .into_iter()
                .next()
                .unwrap_or_default();
            if !policy.allows(rel.following, rel.followed_by) {
                return Ok(Outcome::Skipped("policy"));
            }
        }
        // The one visibility rule, as for `GET /api/v1/notifications`.
        let Some(view) = self
            .present_notifications(&me, vec![note])
            .await?
            .into_iter()
            .next()
        else {
            return Ok(Outcome::Skipped("not visible to the recipient"));
        };
        let message = push_message(&view, &self.settings().default_avatar_url());
        let plaintext = serde_json::to_vec(&message).map_err(internal)?;

        let (Some(ua_public), Some(auth)) = (
            crypto::parse_p256dh(&sub.p256dh),
            crypto::parse_auth(&sub.auth),
        ) else {
            // Checked when subscribing; only a row edited by hand gets here.
            return Ok(Outcome::Skipped("stored subscription keys are invalid"));
        };
        let body = crypto::encrypt(&plaintext, &ua_public, &auth).map_err(internal)?;
        let endpoint = url::Url::parse(&sub.endpoint).map_err(internal)?;
        let now_secs = u64::try_from(now_millis() / 1000).unwrap_or(0);
        let authorization =
            self.vapid()
                .authorization(&endpoint, &self.settings().push_contact(), now_secs);
        let sent = client
            .post(endpoint)
            .header("TTL", TTL_SECS.to_string())
            .header("Urgency", "normal")
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Authorization", authorization)
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                return Ok(Outcome::Retry {
                    cause: format!("push service unreachable: {e}"),
                    after: None,
                });
            }
        };
        let status = response.status().as_u16();
        Ok(match status {
            200..=299 => Outcome::Delivered,
            404 | 410 => Outcome::Gone(status),
            408 | 429 | 500..=599 => Outcome::Retry {
                cause: format!("push service answered {status}"),
                after: response
                    .headers()
                    .get("Retry-After")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs),
            },
            _ => Outcome::Rejected(status),
        })
    }
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> crate::ServiceError {
    crate::ServiceError::Internal(Box::new(e))
}

/// The wait before attempt `attempts + 1`: `base` doubled for each attempt made after the
/// first, at most `max`, at least what the push service asked for (within `max`), plus up
/// to a tenth at random so that pushes failing together do not retry together. (The mail
/// worker backs off the same way.)
pub(crate) fn retry_delay(
    attempts: i64,
    base: Duration,
    max: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let backoff = base.saturating_mul(1 << doublings).min(max);
    let delay = retry_after.map_or(backoff, |after| backoff.max(after.min(max)));
    let jitter = rand::thread_rng().gen_range(0..=delay.as_millis() as u64 / 10);
    delay + Duration::from_millis(jitter)
}

/// Mastodon's push message for a notification.
fn push_message<'a>(view: &'a NotificationView, icon: &str) -> PushMessage<'a> {
    let from = &view.account;
    let name = if from.display_name.trim().is_empty() {
        from.username.as_str()
    } else {
        from.display_name.trim()
    };
    let kind = view.notification.kind.as_str();
    let title = match kind {
        "mention" => format!("{name} mentioned you"),
        "status" => format!("{name} just posted"),
        "reblog" => format!("{name} boosted your post"),
        "follow" => format!("{name} is now following you"),
        "follow_request" => format!("Pending follower: {name}"),
        "favourite" => format!("{name} favourited your post"),
        "poll" => format!("A poll by {name} has ended"),
        "update" => format!("{name} edited a post"),
        _ => format!("New notification from {name}"),
    };
    let text = match &view.status {
        Some(s) if !s.status.spoiler_text.trim().is_empty() => s.status.spoiler_text.as_str(),
        Some(s) => s.status.text.as_str(),
        None => from.note.as_str(),
    };
    PushMessage {
        preferred_locale: "en",
        notification_id: view.notification.id,
        notification_type: kind,
        icon: icon.to_owned(),
        title,
        body: truncate(text, BODY_CHARS),
    }
}

/// `text` cut to at most `max` characters, ending in `...` when cut (as Rails'
/// `truncate`, which Mastodon uses).
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{}...", kept.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap() {
        let base = Duration::from_secs(10);
        let max = Duration::from_secs(100);
        let within = |d: Duration, expected: u64| {
            let ms = d.as_millis() as u64;
            assert!(
                ms >= expected * 1000 && ms <= expected * 1100,
                "{ms} ms, expected {expected} s + jitter"
            );
        };
        within(retry_delay(1, base, max, None), 10);
        within(retry_delay(2, base, max, None), 20);
        within(retry_delay(3, base, max, None), 40);
        within(retry_delay(5, base, max, None), 100);
        within(retry_delay(1_000, base, max, None), 100);
        within(retry_delay(1, base, max, Some(Duration::from_secs(60))), 60);
        within(
            retry_delay(1, base, max, Some(Duration::from_secs(600))),
            100,
        );
    }

    #[test]
    fn bodies_are_cut_like_mastodon() {
        assert_eq!(truncate("short", 140), "short");
        let long = "é".repeat(200);
        let cut = truncate(&long, 140);
        assert_eq!(cut.chars().count(), 140);
        assert!(cut.ends_with("..."));
        assert_eq!(truncate(&"a".repeat(140), 140), "a".repeat(140));
    }
}

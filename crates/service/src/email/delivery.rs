//! The mail worker: takes queued e-mails from the database, decides at sending time
//! whether each may still go (the recipient is active and has an address, their
//! preference for that kind is still on, the notification is still there and the
//! visibility rule still lets them see it — a mail never carries what the notifications
//! list would not show), writes it and hands it to the SMTP server. Once a minute it also
//! queues the daily digest of everyone whose last one is a day old.
//!
//! SMTP answers: 2xx sent; 5xx (permanent) dropped, since that message will never be
//! accepted; 4xx and network or TLS errors retried with exponential backoff up to
//! `mail_retry_max_ms` and given up after `mail_max_attempts`. Delivery is at least once:
//! a worker that dies after the server accepted a mail but before recording it leaves the
//! job to be sent again after its lease, with the same `Message-ID` so mail clients can
//! tell the copies apart.

use super::DAY_MS;
use super::message::{self, Composed, DigestContent, Site};
use crate::timelines::Timeline;
use crate::{Result, Starling};
use lettre::address::Envelope;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncTransport as _, Message};
use starling_domain::email::EmailKind;
use starling_domain::id::{min_id_at, now_millis};
use starling_store::email::EmailJob;
use starling_store::{AccountRecord, Page, StoreError};
use std::future::Future;
use std::time::{Duration, Instant};

/// Most mails sent at once.
const IN_FLIGHT: usize = 4;
/// How long a claimed mail is left to its worker before another may take it: longer than
/// an SMTP conversation can take (each command may wait `SMTP_TIMEOUT`).
pub(super) const LEASE: Duration = Duration::from_secs(300);
/// How often the worker looks for digests that are due.
const DIGEST_CHECK: Duration = Duration::from_secs(60);
/// How long mails in flight at shutdown may take to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after the database failed, so a broken database is not hammered.
const DB_RETRY_PAUSE: Duration = Duration::from_secs(1);
/// Most unread notifications a digest counts (it says "200" for more).
const DIGEST_COUNT_LIMIT: i64 = 200;
/// Notifications a digest lists.
const DIGEST_LISTED: usize = 10;
/// Home posts a digest considers for "popular".
const DIGEST_HOME_SCAN: i64 = 200;
/// Popular posts a digest shows.
const DIGEST_POPULAR: usize = 3;

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The SMTP server accepted it.
    Sent,
    /// Not to be sent after all (why).
    Skipped(&'static str),
    /// The SMTP server will never accept it.
    Rejected(String),
    /// Try again later (what went wrong).
    Retry(String),
}

/// What happened to one account's digest, for `starling admin send-digests`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestReport {
    /// The account.
    pub account_id: i64,
    /// Its username (empty if the account is gone).
    pub username: String,
    /// What happened.
    pub outcome: DigestOutcome,
}

/// The fate of one digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestOutcome {
    /// Handed to the SMTP server.
    Sent,
    /// Not sent (nothing new to report, no address, account deactivated…).
    NotSent(String),
    /// Sending failed; `retry` says whether it stays queued for the servers to retry.
    Failed {
        /// What went wrong.
        cause: String,
        /// Whether it will be retried.
        retry: bool,
    },
}

impl Starling {
    fn site(&self) -> (String, String) {
        let s = self.settings();
        (s.base_url().into_owned(), s.network_name.clone())
    }

    /// Runs the mail worker until `shutdown` resolves (returns at once when e-mail is
    /// off). Mails in flight then get `SHUTDOWN_GRACE` to finish; any still running stay
    /// queued and go out after their lease, from this node's next start or another node.
    pub async fn run_mail_worker(&self, shutdown: impl Future<Output = ()>) {
        let Some(mailer) = self.mailer() else {
            return;
        };
        tracing::info!(
            smtp = %self.settings().redacted_smtp_url().unwrap_or_default(),
            from = %mailer.from,
            "e-mail notifications on"
        );
        let poll = Duration::from_millis(self.settings().mail_poll_interval_ms.max(1));
        let mut shutdown = std::pin::pin!(shutdown);
        let mut running = tokio::task::JoinSet::new();
        let mut next_digest_check = Instant::now();
        // Look at once: mails may be left from before a restart.
        let mut look = true;
        loop {
            if Instant::now() >= next_digest_check {
                next_digest_check = Instant::now() + DIGEST_CHECK;
                match self.schedule_digests().await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(digests = n, "queued daily digests");
                        look = true;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot queue digests; will retry"),
                }
            }
            let free = IN_FLIGHT.saturating_sub(running.len());
            if look && free > 0 {
                match self.claim_due_mail(free).await {
                    Ok(jobs) => {
                        for job in jobs {
                            let app = self.clone();
                            running.spawn(async move { app.deliver_email(job).await });
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "e-mail queue unavailable; will retry");
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(DB_RETRY_PAUSE) => {}
                        }
                    }
                }
            }
            look = tokio::select! {
                () = &mut shutdown => break,
                () = self.mail_wake().notified() => true,
                () = tokio::time::sleep(poll) => true,
                // A mail finished: room for another.
                Some(done) = running.join_next() => {
                    if let Err(e) = done {
                        tracing::error!(error = %e, "an e-mail delivery task failed");
                    }
                    true
                }
            };
        }
        let drain = async { while running.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::info!("e-mails still in flight at shutdown are left for their lease");
        }
    }

    /// Queues the digests that are due (a day after the last); returns how many.
    async fn schedule_digests(&self) -> Result<usize> {
        let due_before = now_millis() - DAY_MS;
        // A read first: almost every look finds nothing due, and SQLite's single writer
        // stays free for posters.
        if !self.db().digests_due(due_before).await? {
            return Ok(0);
        }
        Ok(self.queue_digests(due_before, None).await?.len())
    }

    /// Claims up to `limit` mails due now.
    async fn claim_due_mail(&self, limit: usize) -> Result<Vec<EmailJob>> {
        let now = now_millis();
        // A read first: most wake-ups (a notification nobody is mailed about) find
        // nothing, and SQLite's single writer stays free for posters.
        if !self.db().email_jobs_due(now).await? {
            return Ok(Vec::new());
        }
        let lease_until = now + LEASE.as_millis() as i64;
        let limit = i64::try_from(limit).unwrap_or(1);
        Ok(self.db().claim_email_jobs(now, lease_until, limit).await?)
    }

    /// Sends the digests `jobs`, claimed by this process, reporting each through
    /// `progress`.
    pub(crate) async fn deliver_digests(
        &self,
        jobs: Vec<EmailJob>,
        progress: &mut impl FnMut(&DigestReport),
    ) -> Result<Vec<DigestReport>> {
        let mut reports = Vec::with_capacity(jobs.len());
        let max_attempts = i64::from(self.settings().mail_max_attempts.max(1));
        let mut running = tokio::task::JoinSet::new();
        let mut pending = jobs.into_iter();
        loop {
            while running.len() < IN_FLIGHT {
                let Some(job) = pending.next() else { break };
                let app = self.clone();
                running.spawn(async move {
                    let (account_id, attempts) = (job.account_id, job.attempts);
                    let outcome = app.deliver_email(job).await;
                    (account_id, attempts, outcome)
                });
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            let (account_id, attempts, outcome) = done?;
            let outcome = match outcome {
                Outcome::Sent => DigestOutcome::Sent,
                Outcome::Skipped(why) => DigestOutcome::NotSent(why.to_owned()),
                Outcome::Rejected(cause) => DigestOutcome::Failed {
                    cause,
                    retry: false,
                },
                Outcome::Retry(cause) => DigestOutcome::Failed {
                    cause,
                    retry: attempts < max_attempts,
                },
            };
            let report = self.digest_report(account_id, outcome).await;
            progress(&report);
            reports.push(report);
        }
        Ok(reports)
    }

    async fn digest_report(&self, account_id: i64, outcome: DigestOutcome) -> DigestReport {
        let username = self
            .db()
            .account(account_id)
            .await
            .map(|a| a.username)
            .unwrap_or_default();
        DigestReport {
            account_id,
            username,
            outcome,
        }
    }

    /// One attempt at one mail, and what follows from it in the queue.
    async fn deliver_email(&self, job: EmailJob) -> Outcome {
        let outcome = match self.attempt_email(&job).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Retry(format!("cannot prepare the e-mail: {e}")),
        };
        let recorded = match &outcome {
            Outcome::Sent => {
                tracing::debug!(?job, "e-mail sent");
                self.db().finish_email_job(job.id).await
            }
            Outcome::Skipped(why) => {
                tracing::debug!(?job, why, "e-mail not sent");
                self.db().finish_email_job(job.id).await
            }
            Outcome::Rejected(cause) => {
                tracing::warn!(?job, cause, "e-mail refused by the SMTP server; dropped");
                self.db().finish_email_job(job.id).await
            }
            Outcome::Retry(cause) => {
                let s = self.settings();
                if job.attempts >= i64::from(s.mail_max_attempts.max(1)) {
                    tracing::warn!(?job, cause, "e-mail failed too often; given up");
                    self.db().finish_email_job(job.id).await
                } else {
                    let delay = crate::push::retry_delay(
                        job.attempts,
                        Duration::from_millis(s.mail_retry_base_ms),
                        Duration::from_millis(s.mail_retry_max_ms),
                        None,
                    );
                    tracing::debug!(?job, cause, ?delay, "e-mail failed; will retry");
                    let run_at = now_millis() + delay.as_millis() as i64;
                    self.db().retry_email_job(job.id, run_at).await
                }
            }
        };
        if let Err(e) = recorded {
            // The lease runs out and the mail is tried again.
            tracing::warn!(?job, error = %e, "cannot record an e-mail's outcome");
        }
        outcome
    }

    /// Writes and sends one mail.
    async fn attempt_email(&self, job: &EmailJob) -> Result<Outcome> {
        let Some(mailer) = self.mailer() else {
            return Ok(Outcome::Retry("e-mail is off on this node".into()));
        };
        let Some(kind) = EmailKind::parse(&job.kind) else {
            return Ok(Outcome::Skipped("unknown kind of e-mail"));
        };
        let me = match self.db().account(job.account_id).await {
            Ok(me) => me,
            Err(StoreError::NotFound) => return Ok(Outcome::Skipped("recipient gone")),
            Err(e) => return Err(e.into()),
        };
        if me.deactivated_at.is_some() {
            return Ok(Outcome::Skipped("recipient deactivated"));
        }
        let Ok(address) = me.email.trim().parse::<lettre::Address>() else {
            return Ok(Outcome::Skipped("recipient has no usable e-mail address"));
        };
        // The preference as it is now: it may have been switched off since.
        if !self.db().email_preferences(me.id).await?.wants(kind) {
            return Ok(Outcome::Skipped("preference off"));
        }
        let (base_url, network_name) = self.site();
        let site = Site {
            base_url: &base_url,
            network_name: &network_name,
        };
        let composed = if kind == EmailKind::Digest {
            let content = self.digest_content(&me, job.created_at).await?;
            match message::digest_mail(&site, &content) {
                Some(c) => c,
                None => return Ok(Outcome::Skipped("nothing new to report")),
            }
        } else {
            let Some(notification_id) = job.notification_id else {
                return Ok(Outcome::Skipped("no notification"));
            };
            let note = match self.db().notification(me.id, notification_id).await {
                Ok(note) => note,
                Err(StoreError::NotFound) => {
                    return Ok(Outcome::Skipped("notification dismissed"));
                }
                Err(e) => return Err(e.into()),
            };
            // The one visibility rule, as for `GET /api/v1/notifications`.
            let Some(view) = self
                .present_notifications(&me, vec![note])
                .await?
                .into_iter()
                .next()
            else {
                return Ok(Outcome::Skipped("not visible to the recipient"));
            };
            match message::notification_mail(&site, kind, &view) {
                Some(c) => c,
                None => return Ok(Outcome::Skipped("nothing to quote")),
            }
        };
        let to = Mailbox::new(Some(display_name(&me)), address);
        let mail = match build_message(&mailer.from, to, job, composed) {
            Ok(mail) => mail,
            Err(e) => return Ok(Outcome::Rejected(format!("cannot build the message: {e}"))),
        };
        Ok(match mailer.transport.send(mail).await {
            Ok(_) => Outcome::Sent,
            Err(e) if e.is_permanent() => Outcome::Rejected(e.to_string()),
            Err(e) => Outcome::Retry(e.to_string()),
        })
    }

    /// What a digest queued at `until` reports: the day's unread notifications (past the
    /// notifications marker) and the most liked and replied posts of the day in the
    /// recipient's home, each as the recipient may see it now.
    async fn digest_content(&self, me: &AccountRecord, until: i64) -> Result<DigestContent> {
        let since_id = min_id_at(until - DAY_MS) - 1;
        let before_id = min_id_at(until + 1);
        let read_up_to = self
            .db()
            .markers(me.id, &["notifications".to_owned()])
            .await?
            .first()
            .map_or(0, |m| m.last_read_id);
        let rows = self
            .db()
            .notifications(
                me.id,
                &[],
                None,
                &Page {
                    max_id: Some(before_id),
                    since_id: Some(since_id.max(read_up_to)),
                    min_id: None,
                    limit: DIGEST_COUNT_LIMIT,
                },
            )
            .await?;
        let notifications = self.present_notifications(me, rows).await?;
        let home = self
            .timeline(
                Some(me),
                Timeline::Home,
                Page {
                    max_id: Some(before_id),
                    since_id: Some(since_id),
                    min_id: None,
                    limit: DIGEST_HOME_SCAN,
                },
            )
            .await?
            .items;
        let mut popular: Vec<_> = home
            .into_iter()
            .filter(|v| v.reblog.is_none() && v.status.account_id != me.id)
            .filter(|v| v.status.favourites_count + v.status.replies_count > 0)
            .collect();
        popular.sort_by_key(|v| {
            std::cmp::Reverse((
                v.status.favourites_count + v.status.replies_count,
                v.status.id,
            ))
        });
        popular.truncate(DIGEST_POPULAR);
        Ok(DigestContent {
            recipient: me.clone(),
            unread: notifications.len(),
            notifications: notifications.into_iter().take(DIGEST_LISTED).collect(),
            popular,
        })
    }
}

/// How a recipient is named in the `To:` header.
fn display_name(a: &AccountRecord) -> String {
    let name = a.display_name.trim();
    if name.is_empty() {
        a.username.clone()
    } else {
        name.chars().filter(|c| !c.is_control()).collect()
    }
}

/// The MIME message: plain text with an HTML alternative, and a `Message-ID` made from the
/// job, so a mail sent twice (a worker died between sending and recording) is recognisably
/// the same message.
fn build_message(
    from: &Mailbox,
    to: Mailbox,
    job: &EmailJob,
    composed: Composed,
) -> std::result::Result<Message, BuildError> {
    let domain = from.email.domain().to_owned();
    let envelope = Envelope::new(Some(from.email.clone()), vec![to.email.clone()])?;
    Message::builder()
        .envelope(envelope)
        .from(from.clone())
        .to(to)
        .subject(composed.subject)
        .message_id(Some(format!("<{}.{}@{}>", job.id, job.kind, domain)))
        .multipart(MultiPart::alternative_plain_html(
            composed.text,
            composed.html,
        ))
        .map_err(BuildError::Message)
}

/// Why a message could not be built (a bug or an unusable address, never transient).
#[derive(Debug, thiserror::Error)]
enum BuildError {
    /// The envelope's addresses are unusable.
    #[error("invalid envelope: {0}")]
    Envelope(#[from] lettre::error::Error),
    /// The message could not be assembled.
    #[error("{0}")]
    Message(lettre::error::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> EmailJob {
        EmailJob {
            id: 7,
            account_id: 1,
            notification_id: Some(7),
            kind: "mention".into(),
            attempts: 1,
            created_at: 0,
        }
    }

    #[test]
    fn messages_are_multipart_with_a_stable_id() {
        for from in [
            "notifications@social.example",
            "\"Acme, Inc.\" <notifications@social.example>",
            "Ana <ana@localhost>",
        ] {
            let from: Mailbox = from.parse().unwrap();
            let to: Mailbox = "Bob <bob@example.com>".parse().unwrap();
            let composed = Composed {
                subject: "ana mentioned you".into(),
                text: "hi".into(),
                html: "<p>hi</p>".into(),
            };
            let mail = build_message(&from, to, &job(), composed).unwrap();
            let raw = String::from_utf8(mail.formatted()).unwrap();
            assert!(raw.contains("multipart/alternative"), "{raw}");
            assert!(raw.contains("Subject: ana mentioned you"), "{raw}");
            let id = format!("Message-ID: <7.mention@{}>", from.email.domain());
            assert!(raw.contains(&id), "{raw}");
        }
    }
}

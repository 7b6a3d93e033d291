//! E-mail notifications: per-account preferences, the durable queue of e-mails to send,
//! and the daily digest's schedule.
//!
//! Jobs for notifications are queued by [`queue_email_jobs`] inside the transaction that
//! stores the notification (as Web Push's are), so a crash can lose neither; only when the
//! caller says e-mail is on, and only for recipients whose preference for that kind is on.
//! Workers claim due jobs with a lease ([`Db::claim_email_jobs`]), so the same queries
//! serve SQLite, PostgreSQL and several nodes.

use crate::db::args;
use crate::records::NewNotification;
use crate::writes::WriteConn;
use crate::{Db, Result};
use sqlx::Row;
use sqlx::any::AnyRow;
use starling_domain::email::{EmailKind, EmailPreferences};

const JOB_COLUMNS: &str = "id, account_id, notification_id, kind, attempts, created_at";

/// An e-mail job claimed by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailJob {
    /// The job's id (the notification's, for a notification's mail).
    pub id: i64,
    /// The recipient.
    pub account_id: i64,
    /// The notification it is about (none for a digest).
    pub notification_id: Option<i64>,
    /// `mention`, `direct`, `follow` or `digest`.
    pub kind: String,
    /// Claims so far, this one included.
    pub attempts: i64,
    /// When it was queued (a digest covers the day before this).
    pub created_at: i64,
}

impl EmailJob {
    fn from_row(r: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: r.try_get("id")?,
            account_id: r.try_get("account_id")?,
            notification_id: r.try_get("notification_id")?,
            kind: r.try_get("kind")?,
            attempts: r.try_get("attempts")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

/// The preference column of a kind: a fixed name, so formatting it into SQL is safe.
fn column(kind: EmailKind) -> &'static str {
    match kind {
        EmailKind::Mention => "mention",
        EmailKind::Direct => "direct",
        EmailKind::Follow => "follow",
        EmailKind::Digest => "digest",
    }
}

/// Queues an e-mail for each notification that has an e-mail kind, if its recipient is
/// active and wants that kind (a missing preferences row means the defaults). Part of the
/// caller's transaction; the post a mention is about is already stored in it.
pub(crate) fn queue_email_jobs(c: &mut dyn WriteConn, notes: &[NewNotification]) -> Result<()> {
    let defaults = EmailPreferences::default();
    for n in notes {
        // Only mentions need the post: a mention in a direct post is a direct message.
        let direct = match (n.kind.as_str(), n.status_id) {
            ("mention", Some(status_id)) => c
                .rows(
                    "SELECT visibility FROM statuses WHERE id = $1",
                    &args![status_id],
                )?
                .first()
                .map(|r| r.text_at(0))
                .transpose()?
                .is_some_and(|v| v == "direct"),
            _ => false,
        };
        let Some(kind) = EmailKind::for_notification(&n.kind, direct) else {
            continue;
        };
        let col = column(kind);
        c.execute(
            &format!(
                "INSERT INTO email_jobs (id, account_id, notification_id, kind, attempts, run_at, created_at) \
                 SELECT CAST($1 AS BIGINT), a.id, CAST($1 AS BIGINT), CAST($2 AS TEXT), 0, \
                        CAST($3 AS BIGINT), CAST($3 AS BIGINT) \
                 FROM accounts a LEFT JOIN email_preferences p ON p.account_id = a.id \
                 WHERE a.id = $4 AND a.deactivated_at IS NULL AND COALESCE(p.{col}, $5) <> 0"
            ),
            &args![
                n.id,
                kind.as_str(),
                n.created_at,
                n.account_id,
                defaults.wants(kind)
            ],
        )?;
    }
    Ok(())
}

impl Db {
    /// An account's e-mail preferences (the defaults if it never set them).
    pub async fn email_preferences(&self, account_id: i64) -> Result<EmailPreferences> {
        let row = sqlx::query(
            "SELECT mention, direct, follow, digest FROM email_preferences WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&self.reader)
        .await?;
        let Some(r) = row else {
            return Ok(EmailPreferences::default());
        };
        let flag = |name: &str| -> Result<bool> { Ok(r.try_get::<i64, _>(name)? != 0) };
        Ok(EmailPreferences {
            mention: flag("mention")?,
            direct: flag("direct")?,
            follow: flag("follow")?,
            digest: flag("digest")?,
        })
    }

    /// Stores an account's e-mail preferences. Switching the digest on starts its day
    /// now, so the first digest comes a day later and covers a whole day.
    pub async fn set_email_preferences(
        &self,
        account_id: i64,
        prefs: EmailPreferences,
        now: i64,
    ) -> Result<()> {
        let flag = |on: bool| i64::from(on);
        sqlx::query(
            "INSERT INTO email_preferences \
                 (account_id, mention, direct, follow, digest, last_digest_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (account_id) DO UPDATE SET mention = $2, direct = $3, follow = $4, \
                 digest = $5, updated_at = $6, \
                 last_digest_at = CASE WHEN email_preferences.digest = 0 AND $5 <> 0 \
                     THEN $6 ELSE email_preferences.last_digest_at END",
        )
        .bind(account_id)
        .bind(flag(prefs.mention))
        .bind(flag(prefs.direct))
        .bind(flag(prefs.follow))
        .bind(flag(prefs.digest))
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Whether any account's digest was last queued at or before `due_before` (a read,
    /// so an idle schedule never takes the writer).
    pub async fn digests_due(&self, due_before: i64) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM email_preferences WHERE digest <> 0 \
             AND (last_digest_at IS NULL OR last_digest_at <= $1) LIMIT 1",
        )
        .bind(due_before)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.is_some())
    }

    /// Queues a digest for up to `ids.len()` opted-in accounts whose last digest was
    /// queued at or before `due_before`, using `ids` as the jobs' ids, and marks each as
    /// queued at `now` in the same transaction. With `lease_until`, the jobs are queued
    /// already claimed (one attempt counted) until then, for the caller to send itself;
    /// otherwise they are due at once for any worker. Returns the jobs.
    ///
    /// Moving `last_digest_at` past `due_before` is the claim: a second node running the
    /// same statement (on PostgreSQL it waits for the first to commit, then re-checks the
    /// condition on the updated row) finds the account no longer due.
    pub async fn queue_digests(
        &self,
        now: i64,
        due_before: i64,
        ids: &[i64],
        lease_until: Option<i64>,
    ) -> Result<Vec<EmailJob>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(&format!(
            "UPDATE email_preferences SET last_digest_at = $1 \
             WHERE digest <> 0 AND (last_digest_at IS NULL OR last_digest_at <= $2) \
             AND account_id IN (SELECT account_id FROM email_preferences \
                 WHERE digest <> 0 AND (last_digest_at IS NULL OR last_digest_at <= $2) \
                 ORDER BY account_id LIMIT {}) \
             RETURNING account_id",
            ids.len()
        ))
        .bind(now)
        .bind(due_before)
        .fetch_all(&mut *tx)
        .await?;
        let mut accounts = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("account_id"))
            .collect::<sqlx::Result<Vec<i64>>>()?;
        accounts.sort_unstable();
        let attempts = i64::from(lease_until.is_some());
        let jobs: Vec<EmailJob> = ids
            .iter()
            .zip(accounts)
            .map(|(id, account_id)| EmailJob {
                id: *id,
                account_id,
                notification_id: None,
                kind: EmailKind::Digest.as_str().to_owned(),
                attempts,
                created_at: now,
            })
            .collect();
        for job in &jobs {
            sqlx::query(
                "INSERT INTO email_jobs (id, account_id, notification_id, kind, attempts, run_at, created_at) \
                 VALUES ($1, $2, NULL, $3, $4, $5, $6)",
            )
            .bind(job.id)
            .bind(job.account_id)
            .bind(&job.kind)
            .bind(job.attempts)
            .bind(lease_until.unwrap_or(now))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(jobs)
    }

    /// Claims up to `limit` jobs due at `now`, oldest first, by moving them to `lease_until` and counting the attempt. A worker
    /// that dies before finishing a job leaves it to be claimed again after the lease.
    /// Several workers are safe for the reasons given at `Db::claim_push_jobs`.
    pub async fn claim_email_jobs(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<EmailJob>> {
        let rows = sqlx::query(&format!(
            "UPDATE email_jobs SET run_at = $1, attempts = attempts + 1 \
             WHERE run_at <= $2 AND id IN (\
                 SELECT id FROM email_jobs WHERE run_at <= $2 ORDER BY run_at LIMIT {}) \
             RETURNING {JOB_COLUMNS}",
            limit.max(1)
        ))
        .bind(lease_until)
        .bind(now)
        .fetch_all(&self.writer)
        .await?;
        rows.iter()
            .map(|r| EmailJob::from_row(r).map_err(Into::into))
            .collect()
    }

    /// Whether any e-mail job is due at `now` (a read, so an idle worker never takes the
    /// writer).
    pub async fn email_jobs_due(&self, now: i64) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM email_jobs WHERE run_at <= $1 LIMIT 1")
            .bind(now)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.is_some())
    }

    /// Removes a job: sent, given up, or no longer to be sent.
    pub async fn finish_email_job(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM email_jobs WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Makes a job due again at `run_at`.
    pub async fn retry_email_job(&self, id: i64, run_at: i64) -> Result<()> {
        sqlx::query("UPDATE email_jobs SET run_at = $1 WHERE id = $2")
            .bind(run_at)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// E-mails still queued (sent or abandoned ones are removed).
    pub async fn email_backlog(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM email_jobs")
            .fetch_one(&self.reader)
            .await?;
        Ok(n)
    }
}

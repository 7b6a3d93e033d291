//! Web Push: the server's kept secrets, subscriptions (one per access token) and the
//! durable queue of pushes to deliver.
//!
//! Jobs are queued by [`queue_push_jobs`] inside the transaction that stores a
//! notification, so a notification and its pushes are committed together and a crash can
//! lose neither. Workers claim due jobs with a lease (see [`Db::claim_push_jobs`]) rather
//! than a lock, so the same queries serve SQLite and PostgreSQL and several nodes.

use crate::db::args;
use crate::records::NewNotification;
use crate::writes::WriteConn;
use crate::{Db, Result, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;
use starling_domain::push::Alerts;

const SUBSCRIPTION_COLUMNS: &str =
    "id, token_id, account_id, endpoint, p256dh, auth, alerts, policy, created_at";

/// A push subscription as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscriptionRecord {
    pub id: i64,
    /// The access token it belongs to (one subscription per token).
    pub token_id: i64,
    pub account_id: i64,
    /// Where pushes are POSTed.
    pub endpoint: String,
    /// The subscriber's P-256 public key, base64url without padding.
    pub p256dh: String,
    /// The subscriber's 16-byte authentication secret, base64url without padding.
    pub auth: String,
    pub alerts: Alerts,
    /// `all`, `followed`, `follower` or `none`.
    pub policy: String,
    pub created_at: i64,
}

impl PushSubscriptionRecord {
    fn from_row(r: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: r.try_get("id")?,
            token_id: r.try_get("token_id")?,
            account_id: r.try_get("account_id")?,
            endpoint: r.try_get("endpoint")?,
            p256dh: r.try_get("p256dh")?,
            auth: r.try_get("auth")?,
            alerts: Alerts::from_bits(r.try_get("alerts")?),
            policy: r.try_get("policy")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

/// A push job claimed by a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushJob {
    pub subscription_id: i64,
    pub notification_id: i64,
    /// Claims so far, this one included.
    pub attempts: i64,
}

/// Queues a push of each notification to every subscription of its recipient whose alerts
/// include its type and whose policy is not `none`. Part of the caller's transaction.
pub(crate) fn queue_push_jobs(c: &mut dyn WriteConn, notes: &[NewNotification]) -> Result<()> {
    for n in notes {
        let Some(bit) = Alerts::bit(&n.kind) else {
            continue;
        };
        c.execute(
            "INSERT INTO push_jobs (subscription_id, notification_id, attempts, run_at) \
             SELECT id, CAST($1 AS BIGINT), 0, CAST($2 AS BIGINT) FROM push_subscriptions \
             WHERE account_id = $3 AND (alerts & $4) <> 0 AND policy <> 'none'",
            &args![n.id, n.created_at, n.account_id, bit],
        )?;
    }
    Ok(())
}

impl Db {
    /// The secret kept under `name`; `candidate` is stored and returned if there is none
    /// yet. Nodes starting together agree: the first insert wins, every node reads it back.
    pub async fn server_key(&self, name: &str, candidate: &str, now: i64) -> Result<String> {
        sqlx::query(
            "INSERT INTO server_keys (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(now)
        .execute(&self.writer)
        .await?;
        let (value,): (String,) = sqlx::query_as("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.writer)
            .await?;
        Ok(value)
    }

    /// Stores `s` as its token's only subscription, replacing any other.
    pub async fn replace_push_subscription(&self, s: &PushSubscriptionRecord) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM push_subscriptions WHERE token_id = $1")
            .bind(s.token_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "INSERT INTO push_subscriptions ({SUBSCRIPTION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(s.id)
        .bind(s.token_id)
        .bind(s.account_id)
        .bind(&s.endpoint)
        .bind(&s.p256dh)
        .bind(&s.auth)
        .bind(s.alerts.bits())
        .bind(&s.policy)
        .bind(s.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The subscription of a token.
    pub async fn push_subscription_of_token(
        &self,
        token_id: i64,
    ) -> Result<PushSubscriptionRecord> {
        self.one_subscription("token_id", token_id).await
    }

    /// A subscription by id.
    pub async fn push_subscription(&self, id: i64) -> Result<PushSubscriptionRecord> {
        self.one_subscription("id", id).await
    }

    async fn one_subscription(&self, column: &str, value: i64) -> Result<PushSubscriptionRecord> {
        let row = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscriptions WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| PushSubscriptionRecord::from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Changes the alerts and policy of a token's subscription; returns it as it is now.
    pub async fn update_push_subscription(
        &self,
        token_id: i64,
        alerts: Alerts,
        policy: &str,
    ) -> Result<PushSubscriptionRecord> {
        let row = sqlx::query(&format!(
            "UPDATE push_subscriptions SET alerts = $1, policy = $2 WHERE token_id = $3 \
             RETURNING {SUBSCRIPTION_COLUMNS}"
        ))
        .bind(alerts.bits())
        .bind(policy)
        .bind(token_id)
        .fetch_optional(&self.writer)
        .await?;
        row.map(|r| PushSubscriptionRecord::from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Deletes a token's subscription (and its queued pushes); `false` if it had none.
    pub async fn delete_push_subscription_of_token(&self, token_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM push_subscriptions WHERE token_id = $1")
            .bind(token_id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes a subscription by id (its endpoint is gone) with its queued pushes.
    pub async fn delete_push_subscription(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Claims up to `limit` jobs due at `now`, oldest first, by moving them to
    /// `lease_until` and counting the attempt. A worker that dies before finishing a job
    /// leaves it to be claimed again once the lease has passed.
    ///
    /// Safe with several workers: on PostgreSQL a concurrent claim of the same row waits
    /// for the first to commit and then re-checks `run_at <= now` against the row as
    /// updated, which no longer holds, so each job goes to one worker. SQLite has a single
    /// writer. (`FOR UPDATE SKIP LOCKED` would avoid the wait on PostgreSQL, but SQLite has
    /// no such clause, and the claim is one short statement.)
    pub async fn claim_push_jobs(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<PushJob>> {
        let rows = sqlx::query(&format!(
            "UPDATE push_jobs SET run_at = $1, attempts = attempts + 1 \
             WHERE run_at <= $2 AND (subscription_id, notification_id) IN (\
                 SELECT subscription_id, notification_id FROM push_jobs WHERE run_at <= $2 \
                 ORDER BY run_at LIMIT {}) \
             RETURNING subscription_id, notification_id, attempts",
            limit.max(1)
        ))
        .bind(lease_until)
        .bind(now)
        .fetch_all(&self.writer)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PushJob {
                    subscription_id: r.try_get("subscription_id")?,
                    notification_id: r.try_get("notification_id")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// Whether any job is due at `now` (a read, so an idle worker never takes the writer).
    pub async fn push_jobs_due(&self, now: i64) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM push_jobs WHERE run_at <= $1 LIMIT 1")
            .bind(now)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.is_some())
    }

    /// Removes a job: delivered, given up, or no longer to be sent.
    pub async fn finish_push_job(&self, job: &PushJob) -> Result<()> {
        sqlx::query("DELETE FROM push_jobs WHERE subscription_id = $1 AND notification_id = $2")
            .bind(job.subscription_id)
            .bind(job.notification_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Makes a job due again at `run_at`.
    pub async fn retry_push_job(&self, job: &PushJob, run_at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE push_jobs SET run_at = $1 WHERE subscription_id = $2 AND notification_id = $3",
        )
        .bind(run_at)
        .bind(job.subscription_id)
        .bind(job.notification_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Jobs still queued (delivered or abandoned ones are removed).
    pub async fn push_backlog(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM push_jobs")
            .fetch_one(&self.reader)
            .await?;
        Ok(n)
    }
}

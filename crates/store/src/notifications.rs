//! Notifications and reading-position markers.

use crate::db::{Arg, bind_all, placeholders};
use crate::records::{MarkerRecord, NewNotification, NotificationRecord};
use crate::statuses::insert_notifications;
use crate::{Db, Page, Result, StoreError};
use sqlx::Row;

const NOTIFICATION_COLUMNS: &str =
    "id, account_id, kind, from_account_id, status_id, group_id, created_at";

impl Db {
    /// Stores notifications outside any other change (e.g. a follow notification).
    pub async fn create_notifications(&self, notes: &[NewNotification]) -> Result<()> {
        let notes = notes.to_vec();
        let email = self.email_jobs;
        self.write(move |c| insert_notifications(c, &notes, email))
            .await
    }

    /// A page of an account's notifications, restricted to `kinds` (all when empty).
    pub async fn notifications(
        &self,
        account_id: i64,
        kinds: &[String],
        from_account: Option<i64>,
        page: &Page,
    ) -> Result<Vec<NotificationRecord>> {
        let mut sql =
            format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE account_id = $1");
        let mut args = vec![Arg::I(account_id)];
        if !kinds.is_empty() {
            sql.push_str(&format!(
                " AND kind IN ({})",
                placeholders(args.len() + 1, kinds.len())
            ));
            args.extend(kinds.iter().map(|k| Arg::S(k.clone())));
        }
        if let Some(from) = from_account {
            args.push(Arg::I(from));
            sql.push_str(&format!(" AND from_account_id = ${}", args.len()));
        }
        let order = page.apply(&mut sql, "id", &mut args);
        sql.push_str(&order);
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.reader)
            .await?;
        let items = rows
            .iter()
            .map(|r| NotificationRecord::from_row(r).map_err(Into::into))
            .collect::<Result<Vec<_>>>()?;
        Ok(page.finish(items))
    }

    /// One notification of an account.
    pub async fn notification(&self, account_id: i64, id: i64) -> Result<NotificationRecord> {
        let row = sqlx::query(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1 AND account_id = $2"
        ))
        .bind(id)
        .bind(account_id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| NotificationRecord::from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Deletes one notification, or all of an account's (`id` = `None`).
    pub async fn dismiss_notifications(&self, account_id: i64, id: Option<i64>) -> Result<u64> {
        let done = match id {
            Some(id) => {
                sqlx::query("DELETE FROM notifications WHERE account_id = $1 AND id = $2")
                    .bind(account_id)
                    .bind(id)
                    .execute(&self.writer)
                    .await?
            }
            None => {
                sqlx::query("DELETE FROM notifications WHERE account_id = $1")
                    .bind(account_id)
                    .execute(&self.writer)
                    .await?
            }
        };
        Ok(done.rows_affected())
    }

    /// An account's markers for the named timelines.
    pub async fn markers(
        &self,
        account_id: i64,
        timelines: &[String],
    ) -> Result<Vec<MarkerRecord>> {
        if timelines.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT timeline, last_read_id, version, updated_at FROM markers WHERE account_id = $1 AND timeline IN ({})",
            placeholders(2, timelines.len())
        );
        let mut args = vec![Arg::I(account_id)];
        args.extend(timelines.iter().map(|t| Arg::S(t.clone())));
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(MarkerRecord {
                    timeline: r.try_get("timeline")?,
                    last_read_id: r.try_get("last_read_id")?,
                    version: r.try_get("version")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Saves a reading position, bumping its version.
    pub async fn save_marker(
        &self,
        account_id: i64,
        timeline: &str,
        last_read_id: i64,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO markers (account_id, timeline, last_read_id, version, updated_at) VALUES ($1, $2, $3, 1, $4) \
             ON CONFLICT (account_id, timeline) DO UPDATE SET last_read_id = $3, version = markers.version + 1, updated_at = $4",
        )
        .bind(account_id)
        .bind(timeline)
        .bind(last_read_id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}

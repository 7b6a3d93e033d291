//! Favourites, bookmarks and pins: per-account marks on posts.

use crate::db::{Arg, args, bind_all};
use crate::records::{
    ACCOUNT_COLUMNS, AccountRecord, Listed, NewNotification, STATUS_COLUMNS, StatusRecord,
};
use crate::statuses::insert_notifications;
use crate::{Db, Page, Result};
use sqlx::Row;
use std::collections::HashSet;

/// A kind of mark an account puts on a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A like; counted on the post and notified to its author.
    Favourite,
    /// A private bookmark.
    Bookmark,
    /// Featured on the author's profile.
    Pin,
}

impl Mark {
    fn table(self) -> &'static str {
        match self {
            Self::Favourite => "favourites",
            Self::Bookmark => "bookmarks",
            Self::Pin => "pins",
        }
    }
}

impl Db {
    /// Puts a mark on a post (idempotent); returns whether it was new. A new favourite
    /// bumps the post's counter and stores the author's notification.
    pub async fn add_mark(
        &self,
        mark: Mark,
        row_id: i64,
        account_id: i64,
        status_id: i64,
        notification: Option<NewNotification>,
    ) -> Result<bool> {
        let email = self.email_jobs;
        self.write(move |c| {
            let sql = format!(
                "INSERT INTO {} (id, account_id, status_id) VALUES ($1, $2, $3) ON CONFLICT (account_id, status_id) DO NOTHING",
                mark.table()
            );
            let inserted = c.execute(&sql, &args![row_id, account_id, status_id])? > 0;
            if inserted && mark == Mark::Favourite {
                c.execute(
                    "UPDATE statuses SET favourites_count = favourites_count + 1 WHERE id = $1",
                    &args![status_id],
                )?;
                if let Some(n) = notification {
                    insert_notifications(c, &[n], email)?;
                }
            }
            Ok(inserted)
        })
        .await
    }

    /// Removes a mark (idempotent).
    pub async fn remove_mark(&self, mark: Mark, account_id: i64, status_id: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let sql = format!(
            "DELETE FROM {} WHERE account_id = $1 AND status_id = $2",
            mark.table()
        );
        let removed = sqlx::query(&sql)
            .bind(account_id)
            .bind(status_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed > 0 && mark == Mark::Favourite {
            sqlx::query("UPDATE statuses SET favourites_count = favourites_count - 1 WHERE id = $1 AND favourites_count > 0")
                .bind(status_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM notifications WHERE kind = 'favourite' AND from_account_id = $1 AND status_id = $2")
                .bind(account_id)
                .bind(status_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Number of pins an account has.
    pub async fn pin_count(&self, account_id: i64) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM pins WHERE account_id = $1")
            .bind(account_id)
            .fetch_one(&self.reader)
            .await?;
        Ok(n)
    }

    /// A page of the posts `account_id` has favourited or bookmarked, newest mark first.
    pub async fn marked_statuses(
        &self,
        mark: Mark,
        account_id: i64,
        page: &Page,
    ) -> Result<Vec<Listed<StatusRecord>>> {
        let mut sql = format!(
            "SELECT m.id AS cursor, {STATUS_COLUMNS} FROM {} m JOIN statuses s ON s.id = m.status_id WHERE m.account_id = $1",
            mark.table()
        );
        let mut args = vec![Arg::I(account_id)];
        let order = page.apply(&mut sql, "m.id", &mut args);
        sql.push_str(&order);
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.reader)
            .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(Listed {
                    cursor: r.try_get("cursor")?,
                    item: StatusRecord::from_row(r)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(page.finish(items))
    }

    /// A page of the accounts that favourited a post, or (`reblogs`) reblogged it.
    pub async fn accounts_who(
        &self,
        reblogs: bool,
        status_id: i64,
        page: &Page,
    ) -> Result<Vec<Listed<AccountRecord>>> {
        let cols = ACCOUNT_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = if reblogs {
            format!(
                "SELECT x.id AS cursor, {cols} FROM statuses x JOIN accounts a ON a.id = x.account_id WHERE x.reblog_of_id = $1 \
                 AND x.visibility IN ('public', 'unlisted')"
            )
        } else {
            format!(
                "SELECT x.id AS cursor, {cols} FROM favourites x JOIN accounts a ON a.id = x.account_id WHERE x.status_id = $1"
            )
        };
        let mut args = vec![Arg::I(status_id)];
        let order = page.apply(&mut sql, "x.id", &mut args);
        sql.push_str(&order);
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.reader)
            .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(Listed {
                    cursor: r.try_get("cursor")?,
                    item: AccountRecord::from_row(r)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(page.finish(items))
    }
}

/// The viewer's own marks on a set of posts, loaded in one round trip.
#[derive(Debug, Clone, Default)]
pub struct ViewerMarks {
    /// Posts the viewer favourited.
    pub favourited: HashSet<i64>,
    /// Posts the viewer reblogged.
    pub reblogged: HashSet<i64>,
    /// Posts the viewer bookmarked.
    pub bookmarked: HashSet<i64>,
    /// Posts the viewer pinned.
    pub pinned: HashSet<i64>,
}

impl Db {
    /// Favourites, reblogs, bookmarks and pins of `viewer` among `status_ids`, in one query.
    pub async fn viewer_marks(&self, viewer: i64, status_ids: &[i64]) -> Result<ViewerMarks> {
        let ids = status_ids.to_vec();
        self.read(move |c| crate::facts::marks(c, viewer, &ids))
            .await
    }
}

//! The social graph: follows, blocks and mutes, with relationship summaries and the
//! facts the visibility rule needs.

use crate::db::{Arg, args, bind_all, placeholders};
use crate::records::{ACCOUNT_COLUMNS, AccountRecord, Listed, NewNotification, RelationshipRecord};
use crate::statuses::insert_notifications;
use crate::{Db, Page, Result};
use sqlx::{AnyConnection, Row};
use std::collections::HashSet;

/// A follow to create.
#[derive(Debug, Clone)]
pub struct NewFollow {
    /// Row id (pagination cursor of follower lists).
    pub id: i64,
    /// The follower.
    pub account_id: i64,
    /// The followed account.
    pub target_id: i64,
    /// Whether the followed account's reblogs reach the follower's home.
    pub show_reblogs: bool,
    /// Whether the follower is notified of each new post.
    pub notify: bool,
    /// Followers count from which the target's posts are merged on read.
    pub celebrity_threshold: i64,
    /// The follow notification to store with the follow.
    pub notification: Option<NewNotification>,
}

/// Which list of accounts to page through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountList {
    /// Accounts following the subject.
    Followers,
    /// Accounts the subject follows.
    Following,
    /// Accounts the subject blocks.
    Blocks,
    /// Accounts the subject mutes.
    Mutes,
}

impl Db {
    /// Makes `account_id` follow `target_id` (idempotent), keeping counters, the celebrity
    /// flag and the home feed right. Returns whether a new follow was created.
    pub async fn follow(&self, f: NewFollow) -> Result<bool> {
        let NewFollow {
            id: follow_id,
            account_id,
            target_id,
            show_reblogs,
            notify,
            celebrity_threshold,
            notification,
        } = f;
        let email = self.email_jobs;
        let inserted = self.write(move |c| {
            let inserted = c.execute(
                "INSERT INTO follows (id, account_id, target_id, show_reblogs, notify) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (account_id, target_id) DO NOTHING",
                &args![follow_id, account_id, target_id, show_reblogs, notify],
            )? > 0;
            if inserted {
                c.execute(
                    "UPDATE accounts SET following_count = following_count + 1 WHERE id = $1",
                    &args![account_id],
                )?;
                // Once an account crosses the threshold its posts are merged on read; the
                // flag stays set so posts made in that period are never missed.
                c.execute(
                    "UPDATE accounts SET followers_count = followers_count + 1, \
                     celebrity = CASE WHEN followers_count + 1 >= $1 THEN 1 ELSE celebrity END WHERE id = $2",
                    &args![celebrity_threshold, target_id],
                )?;
                if let Some(n) = notification {
                    insert_notifications(c, &[n], email)?;
                }
            } else {
                c.execute(
                    "UPDATE follows SET show_reblogs = $1, notify = $2 WHERE account_id = $3 AND target_id = $4",
                    &args![show_reblogs, notify, account_id, target_id],
                )?;
            }
            Ok(inserted)
        })
        .await?;
        if inserted {
            self.accounts_cache.forget(&[account_id, target_id]);
        }
        Ok(inserted)
    }

    /// Removes a follow and the followed account's posts from the follower's home feed.
    pub async fn unfollow(&self, account_id: i64, target_id: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        remove_follow(&mut tx, account_id, target_id).await?;
        tx.commit().await?;
        self.accounts_cache.forget(&[account_id, target_id]);
        Ok(())
    }

    /// Blocks: removes follows both ways and each side's posts from the other's home feed.
    pub async fn block(&self, block_id: i64, account_id: i64, target_id: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO blocks (id, account_id, target_id) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id, target_id) DO NOTHING",
        )
        .bind(block_id)
        .bind(account_id)
        .bind(target_id)
        .execute(&mut *tx)
        .await?;
        remove_follow(&mut tx, account_id, target_id).await?;
        remove_follow(&mut tx, target_id, account_id).await?;
        forget_author(&mut tx, target_id, account_id).await?;
        forget_author(&mut tx, account_id, target_id).await?;
        tx.commit().await?;
        self.accounts_cache.forget(&[account_id, target_id]);
        Ok(())
    }

    /// Lifts a block.
    pub async fn unblock(&self, account_id: i64, target_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM blocks WHERE account_id = $1 AND target_id = $2")
            .bind(account_id)
            .bind(target_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Mutes an account (its posts are filtered from timelines at read time).
    pub async fn mute(
        &self,
        mute_id: i64,
        account_id: i64,
        target_id: i64,
        notifications: bool,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO mutes (id, account_id, target_id, notifications) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, target_id) DO UPDATE SET notifications = $4",
        )
        .bind(mute_id)
        .bind(account_id)
        .bind(target_id)
        .bind(i64::from(notifications))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Lifts a mute.
    pub async fn unmute(&self, account_id: i64, target_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM mutes WHERE account_id = $1 AND target_id = $2")
            .bind(account_id)
            .bind(target_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// How `account_id` stands towards each of `targets` (in the same order).
    pub async fn relationships(
        &self,
        account_id: i64,
        targets: &[i64],
    ) -> Result<Vec<RelationshipRecord>> {
        let mut out: Vec<RelationshipRecord> = targets
            .iter()
            .map(|t| RelationshipRecord {
                target_id: *t,
                ..Default::default()
            })
            .collect();
        if targets.is_empty() {
            return Ok(out);
        }
        let list = placeholders(2, targets.len());
        let mut args = vec![Arg::I(account_id)];
        args.extend(targets.iter().map(|t| Arg::I(*t)));
        let queries = [
            format!(
                "SELECT target_id AS t, show_reblogs AS a, notify AS b FROM follows WHERE account_id = $1 AND target_id IN ({list})"
            ),
            format!(
                "SELECT account_id AS t, CAST(0 AS BIGINT) AS a, CAST(0 AS BIGINT) AS b FROM follows WHERE target_id = $1 AND account_id IN ({list})"
            ),
            format!(
                "SELECT target_id AS t, CAST(0 AS BIGINT) AS a, CAST(0 AS BIGINT) AS b FROM blocks WHERE account_id = $1 AND target_id IN ({list})"
            ),
            format!(
                "SELECT account_id AS t, CAST(0 AS BIGINT) AS a, CAST(0 AS BIGINT) AS b FROM blocks WHERE target_id = $1 AND account_id IN ({list})"
            ),
            format!(
                "SELECT target_id AS t, notifications AS a, CAST(0 AS BIGINT) AS b FROM mutes WHERE account_id = $1 AND target_id IN ({list})"
            ),
        ];
        for (kind, sql) in queries.iter().enumerate() {
            let rows = bind_all(sqlx::query(sql), &args)
                .fetch_all(&self.reader)
                .await?;
            for row in rows {
                let t: i64 = row.try_get("t")?;
                let a: i64 = row.try_get("a")?;
                let b: i64 = row.try_get("b")?;
                for r in out.iter_mut().filter(|r| r.target_id == t) {
                    match kind {
                        0 => {
                            r.following = true;
                            r.showing_reblogs = a != 0;
                            r.notifying = b != 0;
                        }
                        1 => r.followed_by = true,
                        2 => r.blocking = true,
                        3 => r.blocked_by = true,
                        _ => {
                            r.muting = true;
                            r.muting_notifications = a != 0;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Among `others`, those that block `viewer` or that `viewer` blocks.
    pub async fn blocked_among(&self, viewer: i64, others: &[i64]) -> Result<HashSet<i64>> {
        let mut set = self
            .id_set(
                "SELECT target_id FROM blocks WHERE account_id = $1 AND target_id IN",
                viewer,
                others,
            )
            .await?;
        set.extend(
            self.id_set(
                "SELECT account_id FROM blocks WHERE target_id = $1 AND account_id IN",
                viewer,
                others,
            )
            .await?,
        );
        Ok(set)
    }

    async fn id_set(&self, prefix: &str, subject: i64, ids: &[i64]) -> Result<HashSet<i64>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!("{prefix} ({})", placeholders(2, ids.len()));
        let mut q = sqlx::query_as::<_, (i64,)>(&sql).bind(subject);
        for id in ids {
            q = q.bind(*id);
        }
        Ok(q.fetch_all(&self.reader)
            .await?
            .into_iter()
            .map(|(v,)| v)
            .collect())
    }

    /// A page of followers, followees, blocked or muted accounts of `subject`.
    pub async fn account_list(
        &self,
        list: AccountList,
        subject: i64,
        page: &Page,
    ) -> Result<Vec<Listed<AccountRecord>>> {
        let (table, key, other) = match list {
            AccountList::Followers => ("follows", "target_id", "account_id"),
            AccountList::Following => ("follows", "account_id", "target_id"),
            AccountList::Blocks => ("blocks", "account_id", "target_id"),
            AccountList::Mutes => ("mutes", "account_id", "target_id"),
        };
        let cols = ACCOUNT_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!(
            "SELECT x.id AS cursor, {cols} FROM {table} x JOIN accounts a ON a.id = x.{other} WHERE x.{key} = $1"
        );
        let mut args = vec![Arg::I(subject)];
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

async fn remove_follow(
    conn: &mut sqlx::AnyConnection,
    account_id: i64,
    target_id: i64,
) -> Result<()> {
    let removed = sqlx::query("DELETE FROM follows WHERE account_id = $1 AND target_id = $2")
        .bind(account_id)
        .bind(target_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if removed > 0 {
        sqlx::query("UPDATE accounts SET following_count = following_count - 1 WHERE id = $1")
            .bind(account_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("UPDATE accounts SET followers_count = followers_count - 1 WHERE id = $1")
            .bind(target_id)
            .execute(&mut *conn)
            .await?;
        forget_author(&mut *conn, account_id, target_id).await?;
    }
    // Lists hold only followed accounts (as in Mastodon). Run even when no follow was
    // removed, so a membership that raced an earlier unfollow is cleaned up too.
    sqlx::query(
        "DELETE FROM list_accounts WHERE account_id = $2 \
         AND list_id IN (SELECT id FROM lists WHERE account_id = $1)",
    )
    .bind(account_id)
    .bind(target_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Db {
    /// Followers of `account_id` who asked to be notified of each of its posts.
    pub async fn notify_followers(&self, account_id: i64) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT account_id FROM follows WHERE target_id = $1 AND notify = 1")
                .bind(account_id)
                .fetch_all(&self.reader)
                .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Accounts that reblogged a post.
    pub async fn rebloggers(&self, status_id: i64) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT account_id FROM statuses WHERE reblog_of_id = $1")
                .bind(status_id)
                .fetch_all(&self.reader)
                .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

/// How a viewer relates to a set of accounts, loaded in one round trip.
#[derive(Debug, Clone, Default)]
pub struct ViewerRelations {
    /// Accounts the viewer follows.
    pub followed: HashSet<i64>,
    /// Accounts that block the viewer or that the viewer blocks.
    pub blocked: HashSet<i64>,
    /// Accounts the viewer mutes.
    pub muted: HashSet<i64>,
    /// Followed accounts whose reblogs the viewer asked not to see (`reblogs=false`).
    pub reblogs_hidden: HashSet<i64>,
}

impl Db {
    /// Follows, blocks (both ways) and mutes between `viewer` and `others`, in one query.
    pub async fn viewer_relations(&self, viewer: i64, others: &[i64]) -> Result<ViewerRelations> {
        let others = others.to_vec();
        self.read(move |c| crate::facts::relations(c, viewer, &others))
            .await
    }
}

/// Takes `author`'s posts out of `reader`'s home feed (unfollow, block), except direct
/// messages to the reader: those are in home because they were sent to the reader, not
/// because of the follow, and a follow's backfill would never bring them back.
async fn forget_author(conn: &mut AnyConnection, reader: i64, author: i64) -> Result<()> {
    sqlx::query(
        "DELETE FROM home_feed WHERE account_id = $1 AND author_id = $2 AND NOT EXISTS \
         (SELECT 1 FROM statuses s WHERE s.id = home_feed.status_id AND s.visibility = 'direct')",
    )
    .bind(reader)
    .bind(author)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

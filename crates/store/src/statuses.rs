//! Posts: creation with fan-out, reblogs, edits, deletion and thread lookups.

use crate::db::args;
use crate::reads::Place;
use crate::records::{
    EditRecord, NewNotification, NewStatus, STATUS_COLUMNS, StatusEdit, StatusRecord,
};
use crate::writes::WriteConn;
use crate::{Db, Result, StoreError};
use sqlx::Row;

/// Deepest reply chain walked when loading a thread's ancestors.
const MAX_ANCESTORS: usize = 256;
/// Most replies returned for one thread.
const MAX_DESCENDANTS: i64 = 4096;

/// Stores notifications and queues their Web Push deliveries and, when `email` is on
/// (SMTP is configured), their e-mails (part of the caller's transaction).
pub(crate) fn insert_notifications(
    c: &mut dyn WriteConn,
    notes: &[NewNotification],
    email: bool,
) -> Result<()> {
    for n in notes {
        c.execute(
            "INSERT INTO notifications (id, account_id, kind, from_account_id, status_id, group_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &args![
                n.id,
                n.account_id,
                &n.kind,
                n.from_account_id,
                n.status_id,
                n.group_id,
                n.created_at
            ],
        )?;
    }
    // Pushes and e-mails are queued with the notifications they carry, in the same
    // transaction.
    crate::push::queue_push_jobs(c, notes)?;
    if email {
        crate::email::queue_email_jobs(c, notes)?;
    }
    Ok(())
}

pub(crate) fn rows_to_statuses(rows: &[sqlx::any::AnyRow]) -> Result<Vec<StatusRecord>> {
    rows.iter().map(StatusRecord::from_row).collect()
}

fn insert_feed_rows(
    c: &mut dyn WriteConn,
    status_id: i64,
    author_id: i64,
    recipients: &[i64],
) -> Result<()> {
    for r in recipients {
        c.execute(
            "INSERT INTO home_feed (account_id, status_id, author_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            &args![*r, status_id, author_id],
        )?;
    }
    Ok(())
}

/// Queues a post for copying into its author's followers' home feeds.
fn queue_fan_out(
    c: &mut dyn WriteConn,
    status_id: i64,
    author_id: i64,
    reblog: bool,
) -> Result<()> {
    c.execute(
        "INSERT INTO fanout_queue (status_id, author_id, reblog) VALUES ($1, $2, $3)",
        &args![status_id, author_id, reblog],
    )?;
    Ok(())
}

/// Replaces a post's mentions and tags (after an edit).
fn replace_mentions_and_tags(
    c: &mut dyn WriteConn,
    status_id: i64,
    mentions: &[i64],
    tags: &[String],
) -> Result<()> {
    c.execute(
        "DELETE FROM status_mentions WHERE status_id = $1",
        &args![status_id],
    )?;
    c.execute(
        "DELETE FROM status_tags WHERE status_id = $1",
        &args![status_id],
    )?;
    insert_mentions_and_tags(c, status_id, mentions, tags)
}

/// Stores a post's mentions and tags.
fn insert_mentions_and_tags(
    c: &mut dyn WriteConn,
    status_id: i64,
    mentions: &[i64],
    tags: &[String],
) -> Result<()> {
    for m in mentions {
        c.execute(
            "INSERT INTO status_mentions (status_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &args![status_id, *m],
        )?;
    }
    for t in tags {
        c.execute(
            "INSERT INTO status_tags (status_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &args![status_id, t],
        )?;
    }
    Ok(())
}

impl Db {
    /// Stores a post with its mentions, tags, notifications and home-feed rows, in one
    /// transaction. With an idempotency key already used, returns the earlier post instead.
    pub async fn create_status(&self, s: NewStatus) -> Result<StatusRecord> {
        let email = self.email_jobs;
        let author = s.account_id;
        let status = self.write(move |c| {
            if let Some(key) = &s.idempotency_key {
                // Claim the key first: a retry arriving while the first request is still
                // in flight waits for it here (PostgreSQL) and then finds the key taken.
                let claimed = c.execute(
                    "INSERT INTO idempotency_keys (account_id, key, status_id, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (account_id, key) DO NOTHING",
                    &args![s.account_id, key, s.id, s.created_at],
                )? > 0;
                if !claimed {
                    let rows = c.rows(
                        "SELECT status_id FROM idempotency_keys WHERE account_id = $1 AND key = $2",
                        &args![s.account_id, key],
                    )?;
                    let id = rows.first().ok_or(StoreError::NotFound)?.int_at(0)?;
                    // The earlier post, read in this transaction (the lookup every page
                    // of posts uses).
                    return crate::facts::statuses(c, &[id])?
                        .pop()
                        .ok_or(StoreError::NotFound);
                }
            }
            c.execute(
                "INSERT INTO statuses (id, account_id, text, content, spoiler_text, sensitive, visibility, language, \
                 in_reply_to_id, in_reply_to_account_id, app_id, created_at, group_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                &args![
                    s.id,
                    s.account_id,
                    &s.text,
                    &s.content,
                    &s.spoiler_text,
                    s.sensitive,
                    &s.visibility,
                    &s.language,
                    s.in_reply_to_id,
                    s.in_reply_to_account_id,
                    s.app_id,
                    s.created_at,
                    s.group_id
                ],
            )?;
            insert_mentions_and_tags(c, s.id, &s.mentions, &s.tags)?;
            c.execute(
                "UPDATE accounts SET statuses_count = statuses_count + 1, last_status_at = $1 WHERE id = $2",
                &args![s.created_at, s.account_id],
            )?;
            if let Some(parent) = s.in_reply_to_id {
                c.execute(
                    "UPDATE statuses SET replies_count = replies_count + 1 WHERE id = $1",
                    &args![parent],
                )?;
            }
            insert_feed_rows(c, s.id, s.account_id, &s.feed_recipients)?;
            if s.fan_out_to_followers {
                queue_fan_out(c, s.id, s.account_id, false)?;
            }
            insert_notifications(c, &s.notifications, email)?;
            if let Some(update) = &s.conversation {
                crate::conversations::record_message(c, s.id, s.account_id, update)?;
            }
            // The row is exactly what was inserted: no need to read it back.
            Ok(StatusRecord {
                id: s.id,
                account_id: s.account_id,
                text: s.text,
                content: s.content,
                spoiler_text: s.spoiler_text,
                sensitive: s.sensitive,
                visibility: s.visibility,
                language: s.language,
                in_reply_to_id: s.in_reply_to_id,
                in_reply_to_account_id: s.in_reply_to_account_id,
                reblog_of_id: None,
                app_id: s.app_id,
                created_at: s.created_at,
                edited_at: None,
                replies_count: 0,
                reblogs_count: 0,
                favourites_count: 0,
                group_id: s.group_id,
            })
        })
        .await?;
        // Its author's post count and last post time changed.
        self.accounts_cache.forget(&[author]);
        Ok(status)
    }

    /// The reblog wrapper `account_id` made of `original_id`, if any.
    pub async fn reblog_of(
        &self,
        account_id: i64,
        original_id: i64,
    ) -> Result<Option<StatusRecord>> {
        let sql = format!(
            "SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.reblog_of_id = $1 AND s.account_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(original_id)
            .bind(account_id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| StatusRecord::from_row(&r)).transpose()
    }

    /// Stores a reblog wrapper, fans it out to followers who show reblogs, bumps the
    /// original's counter and notifies its author.
    pub async fn create_reblog(
        &self,
        wrapper: StatusRecord,
        fan_out: bool,
        notification: Option<NewNotification>,
    ) -> Result<StatusRecord> {
        let original = wrapper.reblog_of_id.ok_or(StoreError::NotFound)?;
        let email = self.email_jobs;
        let author = wrapper.account_id;
        let id = self
            .write(move |c| {
                let inserted = c.execute(
                    "INSERT INTO statuses (id, account_id, text, content, visibility, reblog_of_id, app_id, created_at) \
                     VALUES ($1, $2, '', '', $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    &args![
                        wrapper.id,
                        wrapper.account_id,
                        &wrapper.visibility,
                        original,
                        wrapper.app_id,
                        wrapper.created_at
                    ],
                )?;
                if inserted == 0 {
                    // Already reblogged (the unique index decides, even between
                    // simultaneous requests): the existing reblog.
                    let rows = c.rows(
                        "SELECT id FROM statuses WHERE reblog_of_id = $1 AND account_id = $2",
                        &args![original, wrapper.account_id],
                    )?;
                    return rows.first().ok_or(StoreError::NotFound)?.int_at(0);
                }
                c.execute(
                    "UPDATE statuses SET reblogs_count = reblogs_count + 1 WHERE id = $1",
                    &args![original],
                )?;
                c.execute(
                    "UPDATE accounts SET statuses_count = statuses_count + 1, last_status_at = $1 WHERE id = $2",
                    &args![wrapper.created_at, wrapper.account_id],
                )?;
                insert_feed_rows(c, wrapper.id, wrapper.account_id, &[wrapper.account_id])?;
                if fan_out {
                    queue_fan_out(c, wrapper.id, wrapper.account_id, true)?;
                }
                if let Some(n) = notification {
                    insert_notifications(c, &[n], email)?;
                }
                Ok(wrapper.id)
            })
            .await?;
        self.accounts_cache.forget(&[author]);
        self.status(id).await
    }

    /// Deletes a post (its reblogs, mentions, favourites… go with it) and fixes the counters;
    /// returns the post and the reblogs deleted with it.
    pub async fn delete_status(&self, id: i64) -> Result<(StatusRecord, Vec<StatusRecord>)> {
        let status = self.status(id).await?;
        let mut tx = self.writer.begin().await?;
        // The reblogs that go with it, so that their readers can be told too.
        let sql = format!("SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.reblog_of_id = $1");
        let reblogs = sqlx::query(&sql)
            .bind(id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(StatusRecord::from_row)
            .collect::<Result<Vec<_>>>()?;
        if let Some(original) = status.reblog_of_id {
            // Undoing a reblog takes back its notification (notifications about the
            // deleted post itself go with it through their foreign key).
            sqlx::query(
                "DELETE FROM notifications WHERE kind = 'reblog' AND from_account_id = $1 AND status_id = $2",
            )
            .bind(status.account_id)
            .bind(original)
            .execute(&mut *tx)
            .await?;
        }
        // Reblog wrappers vanish with the original: keep their authors' counters right.
        sqlx::query(
            "UPDATE accounts SET statuses_count = statuses_count - 1 \
             WHERE id IN (SELECT account_id FROM statuses WHERE reblog_of_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM statuses WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("UPDATE accounts SET statuses_count = statuses_count - 1 WHERE id = $1")
            .bind(status.account_id)
            .execute(&mut *tx)
            .await?;
        if let Some(parent) = status.in_reply_to_id {
            sqlx::query("UPDATE statuses SET replies_count = replies_count - 1 WHERE id = $1 AND replies_count > 0")
                .bind(parent)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(original) = status.reblog_of_id {
            sqlx::query("UPDATE statuses SET reblogs_count = reblogs_count - 1 WHERE id = $1 AND reblogs_count > 0")
                .bind(original)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        // The post's author and the reblogs' authors have one post fewer.
        let authors: Vec<i64> = std::iter::once(status.account_id)
            .chain(reblogs.iter().map(|r| r.account_id))
            .collect();
        self.accounts_cache.forget(&authors);
        Ok((status, reblogs))
    }

    /// Replaces a post's text, keeping the previous version in its history.
    pub async fn edit_status(&self, e: StatusEdit) -> Result<StatusRecord> {
        let before = self.status(e.status_id).await?;
        let id = e.status_id;
        self.write(move |c| {
            let rows = c.rows(
                "SELECT COUNT(*) FROM status_edits WHERE status_id = $1",
                &args![e.status_id],
            )?;
            let n = rows.first().ok_or(StoreError::NotFound)?.int_at(0)?;
            let insert = "INSERT INTO status_edits (id, status_id, text, content, spoiler_text, sensitive, created_at) \
                          VALUES ($1, $2, $3, $4, $5, $6, $7)";
            if n == 0 {
                // The first edit also records the original version, as Mastodon's history
                // shows it.
                c.execute(
                    insert,
                    &args![
                        e.original_version_id,
                        e.status_id,
                        &before.text,
                        &before.content,
                        &before.spoiler_text,
                        before.sensitive,
                        before.created_at
                    ],
                )?;
            }
            c.execute(
                insert,
                &args![
                    e.edit_id,
                    e.status_id,
                    &e.text,
                    &e.content,
                    &e.spoiler_text,
                    e.sensitive,
                    e.edited_at
                ],
            )?;
            c.execute(
                "UPDATE statuses SET text = $1, content = $2, spoiler_text = $3, sensitive = $4, language = $5, edited_at = $6 \
                 WHERE id = $7",
                &args![
                    &e.text,
                    &e.content,
                    &e.spoiler_text,
                    e.sensitive,
                    &e.language,
                    e.edited_at,
                    e.status_id
                ],
            )?;
            replace_mentions_and_tags(c, e.status_id, &e.mentions, &e.tags)
        })
        .await?;
        self.status(id).await
    }

    /// A post's versions, oldest first.
    pub async fn status_edits(&self, id: i64) -> Result<Vec<EditRecord>> {
        let rows = sqlx::query(
            "SELECT id, text, content, spoiler_text, sensitive, created_at FROM status_edits \
             WHERE status_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EditRecord {
                    id: r.try_get("id")?,
                    text: r.try_get("text")?,
                    content: r.try_get("content")?,
                    spoiler_text: r.try_get("spoiler_text")?,
                    sensitive: r.try_get::<i64, _>("sensitive")? != 0,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// One post by id.
    pub async fn status(&self, id: i64) -> Result<StatusRecord> {
        let sql = format!("SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| StatusRecord::from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Posts by id, in no particular order; unknown ids are skipped.
    pub async fn statuses(&self, ids: &[i64]) -> Result<Vec<StatusRecord>> {
        let ids = ids.to_vec();
        self.read_in(Place::for_items(ids.len()), move |c| {
            crate::facts::statuses(c, &ids)
        })
        .await
    }

    /// `(status_id, account_id)` pairs of the accounts mentioned by these posts.
    pub async fn mentions_of(&self, status_ids: &[i64]) -> Result<Vec<(i64, i64)>> {
        let ids = status_ids.to_vec();
        self.read_in(Place::for_items(ids.len()), move |c| {
            crate::facts::mentions(c, &ids)
        })
        .await
    }

    /// `(status_id, tag)` pairs of the hashtags of these posts.
    pub async fn tags_of(&self, status_ids: &[i64]) -> Result<Vec<(i64, String)>> {
        let ids = status_ids.to_vec();
        self.read_in(Place::for_items(ids.len()), move |c| {
            crate::facts::tags(c, &ids)
        })
        .await
    }

    /// The posts a post replies to, nearest first (stops at a missing parent).
    pub async fn ancestors(&self, status: &StatusRecord) -> Result<Vec<StatusRecord>> {
        let mut out = Vec::new();
        let mut next = status.in_reply_to_id;
        while let Some(id) = next {
            if out.len() >= MAX_ANCESTORS {
                break;
            }
            match self.status(id).await {
                Ok(s) => {
                    next = s.in_reply_to_id;
                    out.push(s);
                }
                Err(StoreError::NotFound) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Every reply below a post, at any depth, oldest first.
    pub async fn descendants(&self, id: i64) -> Result<Vec<StatusRecord>> {
        let sql = format!(
            "WITH RECURSIVE d(id) AS ( \
               SELECT id FROM statuses WHERE in_reply_to_id = $1 \
               UNION SELECT c.id FROM statuses c JOIN d ON c.in_reply_to_id = d.id) \
             SELECT {STATUS_COLUMNS} FROM statuses s JOIN d ON s.id = d.id ORDER BY s.id LIMIT {MAX_DESCENDANTS}"
        );
        let rows = sqlx::query(&sql).bind(id).fetch_all(&self.reader).await?;
        rows_to_statuses(&rows)
    }

    /// Number of posts, for the instance statistics.
    pub async fn status_count(&self) -> Result<i64> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM statuses WHERE reblog_of_id IS NULL")
                .fetch_one(&self.reader)
                .await?;
        Ok(n)
    }
}

impl Db {
    /// Copies the oldest `max_posts` queued posts into their authors' followers' home
    /// feeds and removes them from the queue.
    pub async fn fan_out_queued(&self, max_posts: i64) -> Result<FanOutBatch> {
        match self.backend() {
            crate::Backend::Sqlite => self.fan_out_in_slices(max_posts, SLICE_ROWS).await,
            crate::Backend::Postgres => self.fan_out_claimed(max_posts).await,
        }
    }

    /// SQLite: the batch is written in slices of followers, one short transaction each.
    ///
    /// Why: SQLite has one writer, and the write-ahead log takes whole 4 KiB pages. A
    /// batch of posts by many authors writes a row or two into each follower's part of
    /// `home_feed`, so it changes about one page per follower: one transaction for it
    /// held every post request back for its whole length, and since that was as long as
    /// the posts queued meanwhile took, batches stayed small (one post per connection)
    /// and each wrote a page per handful of rows — some 30 MB of log per 64 posts, so the
    /// writer also stopped for the log's checkpoints. In slices by follower (their
    /// account ids cut where the batch's rows divide evenly), each transaction is short,
    /// posts are stored between slices, the batches grow with the load, and a follower's
    /// page takes all of a batch's rows at once.
    ///
    /// The queue rows go in the last slice's transaction: until then home reads merge
    /// the queued posts as before (a post both in the queue and in a feed is read once),
    /// and a batch stopped half-way is written again in full by the next (`OR IGNORE`).
    /// A post deleted meanwhile leaves the queue (its row goes with it), so later slices
    /// skip it, and the feed rows already written point to nothing (reads join them to
    /// `statuses`, as for any deleted post); an unfollow removes the rows already written, and later slices no longer
    /// find the follow.
    async fn fan_out_in_slices(&self, max_posts: i64, slice_rows: usize) -> Result<FanOutBatch> {
        let max = max_posts.max(1);
        let every = slice_rows.max(1);
        let (ids, cuts) = self
            .read_in(Place::Blocking, move |c| {
                let rows = c.rows(
                    &format!("SELECT status_id FROM fanout_queue ORDER BY status_id LIMIT {max}"),
                    &[],
                )?;
                let ids = rows
                    .iter()
                    .map(|r| r.int_at(0))
                    .collect::<Result<Vec<_>>>()?;
                if ids.is_empty() {
                    return Ok((ids, Vec::new()));
                }
                // The cuts come from a sample of the batch's posts (every n-th, at most
                // `PLAN_SAMPLE`): their followers, sorted, marked every `every` rows
                // scaled down to the sample. A sample keeps the read and its memory
                // small (the whole batch's followers were ~275,000 rows; numbering them
                // in SQL with a window function took seconds).
                let step = ids.len().div_ceil(PLAN_SAMPLE);
                let sample: Vec<i64> = ids.iter().step_by(step).copied().collect();
                let list = crate::db::placeholders(1, sample.len());
                let rows = c.rows(
                    &format!(
                        "SELECT f.account_id FROM fanout_queue q CROSS JOIN follows f \
                         WHERE q.status_id IN ({list}) AND f.target_id = q.author_id \
                           AND (q.reblog = 0 OR f.show_reblogs = 1)"
                    ),
                    &crate::facts::ids_args(&sample),
                )?;
                let mut followers = rows
                    .iter()
                    .map(|r| r.int_at(0))
                    .collect::<Result<Vec<_>>>()?;
                followers.sort_unstable();
                let scaled = (every * sample.len() / ids.len()).max(1);
                let marks: Vec<i64> = followers.iter().step_by(scaled).copied().collect();
                Ok((ids, slice_cuts(&marks)))
            })
            .await?;
        if ids.is_empty() {
            return Ok(FanOutBatch::default());
        }
        // The slices name the batch by the range of its ids, not by a list of up to
        // 1,000 placeholders: SQLite prepares such a list in quadratic time (each `$n`
        // name is looked up among the previous ones), and sqlx kept ~100 of them
        // prepared (~9 MiB after the posting workload). A post queued meanwhile with an
        // id inside the range is written by the slices still to come, harmlessly: it is
        // not in this batch's list, so it stays queued and a later batch writes it in
        // full (`OR IGNORE`). The queue rows removed are exactly the batch's, passed as
        // one JSON array.
        let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
            return Ok(FanOutBatch::default());
        };
        let listed = format!(
            "[{}]",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        );
        let slices: usize = cuts.len() + 1;
        let mut removed = 0;
        for slice in 0..slices {
            let from = slice.checked_sub(1).and_then(|i| cuts.get(i)).copied();
            let to = cuts.get(slice).copied();
            let mut args = vec![crate::db::Arg::I(first), crate::db::Arg::I(last)];
            let mut range = String::new();
            if let Some(from) = from {
                args.push(crate::db::Arg::I(from));
                range.push_str(&format!(" AND f.account_id >= ${}", args.len()));
            }
            if let Some(to) = to {
                args.push(crate::db::Arg::I(to));
                range.push_str(&format!(" AND f.account_id < ${}", args.len()));
            }
            let mut tx = self.writer.begin().await?;
            let sql = fan_out_insert_sql(
                crate::Backend::Sqlite,
                "q.status_id BETWEEN $1 AND $2",
                &range,
            );
            crate::db::bind_all(sqlx::query(&sql), &args)
                .execute(&mut *tx)
                .await?;
            if slice + 1 == slices {
                removed = sqlx::query(
                    "DELETE FROM fanout_queue WHERE status_id IN (SELECT value FROM json_each($1))",
                )
                .bind(&listed)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
        }
        Ok(FanOutBatch {
            taken: ids.len() as u64,
            removed,
        })
    }

    /// PostgreSQL: copies the oldest `max_posts` queued posts no other batch holds in one
    /// transaction.
    ///
    /// On PostgreSQL several calls may run at once (several workers, several nodes): each
    /// claims its batch with `FOR UPDATE SKIP LOCKED`, so the batches are disjoint, and the
    /// claimed rows stay locked (and queued) until the batch commits — a batch that fails
    /// or is cancelled half-way leaves its posts in the queue for the next one.
    async fn fan_out_claimed(&self, max_posts: i64) -> Result<FanOutBatch> {
        let mut tx = self.writer.begin().await?;
        // `SKIP LOCKED` never waits: a batch takes the oldest posts no other batch holds.
        // (Without it, two workers took the same oldest posts and wrote the same feed
        // rows twice, the second waiting on the first's keys.)
        let queued: Vec<(i64, i64, i64)> = sqlx::query_as(&format!(
            "SELECT status_id, author_id, reblog FROM fanout_queue ORDER BY status_id LIMIT {} \
             FOR UPDATE SKIP LOCKED",
            max_posts.max(1)
        ))
        .fetch_all(&mut *tx)
        .await?;
        if queued.is_empty() {
            return Ok(FanOutBatch::default());
        }
        let ids: Vec<i64> = queued.iter().map(|(id, _, _)| *id).collect();
        let list = crate::db::placeholders(1, ids.len());
        let sql = fan_out_insert_sql(
            crate::Backend::Postgres,
            &format!("q.status_id IN ({list})"),
            "",
        );
        // Lists of varying length are not kept prepared (each would be a statement of its
        // own in sqlx's cache and on the server).
        crate::db::bind_all(sqlx::query(&sql), &crate::facts::ids_args(&ids))
            .persistent(false)
            .execute(&mut *tx)
            .await?;
        let sql = format!("DELETE FROM fanout_queue WHERE status_id IN ({list})");
        crate::db::bind_all(sqlx::query(&sql), &crate::facts::ids_args(&ids))
            .persistent(false)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let n = queued.len() as u64;
        Ok(FanOutBatch {
            taken: n,
            removed: n,
        })
    }

    /// Number of posts waiting to be fanned out.
    pub async fn fan_out_backlog(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM fanout_queue")
            .fetch_one(&self.reader)
            .await?;
        Ok(n)
    }
}

/// What one fan-out batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOutBatch {
    /// Queued posts the batch took (fewer than asked: the queue is drained).
    pub taken: u64,
    /// Of those, the ones this batch removed from the queue (not those deleted
    /// meanwhile, nor those another batch removed first): for counting.
    pub removed: u64,
}

/// Feed rows one SQLite fan-out transaction writes, about (see `Db::fan_out_in_slices`):
/// some 20–30 ms of the writer's time. The writer serves waiting transactions in turn, so
/// this is also the fan-out's share of it against the posts queued meanwhile (with 8,000
/// the posts outran it on the benchmark network).
const SLICE_ROWS: usize = 16_000;

/// Posts of a batch whose followers are read to plan its slices.
const PLAN_SAMPLE: usize = 64;

/// Where to cut a batch into slices, from `marks`: the follower of every n-th feed row
/// of the batch, in follower order (the first row's first). Each cut is the first
/// account of a slice, so an account's rows are never split between two slices.
fn slice_cuts(marks: &[i64]) -> Vec<i64> {
    let Some((first, rest)) = marks.split_first() else {
        return Vec::new();
    };
    let mut cuts: Vec<i64> = rest.iter().copied().filter(|m| m != first).collect();
    // An account with more rows than a slice is marked twice.
    cuts.dedup();
    cuts
}

/// The fan-out batch: copies the queued posts whose ids are bound to `list` into their
/// authors' followers' feeds (those `range`, a condition on `f.account_id`, admits).
fn fan_out_insert_sql(backend: crate::Backend, posts: &str, range: &str) -> String {
    // The whole batch in one statement, its rows inserted in the feed's key order:
    // each page of `home_feed` is then changed once per batch instead of once per
    // post (with inserts in post order, SQLite spilled and re-journalled the same
    // pages over and over). `CROSS JOIN` keeps SQLite's planner on the followers
    // index for each queued post rather than scanning all of `follows`; that index
    // holds `show_reblogs` too, so neither engine visits the `follows` table itself.
    // On SQLite, `OR IGNORE` (unlike `ON CONFLICT DO NOTHING`, which leaves NOT NULL
    // at ABORT) means the statement can never stop half-way, so SQLite keeps no
    // statement journal of the pages it changes (a fifth of a post's CPU in `perf`).
    let (insert, on_conflict) = match backend {
        crate::Backend::Sqlite => ("INSERT OR IGNORE", ""),
        crate::Backend::Postgres => ("INSERT", " ON CONFLICT DO NOTHING"),
    };
    format!(
        "{insert} INTO home_feed (account_id, status_id, author_id) \
         SELECT f.account_id, q.status_id, q.author_id \
         FROM fanout_queue q CROSS JOIN follows f \
         WHERE {posts} AND f.target_id = q.author_id \
           AND (q.reblog = 0 OR f.show_reblogs = 1){range} \
         ORDER BY f.account_id, q.status_id{on_conflict}"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

    use super::*;

    #[test]
    fn cuts_never_split_an_account() {
        // Every third row of followers 1 1 2 3 3 3 4 5 6 6: rows 1, 4, 7 and 10.
        assert_eq!(slice_cuts(&[1, 3, 4, 6]), vec![3, 4, 6]);
        assert_eq!(slice_cuts(&[1]), Vec::<i64>::new());
        assert_eq!(slice_cuts(&[]), Vec::<i64>::new());
        // One account with more rows than a slice: still one slice for it.
        assert_eq!(slice_cuts(&[7, 7, 7, 7]), Vec::<i64>::new());
        assert_eq!(slice_cuts(&[7, 7, 9, 9, 10]), vec![9, 10]);
    }

    /// A batch written in many slices gives every follower every post, exactly once,
    /// and empties the queue; reblogs skip followers who hide them.
    #[tokio::test]
    async fn a_batch_in_slices_reaches_every_follower() {
        use crate::seed::{SeedAccount, SeedStatus};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let db = Db::connect(&url).await.unwrap();
        let accounts: Vec<SeedAccount> = (1..=40_i64)
            .map(|id| SeedAccount {
                id,
                username: format!("u{id}"),
                email: format!("u{id}@example.test"),
                password_hash: String::new(),
                celebrity: false,
                created_at: 0,
                followers_count: 0,
                following_count: 0,
                statuses_count: 0,
                last_status_at: None,
            })
            .collect();
        db.seed_accounts(&accounts).await.unwrap();
        // Authors 1..=3; every account from 4 on follows 1 and 2, the even ones 3 too.
        let mut follows = Vec::new();
        for a in 4..=40_i64 {
            for t in [1, 2] {
                follows.push((a * 10 + t, a, t));
            }
            if a % 2 == 0 {
                follows.push((a * 10 + 3, a, 3));
            }
        }
        db.seed_follows(&follows).await.unwrap();
        // Account 5 hides 2's reblogs.
        sqlx::query("UPDATE follows SET show_reblogs = 0 WHERE account_id = 5 AND target_id = 2")
            .execute(&db.writer)
            .await
            .unwrap();
        let posts: Vec<SeedStatus> = (0..9_i64)
            .map(|i| SeedStatus {
                id: 1000 + i,
                account_id: 1 + i % 3,
                text: "hi".into(),
                content: "<p>hi</p>".into(),
                created_at: i,
                group_id: None,
            })
            .collect();
        db.seed_statuses(&posts).await.unwrap();
        for p in &posts {
            // Author 2's posts are queued as reblogs.
            let reblog = i64::from(p.account_id == 2);
            sqlx::query(
                "INSERT INTO fanout_queue (status_id, author_id, reblog) VALUES ($1, $2, $3)",
            )
            .bind(p.id)
            .bind(p.account_id)
            .bind(reblog)
            .execute(&db.writer)
            .await
            .unwrap();
        }
        // 3 posts each by 1 and 2 to 37 followers and by 3 to 19, less 3 hidden: 276 rows,
        // in some 40 slices.
        let done = db.fan_out_in_slices(100, 7).await.unwrap();
        assert_eq!(
            done,
            FanOutBatch {
                taken: 9,
                removed: 9
            }
        );
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT account_id, status_id FROM home_feed ORDER BY 1, 2")
                .fetch_all(&db.writer)
                .await
                .unwrap();
        let mut expected = Vec::new();
        for a in 4..=40_i64 {
            for p in &posts {
                let follows = p.account_id != 3 || a % 2 == 0;
                let hidden = a == 5 && p.account_id == 2;
                if follows && !hidden {
                    expected.push((a, p.id));
                }
            }
        }
        assert_eq!(expected.len(), 276);
        assert_eq!(rows, expected);
        assert_eq!(db.fan_out_backlog().await.unwrap(), 0);
        // Nothing left: a second call writes nothing.
        assert_eq!(
            db.fan_out_in_slices(100, 7).await.unwrap(),
            FanOutBatch::default()
        );
    }

    /// The batch reads followers (and their `show_reblogs`) from the index alone: on
    /// PostgreSQL the same index gives an index-only scan instead of a heap fetch per
    /// follower, which was a third of a batch on the benchmark network.
    #[tokio::test]
    async fn fan_out_batch_reads_only_the_followers_index() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let db = Db::connect(&url).await.unwrap();
        let sql = format!(
            "EXPLAIN QUERY PLAN {}",
            fan_out_insert_sql(
                crate::Backend::Sqlite,
                "q.status_id BETWEEN $1 AND $2",
                " AND f.account_id >= $3"
            )
        );
        let rows = sqlx::query(&sql)
            .bind(1_i64)
            .bind(2_i64)
            .fetch_all(&db.writer)
            .await
            .unwrap();
        let plan: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap())
            .collect();
        assert!(
            plan.iter()
                .any(|d| d.contains("f USING COVERING INDEX follows_target_reblogs")),
            "{plan:?}"
        );
    }
}

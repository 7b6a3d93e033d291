//! Followed hashtags, and what a home timeline needs to know about its reader before
//! reading (exclusive-list members to leave out, hashtags to merge in).

use crate::db::{Arg, bind_all};
use crate::reads::ReadConn;
use crate::records::Listed;
use crate::{Db, Page, Result};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// What shapes one reader's home timeline besides the people they follow.
#[derive(Debug, Clone, Default)]
pub struct HomeContext {
    /// Members of the reader's exclusive lists: their posts stay out of home.
    pub hidden_authors: HashSet<i64>,
    /// Hashtags the reader follows (normalised): their posts join home.
    pub followed_tags: Vec<String>,
    /// Groups the reader belongs to: their posts join home.
    pub groups: Vec<i64>,
    /// Celebrity accounts the reader follows: their posts are never fanned out, so home
    /// reads them from each one's own posts.
    pub celebrities: Vec<i64>,
}

impl Db {
    /// Follows a (normalised) hashtag; following twice is fine.
    pub async fn follow_tag(&self, id: i64, account_id: i64, tag: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO tag_follows (id, account_id, tag) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id, tag) DO NOTHING",
        )
        .bind(id)
        .bind(account_id)
        .bind(tag)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Stops following a hashtag; not following it is fine.
    pub async fn unfollow_tag(&self, account_id: i64, tag: &str) -> Result<()> {
        sqlx::query("DELETE FROM tag_follows WHERE account_id = $1 AND tag = $2")
            .bind(account_id)
            .bind(tag)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Hashtags starting with (normalised) `prefix` that some public post carries, by
    /// name, skipping `offset`: hashtag search. Tags seen only on followers-only,
    /// direct or unlisted posts stay hidden, so a search reveals nothing private. The
    /// prefix is a range on the `status_tags (tag, …)` index (see
    /// [`Db::search_accounts`] for why not `LIKE`).
    pub async fn search_tags(&self, prefix: &str, limit: i64, offset: i64) -> Result<Vec<String>> {
        if prefix.is_empty() {
            return Ok(Vec::new());
        }
        let (from, to) = crate::accounts::prefix_range(prefix);
        let sql = format!(
            "SELECT DISTINCT t.tag FROM status_tags t JOIN statuses s ON s.id = t.status_id \
             WHERE {} AND s.visibility = 'public' \
             ORDER BY t.tag LIMIT {} OFFSET {}",
            self.prefix_condition("t.tag"),
            limit.clamp(0, 80),
            offset.max(0)
        );
        let rows: Vec<(String,)> = sqlx::query_as(&sql)
            .bind(from)
            .bind(to)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.into_iter().map(|(t,)| t).collect())
    }

    /// Whether `account_id` follows `tag`.
    pub async fn follows_tag(&self, account_id: i64, tag: &str) -> Result<bool> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM tag_follows WHERE account_id = $1 AND tag = $2")
                .bind(account_id)
                .bind(tag)
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.is_some())
    }

    /// A page of the hashtags `account_id` follows, most recently followed first.
    pub async fn followed_tags(&self, account_id: i64, page: &Page) -> Result<Vec<Listed<String>>> {
        let mut sql = String::from("SELECT id, tag FROM tag_follows WHERE account_id = $1");
        let mut args = vec![Arg::I(account_id)];
        let order = page.apply(&mut sql, "id", &mut args);
        sql.push_str(&order);
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.reader)
            .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(Listed {
                    cursor: r.try_get("id")?,
                    item: r.try_get("tag")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(page.finish(items))
    }

    /// The reader's exclusive-list members and followed hashtags, in one query: the one
    /// lookup a home read makes before fetching its page.
    pub async fn home_context(&self, owner: i64) -> Result<HomeContext> {
        self.read(move |c| home_context(c, owner)).await
    }
}

/// The reader's exclusive-list members, followed hashtags, groups and followed
/// celebrities, in one query.
pub(crate) fn home_context(c: &mut dyn ReadConn, owner: i64) -> Result<HomeContext> {
    let rows = c
        .rows(
            "SELECT 'a', CAST(la.account_id AS TEXT) FROM lists l \
             JOIN list_accounts la ON la.list_id = l.id \
             WHERE l.account_id = $1 AND l.exclusive = 1 \
             UNION ALL SELECT 't', tag FROM tag_follows WHERE account_id = $1 \
             UNION ALL SELECT 'g', CAST(group_id AS TEXT) FROM group_members \
             WHERE account_id = $1 \
             UNION ALL SELECT 'c', CAST(target_id AS TEXT) FROM follows \
             WHERE account_id = $1 AND target_id IN (SELECT id FROM accounts WHERE celebrity = 1)",
            &[Arg::I(owner)],
        )?
        .iter()
        .map(|r| Ok((r.text_at(0)?, r.text_at(1)?)))
        .collect::<Result<Vec<(String, String)>>>()?;
    let mut context = HomeContext::default();
    for (kind, value) in rows {
        match kind.as_str() {
            "a" => {
                if let Ok(id) = value.parse() {
                    context.hidden_authors.insert(id);
                }
            }
            "g" => {
                if let Ok(id) = value.parse() {
                    context.groups.push(id);
                }
            }
            "c" => {
                if let Ok(id) = value.parse() {
                    context.celebrities.push(id);
                }
            }
            _ => context.followed_tags.push(value),
        }
    }
    Ok(context)
}

/// For each of `viewers`, the part of its home context that decides about one post by
/// `author` carrying `tags`: whether an exclusive list of theirs holds the author, and
/// which of the tags they follow. Streaming reads this for all subscribers at once.
pub(crate) fn contexts_for_post(
    c: &mut dyn ReadConn,
    viewers: &[i64],
    author: i64,
    tags: &[String],
) -> Result<HashMap<i64, HomeContext>> {
    let mut out: HashMap<i64, HomeContext> = HashMap::new();
    if viewers.is_empty() {
        return Ok(out);
    }
    let (v, a) = crate::facts::two_lists(viewers.len(), 1);
    let mut sql = format!(
        "SELECT l.account_id, la.account_id, '' FROM lists l \
         JOIN list_accounts la ON la.list_id = l.id \
         WHERE l.account_id IN ({v}) AND l.exclusive = 1 AND la.account_id IN ({a})"
    );
    if !tags.is_empty() {
        let t = crate::db::placeholders(viewers.len() + 2, tags.len());
        sql.push_str(&format!(
            " UNION ALL SELECT account_id, 0, tag FROM tag_follows \
             WHERE account_id IN ({v}) AND tag IN ({t})"
        ));
    }
    for (viewer, hidden, tag) in crate::facts::triples(c, &sql, viewers, &[author], tags)? {
        let context = out.entry(viewer).or_default();
        if tag.is_empty() {
            context.hidden_authors.insert(hidden);
        } else {
            context.followed_tags.push(tag);
        }
    }
    Ok(out)
}

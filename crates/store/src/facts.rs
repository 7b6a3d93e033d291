//! What a page of posts needs before it can be shown to one viewer: reblogged originals,
//! mentions, hashtags, authors, groups, and the viewer's relations, memberships and marks
//! — read in one [`Db::post_facts`] call (one read, see [`crate::reads`]).
//!
//! The lookups are also the single place their SQL lives: the `Db` methods that answer
//! one of these questions alone (`Db::accounts`, `Db::viewer_marks`…) call them too.

use crate::account_cache::{AccountCache, Ticket};
use crate::db::{Arg, placeholders};
use crate::groups::GroupRecord;
use crate::interactions::ViewerMarks;
use crate::reads::Place;
use crate::reads::ReadConn;
use crate::records::{ACCOUNT_COLUMNS, AccountRecord, STATUS_COLUMNS, StatusRecord};
use crate::social::ViewerRelations;
use crate::{Db, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Everything [`Db::post_facts`] reads.
#[derive(Debug, Clone, Default)]
pub struct PageFacts {
    /// Originals of the reblogs that were not among the posts given.
    pub originals: Vec<StatusRecord>,
    /// `(post, mentioned account)` pairs.
    pub mentions: Vec<(i64, i64)>,
    /// `(post, tag)` pairs.
    pub tags: Vec<(i64, String)>,
    /// Authors and mentioned accounts.
    pub accounts: Vec<Arc<AccountRecord>>,
    /// The groups the posts were written in.
    pub groups: Vec<GroupRecord>,
    /// The viewer's `(group, role)` in those groups.
    pub group_roles: Vec<(i64, String)>,
    /// The viewer's follows, blocks and mutes of the authors.
    pub relations: ViewerRelations,
    /// The viewer's favourites, reblogs, bookmarks and pins among the posts.
    pub marks: ViewerMarks,
}

/// What the facts about a post are looked up by: its id, author, reblogged original and
/// group (the rest of the post is not needed, nor copied, to read them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostKey {
    /// The post.
    pub id: i64,
    /// Its author.
    pub account_id: i64,
    /// The post it reblogs, if it is a reblog.
    pub reblog_of_id: Option<i64>,
    /// The group it was written in.
    pub group_id: Option<i64>,
}

impl PostKey {
    /// The key of a stored post.
    pub fn of(s: &StatusRecord) -> Self {
        Self {
            id: s.id,
            account_id: s.account_id,
            reblog_of_id: s.reblog_of_id,
            group_id: s.group_id,
        }
    }
}

pub(crate) fn ids_args(ids: &[i64]) -> Vec<Arg> {
    ids.iter().map(|i| Arg::I(*i)).collect()
}

fn sorted_unique(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v.dedup();
    v
}

/// Posts by id, in no particular order; unknown ids are skipped.
pub(crate) fn statuses(c: &mut dyn ReadConn, ids: &[i64]) -> Result<Vec<StatusRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.id IN ({})",
        placeholders(1, ids.len())
    );
    c.rows(&sql, &ids_args(ids))?
        .iter()
        .map(StatusRecord::from_row)
        .collect()
}

/// `(status_id, account_id)` pairs of the accounts mentioned by these posts.
pub(crate) fn mentions(c: &mut dyn ReadConn, ids: &[i64]) -> Result<Vec<(i64, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT status_id, account_id FROM status_mentions WHERE status_id IN ({})",
        placeholders(1, ids.len())
    );
    c.rows(&sql, &ids_args(ids))?
        .iter()
        .map(|r| Ok((r.int_at(0)?, r.int_at(1)?)))
        .collect()
}

/// `(status_id, tag)` pairs of the hashtags of these posts.
pub(crate) fn tags(c: &mut dyn ReadConn, ids: &[i64]) -> Result<Vec<(i64, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT status_id, tag FROM status_tags WHERE status_id IN ({})",
        placeholders(1, ids.len())
    );
    c.rows(&sql, &ids_args(ids))?
        .iter()
        .map(|r| Ok((r.int_at(0)?, r.text_at(1)?)))
        .collect()
}

/// Accounts by id, in no particular order; unknown ids are skipped.
pub(crate) fn accounts(c: &mut dyn ReadConn, ids: &[i64]) -> Result<Vec<AccountRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id IN ({})",
        placeholders(1, ids.len())
    );
    c.rows(&sql, &ids_args(ids))?
        .iter()
        .map(AccountRecord::from_row)
        .collect()
}

/// Groups by id, in no particular order; unknown ids are skipped.
pub(crate) fn groups(c: &mut dyn ReadConn, ids: &[i64]) -> Result<Vec<GroupRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {} FROM groups g WHERE g.id IN ({})",
        crate::groups::GROUP_COLUMNS,
        placeholders(1, ids.len())
    );
    c.rows(&sql, &ids_args(ids))?
        .iter()
        .map(GroupRecord::from_row)
        .collect()
}

/// `account`'s `(group, role)` in those of `group_ids` it belongs to.
pub(crate) fn group_roles(
    c: &mut dyn ReadConn,
    account: i64,
    group_ids: &[i64],
) -> Result<Vec<(i64, String)>> {
    Ok(group_roles_of(c, &[account], group_ids)?
        .remove(&account)
        .unwrap_or_default())
}

/// For each of `viewers`, its `(group, role)` in those of `group_ids` it belongs to.
pub(crate) fn group_roles_of(
    c: &mut dyn ReadConn,
    viewers: &[i64],
    group_ids: &[i64],
) -> Result<HashMap<i64, Vec<(i64, String)>>> {
    let mut out: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    if group_ids.is_empty() || viewers.is_empty() {
        return Ok(out);
    }
    let (v, g) = two_lists(viewers.len(), group_ids.len());
    let sql = format!(
        "SELECT account_id, group_id, role FROM group_members \
         WHERE account_id IN ({v}) AND group_id IN ({g})"
    );
    for (viewer, group, role) in triples(c, &sql, viewers, group_ids, &[])? {
        out.entry(viewer).or_default().push((group, role));
    }
    Ok(out)
}

/// Placeholders for two `IN` lists bound one after the other from `$1`.
pub(crate) fn two_lists(first: usize, second: usize) -> (String, String) {
    (placeholders(1, first), placeholders(first + 1, second))
}

/// Runs `sql` bound with `a`, then `b`, then `texts`, returning `(int, int, text)` rows.
pub(crate) fn triples(
    c: &mut dyn ReadConn,
    sql: &str,
    a: &[i64],
    b: &[i64],
    texts: &[String],
) -> Result<Vec<(i64, i64, String)>> {
    let mut args = ids_args(a);
    args.extend(ids_args(b));
    args.extend(texts.iter().map(|t| Arg::S(t.clone())));
    c.rows(sql, &args)?
        .iter()
        .map(|r| Ok((r.int_at(0)?, r.int_at(1)?, r.text_at(2)?)))
        .collect()
}

/// Follows, blocks (both ways) and mutes between `viewer` and `others`, in one query.
pub(crate) fn relations(
    c: &mut dyn ReadConn,
    viewer: i64,
    others: &[i64],
) -> Result<ViewerRelations> {
    Ok(relations_of(c, &[viewer], others)?
        .remove(&viewer)
        .unwrap_or_default())
}

/// The query of [`relations_of`] for `viewers` and `others` ids bound from `$1`.
fn relations_sql(backend: crate::Backend, viewers: usize, others: usize) -> String {
    let (v, o) = two_lists(viewers, others);
    // Both follows indexes cover the query and cost SQLite's planner the same, but probes
    // keyed by the shorter list first stay together in the index (a home page: one reader's
    // follows; a streamed post: one author's followers).
    let index = match backend {
        crate::Backend::Sqlite if viewers <= others => "INDEXED BY follows_account_reblogs",
        crate::Backend::Sqlite => "INDEXED BY follows_target_reblogs",
        crate::Backend::Postgres => "",
    };
    format!(
        "SELECT account_id, target_id, CASE WHEN show_reblogs = 1 THEN 'f' ELSE 'n' END \
         FROM follows {index} WHERE account_id IN ({v}) AND target_id IN ({o}) \
         UNION ALL SELECT account_id, target_id, 'b' FROM blocks \
         WHERE account_id IN ({v}) AND +target_id IN ({o}) \
         UNION ALL SELECT target_id, account_id, 'b' FROM blocks \
         WHERE target_id IN ({v}) AND +account_id IN ({o}) \
         UNION ALL SELECT account_id, target_id, 'm' FROM mutes \
         WHERE account_id IN ({v}) AND +target_id IN ({o})"
    )
}

/// For each of `viewers`, its follows, blocks (both ways) and mutes of `others`, in one
/// query.
///
/// Blocks and mutes are few per account, so their branches scan each viewer's own rows and
/// test them against `others` (the unary `+` keeps the index off that column) rather than
/// probing once per other account: SQLite builds a temporary B-tree for an `IN (…)` list
/// that drives an index, and never builds it for a filter on no rows (a home page: −5% of
/// its instructions with pins below, in callgrind). Follows (hundreds) keep the probes.
pub(crate) fn relations_of(
    c: &mut dyn ReadConn,
    viewers: &[i64],
    others: &[i64],
) -> Result<HashMap<i64, ViewerRelations>> {
    let mut out: HashMap<i64, ViewerRelations> = HashMap::new();
    if others.is_empty() || viewers.is_empty() {
        return Ok(out);
    }
    let sql = relations_sql(c.backend(), viewers.len(), others.len());
    for (viewer, id, kind) in triples(c, &sql, viewers, others, &[])? {
        let rel = out.entry(viewer).or_default();
        match kind.as_str() {
            "f" => rel.followed.insert(id),
            "n" => {
                rel.reblogs_hidden.insert(id);
                rel.followed.insert(id)
            }
            "b" => rel.blocked.insert(id),
            _ => rel.muted.insert(id),
        };
    }
    Ok(out)
}

/// Favourites, reblogs, bookmarks and pins of `viewer` among `ids`, in one query.
pub(crate) fn marks(c: &mut dyn ReadConn, viewer: i64, ids: &[i64]) -> Result<ViewerMarks> {
    Ok(marks_of(c, &[viewer], ids)?
        .remove(&viewer)
        .unwrap_or_default())
}

/// For each of `viewers`, its favourites, reblogs, bookmarks and pins among `ids`, in
/// one query. Pins (five at most) are scanned per viewer, as blocks in [`relations_of`];
/// favourites and bookmarks can be thousands, so they are probed.
pub(crate) fn marks_of(
    c: &mut dyn ReadConn,
    viewers: &[i64],
    ids: &[i64],
) -> Result<HashMap<i64, ViewerMarks>> {
    let mut out: HashMap<i64, ViewerMarks> = HashMap::new();
    if ids.is_empty() || viewers.is_empty() {
        return Ok(out);
    }
    let (v, i) = two_lists(viewers.len(), ids.len());
    let sql = format!(
        "SELECT account_id, status_id, 'f' FROM favourites \
         WHERE account_id IN ({v}) AND status_id IN ({i}) \
         UNION ALL SELECT account_id, reblog_of_id, 'r' FROM statuses \
         WHERE account_id IN ({v}) AND reblog_of_id IN ({i}) \
         UNION ALL SELECT account_id, status_id, 'b' FROM bookmarks \
         WHERE account_id IN ({v}) AND status_id IN ({i}) \
         UNION ALL SELECT account_id, status_id, 'p' FROM pins \
         WHERE account_id IN ({v}) AND +status_id IN ({i})"
    );
    for (viewer, id, kind) in triples(c, &sql, viewers, ids, &[])? {
        let marks = out.entry(viewer).or_default();
        match kind.as_str() {
            "f" => marks.favourited.insert(id),
            "r" => marks.reblogged.insert(id),
            "b" => marks.bookmarked.insert(id),
            _ => marks.pinned.insert(id),
        };
    }
    Ok(out)
}

/// Accounts by id through `cache` (read by the read that took `ticket`): only those not
/// cached are read, and kept for the next pages.
fn cached_accounts(
    c: &mut dyn ReadConn,
    (cache, ticket): (&AccountCache, Ticket),
    ids: &[i64],
) -> Result<Vec<Arc<AccountRecord>>> {
    let mut found = Vec::with_capacity(ids.len());
    let mut missing = Vec::new();
    for &id in ids {
        match cache.get(id) {
            Some(account) => found.push(account),
            None => missing.push(id),
        }
    }
    let read: Vec<Arc<AccountRecord>> = accounts(c, &missing)?.into_iter().map(Arc::new).collect();
    cache.put(ticket, &read);
    found.extend(read);
    Ok(found)
}

/// Reads every fact about `posts` for `viewer` (see [`PageFacts`]), the authors through
/// the read's account cache and ticket.
pub(crate) fn post_facts(
    c: &mut dyn ReadConn,
    cache: (&AccountCache, Ticket),
    viewer: Option<i64>,
    posts: &[PostKey],
) -> Result<PageFacts> {
    let known: HashSet<i64> = posts.iter().map(|s| s.id).collect();
    let missing: Vec<i64> = sorted_unique(
        posts
            .iter()
            .filter_map(|s| s.reblog_of_id)
            .filter(|id| !known.contains(id))
            .collect(),
    );
    let originals = statuses(c, &missing)?;
    let all: Vec<PostKey> = (posts.iter().copied())
        .chain(originals.iter().map(PostKey::of))
        .collect();
    let ids: Vec<i64> = sorted_unique(all.iter().map(|s| s.id).collect());
    let mentions = mentions(c, &ids)?;
    let tags = tags(c, &ids)?;
    let authors: Vec<i64> = all.iter().map(|s| s.account_id).collect();
    let accounts = cached_accounts(
        c,
        cache,
        &sorted_unique(
            authors
                .iter()
                .copied()
                .chain(mentions.iter().map(|(_, a)| *a))
                .collect(),
        ),
    )?;
    let group_ids = sorted_unique(all.iter().filter_map(|s| s.group_id).collect());
    let groups = groups(c, &group_ids)?;
    let mut facts = PageFacts {
        originals,
        mentions,
        tags,
        accounts,
        groups,
        ..PageFacts::default()
    };
    if let Some(v) = viewer {
        facts.add_viewer_part(c, v, posts)?;
    }
    Ok(facts)
}

impl PageFacts {
    /// Reads the viewer's part (group roles, relations, marks) into facts read without
    /// a viewer, for `posts` (the ones these facts were read for).
    pub(crate) fn add_viewer_part(
        &mut self,
        c: &mut dyn ReadConn,
        viewer: i64,
        posts: &[PostKey],
    ) -> Result<()> {
        let all: Vec<PostKey> = (posts.iter().copied())
            .chain(self.originals.iter().map(PostKey::of))
            .collect();
        let ids = sorted_unique(all.iter().map(|s| s.id).collect());
        let group_ids = sorted_unique(all.iter().filter_map(|s| s.group_id).collect());
        let others = sorted_unique(
            all.iter()
                .map(|s| s.account_id)
                .filter(|a| *a != viewer)
                .collect(),
        );
        self.group_roles = group_roles(c, viewer, &group_ids)?;
        self.relations = relations(c, viewer, &others)?;
        self.marks = marks(c, viewer, &ids)?;
        Ok(())
    }
}

impl Db {
    /// Everything needed to decide which of `posts` `viewer` may see and to show them,
    /// in one read (see [`PageFacts`]).
    pub async fn post_facts(&self, viewer: Option<i64>, posts: Vec<PostKey>) -> Result<PageFacts> {
        let cache = Arc::clone(&self.accounts_cache);
        self.read_in(Place::for_items(posts.len()), move |c| {
            // Before the read's first statement, so before its snapshot.
            let ticket = cache.ticket();
            post_facts(c, (&cache, ticket), viewer, &posts)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail by panicking.
    use super::*;
    use sqlx::Row as _;

    /// The follows part of a page's relations probes the index keyed by the shorter id
    /// list: a reader's follows sit together in the follower-ordered index (a home page
    /// read ~20 pages from the file through the other one), an author's followers in the
    /// target-ordered one.
    #[tokio::test]
    async fn relations_probe_the_follows_index_of_the_shorter_list() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let db = Db::connect(&url).await.unwrap();
        for (viewers, others, index) in [
            (1, 20, "follows_account_reblogs"),
            (30, 1, "follows_target_reblogs"),
        ] {
            let sql = format!(
                "EXPLAIN QUERY PLAN {}",
                relations_sql(crate::Backend::Sqlite, viewers, others)
            );
            let mut query = sqlx::query(&sql);
            for i in 0..(viewers + others) {
                query = query.bind(i as i64);
            }
            let plan: Vec<String> = (query.fetch_all(&db.writer).await.unwrap().iter())
                .map(|r| r.try_get::<String, _>("detail").unwrap())
                .collect();
            assert!(
                plan.iter()
                    .any(|d| d.contains(&format!("COVERING INDEX {index}"))),
                "{plan:?}"
            );
        }
    }
}

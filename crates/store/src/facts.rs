//! What a page of posts needs before it can be shown to one viewer: reblogged originals,
//! mentions, hashtags, authors, groups, and the viewer's relations, memberships and marks
//! — read in one [`Db::post_facts`] call (one read, see [`crate::reads`]).
//!
//! The lookups are also the single place their SQL lives: the `Db` methods that answer
//! one of these questions alone (`Db::accounts`, `Db::viewer_marks`…) call them too.

use crate::account_cache::{AccountCache, Ticket};
use crate::db::{Arg, IdList, ListSql, placeholders};
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

/// Rows of `sql` (one id list) for `ids`; none without ids.
fn rows_for(c: &mut dyn ReadConn, sql: &ListSql, ids: &[i64]) -> Result<Vec<crate::reads::Row>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = c.backend();
    let sql = sql.get(backend, &[ids.len()]);
    c.rows(&sql, &IdList::args(backend, &[ids]))
}

/// Posts by the ids at `$1`.
static STATUSES_SQL: ListSql = ListSql::new(|l| {
    format!(
        "SELECT {STATUS_COLUMNS} FROM {}",
        l.probe("statuses s", &[("s.id", 0)])
    )
});

/// Posts by id, in no particular order; unknown ids are skipped.
pub(crate) fn statuses(c: &mut dyn ReadConn, ids: &[i64]) -> Result<Vec<StatusRecord>> {
    rows_for(c, &STATUSES_SQL, ids)?
        .iter()
        .map(StatusRecord::from_row)
        .collect()
}

/// The mentions of the posts at `$1`.
static MENTIONS_SQL: ListSql = ListSql::new(|l| {
    format!(
        "SELECT m.status_id, m.account_id FROM {}",
        l.probe("status_mentions m", &[("m.status_id", 0)])
    )
});

/// `(status_id, account_id)` pairs of the accounts mentioned by these posts.
pub(crate) fn mentions(c: &mut dyn ReadConn, ids: &[i64]) -> Result<Vec<(i64, i64)>> {
    rows_for(c, &MENTIONS_SQL, ids)?
        .iter()
        .map(|r| Ok((r.int_at(0)?, r.int_at(1)?)))
        .collect()
}

/// The hashtags of the posts at `$1`.
static TAGS_SQL: ListSql = ListSql::new(|l| {
    format!(
        "SELECT t.status_id, t.tag FROM {}",
        l.probe("status_tags t", &[("t.status_id", 0)])
    )
});

/// `(status_id, tag)` pairs of the hashtags of these posts.
pub(crate) fn tags(c: &mut dyn ReadConn, ids: &[i64]) -> Result<Vec<(i64, String)>> {
    rows_for(c, &TAGS_SQL, ids)?
        .iter()
        .map(|r| Ok((r.int_at(0)?, r.text_at(1)?)))
        .collect()
}

/// Accounts by the ids at `$1`.
static ACCOUNTS_SQL: ListSql = ListSql::new(|l| {
    format!(
        "SELECT {ACCOUNT_COLUMNS} FROM {}",
        l.probe("accounts", &[("accounts.id", 0)])
    )
});

/// Accounts by id, in no particular order; unknown ids are skipped.
pub(crate) fn accounts(c: &mut dyn ReadConn, ids: &[i64]) -> Result<Vec<AccountRecord>> {
    rows_for(c, &ACCOUNTS_SQL, ids)?
        .iter()
        .map(AccountRecord::from_row)
        .collect()
}

/// Groups by the ids at `$1`.
static GROUPS_SQL: ListSql = ListSql::new(|l| {
    format!(
        "SELECT {} FROM {}",
        crate::groups::GROUP_COLUMNS,
        l.probe("groups g", &[("g.id", 0)])
    )
});

/// Groups by id, in no particular order; unknown ids are skipped.
pub(crate) fn groups(c: &mut dyn ReadConn, ids: &[i64]) -> Result<Vec<GroupRecord>> {
    rows_for(c, &GROUPS_SQL, ids)?
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

/// The roles of the accounts at `$1` in the groups at `$2`.
static GROUP_ROLES_SQL: ListSql = ListSql::new(|l| {
    format!(
        "SELECT m.account_id, m.group_id, m.role FROM {}",
        l.probe("group_members m", &[("m.account_id", 0), ("m.group_id", 1)])
    )
});

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
    for (viewer, group, role) in id_triples(c, &GROUP_ROLES_SQL, viewers, group_ids)? {
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

/// Runs `sql` with the id lists `a` at `$1` and `b` at `$2`, returning `(int, int, text)`
/// rows.
fn id_triples(
    c: &mut dyn ReadConn,
    sql: &ListSql,
    a: &[i64],
    b: &[i64],
) -> Result<Vec<(i64, i64, String)>> {
    let backend = c.backend();
    let sql = sql.get(backend, &[a.len(), b.len()]);
    c.rows(&sql, &IdList::args(backend, &[a, b]))?
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

/// The query of [`relations_of`]: `viewers` bound at `$1`, `others` at `$2`; which
/// list drives the follows probes depends on which is shorter (`viewers_first`).
fn relations_sql(l: IdList, viewers_first: bool) -> String {
    // Both follows indexes cover the query, but probes keyed by the shorter list first
    // stay together in the index (a home page: one reader's follows; a streamed post: one
    // author's followers). SQLite follows the lists' order and is told the index;
    // PostgreSQL's planner chooses.
    let (keys, index) = if viewers_first {
        (
            [("f.account_id", 0), ("f.target_id", 1)],
            "follows_account_reblogs",
        )
    } else {
        (
            [("f.target_id", 1), ("f.account_id", 0)],
            "follows_target_reblogs",
        )
    };
    let follows = match l.backend() {
        crate::Backend::Sqlite => format!("follows f INDEXED BY {index}"),
        crate::Backend::Postgres => "follows f".to_owned(),
    };
    let own = |table: &str, col: &str| l.probe(table, &[(col, 0)]);
    let others = l.among(1);
    format!(
        "SELECT f.account_id, f.target_id, CASE WHEN f.show_reblogs = 1 THEN 'f' ELSE 'n' END \
         FROM {} \
         UNION ALL SELECT b.account_id, b.target_id, 'b' FROM {} AND +b.target_id {others} \
         UNION ALL SELECT b.target_id, b.account_id, 'b' FROM {} AND +b.account_id {others} \
         UNION ALL SELECT m.account_id, m.target_id, 'm' FROM {} AND +m.target_id {others}",
        l.probe(&follows, &keys),
        own("blocks b", "b.account_id"),
        own("blocks b", "b.target_id"),
        own("mutes m", "m.account_id"),
    )
}

/// [`relations_sql`] driven by the viewers (fewer viewers than others: a page).
static RELATIONS_VIEWERS_FIRST: ListSql = ListSql::new(|l| relations_sql(l, true));
/// [`relations_sql`] driven by the others (fewer others: a streamed post's author).
static RELATIONS_OTHERS_FIRST: ListSql = ListSql::new(|l| relations_sql(l, false));

/// For each of `viewers`, its follows, blocks (both ways) and mutes of `others`, in one
/// query.
///
/// Blocks and mutes are few per account, so their branches scan each viewer's own rows and
/// test them against `others` (the unary `+` keeps the index off that column) rather than
/// probing once per other account: SQLite copies a list tested this way into a temporary
/// B-tree, but only once a row is there to test (a home page: −5% of its instructions
/// with pins below, in callgrind). Follows (hundreds) keep the probes.
pub(crate) fn relations_of(
    c: &mut dyn ReadConn,
    viewers: &[i64],
    others: &[i64],
) -> Result<HashMap<i64, ViewerRelations>> {
    let mut out: HashMap<i64, ViewerRelations> = HashMap::new();
    if others.is_empty() || viewers.is_empty() {
        return Ok(out);
    }
    let sql = if viewers.len() <= others.len() {
        &RELATIONS_VIEWERS_FIRST
    } else {
        &RELATIONS_OTHERS_FIRST
    };
    for (viewer, id, kind) in id_triples(c, sql, viewers, others)? {
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

/// The marks of the accounts at `$1` on the posts at `$2`: each table probed by its
/// `(account_id, status_id)` key, reblogs by `statuses_reblog (reblog_of_id, account_id)`.
static MARKS_SQL: ListSql = ListSql::new(|l| {
    format!(
        "SELECT f.account_id, f.status_id, 'f' FROM {} \
         UNION ALL SELECT s.account_id, s.reblog_of_id, 'r' FROM {} \
         UNION ALL SELECT b.account_id, b.status_id, 'b' FROM {} \
         UNION ALL SELECT p.account_id, p.status_id, 'p' FROM {} AND +p.status_id {}",
        l.probe("favourites f", &[("f.account_id", 0), ("f.status_id", 1)]),
        l.probe("statuses s", &[("s.reblog_of_id", 1), ("s.account_id", 0)]),
        l.probe("bookmarks b", &[("b.account_id", 0), ("b.status_id", 1)]),
        l.probe("pins p", &[("p.account_id", 0)]),
        l.among(1)
    )
});

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
    for (viewer, id, kind) in id_triples(c, &MARKS_SQL, viewers, ids)? {
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
pub(crate) fn cached_accounts(
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

    /// The plan SQLite makes for `sql` bound with the id lists `lists`.
    async fn plan(db: &Db, sql: &str, lists: &[&[i64]]) -> Vec<String> {
        let sql = format!("EXPLAIN QUERY PLAN {sql}");
        let args: Vec<Arg> = lists.iter().map(|l| Arg::ids(l)).collect();
        db.read(move |c| {
            c.rows(&sql, &args)?
                .iter()
                .map(|r| r.text_at(3))
                .collect::<Result<Vec<_>>>()
        })
        .await
        .unwrap()
    }

    async fn sqlite_db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let db = Db::connect(&url).await.unwrap();
        (dir, db)
    }

    /// The follows part of a page's relations probes the index keyed by the shorter id
    /// list: a reader's follows sit together in the follower-ordered index (a home page
    /// read ~20 pages from the file through the other one), an author's followers in the
    /// target-ordered one.
    #[tokio::test]
    async fn relations_probe_the_follows_index_of_the_shorter_list() {
        let (_dir, db) = sqlite_db().await;
        let l = IdList::sqlite();
        let many: Vec<i64> = (1..=30).collect();
        for (viewers_first, index) in [
            (true, "follows_account_reblogs"),
            (false, "follows_target_reblogs"),
        ] {
            let plan = plan(&db, &relations_sql(l, viewers_first), &[&many, &[7]]).await;
            assert!(
                plan.iter()
                    .any(|d| d.contains(&format!("COVERING INDEX {index}"))),
                "{plan:?}"
            );
        }
    }

    /// Each fact of a page is read by probing an index with the page's ids, taken one
    /// at a time from the bound list: no statement scans a table, or copies a list into
    /// a temporary B-tree to drive its probes (SQLite's `IN (…)` lists did, nine times a
    /// home page).
    #[tokio::test]
    async fn facts_probe_indexes_straight_from_the_id_lists() {
        let (_dir, db) = sqlite_db().await;
        let ids: Vec<i64> = (1..=20).collect();
        let statements: [(&ListSql, usize); 9] = [
            (&STATUSES_SQL, 1),
            (&MENTIONS_SQL, 1),
            (&TAGS_SQL, 1),
            (&ACCOUNTS_SQL, 1),
            (&GROUPS_SQL, 1),
            (&GROUP_ROLES_SQL, 2),
            (&RELATIONS_VIEWERS_FIRST, 2),
            (&RELATIONS_OTHERS_FIRST, 2),
            (&MARKS_SQL, 2),
        ];
        for (sql, lists) in statements {
            let sql = sql.get(crate::Backend::Sqlite, &[]);
            let bound: Vec<&[i64]> = vec![&ids; lists];
            let plan = plan(&db, &sql, &bound).await;
            for step in &plan {
                let scans_table = step.starts_with("SCAN") && !step.contains("VIRTUAL TABLE");
                let unkeyed_search = step.starts_with("SEARCH") && !step.contains("=?");
                assert!(!scans_table && !unkeyed_search, "{sql}: {plan:?}");
            }
            assert!(
                plan.iter().any(|d| d.contains("VIRTUAL TABLE")),
                "{sql}: {plan:?}"
            );
        }
    }

    /// On PostgreSQL the same statements take one placeholder per id, numbered list
    /// after list, so its planner sees how long each list is.
    #[test]
    fn postgres_gets_a_placeholder_per_id() {
        let sql = RELATIONS_VIEWERS_FIRST.get(crate::Backend::Postgres, &[1, 3]);
        assert!(sql.contains("f.account_id IN ($1)"), "{sql}");
        assert!(sql.contains("f.target_id IN ($2, $3, $4)"), "{sql}");
        assert!(
            sql.contains("b.account_id IN ($1) AND +b.target_id IN ($2, $3, $4)"),
            "{sql}"
        );
        let args = IdList::args(crate::Backend::Postgres, &[&[7], &[3, 1, 2]]);
        let ids: Vec<i64> = (args.iter())
            .map(|a| match a {
                Arg::I(i) => *i,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, vec![7, 3, 1, 2]);
    }
}

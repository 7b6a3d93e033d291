//! Timeline reads: home (fanned-out feed merged with followed celebrities), network,
//! hashtag and account timelines, all keyset-paginated.

use crate::db::Arg;
use crate::facts::PageFacts;
use crate::reads::Place;
use crate::reads::{ReadConn, Row};
use crate::records::{STATUS_COLUMNS, StatusRecord};
use crate::tags::HomeContext;
use crate::{Db, Page, Result};
use std::sync::Arc;

/// Filters for an account's own timeline.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountTimelineFilter {
    /// Leave out replies.
    pub exclude_replies: bool,
    /// Leave out reblogs.
    pub exclude_reblogs: bool,
    /// Only pinned posts.
    pub pinned: bool,
}

/// Runs a timeline query: `sql` (with a WHERE) gets the page's keyset conditions on
/// `col` and its order.
fn paged(
    c: &mut dyn ReadConn,
    mut sql: String,
    col: &str,
    mut args: Vec<Arg>,
    page: &Page,
) -> Result<Vec<StatusRecord>> {
    let order = page.apply(&mut sql, col, &mut args);
    sql.push_str(&order);
    Ok(page.finish(statuses_of(c.rows(&sql, &args)?)?))
}

/// Posts decoded from rows of [`STATUS_COLUMNS`].
fn statuses_of(rows: Vec<Row>) -> Result<Vec<StatusRecord>> {
    rows.iter().map(StatusRecord::from_row).collect()
}

/// The public posts carrying a (normalised) hashtag, `$KEY`; as in Mastodon, unlisted
/// posts (and so public groups' posts) stay off hashtag timelines. Ordered by
/// `t.status_id`; read by the hashtag timeline and merged into home.
const TAG_POSTS: &str = "FROM status_tags t JOIN statuses s ON s.id = t.status_id \
     WHERE t.tag = $KEY AND s.visibility = 'public'";
/// The posts of group `$KEY` (replies included), by `s.id`: the group timeline, and home.
const GROUP_POSTS: &str = "FROM statuses s WHERE s.group_id = $KEY AND s.group_id IS NOT NULL";
/// The posts of celebrity `$KEY` that belong in its followers' homes, by `s.id`.
const CELEBRITY_POSTS: &str = "FROM statuses s WHERE s.account_id = $KEY \
     AND s.visibility <> 'direct' AND s.group_id IS NULL";

/// `source` (one of the `…_POSTS` above) with its key bound at `$n`.
fn keyed(source: &str, n: usize) -> String {
    source.replace("$KEY", &format!("${n}"))
}

/// A page of the public posts carrying a (normalised) hashtag.
fn tag_page(c: &mut dyn ReadConn, tag: &str, page: &Page) -> Result<Vec<StatusRecord>> {
    let sql = format!("SELECT {STATUS_COLUMNS} {}", keyed(TAG_POSTS, 1));
    paged(c, sql, "t.status_id", vec![Arg::S(tag.to_owned())], page)
}

/// A page of a group's posts (replies included).
pub(crate) fn group_page(
    c: &mut dyn ReadConn,
    group_id: i64,
    page: &Page,
) -> Result<Vec<StatusRecord>> {
    let sql = format!("SELECT {STATUS_COLUMNS} {}", keyed(GROUP_POSTS, 1));
    paged(c, sql, "s.id", vec![Arg::I(group_id)], page)
}

impl Db {
    async fn paged(
        &self,
        sql: String,
        col: &'static str,
        args: Vec<Arg>,
        page: &Page,
    ) -> Result<Vec<StatusRecord>> {
        let page = *page;
        self.read(move |c| paged(c, sql, col, args, &page)).await
    }

    /// One round of `account_id`'s home timeline in one read: the reader's
    /// [`HomeContext`] (unless given, as on later rounds), a page of posts before
    /// visibility filtering, and the facts about them for the reader. A home read is the
    /// hottest path; one read instead of three keeps it one round of synchronous code
    /// (see [`crate::reads`]).
    ///
    /// Ordinary authors' posts come from the fanned-out `home_feed` and, until the
    /// fan-out worker has copied them, from the fan-out queue; posts of followed
    /// celebrity accounts (never fanned out) are read from each one's own index and
    /// merged in. Each part is an index range scan bounded by the page, so the cost does
    /// not depend on how long ago the followed accounts last posted. Posts with a hashtag
    /// the reader follows, and posts in the reader's groups, are merged in the same way,
    /// from the hashtag's and the group's own index.
    pub async fn home_round(
        &self,
        account_id: i64,
        context: Option<HomeContext>,
        page: &Page,
    ) -> Result<(HomeContext, Vec<StatusRecord>, PageFacts)> {
        let page = *page;
        let cache = Arc::clone(&self.accounts_cache);
        self.read(move |c| {
            // Before the read's first statement, so before its snapshot.
            let ticket = cache.ticket();
            let context = match context {
                Some(context) => context,
                None => crate::tags::home_context(c, account_id)?,
            };
            let sources = Sources {
                celebrities: &context.celebrities,
                tags: &context.followed_tags,
                groups: &context.groups,
            };
            let raw = feed(c, account_id, None, sources, &page)?;
            let keys: Vec<_> = raw.iter().map(crate::facts::PostKey::of).collect();
            let facts = crate::facts::post_facts(c, (&cache, ticket), Some(account_id), &keys)?;
            Ok((context, raw, facts))
        })
        .await
    }

    /// A page of list `list_id`'s timeline for its owner, before visibility filtering:
    /// the home timeline restricted to posts whose author is a member. Reading the owner's
    /// feed rather than keeping a copy per list costs nothing on write; the feed scan
    /// stops as soon as the page is full, so it is short unless the members post rarely
    /// compared to everyone else the owner follows.
    pub async fn list_timeline(
        &self,
        owner: i64,
        list_id: i64,
        page: &Page,
    ) -> Result<Vec<StatusRecord>> {
        let page = *page;
        // On the blocking pool: the scan can be long (above).
        self.read_in(Place::Blocking, move |c| {
            let celebrities = list_celebrities(c, owner, list_id)?;
            let sources = Sources {
                celebrities: &celebrities,
                tags: &[],
                groups: &[],
            };
            feed(c, owner, Some(list_id), sources, &page)
        })
        .await
    }

    /// A page of the network timeline: public originals by active accounts.
    pub async fn public_timeline(&self, page: &Page) -> Result<Vec<StatusRecord>> {
        let sql = format!(
            "SELECT {STATUS_COLUMNS} FROM statuses s JOIN accounts a ON a.id = s.account_id \
             WHERE s.visibility = 'public' AND s.reblog_of_id IS NULL AND a.deactivated_at IS NULL"
        );
        self.paged(sql, "s.id", Vec::new(), page).await
    }

    /// A page of the public posts carrying a (normalised) hashtag.
    pub async fn tag_timeline(&self, tag: &str, page: &Page) -> Result<Vec<StatusRecord>> {
        let (tag, page) = (tag.to_owned(), *page);
        self.read(move |c| tag_page(c, &tag, &page)).await
    }

    /// A page of one account's posts and reblogs.
    pub async fn account_timeline(
        &self,
        account_id: i64,
        filter: AccountTimelineFilter,
        page: &Page,
    ) -> Result<Vec<StatusRecord>> {
        let mut sql = if filter.pinned {
            format!(
                "SELECT {STATUS_COLUMNS} FROM pins p JOIN statuses s ON s.id = p.status_id WHERE p.account_id = $1"
            )
        } else {
            format!("SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.account_id = $1")
        };
        if filter.exclude_replies {
            // Replies to oneself (threads) stay, as in Mastodon.
            sql.push_str(
                " AND (s.in_reply_to_id IS NULL OR s.in_reply_to_account_id = s.account_id)",
            );
        }
        if filter.exclude_reblogs {
            sql.push_str(" AND s.reblog_of_id IS NULL");
        }
        self.paged(sql, "s.id", vec![Arg::I(account_id)], page)
            .await
    }

    /// Adds a followed account's recent posts to a home feed (on follow).
    pub async fn backfill_home(
        &self,
        account_id: i64,
        author_id: i64,
        how_many: i64,
    ) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO home_feed (account_id, status_id, author_id) \
             SELECT CAST($1 AS BIGINT), id, account_id FROM statuses \
             WHERE account_id = $2 AND visibility <> 'direct' AND group_id IS NULL \
             ORDER BY id DESC LIMIT {} ON CONFLICT DO NOTHING",
            how_many.max(0)
        ))
        .bind(account_id)
        .bind(author_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}

/// Where a home timeline's posts come from besides the fanned-out feed.
#[derive(Debug, Clone, Copy)]
struct Sources<'a> {
    /// Followed celebrity accounts (never fanned out).
    celebrities: &'a [i64],
    /// Followed hashtags (normalised).
    tags: &'a [String],
    /// The reader's groups.
    groups: &'a [i64],
}

/// The home timeline of `account_id`, optionally restricted to a list's members, in one
/// statement: each source (the fanned-out feed, the fan-out queue, each followed
/// celebrity, hashtag and group) is an index range scan of post ids bounded by the page,
/// and only the page's posts, the newest of them all, are read in full.
fn feed(
    c: &mut dyn ReadConn,
    account_id: i64,
    list: Option<i64>,
    sources: Sources<'_>,
    page: &Page,
) -> Result<Vec<StatusRecord>> {
    let mut args = vec![Arg::I(account_id)];
    let members = match list {
        Some(list_id) => {
            args.push(Arg::I(list_id));
            "SELECT account_id FROM list_accounts WHERE list_id = $2"
        }
        None => "",
    };
    let only_members = |col: &str| {
        if members.is_empty() {
            String::new()
        } else {
            format!(" AND {col} IN ({members})")
        }
    };
    let mut branches = Vec::new();
    let mut branch = |mut sql: String, col: &str, args: &mut Vec<Arg>| {
        let order = page.apply(&mut sql, col, args);
        sql.push_str(&order);
        branches.push(format!("SELECT sid FROM ({sql}) b{}", branches.len()));
    };
    // Posts still in the fan-out queue are merged in, so a post is in its followers'
    // homes from the moment it is stored, whenever the worker copies it. Feed and queue
    // are read in one statement: with two, the worker could move a post from the queue
    // to the feed between them and the post would be missed.
    branch(
        format!(
            "SELECT f.status_id AS sid FROM home_feed f JOIN statuses st ON st.id = f.status_id \
             WHERE f.account_id = $1{}",
            only_members("f.author_id")
        ),
        "f.status_id",
        &mut args,
    );
    // On SQLite the queue holds only what the worker has not copied yet (the batch being
    // written in slices and what was posted meanwhile: some hundreds of rows at most,
    // since posting waits while the worker is behind: see decision 1), so it is scanned
    // newest first, probing whether the reader follows each author; `CROSS JOIN` keeps
    // SQLite in that order, whose planner otherwise walks every account the reader
    // follows and probes the queue for each (~1 ms for 500 followed accounts against
    // ~30 µs, with an empty queue). On PostgreSQL posting can outrun the workers and
    // leave tens of thousands of rows, so its planner keeps the choice (with stale
    // statistics it scanned the whole backlog for every home read).
    let join = match c.backend() {
        crate::Backend::Sqlite => "CROSS JOIN",
        crate::Backend::Postgres => "JOIN",
    };
    branch(
        format!(
            "SELECT q.status_id AS sid FROM fanout_queue q {join} follows fo \
             ON fo.target_id = q.author_id AND fo.account_id = $1 \
             WHERE (q.reblog = 0 OR fo.show_reblogs = 1){}",
            only_members("q.author_id")
        ),
        "q.status_id",
        &mut args,
    );
    // Each followed celebrity, followed hashtag and group: a branch keyed by its id or tag.
    let sources_keyed = (sources.celebrities.iter())
        .map(|c| (Arg::I(*c), CELEBRITY_POSTS, "s.id"))
        .chain(
            sources
                .tags
                .iter()
                .map(|t| (Arg::S(t.clone()), TAG_POSTS, "t.status_id")),
        )
        .chain(
            sources
                .groups
                .iter()
                .map(|g| (Arg::I(*g), GROUP_POSTS, "s.id")),
        );
    for (key, source, col) in sources_keyed {
        args.push(key);
        branch(
            format!("SELECT {col} AS sid {}", keyed(source, args.len())),
            col,
            &mut args,
        );
    }
    // `IN` drops the ids found by more than one source (a followed author's post with a
    // followed hashtag); the outer order and limit keep the page's window.
    let dir = if page.min_id.is_some() { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {STATUS_COLUMNS} FROM statuses s WHERE s.id IN ({}) ORDER BY s.id {dir} LIMIT {}",
        branches.join(" UNION ALL "),
        page.limit.max(0)
    );
    Ok(page.finish(statuses_of(c.rows(&sql, &args)?)?))
}

/// The celebrity accounts `owner` follows among the members of list `list_id`.
fn list_celebrities(c: &mut dyn ReadConn, owner: i64, list_id: i64) -> Result<Vec<i64>> {
    c.rows(
        "SELECT target_id FROM follows WHERE account_id = $1 \
         AND target_id IN (SELECT id FROM accounts WHERE celebrity = 1) \
         AND target_id IN (SELECT account_id FROM list_accounts WHERE list_id = $2)",
        &[Arg::I(owner), Arg::I(list_id)],
    )?
    .iter()
    .map(|r| r.int_at(0))
    .collect()
}

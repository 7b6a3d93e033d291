//! Connection pools and migrations for both engines.

use crate::Result;
use crate::account_cache::AccountCache;
use crate::pg_workers::PgWorkers;
use crate::reads::{Place, ReadConn, SqliteReaders};
use crate::token_cache::TokenCache;
use crate::writes::{SqliteWriter, WriteConn};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Which database engine is behind the pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// The database: a writer pool and a reader pool.
///
/// On SQLite the writer pool holds exactly one connection, so writes are serialised in
/// process instead of failing with `SQLITE_BUSY`, while WAL lets the readers go on in
/// parallel. On PostgreSQL both are the same pool.
#[derive(Debug, Clone)]
pub struct Db {
    pub(crate) writer: AnyPool,
    pub(crate) reader: AnyPool,
    /// The connections the hot reads and writes use (see [`crate::reads`] and
    /// [`crate::writes`]).
    hot: HotPaths,
    backend: Backend,
    /// Whether notifications queue e-mails (SMTP is configured; see [`Db::with_email_jobs`]).
    pub(crate) email_jobs: bool,
    /// PostgreSQL only: the one connection a node listens for the other nodes' events on
    /// (see [`crate::relay`]), opened when the relay first listens.
    pub(crate) listen_pool: Option<sqlx::PgPool>,
    /// Authors of recent pages (see [`crate::account_cache`]).
    pub(crate) accounts_cache: Arc<AccountCache>,
    /// Tokens of recent requests (see [`crate::token_cache`]).
    pub(crate) tokens_cache: Arc<TokenCache>,
}

/// Where the hot reads and writes run, per engine.
#[derive(Debug, Clone)]
enum HotPaths {
    Sqlite {
        /// rusqlite connections to the file, used in place (see [`crate::reads::run`]).
        readers: Arc<SqliteReaders>,
        /// The write queue and its connection (see [`crate::writes`]).
        writer: Arc<SqliteWriter>,
    },
    /// Worker threads with a connection each (see [`crate::pg_workers`]).
    Postgres(Arc<PgWorkers>),
}

/// How often the background task checkpoints the SQLite write-ahead log.
///
/// Often, and with the writer's own limit raised to 100,000 pages, so that the writer
/// checkpoints rarely: under a steady stream of writes the log never starts over by
/// itself, and with a checkpoint a second and a 20,000-page limit the writer stopped for
/// ~200 ms every few fan-out batches (posting on the benchmark network: 530 → 880
/// posts/s with these settings). When it does reach its limit it still stops that long
/// (the posting p99 in the README). A checkpoint of an empty log costs microseconds.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Settings of the SQLite connections that write (sqlx's and the hot writes' own).
///
/// WAL + synchronous=NORMAL: a committed write survives a process crash; foreign keys are
/// off by default in SQLite. The writer checkpoints only when the log passes ~400 MiB
/// (see CHECKPOINT_EVERY); the log file is cut back to 512 MiB each time it starts over.
///
/// Why 512 MiB: cut back to 64 MiB, the log was cut and grown again all the time under a
/// steady stream of posts, and the file system's work to allocate its blocks anew (in the
/// single writer's thread) held posting at ~1,320–1,570/s on the benchmark network;
/// kept, it is written over in place: ~1,610–1,800/s.
pub(crate) const SQLITE_WRITER_PRAGMAS: &str = "PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
     PRAGMA wal_autocheckpoint = 100000; PRAGMA journal_size_limit = 536870912;";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://…`), creating the SQLite file
    /// if needed, and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        install_default_drivers();
        let db = if url.starts_with("sqlite:") {
            Self::connect_sqlite(url).await?
        } else {
            // No ping before each use (sqlx's default): it doubles the round trips of
            // every query; a connection that broke fails its query and is replaced.
            let pool = AnyPoolOptions::new()
                .test_before_acquire(false)
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            Self {
                writer: pool.clone(),
                reader: pool,
                hot: HotPaths::Postgres(Arc::new(PgWorkers::new(url)?)),
                backend: Backend::Postgres,
                email_jobs: false,
                listen_pool: Some(crate::relay::listen_pool(url)?),
                accounts_cache: Arc::new(AccountCache::new()),
                tokens_cache: Arc::new(TokenCache::new()),
            }
        };
        MIGRATOR.run(&db.writer).await?;
        if db.backend == Backend::Sqlite {
            sqlite_layout(&db.writer).await?;
        }
        Ok(db)
    }

    async fn connect_sqlite(url: &str) -> Result<Self> {
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or(path);
        if let Some(dir) = Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        let rw_url = format!("sqlite://{path}?mode=rwc");
        let writer = AnyPoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(SQLITE_WRITER_PRAGMAS).await?;
                    Ok(())
                })
            })
            .connect(&rw_url)
            .await?;
        let readers = std::thread::available_parallelism()
            .map(|n| n.get() as u32 * 2)
            .unwrap_or(4)
            .max(4);
        // Readers skip sqlx's ping before each use too (see the PostgreSQL pool).
        let reader = AnyPoolOptions::new()
            .test_before_acquire(false)
            .max_connections(readers)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // The hot reads have their own connections (`reads`): these serve
                    // the rest and the checkpoints, and keep a small page cache (1 MiB
                    // instead of SQLite's 2 MiB) so the pool's memory stays small.
                    conn.execute(
                        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                         PRAGMA cache_size = -1024;",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect(&rw_url)
            .await?;
        // Checkpoints copy the write-ahead log back into the database file. Done by the
        // writer at commit (SQLite's default) they stall every write behind random I/O, so
        // a background task runs them on a reader connection, where they overlap with
        // writes; the writer only steps in if the log grows past the safety limit.
        let checkpointer = reader.clone();
        tokio::spawn(async move {
            while !checkpointer.is_closed() {
                tokio::time::sleep(CHECKPOINT_EVERY).await;
                if let Err(e) = checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
                    if checkpointer.is_closed() {
                        break;
                    }
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        });
        Ok(Self {
            writer,
            reader,
            hot: HotPaths::Sqlite {
                readers: Arc::new(SqliteReaders::new(path, readers as usize)),
                writer: Arc::new(SqliteWriter::new(path)),
            },
            backend: Backend::Sqlite,
            email_jobs: false,
            listen_pool: None,
            accounts_cache: Arc::new(AccountCache::new()),
            tokens_cache: Arc::new(TokenCache::new()),
        })
    }

    /// Runs a hot read (see [`crate::reads`]) on a read connection.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn ReadConn) -> Result<T> + Send + 'static,
    {
        self.read_in(Place::InPlace, f).await
    }

    /// Runs a read on a read connection where `place` says: [`Place::Blocking`] for a
    /// long read (many rows, not a request's), so that it holds up no runtime worker.
    pub(crate) async fn read_in<T, F>(&self, place: Place, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn ReadConn) -> Result<T> + Send + 'static,
    {
        match &self.hot {
            HotPaths::Sqlite { readers, .. } => crate::reads::run(readers, place, f).await,
            // A read on PostgreSQL waits on the network, not the CPU: always on a worker
            // thread, never on the caller's.
            HotPaths::Postgres(workers) => workers.run(|w| f(w)).await,
        }
    }

    /// Runs a hot write (see [`crate::writes`]) as one unit of work: committed as a whole
    /// or not at all.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn WriteConn) -> Result<T> + Send + 'static,
    {
        match &self.hot {
            HotPaths::Sqlite { writer, .. } => {
                crate::writes::run_sqlite(writer, &self.writer, f).await
            }
            HotPaths::Postgres(workers) => crate::writes::run_postgres(workers, f).await,
        }
    }

    /// This database with e-mail jobs queued (`true`) or not with every notification.
    /// Off by default: without SMTP nobody would send them, and the queue would only grow.
    pub fn with_email_jobs(mut self, on: bool) -> Self {
        self.email_jobs = on;
        self
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection (for graceful shutdown).
    pub async fn close(&self) {
        if let HotPaths::Postgres(workers) = &self.hot {
            workers.close();
        }
        self.writer.close().await;
        self.reader.close().await;
        if let Some(pool) = &self.listen_pool {
            pool.close().await;
        }
    }
}

/// SQLite only, after the migrations: `home_feed` as a `WITHOUT ROWID` table, its rows
/// stored in their key's B-tree (see decision 1, "One B-tree for the feed").
///
/// The portable migrations cannot say it (PostgreSQL has no such clause, decision 2), so
/// the table is rebuilt here, once, in one transaction, when its schema lacks the clause.
/// The rebuild names the table's columns and has no other index: a migration that changes
/// `home_feed` (a column, an index) must change this rebuild with it, or a database made
/// afresh would lose the change here.
async fn sqlite_layout(pool: &AnyPool) -> Result<()> {
    let schema: Option<(String,)> =
        sqlx::query_as("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'home_feed'")
            .fetch_optional(pool)
            .await?;
    let keyed = schema.is_none_or(|(sql,)| sql.to_ascii_uppercase().contains("WITHOUT ROWID"));
    if keyed {
        return Ok(());
    }
    tracing::info!("rebuilding home_feed without rowids (once)");
    let mut tx = pool.begin().await?;
    (&mut *tx)
        .execute(
            "CREATE TABLE home_feed_keyed (\
               account_id BIGINT NOT NULL, status_id BIGINT NOT NULL, author_id BIGINT NOT NULL, \
               PRIMARY KEY (account_id, status_id)) WITHOUT ROWID; \
             INSERT INTO home_feed_keyed (account_id, status_id, author_id) \
               SELECT account_id, status_id, author_id FROM home_feed ORDER BY account_id, status_id; \
             DROP TABLE home_feed; \
             ALTER TABLE home_feed_keyed RENAME TO home_feed;",
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

/// `$start, $start+1, …` — `n` positional placeholders for an `IN (…)` list.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(n * 5);
    for i in start..start + n {
        let sep = if i == start { "" } else { ", " };
        // Writing into a String cannot fail.
        let _ = write!(out, "{sep}${i}");
    }
    out
}

/// A bind value for queries whose SQL is assembled at run time.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// An integer (ids, times, flags).
    I(i64),
    /// A string.
    S(String),
    /// SQL NULL (bound as an integer column's null).
    N,
    /// SQL NULL bound as a text column's null (PostgreSQL tells them apart).
    NullText,
    /// A list of ids, sorted and without repeats, read as a table by [`IdList`] SQL.
    Ids(Vec<i64>),
}

impl Arg {
    /// `ids` as one argument, sorted and without repeats (so a join on it yields each
    /// row once).
    pub(crate) fn ids(ids: &[i64]) -> Self {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        Arg::Ids(ids)
    }
}

/// SQL over short lists of ids (a page's posts, authors, a post's audience), in each
/// engine's words.
///
/// On SQLite each list is one argument ([`Arg::Ids`]) read through rusqlite's `rarray`
/// table-valued function, joined first so that it drives the index probes directly. Why
/// not `IN ($1, $2, …)` there: SQLite copies such a list into a temporary B-tree before
/// probing an index with it (opening, filling and closing one cost ~17,000 instructions,
/// nine per home page: 8% of a page in callgrind), and every list length is a statement
/// of its own.
///
/// PostgreSQL keeps `IN ($1, $2, …)`, one placeholder per id. An array argument
/// (`= ANY ($1)`, or joined from `unnest`) left its planner without the lists' lengths,
/// and its generic plans then drove some probes from the wrong list: a home page's group
/// roles through all 100,000 members of the group (home reads fell from ~1,200/s to
/// ~170/s on the benchmark network), a streamed post's relations through the whole
/// follows table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdList {
    backend: Backend,
    /// The lists' lengths, for PostgreSQL's placeholders.
    lens: [usize; 2],
}

impl IdList {
    /// SQL for SQLite (any lengths).
    pub(crate) fn sqlite() -> Self {
        Self {
            backend: Backend::Sqlite,
            lens: [0; 2],
        }
    }

    /// The arguments for `lists` (at most two), in the order the SQL numbers them.
    pub(crate) fn args(backend: Backend, lists: &[&[i64]]) -> Vec<Arg> {
        match backend {
            Backend::Sqlite => lists.iter().map(|l| Arg::ids(l)).collect(),
            Backend::Postgres => (lists.iter())
                .flat_map(|l| l.iter().map(|i| Arg::I(*i)))
                .collect(),
        }
    }

    /// The placeholders of list `list` (0 or 1) on PostgreSQL.
    fn placeholders(self, list: usize) -> String {
        let before: usize = self.lens.iter().take(list).sum();
        let len = self.lens.get(list).copied().unwrap_or_default();
        placeholders(before + 1, len)
    }

    /// `FROM`-clause text (without `FROM`) and a `WHERE` clause: the rows of `table`
    /// whose columns `keys` hold ids of the given lists (0 or 1). SQLite probes for each
    /// id of the first key's list, then of the second's, in their order; further
    /// conditions follow with `AND`.
    pub(crate) fn probe(self, table: &str, keys: &[(&str, usize)]) -> String {
        match self.backend {
            Backend::Sqlite => {
                let lists: Vec<String> = (keys.iter().enumerate())
                    .map(|(i, (_, list))| format!("rarray(${}) AS id{i}", list + 1))
                    .collect();
                let conditions: Vec<String> = (keys.iter().enumerate())
                    .map(|(i, (col, _))| format!("{col} = id{i}.value"))
                    .collect();
                format!(
                    "{} CROSS JOIN {table} WHERE {}",
                    lists.join(" CROSS JOIN "),
                    conditions.join(" AND ")
                )
            }
            Backend::Postgres => {
                let conditions: Vec<String> = (keys.iter())
                    .map(|(col, list)| format!("{col} {}", self.among(*list)))
                    .collect();
                format!("{table} WHERE {}", conditions.join(" AND "))
            }
        }
    }

    /// `IN` list `list` (0 or 1), as a filter on rows found another way.
    pub(crate) fn among(self, list: usize) -> String {
        match self.backend {
            Backend::Sqlite => format!("IN rarray(${})", list + 1),
            Backend::Postgres => format!("IN ({})", self.placeholders(list)),
        }
    }

    /// The engine the SQL is for.
    pub(crate) fn backend(self) -> Backend {
        self.backend
    }
}

/// SQL over id lists ([`IdList`]): built once on SQLite, where its text does not depend
/// on the lists' lengths; for each call's lengths on PostgreSQL.
#[derive(Debug)]
pub(crate) struct ListSql {
    build: fn(IdList) -> String,
    sqlite: std::sync::OnceLock<String>,
}

impl ListSql {
    /// Text made by `build`.
    pub(crate) const fn new(build: fn(IdList) -> String) -> Self {
        Self {
            build,
            sqlite: std::sync::OnceLock::new(),
        }
    }

    /// The text for `backend` and lists of these lengths.
    pub(crate) fn get(&self, backend: Backend, lens: &[usize]) -> std::borrow::Cow<'_, str> {
        match backend {
            Backend::Sqlite => std::borrow::Cow::Borrowed(
                self.sqlite.get_or_init(|| (self.build)(IdList::sqlite())),
            ),
            Backend::Postgres => {
                let mut all = [0; 2];
                for (slot, len) in all.iter_mut().zip(lens) {
                    *slot = *len;
                }
                std::borrow::Cow::Owned((self.build)(IdList { backend, lens: all }))
            }
        }
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::I(v)
    }
}

impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::I(i64::from(v))
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::S(v.to_owned())
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::S(v.clone())
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Arg::N, Arg::I)
    }
}

impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Self {
        v.as_ref().map_or(Arg::NullText, |s| Arg::S(s.clone()))
    }
}

/// Bind values from anything convertible: `args![id, &text, flag]`.
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        [$($crate::db::Arg::from($v)),*]
    };
}
pub(crate) use args;

/// Binds `args` in order to a query built from dynamic SQL.
pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for a in args {
        q = match a {
            Arg::I(v) => q.bind(*v),
            Arg::S(v) => q.bind(v.as_str()),
            Arg::N => q.bind(None::<i64>),
            Arg::NullText => q.bind(None::<String>),
            // Never here: on PostgreSQL `IdList::args` spreads each list into one
            // argument per id. Bound anyway, a list is NULL and matches nothing.
            Arg::Ids(_) => q.bind(None::<i64>),
        };
    }
    q
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

    use super::*;

    async fn feed_schema(db: &Db) -> String {
        let (sql,): (String,) =
            sqlx::query_as("SELECT sql FROM sqlite_master WHERE name = 'home_feed'")
                .fetch_one(&db.writer)
                .await
                .unwrap();
        sql.to_ascii_uppercase()
    }

    /// A database made before the SQLite layout (a rowid `home_feed`) is rebuilt once when
    /// it opens, keeping every row; a new one is made in that layout.
    #[tokio::test]
    async fn home_feed_is_rebuilt_without_rowids_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("l.db").display());
        let db = Db::connect(&url).await.unwrap();
        assert!(feed_schema(&db).await.contains("WITHOUT ROWID"));
        // Back to the layout of the portable migration, with rows in it.
        db.writer
            .execute(
                "DROP TABLE home_feed; \
                 CREATE TABLE home_feed (account_id BIGINT NOT NULL, status_id BIGINT NOT NULL, \
                   author_id BIGINT NOT NULL, PRIMARY KEY (account_id, status_id)); \
                 INSERT INTO home_feed VALUES (2, 20, 7), (1, 11, 7), (1, 10, 8);",
            )
            .await
            .unwrap();
        db.close().await;

        let db = Db::connect(&url).await.unwrap();
        assert!(feed_schema(&db).await.contains("WITHOUT ROWID"));
        let rows: Vec<(i64, i64, i64)> =
            sqlx::query_as("SELECT account_id, status_id, author_id FROM home_feed")
                .fetch_all(&db.reader)
                .await
                .unwrap();
        assert_eq!(rows, vec![(1, 10, 8), (1, 11, 7), (2, 20, 7)]);
    }
}

//! The hot writes (a post, a reblog, a favourite, a follow, notifications), written once
//! as plain synchronous code against [`WriteConn`] and run as one unit of work.
//!
//! Why: through sqlx's SQLite driver every statement of a transaction is a round trip to
//! the writer connection's worker thread, and the task driving the transaction waits for
//! a runtime worker between statements. SQLite has one writer, so that waiting is
//! everyone's: on the benchmark network a post held the writer ~1.5 ms for ~0.4 ms of
//! its CPU, and posting stopped at ~670/s with the machine half idle.
//!
//! On SQLite the writes queue for a rusqlite connection of their own. Whichever write
//! finds nobody running them starts a leader task: it takes the writer lock (sqlx's one
//! writer connection, so the store's other writes still take turns with these) and runs
//! every write queued by then in one transaction — a group commit — each in a savepoint of
//! its own, so a write that fails undoes only its own changes. Each caller learns its
//! outcome once the transaction has committed. On PostgreSQL, which has no single writer,
//! each write is its own transaction, on a worker thread's own connection
//! ([`crate::pg_workers`]).

use crate::db::Arg;
use crate::pg_workers::PgWorkers;
use crate::reads::{ReadConn, Row};
use crate::{Result, StoreError};
use sqlx::AnyPool;
use sqlx::Connection as _;
use std::sync::{Arc, Mutex, PoisonError};

/// A connection the hot writes run their statements on, in a transaction.
pub(crate) trait WriteConn: ReadConn {
    /// Runs `sql` (with `$1`… placeholders bound from `args`); returns the rows changed.
    fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64>;
}

impl WriteConn for rusqlite::Connection {
    fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64> {
        let mut stmt = self.prepare_cached(sql)?;
        crate::reads::bind_args(&mut stmt, args)?;
        Ok(stmt.raw_execute()? as u64)
    }
}

/// Most writes committed together: enough to share the commit under any load, few enough
/// that the batch's callers are answered soon.
const MAX_BATCH: usize = 256;

/// Prepared statements kept by the writer connection.
const WRITE_STATEMENTS: usize = 64;

/// A write waiting in the queue.
trait Job: Send {
    /// Runs the write in its own savepoint; returns how to answer its caller once the
    /// transaction's outcome is known.
    fn run(self: Box<Self>, conn: &mut rusqlite::Connection) -> Box<dyn Answer>;
    /// Answers the caller that the write was not run, and why.
    fn fail(self: Box<Self>, why: &str);
}

/// How a write that ran answers its caller.
trait Answer: Send {
    /// `committed` is the transaction's outcome.
    fn give(self: Box<Self>, committed: std::result::Result<(), &str>);
}

/// A queued write and its caller's channel.
struct Pending<T, F> {
    write: F,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
}

/// A write's result, held until the commit.
struct Outcome<T> {
    result: Result<T>,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn WriteConn) -> Result<T> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut rusqlite::Connection) -> Box<dyn Answer> {
        let Pending { write, reply } = *self;
        Box::new(Outcome {
            result: in_savepoint(conn, write),
            reply,
        })
    }

    fn fail(self: Box<Self>, why: &str) {
        // The caller may have gone away; nothing to tell then.
        let _ = self.reply.send(Err(StoreError::Write(why.to_owned())));
    }
}

impl<T: Send> Answer for Outcome<T> {
    fn give(self: Box<Self>, committed: std::result::Result<(), &str>) {
        let result = match (self.result, committed) {
            (Ok(_), Err(why)) => Err(StoreError::Write(why.to_owned())),
            (result, _) => result,
        };
        let _ = self.reply.send(result);
    }
}

/// Runs `write` in a savepoint: kept if it succeeds, undone if it fails.
fn in_savepoint<T>(
    conn: &mut rusqlite::Connection,
    write: impl FnOnce(&mut dyn WriteConn) -> Result<T>,
) -> Result<T> {
    conn.execute_batch("SAVEPOINT write")?;
    let result = write(conn);
    // An error that rolled the whole transaction back took the savepoint with it; the
    // batch sees that and stops.
    if !conn.is_autocommit() {
        let end = if result.is_ok() {
            "RELEASE write"
        } else {
            "ROLLBACK TO write; RELEASE write"
        };
        conn.execute_batch(end)?;
    }
    result
}

/// The SQLite write queue and the connection that runs it (see the module's docs).
#[derive(Debug)]
pub(crate) struct SqliteWriter {
    path: String,
    conn: Mutex<Option<rusqlite::Connection>>,
    queue: Mutex<Queue>,
}

/// Writes waiting, and whether a leader is running them.
#[derive(Default)]
struct Queue {
    jobs: Vec<Box<dyn Job>>,
    leading: bool,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("jobs", &self.jobs.len())
            .field("leading", &self.leading)
            .finish()
    }
}

impl SqliteWriter {
    /// A writer for the database file at `path` (the connection opens with the first write).
    pub(crate) fn new(path: &str) -> Self {
        Self {
            path: path.to_owned(),
            conn: Mutex::new(None),
            queue: Mutex::new(Queue::default()),
        }
    }

    /// Queues a job; returns whether the caller must start a leader.
    fn enqueue(&self, job: Box<dyn Job>) -> bool {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        q.jobs.push(job);
        !std::mem::replace(&mut q.leading, true)
    }

    /// The next batch, or `None` (and no leader any more) when the queue is empty: both
    /// under one lock, so a write queued meanwhile finds either a leader or none.
    fn next_batch(&self) -> Option<Vec<Box<dyn Job>>> {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if q.jobs.is_empty() {
            q.leading = false;
            return None;
        }
        let n = q.jobs.len().min(MAX_BATCH);
        Some(q.jobs.drain(..n).collect())
    }

    fn open(&self) -> Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // The same settings as sqlx's writer connection (see `Db::connect`).
        conn.execute_batch(crate::db::SQLITE_WRITER_PRAGMAS)?;
        // The hot writes touch a few pages each (the tables' last pages, one account's
        // row) and use a dozen statement shapes: a small cache of each is enough, and
        // memory is scarce (see the README's benchmark section).
        conn.execute_batch("PRAGMA cache_size = -1024;")?;
        conn.set_prepared_statement_cache_capacity(WRITE_STATEMENTS);
        // Writes read posts through the facts' lookups too (see `crate::db::IdList`).
        rusqlite::vtab::array::load_module(&conn)?;
        Ok(conn)
    }

    /// Runs `jobs` in one transaction and answers their callers.
    fn run_batch(&self, jobs: Vec<Box<dyn Job>>) {
        let mut slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            match self.open() {
                Ok(conn) => *slot = Some(conn),
                Err(e) => return fail_all(jobs, &format!("cannot open the database: {e}")),
            }
        }
        let Some(conn) = slot.as_mut() else {
            return fail_all(jobs, "no database connection");
        };
        // A batch that panicked half-way left its transaction open: undo it.
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            return fail_all(jobs, &e.to_string());
        }
        let mut answers = Vec::with_capacity(jobs.len());
        let mut jobs = jobs.into_iter();
        for job in jobs.by_ref() {
            answers.push(job.run(conn));
            // Some errors (a full disk, I/O) roll the whole transaction back: the writes
            // left must not run outside it.
            if conn.is_autocommit() {
                break;
            }
        }
        let committed = if conn.is_autocommit() {
            Err("the transaction was rolled back by an error".to_owned())
        } else {
            conn.execute_batch("COMMIT").map_err(|e| e.to_string())
        };
        if committed.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        let committed = committed.as_ref().map(|_| ()).map_err(String::as_str);
        for answer in answers {
            answer.give(committed);
        }
        let why = committed.err().unwrap_or("the transaction was rolled back");
        fail_all(jobs.collect(), why);
    }
}

fn fail_all(jobs: Vec<Box<dyn Job>>, why: &str) {
    for job in jobs {
        job.fail(why);
    }
}

/// Runs the queue until it is empty: a batch per turn of the writer lock, so the store's
/// other writes (waiting on the same lock) are served in between.
async fn lead(writer: Arc<SqliteWriter>, lock: AnyPool, mut leading: Leading) {
    loop {
        let turn = lock.acquire().await;
        let Some(jobs) = writer.next_batch() else {
            // No longer the leader: a write queued from now on starts the next one,
            // whose queue this task must not touch.
            leading.done = true;
            return;
        };
        let turn = match turn {
            Ok(turn) => turn,
            Err(e) => {
                fail_all(jobs, &format!("the database writer is unavailable: {e}"));
                continue;
            }
        };
        let w = Arc::clone(&writer);
        // Off the runtime's workers: a batch may wait for a checkpoint of the log.
        if let Err(e) = tokio::task::spawn_blocking(move || w.run_batch(jobs)).await {
            // Its callers were answered by their dropped channels.
            tracing::error!(error = %e, "a write batch failed");
        }
        drop(turn);
    }
}

/// Held by a leader: if its task is dropped before the queue is empty (the runtime is
/// shutting down), the writes still queued are answered and the next write starts a
/// leader again, instead of waiting for one forever.
struct Leading {
    writer: Arc<SqliteWriter>,
    /// The leader found the queue empty and gave the role up.
    done: bool,
}

impl Drop for Leading {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut q = self
            .writer
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if q.leading {
            q.leading = false;
            let jobs = std::mem::take(&mut q.jobs);
            drop(q);
            fail_all(jobs, "the server is shutting down");
        }
    }
}

/// Runs `write` as one unit of work on SQLite: through the queue, committed with the
/// writes queued with it.
pub(crate) async fn run_sqlite<T, F>(
    writer: &Arc<SqliteWriter>,
    lock: &AnyPool,
    write: F,
) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn WriteConn) -> Result<T> + Send + 'static,
{
    let (reply, answer) = tokio::sync::oneshot::channel();
    if writer.enqueue(Box::new(Pending { write, reply })) {
        // The guard goes into the task, so it also answers the queue if the task is
        // dropped before it first runs.
        let leading = Leading {
            writer: Arc::clone(writer),
            done: false,
        };
        tokio::spawn(lead(Arc::clone(writer), lock.clone(), leading));
    }
    answer
        .await
        .map_err(|_| StoreError::Write("the write was abandoned".into()))?
}

/// Runs `write` as one unit of work on PostgreSQL: a transaction of its own, on a worker
/// thread's connection (see [`crate::pg_workers`]).
pub(crate) async fn run_postgres<T, F>(workers: &PgWorkers, write: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn WriteConn) -> Result<T> + Send + 'static,
{
    workers
        .run(move |worker| {
            let runtime = worker.runtime();
            let outcome = (|| {
                // Dropped on an error, the transaction is rolled back.
                let mut tx = runtime.block_on(worker.connection()?.begin())?;
                let result = write(&mut PgWrite {
                    tx: &mut tx,
                    runtime,
                })?;
                runtime.block_on(tx.commit())?;
                Ok(result)
            })();
            if let Err(StoreError::Database(e)) = &outcome {
                worker.after_error(e);
            }
            outcome
        })
        .await
}

/// A PostgreSQL transaction driven from a worker thread.
struct PgWrite<'a, 'c> {
    tx: &'a mut sqlx::Transaction<'c, sqlx::Any>,
    runtime: &'a tokio::runtime::Runtime,
}

impl ReadConn for PgWrite<'_, '_> {
    fn backend(&self) -> crate::Backend {
        crate::Backend::Postgres
    }

    fn rows(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        let query = crate::db::bind_all(sqlx::query(sql), args);
        let rows = self.runtime.block_on(query.fetch_all(&mut **self.tx))?;
        crate::reads::to_rows(&rows)
    }
}

impl WriteConn for PgWrite<'_, '_> {
    fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64> {
        let query = crate::db::bind_all(sqlx::query(sql), args);
        Ok(self
            .runtime
            .block_on(query.execute(&mut **self.tx))?
            .rows_affected())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

    use super::*;
    use crate::Db;
    use crate::db::args;

    async fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let db = Db::connect(&url).await.unwrap();
        (dir, db)
    }

    fn insert_key(c: &mut dyn WriteConn, name: &str) -> Result<u64> {
        c.execute(
            "INSERT INTO server_keys (name, value, created_at) VALUES ($1, 'v', 0)",
            &args![name],
        )
    }

    async fn keys(db: &Db) -> Vec<String> {
        db.read(|c| {
            c.rows("SELECT name FROM server_keys ORDER BY name", &[])?
                .iter()
                .map(|r| r.text_at(0))
                .collect()
        })
        .await
        .unwrap()
    }

    /// Many writes at once (committed in shared transactions): each caller gets its own
    /// outcome, and a write that fails — by its own choice or by a broken rule — undoes
    /// exactly its own changes, never the others'.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_undoes_only_itself_among_writes_committed_together() {
        let (_dir, db) = sqlite().await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let db = db.clone();
            tasks.spawn(async move {
                let out = db
                    .write(move |c| {
                        insert_key(c, &format!("k{i:03}"))?;
                        match i % 10 {
                            // Gives up after a change of its own.
                            3 => Err(StoreError::Conflict("k")),
                            // Breaks the primary key after a change of its own.
                            7 => insert_key(c, &format!("k{i:03}")),
                            _ => Ok(1),
                        }
                    })
                    .await;
                (i, out)
            });
        }
        let mut failed = 0;
        while let Some(done) = tasks.join_next().await {
            let (i, out) = done.unwrap();
            match i % 10 {
                3 => assert!(matches!(out, Err(StoreError::Conflict("k")))),
                7 => assert!(matches!(out, Err(StoreError::Sqlite(_))), "{out:?}"),
                _ => assert_eq!(out.unwrap(), 1),
            }
            failed += usize::from(out_failed(i));
        }
        let expected: Vec<String> = (0..200)
            .filter(|i| !out_failed(*i))
            .map(|i| format!("k{i:03}"))
            .collect();
        assert_eq!(failed, 40);
        assert_eq!(keys(&db).await, expected);
    }

    fn out_failed(i: i32) -> bool {
        i % 10 == 3 || i % 10 == 7
    }

    /// A write is committed when its caller hears of it: another connection reads it,
    /// and the store's other writes (on sqlx's connection) take turns with the queue.
    #[tokio::test]
    async fn a_write_is_committed_when_it_returns_and_shares_the_file_with_other_writes() {
        let (_dir, db) = sqlite().await;
        db.write(|c| insert_key(c, "a")).await.unwrap();
        assert_eq!(keys(&db).await, vec!["a".to_owned()]);
        let stored = db.server_key("b", "secret", 1).await.unwrap();
        assert_eq!(stored, "secret");
        db.write(|c| insert_key(c, "c")).await.unwrap();
        assert_eq!(keys(&db).await, vec!["a", "b", "c"]);
    }
}

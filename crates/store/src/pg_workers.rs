//! The hot reads and writes on PostgreSQL, run on worker threads of their own
//! ([`PgWorkers`]), each with a connection.
//!
//! Why: the hot reads and writes are synchronous code (see [`crate::reads`] and
//! [`crate::writes`]). Driven from the blocking pool through the server's runtime, each
//! of a home page's dozen statements woke a runtime worker to read the socket and then
//! the blocking thread to go on: in `perf`, scheduling was ~40% of the server's CPU during
//! home reads, ~590–770 µs of server CPU per read (a SQLite read is ~130 µs in all). Each
//! worker here owns a single-threaded runtime and one connection, so the statements drive
//! their socket on the thread that runs them: one hand-off to the thread and one back per
//! read or write. Home reads on the benchmark network: ~1,400 → ~2,450–2,650/s.
//!
//! Rejected: an async `ReadConn` (every hot read and write, and the SQLite path,
//! rewritten as async code, to save the two hand-offs left); thread-local connections on
//! the blocking pool's threads (one connection per thread it ever starts, each bound to
//! one database).

use crate::db::Arg;
use crate::reads::{ReadConn, Row, to_rows};
use crate::{Result, StoreError};
use sqlx::AnyConnection;
use sqlx::Connection as _;
use std::sync::{Arc, Mutex, mpsc};

/// Worker threads (and at most as many connections, opened on first use) per database:
/// enough statements in flight to keep PostgreSQL busy on every core while others wait on
/// the network, well under the shared pool's 16 connections.
const THREADS: usize = 8;

/// A unit of work, given the worker it runs on.
type Work = Box<dyn FnOnce(&mut Worker<'_>) + Send>;

/// What a worker thread is asked to do.
enum Job {
    Run(Work),
    /// Close the connection and stop (graceful shutdown).
    Close,
}

/// The worker threads of one database; they stop when it is dropped or closed.
#[derive(Debug)]
pub(crate) struct PgWorkers {
    jobs: mpsc::Sender<Job>,
}

impl PgWorkers {
    /// Starts the worker threads for the database at `url`.
    pub(crate) fn new(url: &str) -> Result<Self> {
        let (jobs, queue) = mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..THREADS {
            let (queue, url) = (Arc::clone(&queue), url.to_owned());
            std::thread::Builder::new()
                .name(format!("pg-worker-{i}"))
                .spawn(move || serve(&url, &queue))
                .map_err(|e| StoreError::Read(format!("cannot start a worker thread: {e}")))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on a worker thread.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Worker<'_>) -> Result<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let work: Work = Box::new(move |worker| {
            // The caller may have gone away; nothing to tell then.
            let _ = answer.send(f(worker));
        });
        self.jobs
            .send(Job::Run(work))
            .map_err(|_| StoreError::Read("the PostgreSQL workers have stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Read("a PostgreSQL read or write stopped half-way".into()))?
    }

    /// Closes the threads' connections and stops them.
    pub(crate) fn close(&self) {
        // A thread stops after its `Close`, so each takes exactly one.
        for _ in 0..THREADS {
            let _ = self.jobs.send(Job::Close);
        }
    }
}

/// A worker thread: takes jobs until the database is dropped or closed.
fn serve(url: &str, queue: &Mutex<mpsc::Receiver<Job>>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a PostgreSQL worker's runtime");
            return;
        }
    };
    let mut conn = None;
    loop {
        // The lock is held while waiting: the other idle threads queue on it meanwhile.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match job {
            Ok(Job::Run(work)) => {
                let mut worker = Worker {
                    runtime: &runtime,
                    conn: &mut conn,
                    url,
                };
                // Work that panics loses its answer (its caller sees it stop) but not the
                // thread; its connection may be mid-statement, so it goes too.
                let done =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut worker)));
                if done.is_err() {
                    conn = None;
                }
            }
            Ok(Job::Close) => {
                if let Some(c) = conn.take() {
                    let _ = runtime.block_on(c.close());
                }
                return;
            }
            // Every sender is gone: the database was dropped.
            Err(_) => return,
        }
    }
}

/// A worker thread's runtime and connection, opened on first use and again after it broke.
pub(crate) struct Worker<'a> {
    runtime: &'a tokio::runtime::Runtime,
    conn: &'a mut Option<AnyConnection>,
    url: &'a str,
}

impl<'a> Worker<'a> {
    /// The thread's runtime: its `block_on` drives the connection's socket.
    pub(crate) fn runtime(&self) -> &'a tokio::runtime::Runtime {
        self.runtime
    }

    /// The connection, opened if there is none.
    pub(crate) fn connection(&mut self) -> Result<&mut AnyConnection> {
        if self.conn.is_none() {
            *self.conn = Some(self.runtime.block_on(AnyConnection::connect(self.url))?);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Read("no PostgreSQL connection".into()))
    }

    /// After `e`: a connection that may have broken is dropped, to be opened anew by the
    /// next statement; one whose statement was refused (a database error) or whose rows
    /// did not decode is fine.
    pub(crate) fn after_error(&mut self, e: &sqlx::Error) {
        use sqlx::Error as E;
        let fine = matches!(
            e,
            E::Database(_)
                | E::RowNotFound
                | E::ColumnNotFound(_)
                | E::ColumnIndexOutOfBounds { .. }
                | E::ColumnDecode { .. }
                | E::Decode(_)
                | E::TypeNotFound { .. }
        );
        if !fine {
            *self.conn = None;
        }
    }

    /// Runs `sql` as a named (`persistent`) or unnamed statement.
    fn fetch(&mut self, sql: &str, args: &[Arg], persistent: bool) -> Result<Vec<Row>> {
        let runtime = self.runtime;
        let query = crate::db::bind_all(sqlx::query(sql), args).persistent(persistent);
        let fetched = runtime.block_on(query.fetch_all(self.connection()?));
        match fetched {
            Ok(rows) => to_rows(&rows),
            Err(e) => {
                self.after_error(&e);
                Err(e.into())
            }
        }
    }
}

impl ReadConn for Worker<'_> {
    fn backend(&self) -> crate::Backend {
        crate::Backend::Postgres
    }

    fn rows(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        self.fetch(sql, args, true)
    }

    fn rows_fresh_plan(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        // An unnamed statement is planned for the values it is bound with.
        self.fetch(sql, args, false)
    }
}

//! The hot read paths (a home page, the facts that decide who sees which post, a token
//! lookup), written once as plain synchronous code against [`ReadConn`] and run in one
//! call per request part.
//!
//! Why: through sqlx's SQLite driver every statement is a round trip to the connection's
//! worker thread (and every row a channel message), so a home page of a dozen small
//! statements spent most of its time in thread hand-offs, not in SQLite (profiled with
//! `perf`: SQLite itself under 5%, futex and scheduling over 40%). On SQLite these reads
//! use rusqlite connections of their own, run in place (see [`run`]), so a dozen
//! statements cost no hand-off at all. On PostgreSQL the same code drives sqlx, one
//! statement after another, on a worker thread's own connection ([`crate::pg_workers`]).
//!
//! Rejected: porting the whole store to rusqlite (writes gain little: they are serialised
//! on one connection anyway, and the portable sqlx query set serves PostgreSQL); raw
//! handles out of sqlx's connections (needs `unsafe`).

use crate::db::Arg;
use crate::{Result, StoreError};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// A value read from a column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Int(i64),
    Text(String),
}

/// A row read by a [`ReadConn`]: its values in column order, and the column names.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    names: Arc<[String]>,
    vals: Vec<Val>,
    /// Where the next lookup by name starts: records read their columns in the order they
    /// are selected, so the name searched is almost always the next one (or the same one
    /// again, as `opt_int` does). A search over every name cost ~7% of a home page.
    next: std::cell::Cell<usize>,
}

/// Reading typed columns by name, from an sqlx row or a [`Row`], so that each record is
/// decoded by one function whichever path read it.
pub(crate) trait Cols {
    /// An integer column.
    fn int(&self, name: &str) -> Result<i64>;
    /// A nullable integer column.
    fn opt_int(&self, name: &str) -> Result<Option<i64>>;
    /// A text column.
    fn text(&self, name: &str) -> Result<String>;
    /// A nullable text column.
    fn opt_text(&self, name: &str) -> Result<Option<String>>;
    /// A 0/1 flag column.
    fn flag(&self, name: &str) -> Result<bool> {
        Ok(self.int(name)? != 0)
    }
}

impl Cols for AnyRow {
    fn int(&self, name: &str) -> Result<i64> {
        Ok(self.try_get(name)?)
    }
    fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.try_get(name)?)
    }
    fn text(&self, name: &str) -> Result<String> {
        Ok(self.try_get(name)?)
    }
    fn opt_text(&self, name: &str) -> Result<Option<String>> {
        Ok(self.try_get(name)?)
    }
}

impl Row {
    fn val(&self, name: &str) -> Result<&Val> {
        let next = self.next.get();
        let is = |i: usize| self.names.get(i).is_some_and(|n| n == name);
        let found = if is(next) {
            Some(next)
        } else if next > 0 && is(next - 1) {
            Some(next - 1)
        } else {
            self.names.iter().position(|n| n == name)
        };
        let i = found.ok_or_else(|| StoreError::Read(format!("no column {name}")))?;
        self.next.set(i + 1);
        self.at(i)
    }

    /// The value of the column at `i`.
    pub(crate) fn at(&self, i: usize) -> Result<&Val> {
        self.vals
            .get(i)
            .ok_or_else(|| StoreError::Read(format!("no column {i}")))
    }

    /// The integer at column `i`.
    pub(crate) fn int_at(&self, i: usize) -> Result<i64> {
        match self.at(i)? {
            Val::Int(v) => Ok(*v),
            other => Err(StoreError::Read(format!(
                "column {i}: expected an integer, got {other:?}"
            ))),
        }
    }

    /// The text at column `i`.
    pub(crate) fn text_at(&self, i: usize) -> Result<String> {
        match self.at(i)? {
            Val::Text(v) => Ok(v.clone()),
            other => Err(StoreError::Read(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }
}

impl Cols for Row {
    fn int(&self, name: &str) -> Result<i64> {
        match self.val(name)? {
            Val::Int(v) => Ok(*v),
            other => Err(StoreError::Read(format!(
                "{name}: expected an integer, got {other:?}"
            ))),
        }
    }
    fn opt_int(&self, name: &str) -> Result<Option<i64>> {
        match self.val(name)? {
            Val::Null => Ok(None),
            _ => self.int(name).map(Some),
        }
    }
    fn text(&self, name: &str) -> Result<String> {
        match self.val(name)? {
            Val::Text(v) => Ok(v.clone()),
            other => Err(StoreError::Read(format!(
                "{name}: expected text, got {other:?}"
            ))),
        }
    }
    fn opt_text(&self, name: &str) -> Result<Option<String>> {
        match self.val(name)? {
            Val::Null => Ok(None),
            _ => self.text(name).map(Some),
        }
    }
}

/// A connection the hot reads run their statements on, synchronously.
pub(crate) trait ReadConn {
    /// Runs `sql` (with `$1`… placeholders bound from `args`) and returns every row.
    fn rows(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>>;

    /// As [`ReadConn::rows`], planned for the values bound rather than from a cached
    /// plan, for statements over skewed data (see [`FreshPlans`]).
    fn rows_fresh_plan(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        self.rows(sql, args)
    }

    /// The engine behind the connection, for the few statements written per engine.
    fn backend(&self) -> crate::Backend;
}

/// A connection whose statements are all planned for the values bound.
///
/// Why: PostgreSQL switches a named statement to a generic plan after five runs, and the
/// generic plan estimates `target_id = $1` by the average account's followers; for the
/// celebrity's million it scanned them all (3.7 s per streaming audience query in the
/// benchmark). Only the statements keyed by whose followers they read need this:
/// planning every hot read afresh cost home reads almost half their speed. SQLite plans
/// from its statistics alike for every value, so it changes nothing there.
pub(crate) struct FreshPlans<'a>(pub(crate) &'a mut dyn ReadConn);

impl ReadConn for FreshPlans<'_> {
    fn rows(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        self.0.rows_fresh_plan(sql, args)
    }

    fn backend(&self) -> crate::Backend {
        self.0.backend()
    }
}

impl ReadConn for rusqlite::Connection {
    fn backend(&self) -> crate::Backend {
        crate::Backend::Sqlite
    }

    fn rows(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        read_rows(&mut *self.prepare_cached(sql)?, args)
    }
}

/// Runs a rusqlite statement with `args` bound and reads every row.
fn read_rows(stmt: &mut rusqlite::Statement<'_>, args: &[Arg]) -> Result<Vec<Row>> {
    bind_args(stmt, args)?;
    let names: Arc<[String]> = stmt
        .column_names()
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    let width = names.len();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut vals = Vec::with_capacity(width);
        for i in 0..width {
            vals.push(match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Val::Null,
                rusqlite::types::ValueRef::Integer(v) => Val::Int(v),
                rusqlite::types::ValueRef::Text(t) => Val::Text(
                    std::str::from_utf8(t)
                        .map_err(|e| StoreError::Read(e.to_string()))?
                        .to_owned(),
                ),
                other => {
                    return Err(StoreError::Read(format!(
                        "column {i}: unexpected {:?}",
                        other.data_type()
                    )));
                }
            });
        }
        out.push(Row {
            names: Arc::clone(&names),
            vals,
            next: std::cell::Cell::new(0),
        });
    }
    Ok(out)
}

/// Binds `args` to the `$1`… placeholders of a rusqlite statement.
///
/// SQLite numbers a statement's distinct parameters in order of first appearance, so
/// each parameter's own name (`$n`) says which argument it takes, whatever the order and
/// repeats in the SQL. Looking each argument's name up instead (formatting `$n`, then
/// rusqlite's name cache) cost ~3% of a home page.
pub(crate) fn bind_args(stmt: &mut rusqlite::Statement<'_>, args: &[Arg]) -> Result<()> {
    for index in 1..=stmt.parameter_count() {
        let n = stmt
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok());
        let Some(arg) = n.and_then(|n| args.get(n.wrapping_sub(1))) else {
            return Err(StoreError::Read(format!(
                "parameter {index} of the statement has no argument"
            )));
        };
        match arg {
            Arg::I(v) => stmt.raw_bind_parameter(index, v)?,
            Arg::S(v) => stmt.raw_bind_parameter(index, v)?,
            Arg::N | Arg::NullText => stmt.raw_bind_parameter(index, rusqlite::types::Null)?,
            Arg::Ids(ids) => {
                let values: Vec<rusqlite::types::Value> = ids
                    .iter()
                    .map(|id| rusqlite::types::Value::Integer(*id))
                    .collect();
                stmt.raw_bind_parameter(index, std::rc::Rc::new(values))?
            }
        }
    }
    Ok(())
}

/// Rows read through sqlx as [`Row`]s.
pub(crate) fn to_rows(rows: &[AnyRow]) -> Result<Vec<Row>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let names: Arc<[String]> = first
        .columns()
        .iter()
        .map(|c| sqlx::Column::name(c).to_owned())
        .collect();
    // Columns are BIGINT or TEXT (docs/decisions/0002); the column's type, known once,
    // says which (trying one decoding and then the other would build an error per
    // text cell).
    let integer: Vec<bool> = first
        .columns()
        .iter()
        .map(|c| {
            let t = sqlx::TypeInfo::name(sqlx::Column::type_info(c)).to_ascii_uppercase();
            t.contains("INT")
        })
        .collect();
    rows.iter()
        .map(|r| {
            let vals = integer
                .iter()
                .enumerate()
                .map(|(i, is_int)| {
                    Ok(if *is_int {
                        r.try_get::<Option<i64>, _>(i)?.map_or(Val::Null, Val::Int)
                    } else {
                        r.try_get::<Option<String>, _>(i)?
                            .map_or(Val::Null, Val::Text)
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Row {
                names: Arc::clone(&names),
                vals,
                next: std::cell::Cell::new(0),
            })
        })
        .collect()
}

/// Read connections of its own to the SQLite file (see [`run`] for where they are used).
#[derive(Debug)]
pub(crate) struct SqliteReaders {
    path: String,
    idle: Mutex<Vec<rusqlite::Connection>>,
    permits: Arc<Semaphore>,
}

/// Prepared statements kept per connection: the hot reads use a few dozen shapes (the
/// `IN (…)` lists vary in length).
pub(crate) const STATEMENT_CACHE: usize = 128;

impl SqliteReaders {
    /// Readers for the database file at `path`, at most `max` at a time.
    pub(crate) fn new(path: &str, max: usize) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }

    fn open(&self) -> Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // `rarray`, the id lists of the hot reads (see `crate::db::IdList`).
        rusqlite::vtab::array::load_module(&conn)?;
        Ok(conn)
    }

    fn take(&self) -> Result<rusqlite::Connection> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => self.open(),
        }
    }

    fn give_back(&self, conn: rusqlite::Connection) {
        if let Ok(mut v) = self.idle.lock() {
            v.push(conn);
        }
    }
}

/// Where a read runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// On SQLite, right here on the calling task's thread (the hot reads).
    InPlace,
    /// On the blocking pool (long reads, which would hold up a runtime worker).
    Blocking,
}

/// Items (posts, ids) beyond which a read about them is a long one: a page of posts is
/// 20–40, a thread's replies or a streaming audience can be thousands.
const LONG_READ_ITEMS: usize = 200;

impl Place {
    /// In place for a read about a page's worth of items, on the blocking pool beyond.
    pub(crate) fn for_items(n: usize) -> Self {
        if n > LONG_READ_ITEMS {
            Place::Blocking
        } else {
            Place::InPlace
        }
    }
}

/// Runs `f` in one read transaction of `conn`: its statements see one snapshot of the
/// database, and the file and WAL locks are taken once per read, not once per statement
/// (in autocommit, each of a home page's dozen statements took and dropped them: ~6% of
/// its CPU in `perf`, in `fcntl` and `fstat`).
fn in_snapshot<T>(
    conn: &mut rusqlite::Connection,
    f: impl FnOnce(&mut dyn ReadConn) -> Result<T>,
) -> Result<T> {
    conn.prepare_cached("BEGIN")?.raw_execute()?;
    let out = f(conn);
    // A read has nothing to undo; ending it releases the snapshot either way.
    let end = conn.prepare_cached("COMMIT")?.raw_execute();
    match (out, end) {
        (Ok(v), Ok(_)) => Ok(v),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e.into()),
    }
}

/// Runs `f` on one of SQLite's read connections, where `place` says (PostgreSQL has its
/// worker threads, [`crate::pg_workers`]).
///
/// A hot read on SQLite is a few dozen microseconds of CPU over pages the OS already
/// caches (indexed point and range reads only), less than handing it to another thread
/// costs: through the blocking pool, the two wake-ups per read were a quarter of a home
/// page's CPU in `perf`, and run in place home reads went from 3,480 to 4,620 per second
/// on the benchmark network (`block_in_place` gained nothing: it hands the worker's
/// other tasks to another thread instead). The price is that a read which must go to disk
/// holds up the runtime worker meanwhile; the writer stays on its own thread.
pub(crate) async fn run<T, F>(readers: &Arc<SqliteReaders>, place: Place, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn ReadConn) -> Result<T> + Send + 'static,
{
    // Bounds the open connections when many threads read at once (tests on their own
    // runtimes, a blocking caller, long reads on the blocking pool).
    let permit = Arc::clone(&readers.permits)
        .acquire_owned()
        .await
        .map_err(|e| StoreError::Read(e.to_string()))?;
    let readers = Arc::clone(readers);
    let read = move || {
        let _permit = permit;
        let mut conn = readers.take()?;
        let out = in_snapshot(&mut conn, f);
        // A connection left inside a transaction (its COMMIT failed) is dropped.
        if conn.is_autocommit() {
            readers.give_back(conn);
        }
        out
    };
    match place {
        Place::InPlace => read(),
        Place::Blocking => tokio::task::spawn_blocking(read)
            .await
            .map_err(|e| StoreError::Read(e.to_string()))?,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

    use super::{Cols, Row, Val};
    use crate::Db;

    /// Columns are found by name in any order, repeated or not, whatever the lookup hint.
    #[test]
    fn columns_are_found_by_name_in_any_order() {
        let row = Row {
            names: ["a", "b", "c"].iter().map(|n| (*n).to_owned()).collect(),
            vals: vec![Val::Int(1), Val::Null, Val::Text("three".into())],
            next: std::cell::Cell::new(0),
        };
        assert_eq!(row.int("a").unwrap(), 1);
        assert_eq!(row.opt_int("b").unwrap(), None);
        assert_eq!(row.text("c").unwrap(), "three");
        assert_eq!(row.text("c").unwrap(), "three");
        assert_eq!(row.int("a").unwrap(), 1);
        assert_eq!(row.opt_text("c").unwrap().as_deref(), Some("three"));
        assert!(row.int("d").is_err());
        assert_eq!(row.opt_int("b").unwrap(), None);
    }

    /// Each `$n` takes the n-th argument wherever it appears, however often, in any
    /// order; a placeholder without an argument is an error, not a silent NULL.
    #[tokio::test]
    async fn placeholders_take_their_numbered_argument() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        let db = Db::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let (row, missing) = db
            .read(|c| {
                let args = [crate::db::Arg::I(1), crate::db::Arg::S("two".into())];
                let row = c.rows("SELECT $2, $1, $2 + 0 = 0, $1 * 10", &args)?;
                let missing = c.rows("SELECT $1, $3", &args).is_err();
                Ok((row, missing))
            })
            .await
            .unwrap();
        assert_eq!(row[0].text_at(0).unwrap(), "two");
        assert_eq!(row[0].int_at(1).unwrap(), 1);
        assert_eq!(row[0].int_at(2).unwrap(), 1);
        assert_eq!(row[0].int_at(3).unwrap(), 10);
        assert!(missing);
    }

    /// The statements of one read see one snapshot: a write committed by another
    /// connection between two of them is not seen by the second (a home page's feed and
    /// the facts about its posts must agree), and it is seen by the next read.
    #[tokio::test]
    async fn the_statements_of_one_read_see_one_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let db = Db::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let count = "SELECT COUNT(*) FROM server_keys";
        let (before, during) = db
            .read(move |c| {
                let before = c.rows(count, &[])?[0].int_at(0)?;
                let other = rusqlite::Connection::open(&path).unwrap();
                other
                    .execute(
                        "INSERT INTO server_keys (name, value, created_at) VALUES ('k', 'v', 0)",
                        [],
                    )
                    .unwrap();
                let during = c.rows(count, &[])?[0].int_at(0)?;
                Ok((before, during))
            })
            .await
            .unwrap();
        assert_eq!(before, during);
        let after = db
            .read(move |c| c.rows(count, &[])?[0].int_at(0))
            .await
            .unwrap();
        assert_eq!(after, before + 1);
    }
}

//! Errors of the storage layer.

use thiserror::Error;

/// What went wrong talking to the database.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated; names the field.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The embedded database failed on a hot read path (see `reads`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A row read did not have the expected shape, or a read task failed.
    #[error("read failed: {0}")]
    Read(String),
    /// A write was not committed (its transaction was rolled back, or never ran).
    #[error("write failed: {0}")]
    Write(String),
    /// Migrations could not be applied.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Maps a unique-constraint violation to `Conflict(field)`, anything else to `Database`.
    pub(crate) fn unique_as(err: sqlx::Error, field: &'static str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(field),
            _ => Self::Database(err),
        }
    }
}

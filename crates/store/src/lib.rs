//! Starling's storage: the only place that speaks SQL.
//!
//! One portable query set serves SQLite (embedded default) and PostgreSQL through sqlx's
//! `Any` driver: `$n` placeholders, BIGINT ids and Unix-millisecond times, 0/1 flags.
//! Each public function is one unit of work (a read, or a write transaction), so the
//! service layer never handles connections or transactions.

mod account_cache;
mod accounts;
pub mod conversations;
mod db;
pub mod email;
mod error;
pub mod facts;
pub mod groups;
pub mod interactions;
pub mod lists;
mod notifications;
mod oauth;
mod page;
mod pg_workers;
pub mod push;
mod reads;
mod records;
pub mod relay;
pub mod seed;
pub mod sessions;
pub mod social;
mod statuses;
pub mod streaming;
pub mod tags;
pub mod timelines;
mod token_cache;
mod writes;

pub use db::{Backend, Db};
pub use error::StoreError;
pub use page::Page;
pub use records::*;
pub use statuses::FanOutBatch;

/// Result of a store operation.
pub type Result<T> = std::result::Result<T, StoreError>;

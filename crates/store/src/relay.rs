//! The database side of live delivery across nodes (docs/decisions/0011-node-relay.md):
//! on PostgreSQL, nodes tell each other about events with `NOTIFY` on one channel and
//! hear them on a dedicated `LISTEN` connection. What the payloads mean is the service's
//! business; this module only carries text, and keeps the rare payload too large for a
//! notification in `relay_spill` for the receivers to re-read.
//!
//! SQLite is one node by nature: there [`Db::relays`] is false and nothing here runs.

use crate::{Backend, Db, Result};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use std::time::Duration;

/// The channel every node notifies and listens on.
pub const CHANNEL: &str = "starling_events";

/// The longest payload `NOTIFY` accepts: PostgreSQL refuses 8000 bytes and more (with the
/// default page size).
pub const MAX_PAYLOAD: usize = 7999;

/// How long a spilled payload is kept. Receivers read it as soon as the notification
/// arrives, within milliseconds; the margin covers a node stalled in between.
const SPILL_KEEP_MS: i64 = 10 * 60 * 1000;

/// The pool behind the listening connection: one connection that never expires (it must
/// stay open to hear anything), opened on first use so that a node that never streams
/// never holds it.
pub(crate) fn listen_pool(url: &str) -> Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy(url)?)
}

impl Db {
    /// Whether events are relayed between nodes on this database (PostgreSQL).
    pub fn relays(&self) -> bool {
        self.listen_pool.is_some()
    }

    /// Sends `payload` (at most [`MAX_PAYLOAD`] bytes) to every node listening on
    /// [`CHANNEL`], this one included. Does nothing on SQLite.
    pub async fn notify_nodes(&self, payload: &str) -> Result<()> {
        if self.backend() != Backend::Postgres {
            return Ok(());
        }
        // `pg_notify` rather than `NOTIFY`, which takes no bind parameters. Outside a
        // transaction, so it is delivered at once.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Keeps a payload too large to notify under `id`, for the other nodes to read with
    /// [`Db::relay_spilled`], and deletes those older than the other nodes need.
    pub async fn spill_relay_payload(&self, id: i64, payload: &str, now: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM relay_spill WHERE created_at < $1")
            .bind(now - SPILL_KEEP_MS)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO relay_spill (id, payload, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(payload)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A payload spilled by [`Db::spill_relay_payload`], if it is still kept.
    pub async fn relay_spilled(&self, id: i64) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT payload FROM relay_spill WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    /// Opens the listening connection and listens on [`CHANNEL`]; `None` on SQLite.
    ///
    /// Only one listener can be open at a time (its pool has one connection): drop the
    /// previous one before opening another.
    pub async fn listen_nodes(&self) -> Result<Option<NodeListener>> {
        let Some(pool) = &self.listen_pool else {
            return Ok(None);
        };
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(NodeListener(listener)))
    }
}

/// What the listening connection heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A notification on [`CHANNEL`], with its payload.
    Payload(String),
    /// The connection was lost and has been opened again: notifications sent in between
    /// were missed.
    Reconnected,
}

/// A connection listening on [`CHANNEL`] (see [`Db::listen_nodes`]).
pub struct NodeListener(PgListener);

impl std::fmt::Debug for NodeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeListener").finish_non_exhaustive()
    }
}

impl NodeListener {
    /// The next notification, or news that the connection was lost and reopened.
    ///
    /// An error (the server unreachable, the connection refused or ended by the server)
    /// leaves the listener unusable: drop it and listen again after a pause.
    pub async fn next(&mut self) -> Result<Heard> {
        // `try_recv` rather than `recv`, which reconnects silently: the caller should know
        // that events were missed.
        Ok(match self.0.try_recv().await? {
            Some(notification) => Heard::Payload(notification.payload().to_owned()),
            None => Heard::Reconnected,
        })
    }
}

//! Bulk inserts for seeding large synthetic networks (benchmarks): many rows per
//! statement and per transaction, bypassing the per-row use cases.

use crate::db::Arg;
use crate::{Backend, Db, Result};
use sqlx::AnyConnection;

/// Most bind parameters per statement: below SQLite's default limit (32766) and
/// PostgreSQL's (65535).
const MAX_PARAMS: usize = 30_000;

/// An account row for seeding, with its counters already computed.
#[derive(Debug, Clone)]
pub struct SeedAccount {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub celebrity: bool,
    pub created_at: i64,
    pub followers_count: i64,
    pub following_count: i64,
    pub statuses_count: i64,
    pub last_status_at: Option<i64>,
}

/// A post row for seeding: public, or unlisted in a public group.
#[derive(Debug, Clone)]
pub struct SeedStatus {
    pub id: i64,
    pub account_id: i64,
    pub text: String,
    pub content: String,
    pub created_at: i64,
    /// The (public) group it is posted in, if any.
    pub group_id: Option<i64>,
}

async fn insert_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    head: &str,
    width: usize,
    rows: impl Iterator<Item = Vec<Arg>>,
) -> Result<()> {
    let per_statement = (MAX_PARAMS / width).max(1);
    let mut batch: Vec<Arg> = Vec::with_capacity(per_statement * width);
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        batch.clear();
        let mut n = 0;
        for row in rows.by_ref().take(per_statement) {
            batch.extend(row);
            n += 1;
        }
        let values: Vec<String> = (0..n)
            .map(|r| {
                // SQLite finds a named parameter (`$7`) by a linear scan, which makes
                // binding tens of thousands of them quadratic; `?` binds by position.
                let cells: Vec<String> = (1..=width)
                    .map(|c| match backend {
                        Backend::Sqlite => "?".to_owned(),
                        Backend::Postgres => format!("${}", r * width + c),
                    })
                    .collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        let sql = format!("{head} VALUES {}", values.join(", "));
        crate::db::bind_all(sqlx::query(&sql), &batch)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Db {
    /// Whether the network has no accounts yet.
    pub async fn is_empty(&self) -> Result<bool> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
            .fetch_one(&self.reader)
            .await?;
        Ok(n == 0)
    }

    /// Inserts accounts in one transaction.
    pub async fn seed_accounts(&self, rows: &[SeedAccount]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO accounts (id, username, username_lower, email, email_lower, password_hash, celebrity, \
             created_at, followers_count, following_count, statuses_count, last_status_at)",
            12,
            rows.iter().map(|a| {
                vec![
                    Arg::I(a.id),
                    Arg::S(a.username.clone()),
                    Arg::S(a.username.to_ascii_lowercase()),
                    Arg::S(a.email.clone()),
                    Arg::S(a.email.to_lowercase()),
                    Arg::S(a.password_hash.clone()),
                    Arg::I(i64::from(a.celebrity)),
                    Arg::I(a.created_at),
                    Arg::I(a.followers_count),
                    Arg::I(a.following_count),
                    Arg::I(a.statuses_count),
                    a.last_status_at.map_or(Arg::N, Arg::I),
                ]
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts `(id, follower, followed)` follows in one transaction.
    pub async fn seed_follows(&self, rows: &[(i64, i64, i64)]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO follows (id, account_id, target_id)",
            3,
            rows.iter()
                .map(|(id, a, t)| vec![Arg::I(*id), Arg::I(*a), Arg::I(*t)]),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts posts in one transaction.
    pub async fn seed_statuses(&self, rows: &[SeedStatus]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO statuses (id, account_id, text, content, visibility, created_at, group_id)",
            7,
            rows.iter().map(|s| {
                // A public group's posts are unlisted (see docs/decisions/0005).
                let visibility = if s.group_id.is_some() {
                    "unlisted"
                } else {
                    "public"
                };
                vec![
                    Arg::I(s.id),
                    Arg::I(s.account_id),
                    Arg::S(s.text.clone()),
                    Arg::S(s.content.clone()),
                    Arg::S(visibility.into()),
                    Arg::I(s.created_at),
                    s.group_id.map_or(Arg::N, Arg::I),
                ]
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a public group with `members_count` already counted (its members are
    /// inserted by [`Db::seed_group_members`]).
    pub async fn seed_group(
        &self,
        id: i64,
        name: &str,
        members_count: i64,
        created_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO groups (id, name, description, visibility, created_at, members_count) \
             VALUES ($1, $2, '', 'public', $3, $4)",
        )
        .bind(id)
        .bind(name)
        .bind(created_at)
        .bind(members_count)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Inserts `(id, group, account, role)` memberships in one transaction.
    pub async fn seed_group_members(
        &self,
        rows: &[(i64, i64, i64, &str)],
        created_at: i64,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO group_members (id, group_id, account_id, role, created_at)",
            5,
            rows.iter().map(|(id, g, a, role)| {
                vec![
                    Arg::I(*id),
                    Arg::I(*g),
                    Arg::I(*a),
                    Arg::S((*role).to_owned()),
                    Arg::I(created_at),
                ]
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts `(reader, post, author)` home-feed rows in one transaction.
    pub async fn seed_home_feed(&self, rows: &[(i64, i64, i64)]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO home_feed (account_id, status_id, author_id)",
            3,
            rows.iter()
                .map(|(r, s, a)| vec![Arg::I(*r), Arg::I(*s), Arg::I(*a)]),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts `(id, token_hash, account_id, scopes)` app-less tokens in one transaction.
    pub async fn seed_tokens(
        &self,
        rows: &[(i64, String, i64, String)],
        created_at: i64,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO oauth_tokens (id, token_hash, account_id, scopes, created_at)",
            5,
            rows.iter().map(|(id, hash, account, scopes)| {
                vec![
                    Arg::I(*id),
                    Arg::S(hash.clone()),
                    Arg::I(*account),
                    Arg::S(scopes.clone()),
                    Arg::I(created_at),
                ]
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Updates the planner's statistics after a bulk load.
    pub async fn analyze(&self) -> Result<()> {
        sqlx::query("ANALYZE").execute(&self.writer).await?;
        if self.backend() == Backend::Sqlite {
            // The bundled SQLite is built with STAT4. With its samples present, every
            // statement whose plan looked at a bound value is expired by the next binding
            // and re-prepared on each run: a quarter of a home read's CPU went to
            // re-parsing (perf). The per-index averages in `sqlite_stat1` are all our
            // indexed lookups need.
            let stat4: Option<(i64,)> = sqlx::query_as(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat4'",
            )
            .fetch_optional(&self.writer)
            .await?;
            if stat4.is_some() {
                sqlx::query("DELETE FROM sqlite_stat4")
                    .execute(&self.writer)
                    .await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn analyze_keeps_averages_but_no_stat4_samples() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let db = Db::connect(&url).await.unwrap();
        for i in 1..=200_i64 {
            sqlx::query(
                "INSERT INTO accounts (id, username, username_lower, email, email_lower, \
                 password_hash, created_at) VALUES ($1, $2, $2, $3, $3, '', 0)",
            )
            .bind(i)
            .bind(format!("u{i}"))
            .bind(format!("u{i}@example.test"))
            .execute(&db.writer)
            .await
            .unwrap();
        }
        db.analyze().await.unwrap();
        let count = |table: &'static str| {
            let db = db.clone();
            async move {
                let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
                    .fetch_one(&db.writer)
                    .await
                    .unwrap();
                n
            }
        };
        assert!(count("sqlite_stat1").await > 0, "averages kept");
        assert_eq!(
            count("sqlite_stat4").await,
            0,
            "no samples to re-prepare for"
        );
    }
}

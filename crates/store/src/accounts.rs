//! Accounts: creation, lookups, profile changes, roles and deactivation.

use crate::db::placeholders;
use crate::records::{ACCOUNT_COLUMNS, AccountRecord, NewAccount, ProfileUpdate};
use crate::{Db, Result, StoreError};

impl Db {
    /// Inserts an account; the first account of the network becomes admin unless a role is given.
    pub async fn create_account(&self, new: NewAccount) -> Result<AccountRecord> {
        let mut tx = self.writer.begin().await?;
        let taken: Option<(String,)> = sqlx::query_as(
            "SELECT CASE WHEN username_lower = $1 THEN 'username' ELSE 'email' END \
             FROM accounts WHERE username_lower = $1 OR email_lower = $2 LIMIT 1",
        )
        .bind(new.username.to_ascii_lowercase())
        .bind(new.email.to_lowercase())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((field,)) = taken {
            return Err(StoreError::Conflict(if field == "username" {
                "username"
            } else {
                "email"
            }));
        }
        let role = match new.role {
            Some(r) => r,
            None => {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
                    .fetch_one(&mut *tx)
                    .await?;
                if n == 0 { "admin" } else { "member" }.to_owned()
            }
        };
        sqlx::query(
            "INSERT INTO accounts (id, username, username_lower, email, email_lower, password_hash, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new.id)
        .bind(&new.username)
        .bind(new.username.to_ascii_lowercase())
        .bind(&new.email)
        .bind(new.email.to_lowercase())
        .bind(&new.password_hash)
        .bind(&role)
        .bind(new.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::unique_as(e, "username"))?;
        tx.commit().await?;
        self.account(new.id).await
    }

    /// One account by id.
    pub async fn account(&self, id: i64) -> Result<AccountRecord> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| AccountRecord::from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// The stored password hash of account `id`: read only to check a password, so that
    /// it is not carried (and cloned) with every account a page shows.
    pub async fn password_hash(&self, id: i64) -> Result<String> {
        let hash: Option<(String,)> =
            sqlx::query_as("SELECT password_hash FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.reader)
                .await?;
        hash.map(|(h,)| h).ok_or(StoreError::NotFound)
    }

    /// One account by username, case-insensitively.
    pub async fn account_by_username(&self, username: &str) -> Result<AccountRecord> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username_lower = $1");
        let row = sqlx::query(&sql)
            .bind(username.to_ascii_lowercase())
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| AccountRecord::from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Active accounts whose username starts with `prefix` (case-insensitively), in
    /// username order, skipping `offset`: account search. Accounts that block `viewer` or
    /// that `viewer` blocks are left out in the query itself, so pages stay full; with
    /// `following_only`, only accounts `viewer` follows.
    ///
    /// The prefix is a range on `username_lower` rather than a `LIKE`: SQLite uses an
    /// index for `LIKE` only on case-insensitive columns, so at 1,000,000 accounts every
    /// keystroke of an autocomplete scanned the whole table (0.3–4 s), while the range
    /// walks the unique index. Display names are not searched for the same reason: that
    /// would need an index of its own (an expression index on `LOWER(display_name)`).
    pub async fn search_accounts(
        &self,
        viewer: i64,
        prefix: &str,
        following_only: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AccountRecord>> {
        if prefix.is_empty() {
            return Ok(Vec::new());
        }
        let (from, to) = prefix_range(&prefix.to_lowercase());
        let following = if following_only {
            " AND EXISTS (SELECT 1 FROM follows f \
               WHERE f.account_id = $3 AND f.target_id = accounts.id)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts \
             WHERE {} AND deactivated_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM blocks b \
               WHERE (b.account_id = $3 AND b.target_id = accounts.id) \
               OR (b.account_id = accounts.id AND b.target_id = $3)){following} \
             ORDER BY username_lower LIMIT {} OFFSET {}",
            self.prefix_condition("username_lower"),
            limit.clamp(0, 80),
            offset.max(0)
        );
        let rows = sqlx::query(&sql)
            .bind(from)
            .bind(to)
            .bind(viewer)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(AccountRecord::from_row).collect()
    }

    /// `column` starts with the string bound as `$1`, given `$1` and `$2` from
    /// [`prefix_range`]. Bytewise comparison makes the range exactly "starts with":
    /// SQLite's default collation is bytewise, PostgreSQL's columns follow the
    /// database's locale, so there the comparison asks for the "C" collation.
    pub(crate) fn prefix_condition(&self, column: &str) -> String {
        match self.backend() {
            crate::db::Backend::Sqlite => format!("{column} >= $1 AND {column} < $2"),
            crate::db::Backend::Postgres => {
                format!("{column} COLLATE \"C\" >= $1 AND {column} COLLATE \"C\" < $2")
            }
        }
    }

    /// One account by username or e-mail address (for sign-in), case-insensitively.
    pub async fn account_by_login(&self, login: &str) -> Result<AccountRecord> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username_lower = $1 OR email_lower = $1"
        );
        let row = sqlx::query(&sql)
            .bind(login.to_lowercase())
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| AccountRecord::from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Accounts by id, in no particular order; unknown ids are skipped.
    pub async fn accounts(&self, ids: &[i64]) -> Result<Vec<AccountRecord>> {
        let ids = ids.to_vec();
        self.read(move |c| crate::facts::accounts(c, &ids)).await
    }

    /// Accounts whose lowercase username is in `names` (for resolving mentions).
    pub async fn accounts_by_usernames(&self, names: &[String]) -> Result<Vec<AccountRecord>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username_lower IN ({})",
            placeholders(1, names.len())
        );
        let mut q = sqlx::query(&sql);
        for n in names {
            q = q.bind(n.to_ascii_lowercase());
        }
        let rows = q.fetch_all(&self.reader).await?;
        rows.iter().map(AccountRecord::from_row).collect()
    }

    /// All accounts, oldest first, a page at a time (for the admin command).
    pub async fn list_accounts(&self, offset: i64, limit: i64) -> Result<Vec<AccountRecord>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id LIMIT {} OFFSET {}",
            limit.max(0),
            offset.max(0)
        );
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await?;
        rows.iter().map(AccountRecord::from_row).collect()
    }

    /// Number of accounts, and of active ones.
    pub async fn account_counts(&self) -> Result<(i64, i64)> {
        let (all, active): (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COUNT(*) - COUNT(deactivated_at) FROM accounts")
                .fetch_one(&self.reader)
                .await?;
        Ok((all, active))
    }

    /// Changes profile fields.
    pub async fn update_profile(&self, id: i64, u: ProfileUpdate) -> Result<AccountRecord> {
        let mut tx = self.writer.begin().await?;
        macro_rules! set {
            ($col:literal, $val:expr) => {
                if let Some(v) = $val {
                    sqlx::query(concat!("UPDATE accounts SET ", $col, " = $1 WHERE id = $2"))
                        .bind(v)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
            };
        }
        set!("display_name", u.display_name);
        set!("note", u.note);
        set!("locked", u.locked.map(i64::from));
        set!("bot", u.bot.map(i64::from));
        set!("discoverable", u.discoverable.map(i64::from));
        set!("default_privacy", u.default_privacy);
        set!("default_sensitive", u.default_sensitive.map(i64::from));
        set!("default_language", u.default_language);
        tx.commit().await?;
        self.accounts_cache.forget(&[id]);
        self.account(id).await
    }

    /// Sets the role of an account.
    pub async fn set_role(&self, id: i64, role: &str) -> Result<AccountRecord> {
        let done = sqlx::query("UPDATE accounts SET role = $1 WHERE id = $2")
            .bind(role)
            .bind(id)
            .execute(&self.writer)
            .await?;
        self.accounts_cache.forget(&[id]);
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.account(id).await
    }

    /// Deactivates (with a time) or reactivates (`None`) an account; deactivation deletes
    /// every token of the account in the same transaction, so they stop working at once.
    pub async fn set_deactivated(&self, id: i64, at: Option<i64>) -> Result<AccountRecord> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("UPDATE accounts SET deactivated_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if at.is_some() {
            sqlx::query("DELETE FROM oauth_tokens WHERE account_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.accounts_cache.forget(&[id]);
        self.tokens_cache.forget_all();
        self.account(id).await
    }

    /// Replaces the password hash.
    pub async fn set_password_hash(&self, id: i64, hash: &str) -> Result<()> {
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

/// The bounds of the strings that start with `prefix` in bytewise order: from `prefix`
/// itself up to (not including) `prefix` followed by the highest character.
pub(crate) fn prefix_range(prefix: &str) -> (String, String) {
    (prefix.to_owned(), format!("{prefix}{}", char::MAX))
}

#[cfg(test)]
mod tests {
    use super::prefix_range;

    #[test]
    fn prefix_ranges_hold_exactly_the_extensions() {
        let (from, to) = prefix_range("an");
        for inside in ["an", "ana", "an_", "anzzz", "an\u{10FFFE}x"] {
            assert!(from.as_str() <= inside && inside < to.as_str(), "{inside}");
        }
        for outside in ["am", "a", "ao", "b", "a_n", "an\u{10FFFF}"] {
            assert!(
                !(from.as_str() <= outside && outside < to.as_str()),
                "{outside}"
            );
        }
    }
}

//! An account's own credentials as it manages them from its settings: the tokens it has
//! handed out (browser sessions, authorised apps, scripts), revoking them one by one or
//! per app, and changing the password (which ends every other token at once).

use crate::{Db, Result};
use sqlx::Row;

/// A live token of an account, with the application it was issued to (none for the
/// tokens of `starling admin token create`).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenListing {
    /// The token's id (its secret is never stored, only its hash).
    pub id: i64,
    /// The application's id, if any.
    pub app_id: Option<i64>,
    /// The application's name.
    pub app_name: Option<String>,
    /// The application's web site, as it registered it.
    pub app_website: Option<String>,
    /// The application's public client id (tells the web UI's own sessions apart).
    pub client_id: Option<String>,
    /// Space-separated granted scopes.
    pub scopes: String,
    /// Issue time, Unix milliseconds.
    pub created_at: i64,
}

/// At most this many tokens are listed (an account has a handful; a runaway script that
/// logged in thousands of times still gets a bounded page).
pub const TOKEN_LIST_LIMIT: i64 = 500;

impl Db {
    /// The account's live tokens, newest first.
    pub async fn tokens_of_account(&self, account_id: i64) -> Result<Vec<TokenListing>> {
        let rows = sqlx::query(
            "SELECT t.id, t.app_id, t.scopes, t.created_at, a.name, a.website, a.client_id \
             FROM oauth_tokens t LEFT JOIN oauth_apps a ON a.id = t.app_id \
             WHERE t.account_id = $1 ORDER BY t.id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(TOKEN_LIST_LIMIT)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenListing {
                    id: r.try_get("id")?,
                    app_id: r.try_get("app_id")?,
                    app_name: r.try_get("name")?,
                    app_website: r.try_get("website")?,
                    client_id: r.try_get("client_id")?,
                    scopes: r.try_get("scopes")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Deletes one token of the account; false when the account has no token with this id
    /// (someone else's token is never touched).
    pub async fn revoke_token_of_account(&self, token_id: i64, account_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM oauth_tokens WHERE id = $1 AND account_id = $2")
            .bind(token_id)
            .bind(account_id)
            .execute(&self.writer)
            .await?;
        self.tokens_cache.forget_all();
        Ok(done.rows_affected() > 0)
    }

    /// Deletes every token an app holds for the account, and its unused authorization
    /// codes; returns the deleted tokens' ids (empty when the app has none for it).
    pub async fn revoke_app_of_account(&self, app_id: i64, account_id: i64) -> Result<Vec<i64>> {
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(
            "DELETE FROM oauth_tokens WHERE app_id = $1 AND account_id = $2 RETURNING id",
        )
        .bind(app_id)
        .bind(account_id)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM oauth_codes WHERE app_id = $1 AND account_id = $2")
            .bind(app_id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.tokens_cache.forget_all();
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Stores a new password hash and, in the same transaction, deletes every token of the
    /// account but `keep_token_id` and every unused authorization code; returns the
    /// deleted tokens' ids.
    pub async fn change_password(
        &self,
        account_id: i64,
        password_hash: &str,
        keep_token_id: i64,
    ) -> Result<Vec<i64>> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(crate::StoreError::NotFound);
        }
        let rows =
            sqlx::query("DELETE FROM oauth_tokens WHERE account_id = $1 AND id <> $2 RETURNING id")
                .bind(account_id)
                .bind(keep_token_id)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM oauth_codes WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.tokens_cache.forget_all();
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }
}

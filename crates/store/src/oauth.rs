//! OAuth applications, access tokens and authorization codes (secrets stored hashed).

use crate::db::Arg;
use crate::reads::Cols;
use crate::records::{
    ACCOUNT_COLUMNS, AccountRecord, AppRecord, CodeRecord, NewToken, TokenRecord,
};
use crate::{Db, Result, StoreError};
use sqlx::Row;
use std::sync::Arc;

const APP_COLUMNS: &str =
    "id, name, website, redirect_uris, scopes, client_id, client_secret, created_at";

/// A token and its account, by the token's hash (spelled out once: every authenticated
/// request reads it).
static TOKEN_BY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let cols = ACCOUNT_COLUMNS
        .split(", ")
        .map(|c| format!("a.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT t.id AS token_id, t.app_id, t.account_id AS token_account, t.scopes, t.created_at AS token_created, {cols} \
         FROM oauth_tokens t LEFT JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = $1"
    )
});

impl Db {
    /// Registers an application.
    pub async fn create_app(&self, app: &AppRecord) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO oauth_apps ({APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(app.id)
        .bind(&app.name)
        .bind(&app.website)
        .bind(&app.redirect_uris)
        .bind(&app.scopes)
        .bind(&app.client_id)
        .bind(&app.client_secret)
        .bind(app.created_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// An application by its public client id.
    pub async fn app_by_client_id(&self, client_id: &str) -> Result<AppRecord> {
        let row = sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM oauth_apps WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| AppRecord::from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// An application by id.
    pub async fn app(&self, id: i64) -> Result<AppRecord> {
        let row = sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM oauth_apps WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| AppRecord::from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Stores a new token.
    pub async fn create_token(&self, t: &NewToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO oauth_tokens (id, token_hash, refresh_hash, app_id, account_id, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.id)
        .bind(&t.token_hash)
        .bind(&t.refresh_hash)
        .bind(t.app_id)
        .bind(t.account_id)
        .bind(&t.scopes)
        .bind(t.created_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The token with this hash, with its account when it has one; deactivated accounts'
    /// tokens are deleted on deactivation, so any token found is live.
    ///
    /// Through the token and account caches (see [`crate::token_cache`]): a request whose
    /// token and account were both used lately reads nothing; otherwise one round trip
    /// on the hottest path, since every authenticated request comes here.
    pub async fn token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<(TokenRecord, Option<Arc<AccountRecord>>)> {
        if let Some(token) = self.tokens_cache.get(token_hash) {
            let account = match token.account_id {
                Some(id) => Some(self.cached_account(id).await?),
                None => None,
            };
            return Ok((token, account));
        }
        let sql = TOKEN_BY_HASH.as_str();
        let hash = token_hash.to_owned();
        let tokens = Arc::clone(&self.tokens_cache);
        let accounts = Arc::clone(&self.accounts_cache);
        self.read(move |c| {
            // Before the read's first statement, so before its snapshot.
            let (token_ticket, account_ticket) = (tokens.ticket(), accounts.ticket());
            let rows = c.rows(sql, &[Arg::S(hash.clone())])?;
            let row = rows.first().ok_or(StoreError::NotFound)?;
            let token = TokenRecord {
                id: row.int("token_id")?,
                app_id: row.opt_int("app_id")?,
                account_id: row.opt_int("token_account")?,
                scopes: row.text("scopes")?,
                created_at: row.int("token_created")?,
            };
            let account = match token.account_id {
                Some(_) => Some(Arc::new(AccountRecord::from_row(row)?)),
                None => None,
            };
            tokens.put(token_ticket, &hash, &token);
            if let Some(account) = &account {
                accounts.put(account_ticket, std::slice::from_ref(account));
            }
            Ok((token, account))
        })
        .await
    }

    /// Account `id` through the account cache (read and kept when not cached).
    async fn cached_account(&self, id: i64) -> Result<Arc<AccountRecord>> {
        if let Some(account) = self.accounts_cache.get(id) {
            return Ok(account);
        }
        let cache = Arc::clone(&self.accounts_cache);
        let found = self
            .read(move |c| {
                // Before the read's first statement, so before its snapshot.
                let ticket = cache.ticket();
                crate::facts::cached_accounts(c, (&cache, ticket), &[id])
            })
            .await?;
        found.into_iter().next().ok_or(StoreError::NotFound)
    }

    /// Forgets every cached token, once a delete of tokens has committed (here or, as
    /// news of a revocation says, on another node).
    pub fn forget_tokens(&self) {
        self.tokens_cache.forget_all();
    }

    /// Deletes the token whose access or refresh hash matches and that belongs to `app_id`,
    /// returning the deleted token (refresh rotates tokens this way).
    pub async fn take_token_by_refresh(
        &self,
        refresh_hash: &str,
        app_id: i64,
    ) -> Result<TokenRecord> {
        let row = sqlx::query(
            "DELETE FROM oauth_tokens WHERE refresh_hash = $1 AND app_id = $2 \
             RETURNING id, app_id, account_id, scopes, created_at",
        )
        .bind(refresh_hash)
        .bind(app_id)
        .fetch_optional(&self.writer)
        .await;
        self.tokens_cache.forget_all();
        let row = row?.ok_or(StoreError::NotFound)?;
        Ok(TokenRecord {
            id: row.try_get("id")?,
            app_id: row.try_get("app_id")?,
            account_id: row.try_get("account_id")?,
            scopes: row.try_get("scopes")?,
            created_at: row.try_get("created_at")?,
        })
    }

    /// Revokes a token of `app_id` given either its access or its refresh secret's hash.
    pub async fn revoke_token(&self, hash: &str, app_id: i64) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM oauth_tokens WHERE (token_hash = $1 OR refresh_hash = $1) AND app_id = $2",
        )
        .bind(hash)
        .bind(app_id)
        .execute(&self.writer)
        .await?;
        self.tokens_cache.forget_all();
        Ok(done.rows_affected() > 0)
    }

    /// Stores an authorization code (hashed).
    pub async fn create_code(&self, code_hash: &str, c: &CodeRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO oauth_codes (code_hash, app_id, account_id, scopes, redirect_uri, code_challenge, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(code_hash)
        .bind(c.app_id)
        .bind(c.account_id)
        .bind(&c.scopes)
        .bind(&c.redirect_uri)
        .bind(&c.code_challenge)
        .bind(c.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Removes and returns an authorization code: a code works once.
    pub async fn take_code(&self, code_hash: &str) -> Result<CodeRecord> {
        let row = sqlx::query(
            "DELETE FROM oauth_codes WHERE code_hash = $1 \
             RETURNING app_id, account_id, scopes, redirect_uri, code_challenge, expires_at",
        )
        .bind(code_hash)
        .fetch_optional(&self.writer)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(CodeRecord {
            app_id: row.try_get("app_id")?,
            account_id: row.try_get("account_id")?,
            scopes: row.try_get("scopes")?,
            redirect_uri: row.try_get("redirect_uri")?,
            code_challenge: row.try_get("code_challenge")?,
            expires_at: row.try_get("expires_at")?,
        })
    }
}

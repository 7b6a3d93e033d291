//! An account's own credentials, managed from its settings: changing the password, and
//! the list of tokens it has handed out — browser sessions of the web UI, Mastodon apps
//! it authorised, scripts' tokens — each revocable by its owner only.
//!
//! Every revocation publishes the hub's `AccessEnded` for the tokens it deleted, so live
//! streams opened with them close at once, as on sign-out. A password change ends every
//! other token of the account (a stolen session must not outlive the old password), but
//! keeps the one the change was made with, so the person is not signed out mid-task.

use crate::auth::Principal;
use crate::realtime::Event;
use crate::web_sessions::WEB_CLIENT_ID;
use crate::{Result, ServiceError, Starling};
use starling_domain::account::check_password;
use starling_store::sessions::TokenListing;

/// An application the account authorised, with all its tokens for the account taken
/// together (revoking the app revokes them all).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorisedApp {
    /// The application's id.
    pub app_id: i64,
    /// Its name, as it registered.
    pub name: String,
    /// Its web site, as it registered (not verified).
    pub website: Option<String>,
    /// The scopes granted, over all its tokens, space-separated.
    pub scopes: String,
    /// How many tokens it holds.
    pub tokens: usize,
    /// When the account first authorised it (Unix milliseconds).
    pub first_at: i64,
    /// When it last received a token.
    pub last_at: i64,
}

/// Everything that can act as the account, grouped for its settings page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessList {
    /// Sessions of the web UI, newest first.
    pub sessions: Vec<TokenListing>,
    /// Third-party applications, most recently authorised first.
    pub apps: Vec<AuthorisedApp>,
    /// Tokens issued outside any app (`starling admin token create`), newest first.
    pub scripts: Vec<TokenListing>,
}

impl Starling {
    /// Ends live streams of deleted tokens.
    fn access_ended(&self, token_ids: &[i64]) {
        for id in token_ids {
            self.publish(Event::AccessEnded {
                token_id: Some(*id),
                account_id: None,
            });
        }
    }

    /// The tokens of the signed-in account, grouped by what holds them.
    pub async fn access_list(&self, p: &Principal) -> Result<AccessList> {
        let me = p.account()?;
        let mut list = AccessList::default();
        // Newest first from the store, so each app's first entry is its latest token.
        for t in self.db().tokens_of_account(me.id).await? {
            match (t.app_id, t.client_id.as_deref()) {
                (Some(_), Some(WEB_CLIENT_ID)) => list.sessions.push(t),
                (Some(app_id), _) => match list.apps.iter_mut().find(|a| a.app_id == app_id) {
                    Some(app) => {
                        app.tokens += 1;
                        app.first_at = app.first_at.min(t.created_at);
                        for s in t.scopes.split_whitespace() {
                            if !app.scopes.split_whitespace().any(|have| have == s) {
                                app.scopes.push(' ');
                                app.scopes.push_str(s);
                            }
                        }
                    }
                    None => list.apps.push(AuthorisedApp {
                        app_id,
                        name: t.app_name.clone().unwrap_or_default(),
                        website: t.app_website.clone(),
                        scopes: t.scopes.clone(),
                        tokens: 1,
                        first_at: t.created_at,
                        last_at: t.created_at,
                    }),
                },
                (None, _) => list.scripts.push(t),
            }
        }
        Ok(list)
    }

    /// Revokes one token of the signed-in account by id; 404 when the account has no such
    /// token (another account's token id is not found, and not revealed).
    pub async fn revoke_own_token(&self, p: &Principal, token_id: i64) -> Result<()> {
        let me = p.account()?;
        if !self.db().revoke_token_of_account(token_id, me.id).await? {
            return Err(ServiceError::NotFound);
        }
        self.access_ended(&[token_id]);
        Ok(())
    }

    /// Revokes every token an application holds for the signed-in account (and its
    /// unused codes); 404 when the app holds none.
    pub async fn revoke_own_app(&self, p: &Principal, app_id: i64) -> Result<usize> {
        let me = p.account()?;
        let ended = self.db().revoke_app_of_account(app_id, me.id).await?;
        if ended.is_empty() {
            return Err(ServiceError::NotFound);
        }
        self.access_ended(&ended);
        Ok(ended.len())
    }

    /// Changes the signed-in account's password after checking the current one
    /// (attempts are throttled like sign-ins), then revokes every other token of the
    /// account; returns how many were revoked.
    pub async fn change_password(&self, p: &Principal, current: &str, new: &str) -> Result<usize> {
        let me = p.account()?;
        // The same limit as sign-in: a stolen session must not become a password oracle.
        self.sign_in_throttle().check(&me.username)?;
        // Read the stored hash afresh: the principal's copy may predate another change.
        let stored = self.db().password_hash(me.id).await?;
        if !self.verify_password(&stored, current).await? {
            return Err(ServiceError::invalid(
                "current_password is not the password of this account",
            ));
        }
        check_password(new).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let hash = self.hash_password(new).await?;
        let ended = self.db().change_password(me.id, &hash, p.token_id).await?;
        self.access_ended(&ended);
        Ok(ended.len())
    }
}

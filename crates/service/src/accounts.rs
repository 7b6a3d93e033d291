//! Accounts: sign-up, administration, profiles and lookups.

use crate::auth::{IssuedToken, Principal};
use crate::{Result, ServiceError, Starling};
use starling_domain::account::{
    AccountError, Email, Role, Username, check_display_name, check_note, check_password,
};
use starling_domain::id::now_millis;
use starling_domain::scope::Scopes;
use starling_domain::visibility::Visibility;
use starling_store::{AccountRecord, NewAccount, ProfileUpdate, StoreError};

fn invalid(e: AccountError) -> ServiceError {
    ServiceError::Validation(e.to_string())
}

/// A sign-up request as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct SignUp {
    pub username: String,
    pub email: String,
    pub password: String,
    pub agreement: bool,
    pub locale: Option<String>,
}

/// A rule broken by one field of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name, as the API names it (`display_name`, `note`, …).
    pub field: &'static str,
    /// What is wrong, naming the field and the rule.
    pub message: String,
}

impl FieldError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Profile changes requested by the account itself (`update_credentials`).
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    pub display_name: Option<String>,
    pub note: Option<String>,
    pub locked: Option<bool>,
    pub bot: Option<bool>,
    pub discoverable: Option<bool>,
    pub privacy: Option<String>,
    pub sensitive: Option<bool>,
    pub language: Option<String>,
}

impl Starling {
    async fn insert_account(
        &self,
        username: &str,
        email: &str,
        password: &str,
        role: Option<Role>,
        enforce_domains: bool,
    ) -> Result<AccountRecord> {
        let username = Username::parse(username).map_err(invalid)?;
        let email = Email::parse(email).map_err(invalid)?;
        if enforce_domains {
            email
                .check_domain(&self.settings().allowed_email_domains)
                .map_err(invalid)?;
        }
        check_password(password).map_err(invalid)?;
        let password_hash = self.hash_password(password).await?;
        Ok(self
            .db()
            .create_account(NewAccount {
                id: self.next_id(),
                username: username.as_str().to_owned(),
                email: email.as_str().to_owned(),
                password_hash,
                role: role.map(|r| r.as_str().to_owned()),
                created_at: now_millis(),
            })
            .await?)
    }

    /// `POST /api/v1/accounts`: self-service sign-up with an app token; the returned
    /// token (with the app token's scopes) works at once.
    pub async fn sign_up(
        &self,
        app_token: &Principal,
        req: SignUp,
    ) -> Result<(AccountRecord, IssuedToken)> {
        if app_token.account.is_some() {
            return Err(ServiceError::Forbidden(
                "sign-up needs an application token, not a user token".into(),
            ));
        }
        let account = self.register(req).await?;
        let token = self
            .issue_token(app_token.app_id, Some(account.id), &app_token.scopes)
            .await?;
        Ok((account, token))
    }

    /// Self-service registration, whichever front end asks: open registrations, the
    /// agreement, and the allowed e-mail domains are checked here once.
    pub(crate) async fn register(&self, req: SignUp) -> Result<AccountRecord> {
        if !self.settings().registrations_open {
            return Err(ServiceError::Forbidden(
                "Registrations are closed on this network".into(),
            ));
        }
        if !req.agreement {
            return Err(ServiceError::invalid(
                "agreement must be accepted to sign up",
            ));
        }
        self.insert_account(&req.username, &req.email, &req.password, None, true)
            .await
    }

    /// `starling admin user create`: creates an account regardless of sign-up settings.
    pub async fn create_user(
        &self,
        username: &str,
        email: &str,
        password: &str,
        role: Option<&str>,
    ) -> Result<AccountRecord> {
        let role = role.map(Role::parse).transpose().map_err(invalid)?;
        self.insert_account(username, email, password, role, false)
            .await
    }

    /// All accounts, oldest first, a page at a time.
    pub async fn list_users(&self, offset: i64, limit: i64) -> Result<Vec<AccountRecord>> {
        Ok(self.db().list_accounts(offset, limit).await?)
    }

    /// An account by exact username (any case), including deactivated ones (admin use).
    pub async fn user_by_username(&self, username: &str) -> Result<AccountRecord> {
        Ok(self.db().account_by_username(username).await?)
    }

    /// Deactivates an account: it can no longer sign in, its tokens stop working at once,
    /// and its posts disappear from everyone's view.
    pub async fn deactivate(&self, username: &str) -> Result<AccountRecord> {
        let account = self.user_by_username(username).await?;
        let deactivated = self
            .db()
            .set_deactivated(account.id, Some(now_millis()))
            .await?;
        self.publish(crate::realtime::Event::AccessEnded {
            token_id: None,
            account_id: Some(account.id),
        });
        Ok(deactivated)
    }

    /// Reactivates a deactivated account.
    pub async fn reactivate(&self, username: &str) -> Result<AccountRecord> {
        let account = self.user_by_username(username).await?;
        Ok(self.db().set_deactivated(account.id, None).await?)
    }

    /// Changes an account's role.
    pub async fn set_role(&self, username: &str, role: &str) -> Result<AccountRecord> {
        let role = Role::parse(role).map_err(invalid)?;
        let account = self.user_by_username(username).await?;
        Ok(self.db().set_role(account.id, role.as_str()).await?)
    }

    /// An active account by id (deactivated accounts are 404 to everyone).
    pub async fn account(&self, id: i64) -> Result<AccountRecord> {
        let account = self.db().account(id).await?;
        if account.deactivated_at.is_some() {
            return Err(ServiceError::NotFound);
        }
        Ok(account)
    }

    /// `GET /api/v1/accounts/lookup?acct=`: `user`, `@user` or `user@this-host`.
    pub async fn lookup(&self, acct: &str) -> Result<AccountRecord> {
        let acct = acct.trim().trim_start_matches('@');
        let name = match acct.split_once('@') {
            Some((name, host)) if host.eq_ignore_ascii_case(&self.settings().host()) => name,
            Some(_) => return Err(ServiceError::NotFound),
            None => acct,
        };
        let account = match self.db().account_by_username(name).await {
            Err(StoreError::NotFound) => return Err(ServiceError::NotFound),
            other => other?,
        };
        if account.deactivated_at.is_some() {
            return Err(ServiceError::NotFound);
        }
        Ok(account)
    }

    /// Every rule that profile changes break, one per field, in form order; empty when
    /// they can be saved. [`Self::update_profile`] refuses with the first; a form shows
    /// them all beside their fields.
    pub fn profile_errors(c: &ProfileChanges) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(n) = &c.display_name
            && let Err(e) = check_display_name(n)
        {
            errors.push(FieldError::new("display_name", e.to_string()));
        }
        if let Some(n) = &c.note
            && let Err(e) = check_note(n)
        {
            errors.push(FieldError::new("note", e.to_string()));
        }
        if let Some(l) = &c.language
            && !(l.is_empty()
                || ((2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase())))
        {
            errors.push(FieldError::new(
                "language",
                "source[language] must be an ISO 639 language code such as en or de",
            ));
        }
        if c.locked == Some(true) {
            // Follow requests do not exist yet: a locked account would look protected to
            // clients while anyone could still follow it and read its followers-only posts.
            errors.push(FieldError::new(
                "locked",
                "locked accounts are not supported yet: follow requests need approval first",
            ));
        }
        if let Some(p) = &c.privacy
            && Visibility::parse(p).is_err()
        {
            errors.push(FieldError::new(
                "privacy",
                "source[privacy] must be one of public, unlisted, private, direct",
            ));
        }
        errors
    }

    /// `PATCH /api/v1/accounts/update_credentials`.
    pub async fn update_profile(
        &self,
        me: &AccountRecord,
        c: ProfileChanges,
    ) -> Result<AccountRecord> {
        if let Some(first) = Self::profile_errors(&c).into_iter().next() {
            return Err(ServiceError::Validation(first.message));
        }
        Ok(self
            .db()
            .update_profile(
                me.id,
                ProfileUpdate {
                    display_name: c.display_name,
                    note: c.note,
                    locked: c.locked,
                    bot: c.bot,
                    discoverable: c.discoverable,
                    default_privacy: c.privacy,
                    default_sensitive: c.sensitive,
                    default_language: c.language,
                },
            )
            .await?)
    }

    /// Number of active accounts and of posts, for the instance description. Counting
    /// scans whole tables, and clients fetch the instance often, so the figures are
    /// recounted at most once a minute, in the background (see [`crate::stats`]).
    pub async fn stats(&self) -> Result<(i64, i64)> {
        let this = self.clone();
        self.stats_cache()
            .get(move || async move {
                let (_, active) = this.db().account_counts().await?;
                Ok((active, this.db().status_count().await?))
            })
            .await
    }

    /// Parses a scope list (for the admin command's `--scopes`).
    pub fn parse_scopes(s: &str) -> Result<Scopes> {
        Scopes::parse(s).map_err(|e| ServiceError::invalid(e.to_string()))
    }
}

// --- Account search (mention autocomplete) ---

/// Most accounts one search returns.
pub const SEARCH_LIMIT_MAX: i64 = 20;

impl Starling {
    /// Accounts whose username starts with `query` (a leading `@` is ignored), for
    /// `viewer` to mention: active ones only, and none that blocks `viewer` or that
    /// `viewer` blocks. At most `limit` (capped at [`SEARCH_LIMIT_MAX`]), by username.
    pub async fn search_accounts(
        &self,
        viewer: &AccountRecord,
        query: &str,
        limit: i64,
    ) -> Result<Vec<AccountRecord>> {
        // One rule for both front ends: the Mastodon API's search uses the same query.
        self.find_accounts(viewer, query, false, limit.clamp(1, SEARCH_LIMIT_MAX), 0)
            .await
    }
}

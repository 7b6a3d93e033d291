//! Browser sessions of the web UI, built on the OAuth token machinery rather than beside it.
//!
//! A session is an ordinary bearer token issued to one first-party application, "Starling
//! Web", which is created on first use under a fixed client id. So a session is revoked,
//! checked and closed exactly like any app's token (streams end at once on sign-out or
//! deactivation), and no second credential store exists. The token's secret lives only in
//! the browser's HttpOnly cookie; the database keeps its hash, as for every token.
//!
//! Rejected: a separate `sessions` table (a second auth store to keep consistent with
//! revocation and deactivation) and signed stateless cookies (they cannot be revoked).

use crate::accounts::SignUp;
use crate::auth::{IssuedToken, Principal, hash_secret, new_secret};
use crate::{Result, ServiceError, Starling};
use starling_domain::id::now_millis;
use starling_domain::scope::Scopes;
use starling_store::{AccountRecord, AppRecord, Page, StoreError};

/// The client id of the web UI's application; fixed so every node finds the same app.
pub const WEB_CLIENT_ID: &str = "starling-web";
/// The scopes of a web session: everything the account itself may do.
const WEB_SCOPES: &str = "read write follow push";
/// Unread notifications are counted up to this many (the header shows `N+` beyond).
pub const UNREAD_CAP: usize = 40;

impl Starling {
    /// The web UI's application, created on first use and then kept in memory: every
    /// page checks its session against it.
    async fn web_app(&self) -> Result<AppRecord> {
        self.web_app_cell()
            .get_or_try_init(|| self.load_web_app())
            .await
            .cloned()
    }

    async fn load_web_app(&self) -> Result<AppRecord> {
        match self.db().app_by_client_id(WEB_CLIENT_ID).await {
            Err(StoreError::NotFound) => {}
            other => return Ok(other?),
        }
        let app = AppRecord {
            id: self.next_id(),
            name: "Starling Web".to_owned(),
            website: Some(self.settings().base_url().into_owned()),
            redirect_uris: crate::auth::OOB_REDIRECT.to_owned(),
            scopes: WEB_SCOPES.to_owned(),
            client_id: WEB_CLIENT_ID.to_owned(),
            // Never used: sessions are issued here, not through `/oauth/token`.
            client_secret: new_secret(),
            created_at: now_millis(),
        };
        match self.db().create_app(&app).await {
            Ok(()) => Ok(app),
            // Another request (or node) created it first: use theirs.
            Err(StoreError::Conflict(_)) => Ok(self.db().app_by_client_id(WEB_CLIENT_ID).await?),
            Err(e) => Err(e.into()),
        }
    }

    async fn issue_web_session(&self, account: &AccountRecord) -> Result<IssuedToken> {
        let app = self.web_app().await?;
        let scopes = Scopes::parse(WEB_SCOPES).map_err(|e| ServiceError::Internal(e.into()))?;
        self.issue_token(Some(app.id), Some(account.id), &scopes)
            .await
    }

    /// Web sign-in: checks the password (throttled, as every sign-in) and opens a session.
    pub async fn web_sign_in(
        &self,
        login: &str,
        password: &str,
    ) -> Result<(AccountRecord, IssuedToken)> {
        let account = self.sign_in(login, password).await?;
        let token = self.issue_web_session(&account).await?;
        Ok((account, token))
    }

    /// Web sign-up: the same rules as the API's (open registrations, allowed e-mail
    /// domains, agreement), then a session for the new account.
    pub async fn web_sign_up(&self, req: SignUp) -> Result<(AccountRecord, IssuedToken)> {
        let account = self.register(req).await?;
        let token = self.issue_web_session(&account).await?;
        Ok((account, token))
    }

    /// Resolves a session secret to its principal; 401 when unknown, revoked, or not a
    /// web session (an API token pasted into a cookie is refused).
    pub async fn web_session(&self, secret: &str) -> Result<Principal> {
        let principal = self.authenticate(secret).await?;
        let app = self.web_app().await?;
        if principal.app_id != Some(app.id) || principal.account.is_none() {
            return Err(ServiceError::Unauthorized(
                "The session is invalid".to_owned(),
            ));
        }
        Ok(principal)
    }

    /// Web sign-out: revokes the session's token, which also closes its live streams.
    pub async fn web_sign_out(&self, secret: &str) -> Result<()> {
        let principal = self.web_session(secret).await?;
        let app = self.web_app().await?;
        if self.db().revoke_token(&hash_secret(secret), app.id).await? {
            self.publish(crate::realtime::Event::AccessEnded {
                token_id: Some(principal.token_id),
                account_id: None,
            });
        }
        Ok(())
    }

    /// The per-session anti-forgery token: derived from the session secret, so it needs no
    /// storage, differs per session and cannot be computed without the cookie.
    pub fn csrf_token_for(secret: &str) -> String {
        hash_secret(&format!("csrf\u{0}{secret}"))[..32].to_owned()
    }

    /// Notifications newer than the account's notifications marker, counted up to
    /// [`UNREAD_CAP`] (so a page header costs one bounded read, whatever the backlog).
    pub async fn unread_notifications(&self, me: &AccountRecord) -> Result<usize> {
        let marker = self
            .markers(me, &["notifications".to_owned()])
            .await?
            .into_iter()
            .next()
            .map(|m| m.last_read_id);
        let page = Page {
            since_id: marker,
            ..Page::first(UNREAD_CAP as i64)
        };
        Ok(self
            .notifications(me, &[], &[], None, page)
            .await?
            .items
            .len())
    }
}

//! Authentication: password hashing, OAuth2 applications, grants and bearer tokens.
//!
//! Secrets (tokens, refresh tokens, codes) are random 256-bit values shown once and stored
//! as SHA-256 hashes, so a leaked database does not leak working tokens. Passwords are
//! hashed with argon2id on the blocking pool, never on the async runtime.

use crate::{Result, ServiceError, Starling};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use starling_domain::id::now_millis;
use starling_domain::scope::Scopes;
use starling_store::{AccountRecord, AppRecord, CodeRecord, NewToken, StoreError};
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;

/// The out-of-band redirect URI: the code is shown to the user instead of redirected.
pub const OOB_REDIRECT: &str = "urn:ietf:wg:oauth:2.0:oob";
/// How long an authorization code stays valid.
const CODE_TTL_MS: i64 = 10 * 60 * 1000;

/// URI schemes refused as OAuth redirects: they run or render content rather than
/// hand a code back to an app.
const NON_REDIRECT_SCHEMES: [&str; 5] = ["javascript", "data", "vbscript", "file", "blob"];

/// Who is making a request: the token's app, account (absent for app-only tokens) and scopes.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's id.
    pub token_id: i64,
    /// The application the token was issued to.
    pub app_id: Option<i64>,
    /// The signed-in account, if the token is a user token.
    pub account: Option<Arc<AccountRecord>>,
    /// What the token may do.
    pub scopes: Scopes,
}

impl Principal {
    /// Requires `scope` (e.g. `read:statuses`), else 403.
    pub fn require(&self, scope: &str) -> Result<()> {
        if self.scopes.grants(scope) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "This action is outside the authorized scopes: {scope} is required"
            )))
        }
    }

    /// The signed-in account, or 422 for app-only tokens (as Mastodon answers).
    pub fn account(&self) -> Result<&AccountRecord> {
        self.account
            .as_deref()
            .ok_or_else(|| ServiceError::invalid("This method requires an authenticated user"))
    }
}

/// An authorization request that passed every check, ready to show and to grant.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The client application.
    pub app: AppRecord,
    /// The scopes asked for (within what the app registered).
    pub scopes: Scopes,
    /// Where the code goes (or [`OOB_REDIRECT`]).
    pub redirect_uri: String,
    /// The PKCE challenge (S256), if any.
    pub code_challenge: Option<String>,
}

/// A token as handed to a client, once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The bearer token.
    pub access_token: String,
    /// A refresh token (user tokens only).
    pub refresh_token: Option<String>,
    /// Space-separated granted scopes.
    pub scope: String,
    /// Issue time, Unix seconds.
    pub created_at: i64,
}

/// A new random secret: 32 bytes, URL-safe base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(2 * digest.len());
    for b in digest {
        // Writing into a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Hashes a password with argon2id, off the async runtime (callers go through
/// [`Starling::hash_password`], which bounds how many run at once).
async fn hash_password_now(permit: OwnedSemaphorePermit, password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        // Held until the hash is done, even if the request is dropped meanwhile.
        let _permit = permit;
        let salt = SaltString::generate(&mut rand::thread_rng());
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Internal(e.to_string().into()))
    })
    .await?
}

/// Checks a password against a stored hash, off the async runtime (callers go through
/// [`Starling::verify_password`]).
async fn verify_password_now(
    permit: OwnedSemaphorePermit,
    hash: &str,
    password: &str,
) -> Result<bool> {
    let (hash, password) = (hash.to_owned(), password.to_owned());
    Ok(tokio::task::spawn_blocking(move || {
        let _permit = permit;
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await?)
}

fn parse_scopes(s: &str) -> Result<Scopes> {
    Scopes::parse(s).map_err(|e| ServiceError::BadRequest(e.to_string()))
}

/// Constant-time comparison of two secrets' hashes, so timing does not leak a prefix.
fn same_secret(a: &str, b: &str) -> bool {
    let (ha, hb) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    ha.iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn invalid_client() -> ServiceError {
    ServiceError::Unauthorized(
        "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.".into(),
    )
}

fn invalid_grant() -> ServiceError {
    ServiceError::BadRequest(
        "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.".into(),
    )
}

impl Starling {
    /// `POST /api/v1/apps`: registers a client application.
    pub async fn register_app(
        &self,
        name: &str,
        redirect_uris: Option<&str>,
        scopes: Option<&str>,
        website: Option<&str>,
    ) -> Result<AppRecord> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ServiceError::invalid(
                "client_name must be 1 to 200 characters",
            ));
        }
        let redirect_uris = redirect_uris
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(OOB_REDIRECT);
        for uri in redirect_uris.split_whitespace() {
            if uri == OOB_REDIRECT {
                continue;
            }
            let Ok(parsed) = url::Url::parse(uri) else {
                return Err(ServiceError::invalid(format!(
                    "redirect_uris must be absolute URIs or {OOB_REDIRECT}: {uri:?} is not"
                )));
            };
            // Apps may use their own schemes (`myapp://callback`), but a redirect that a
            // browser would run or render in our place is never a way back to an app.
            if NON_REDIRECT_SCHEMES.contains(&parsed.scheme()) {
                return Err(ServiceError::invalid(format!(
                    "redirect_uris may not use the {}: scheme: {uri:?}",
                    parsed.scheme()
                )));
            }
        }
        let scopes = parse_scopes(scopes.unwrap_or("read"))?;
        let app = AppRecord {
            id: self.next_id(),
            name: name.to_owned(),
            website: website
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            redirect_uris: redirect_uris.to_owned(),
            scopes: scopes.to_string(),
            client_id: new_secret(),
            client_secret: new_secret(),
            created_at: now_millis(),
        };
        self.db().create_app(&app).await?;
        Ok(app)
    }

    /// The application a token was issued to.
    pub async fn app(&self, app_id: i64) -> Result<AppRecord> {
        Ok(self.db().app(app_id).await?)
    }

    /// An application by client id, without checking the secret (for the consent page).
    pub async fn app_by_client_id(&self, client_id: &str) -> Result<AppRecord> {
        match self.db().app_by_client_id(client_id).await {
            Err(StoreError::NotFound) => Err(invalid_client()),
            other => Ok(other?),
        }
    }

    async fn authenticated_app(&self, client_id: &str, client_secret: &str) -> Result<AppRecord> {
        let app = self.app_by_client_id(client_id).await?;
        if same_secret(&app.client_secret, client_secret) {
            Ok(app)
        } else {
            Err(invalid_client())
        }
    }

    /// Resolves a bearer token to who is calling; 401 when unknown or revoked.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal> {
        let unauthorized = || ServiceError::Unauthorized("The access token is invalid".into());
        let (token, account) = match self.db().token_by_hash(&hash_secret(bearer)).await {
            Err(StoreError::NotFound) => return Err(unauthorized()),
            other => other?,
        };
        if account.as_ref().is_some_and(|a| a.deactivated_at.is_some()) {
            return Err(unauthorized());
        }
        Ok(Principal {
            token_id: token.id,
            app_id: token.app_id,
            account,
            scopes: parse_scopes(&token.scopes)?,
        })
    }

    /// Issues a new token (and a refresh token for user tokens).
    pub(crate) async fn issue_token(
        &self,
        app_id: Option<i64>,
        account_id: Option<i64>,
        scopes: &Scopes,
    ) -> Result<IssuedToken> {
        let access_token = new_secret();
        let refresh_token = account_id.map(|_| new_secret());
        let created_at = now_millis();
        self.db()
            .create_token(&NewToken {
                id: self.next_id(),
                token_hash: hash_secret(&access_token),
                refresh_hash: refresh_token.as_deref().map(hash_secret),
                app_id,
                account_id,
                scopes: scopes.to_string(),
                created_at,
            })
            .await?;
        Ok(IssuedToken {
            access_token,
            refresh_token,
            scope: scopes.to_string(),
            created_at: created_at / 1000,
        })
    }

    /// The scopes a client asks for, refused if beyond what the app registered.
    fn requested_scopes(app: &AppRecord, scope: Option<&str>) -> Result<Scopes> {
        let registered = parse_scopes(&app.scopes)?;
        let asked = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => parse_scopes(s)?,
            None => registered.clone(),
        };
        if !registered.covers(&asked) {
            return Err(ServiceError::BadRequest(format!(
                "The requested scope is invalid: the application registered {registered}, not {asked}"
            )));
        }
        Ok(asked)
    }

    /// Hashes a password with argon2id, at most one hash per two cores at a time.
    pub(crate) async fn hash_password(&self, password: &str) -> Result<String> {
        hash_password_now(self.password_permit().await?, password).await
    }

    /// Checks a password against a stored hash, at most one hash per two cores at a time.
    pub(crate) async fn verify_password(&self, hash: &str, password: &str) -> Result<bool> {
        verify_password_now(self.password_permit().await?, hash, password).await
    }

    /// A turn to hash: the blocking task that hashes holds it, so a request given up
    /// half-way cannot let more hashes run at once than the memory bound allows.
    async fn password_permit(&self) -> Result<OwnedSemaphorePermit> {
        Arc::clone(&self.inner.password_hashing)
            .acquire_owned()
            .await
            .map_err(|e| ServiceError::Internal(e.to_string().into()))
    }

    /// Checks a username-or-e-mail and password; the same error for every failure.
    pub async fn sign_in(&self, login: &str, password: &str) -> Result<AccountRecord> {
        let denied = || ServiceError::BadRequest("Invalid username/e-mail or password".into());
        self.sign_in_throttle().check(login)?;
        let account = match self.db().account_by_login(login.trim()).await {
            Err(StoreError::NotFound) => {
                // Spend the same time as a real check so timing does not reveal accounts.
                let _ = self.hash_password(password).await;
                return Err(denied());
            }
            other => other?,
        };
        let stored = self.db().password_hash(account.id).await?;
        if !self.verify_password(&stored, password).await? {
            return Err(denied());
        }
        if account.deactivated_at.is_some() {
            return Err(ServiceError::Forbidden(
                "Your account is deactivated".into(),
            ));
        }
        Ok(account)
    }

    /// `POST /oauth/token`, `grant_type=password`.
    pub async fn password_grant(
        &self,
        client_id: &str,
        client_secret: &str,
        username: &str,
        password: &str,
        scope: Option<&str>,
    ) -> Result<IssuedToken> {
        let app = self.authenticated_app(client_id, client_secret).await?;
        let scopes = Self::requested_scopes(&app, scope)?;
        let account = self.sign_in(username, password).await?;
        self.issue_token(Some(app.id), Some(account.id), &scopes)
            .await
    }

    /// `POST /oauth/token`, `grant_type=client_credentials`: an app-only token.
    pub async fn client_credentials_grant(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<IssuedToken> {
        let app = self.authenticated_app(client_id, client_secret).await?;
        let scopes = Self::requested_scopes(&app, scope)?;
        self.issue_token(Some(app.id), None, &scopes).await
    }

    /// `POST /oauth/token`, `grant_type=refresh_token`: rotates the token pair.
    pub async fn refresh_grant(
        &self,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
    ) -> Result<IssuedToken> {
        let app = self.authenticated_app(client_id, client_secret).await?;
        let old = match self
            .db()
            .take_token_by_refresh(&hash_secret(refresh_token), app.id)
            .await
        {
            Err(StoreError::NotFound) => return Err(invalid_grant()),
            other => other?,
        };
        let scopes = parse_scopes(&old.scopes)?;
        self.issue_token(Some(app.id), old.account_id, &scopes)
            .await
    }

    /// Checks an authorization request before anything is shown or granted: the client
    /// exists, the redirect URI is one it registered, the scopes are within what it
    /// registered, and PKCE (if used) names S256.
    pub async fn authorization_request(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scope: Option<&str>,
        code_challenge: Option<&str>,
        code_challenge_method: Option<&str>,
    ) -> Result<AuthorizationRequest> {
        let app = self.app_by_client_id(client_id).await?;
        self.check_redirect(&app, redirect_uri)?;
        let scopes = Self::requested_scopes(&app, scope)?;
        // PKCE's default method is `plain`, which is not supported: S256 must be named.
        if code_challenge.is_some() && code_challenge_method != Some("S256") {
            return Err(ServiceError::BadRequest(
                "code_challenge_method must be S256".into(),
            ));
        }
        Ok(AuthorizationRequest {
            app,
            scopes,
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: code_challenge.map(str::to_owned),
        })
    }

    /// Grants a checked request for `account`: returns a one-time authorization code.
    pub async fn grant_authorization(
        &self,
        account: &AccountRecord,
        req: &AuthorizationRequest,
    ) -> Result<String> {
        if account.deactivated_at.is_some() {
            return Err(ServiceError::Forbidden(
                "Your account is deactivated".into(),
            ));
        }
        let code = new_secret();
        self.db()
            .create_code(
                &hash_secret(&code),
                &CodeRecord {
                    app_id: req.app.id,
                    account_id: account.id,
                    scopes: req.scopes.to_string(),
                    redirect_uri: req.redirect_uri.clone(),
                    code_challenge: req.code_challenge.clone(),
                    expires_at: now_millis() + CODE_TTL_MS,
                },
            )
            .await?;
        Ok(code)
    }

    /// The consent page's approval by a client that sends the credentials with it (no
    /// browser session): checks the request, signs in and returns a one-time code.
    #[allow(clippy::too_many_arguments)]
    pub async fn authorize(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scope: Option<&str>,
        login: &str,
        password: &str,
        code_challenge: Option<&str>,
        code_challenge_method: Option<&str>,
    ) -> Result<String> {
        let req = self
            .authorization_request(
                client_id,
                redirect_uri,
                scope,
                code_challenge,
                code_challenge_method,
            )
            .await?;
        let account = self.sign_in(login, password).await?;
        self.grant_authorization(&account, &req).await
    }

    /// Checks that `redirect_uri` is one the app registered.
    pub fn check_redirect(&self, app: &AppRecord, redirect_uri: &str) -> Result<()> {
        if app
            .redirect_uris
            .split_whitespace()
            .any(|u| u == redirect_uri)
        {
            Ok(())
        } else {
            Err(ServiceError::BadRequest(
                "redirect_uri is not one of the application's registered redirect URIs".into(),
            ))
        }
    }

    /// `POST /oauth/token`, `grant_type=authorization_code` (with PKCE when the code has a challenge).
    pub async fn authorization_code_grant(
        &self,
        client_id: &str,
        client_secret: Option<&str>,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
    ) -> Result<IssuedToken> {
        let app = self.app_by_client_id(client_id).await?;
        let record = match self.db().take_code(&hash_secret(code)).await {
            Err(StoreError::NotFound) => return Err(invalid_grant()),
            other => other?,
        };
        if record.app_id != app.id
            || record.expires_at < now_millis()
            // RFC 6749 §4.1.3: the redirect URI of the request must be sent again.
            || redirect_uri != Some(record.redirect_uri.as_str())
        {
            return Err(invalid_grant());
        }
        match (&record.code_challenge, code_verifier) {
            (Some(challenge), Some(verifier)) => {
                let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                if !same_secret(&computed, challenge) {
                    return Err(invalid_grant());
                }
            }
            (Some(_), None) => return Err(invalid_grant()),
            // Without PKCE the client must prove itself with its secret.
            (None, _) => {
                if !client_secret.is_some_and(|s| same_secret(&app.client_secret, s)) {
                    return Err(invalid_client());
                }
            }
        }
        let scopes = parse_scopes(&record.scopes)?;
        self.issue_token(Some(app.id), Some(record.account_id), &scopes)
            .await
    }

    /// `POST /oauth/revoke`: revokes a token of the calling app (unknown tokens are fine).
    pub async fn revoke(&self, client_id: &str, client_secret: &str, token: &str) -> Result<()> {
        let app = self.authenticated_app(client_id, client_secret).await?;
        let hash = hash_secret(token);
        // The token's id, for closing its live streams at once (a refresh secret finds
        // none here: its streams close at their next periodic check).
        let token_id = match self.db().token_by_hash(&hash).await {
            Ok((t, _)) if t.app_id == Some(app.id) => Some(t.id),
            Ok(_) | Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        if self.db().revoke_token(&hash, app.id).await? && token_id.is_some() {
            self.publish(crate::realtime::Event::AccessEnded {
                token_id,
                account_id: None,
            });
        }
        Ok(())
    }

    /// `starling admin token create`: a token for scripts and bots, outside any app.
    pub async fn admin_token(&self, username: &str, scopes: &str) -> Result<IssuedToken> {
        let scopes = parse_scopes(scopes)?;
        let account = self.db().account_by_username(username).await?;
        if account.deactivated_at.is_some() {
            return Err(ServiceError::invalid(format!(
                "account {username} is deactivated"
            )));
        }
        self.issue_token(None, Some(account.id), &scopes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashes_stable() {
        assert_ne!(new_secret(), new_secret());
        assert_eq!(hash_secret("x"), hash_secret("x"));
        assert_eq!(hash_secret("x").len(), 64);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
    }
}

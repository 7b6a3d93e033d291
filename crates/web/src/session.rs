//! Cookie sessions and anti-forgery tokens.
//!
//! The session cookie holds the secret of a web-session token (see
//! `starling_service::web_sessions`): HttpOnly (scripts never see it), SameSite=Lax (other
//! sites' forms do not carry it), Secure when the base URL is https. Every POST carries a
//! CSRF token in a hidden field: for a signed-in visitor it is derived from the session
//! secret; before sign-in (the sign-in and sign-up forms) it is a random value also set in
//! its own cookie, and the two must match (a double-submit check). Both comparisons are
//! constant-time.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use starling_service::auth::{Principal, new_secret};
use starling_service::{AccountRecord, ServiceError, Settings, Starling};
use std::sync::Arc;

use crate::error::WebError;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "starling_session";
/// Name of the cookie holding the anti-forgery token of signed-out forms.
pub const ANON_CSRF_COOKIE: &str = "starling_csrf";
/// How long the browser keeps the session cookie (30 days).
const SESSION_MAX_AGE: u64 = 30 * 24 * 3600;

/// The value of cookie `name` in the request, if any.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn attributes(settings: &Settings) -> &'static str {
    if settings.base_url().starts_with("https://") {
        "; Path=/; HttpOnly; SameSite=Lax; Secure"
    } else {
        "; Path=/; HttpOnly; SameSite=Lax"
    }
}

/// `Set-Cookie` value that stores a new session.
pub fn session_cookie(settings: &Settings, secret: &str) -> String {
    format!(
        "{SESSION_COOKIE}={secret}{}; Max-Age={SESSION_MAX_AGE}",
        attributes(settings)
    )
}

/// `Set-Cookie` value that deletes the session cookie.
pub fn clear_session_cookie(settings: &Settings) -> String {
    format!("{SESSION_COOKIE}={}; Max-Age=0", attributes(settings))
}

/// Compares two tokens in constant time (for equal lengths; lengths are not secret).
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A signed-in visitor.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's token, as the service sees it.
    pub principal: Principal,
    /// The signed-in account.
    pub account: Arc<AccountRecord>,
    /// The session's secret (from the cookie), needed to sign out.
    pub secret: String,
    /// The anti-forgery token every form of this session carries.
    pub csrf: String,
}

impl Session {
    /// Checks a submitted anti-forgery token; 403 when it is not this session's.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), WebError> {
        if same_token(&self.csrf, submitted) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }
}

/// The session of the request's cookie: `None` without one, or when the cookie's token is
/// unknown or revoked (the visitor simply signs in again); a failing database is an error,
/// not a sign-out.
async fn load(app: &Starling, headers: &HeaderMap) -> Result<Option<Session>, WebError> {
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let principal = match app.web_session(&secret).await {
        Ok(p) => p,
        Err(ServiceError::Unauthorized(_) | ServiceError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(account) = principal.account.clone() else {
        return Ok(None);
    };
    Ok(Some(Session {
        principal,
        account,
        csrf: Starling::csrf_token_for(&secret),
        secret,
    }))
}

/// The visitor's session, if signed in.
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<Session>);

impl FromRequestParts<Starling> for MaybeSession {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, app: &Starling) -> Result<Self, WebError> {
        Ok(Self(load(app, &parts.headers).await?))
    }
}

/// A signed-in visitor; anyone else is sent to the sign-in page and back here afterwards.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Session);

impl FromRequestParts<Starling> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, app: &Starling) -> Result<Self, WebError> {
        match load(app, &parts.headers).await? {
            Some(s) => Ok(Self(s)),
            None => {
                // After signing in, a GET comes back to the page; a POST (whose form is
                // gone) to the home page.
                let next = if parts.method == axum::http::Method::GET {
                    parts
                        .uri
                        .path_and_query()
                        .map_or("/", |p| p.as_str())
                        .to_owned()
                } else {
                    "/home".to_owned()
                };
                Err(WebError::SignInRequired { next })
            }
        }
    }
}

/// The anti-forgery token of a signed-out form: the visitor's existing one, or a new one
/// with the `Set-Cookie` value that stores it.
pub fn anon_csrf(headers: &HeaderMap, settings: &Settings) -> (String, Option<String>) {
    match cookie(headers, ANON_CSRF_COOKIE) {
        Some(token) => (token, None),
        None => {
            let token = new_secret();
            let set = format!("{ANON_CSRF_COOKIE}={token}{}", attributes(settings));
            (token, Some(set))
        }
    }
}

/// Checks the anti-forgery token of a signed-out form against its cookie.
pub fn check_anon_csrf(headers: &HeaderMap, submitted: &str) -> Result<(), WebError> {
    match cookie(headers, ANON_CSRF_COOKIE) {
        Some(expected) if same_token(&expected, submitted) => Ok(()),
        _ => Err(WebError::Csrf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("xstarling_session=no; starling_session=yes; a=b"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("yes"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn secure_only_over_https() {
        let mut s = Settings::default();
        assert!(!session_cookie(&s, "x").contains("Secure"));
        s.base_url = Some("https://example.org".into());
        let c = session_cookie(&s, "x");
        assert!(c.contains("; Secure") && c.contains("HttpOnly") && c.contains("SameSite=Lax"));
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert!(!same_token("", "x"));
    }
}

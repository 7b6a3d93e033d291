//! Throttling of password sign-in attempts per login name, so a password cannot be
//! guessed by brute force through the OAuth endpoints or the consent page.

use crate::{Result, ServiceError};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

/// Keys kept before forgetting idle ones (bounds memory under a spray of login names).
const MAX_KEYS: usize = 100_000;

/// A per-login limit on sign-in attempts; `None` inside when disabled.
#[derive(Debug)]
pub(crate) struct SignInThrottle {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

impl SignInThrottle {
    /// Allows `per_minute` attempts per login (bursting up to that many); 0 disables it.
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    /// Counts one attempt for `login`; 429 when over the limit.
    pub(crate) fn check(&self, login: &str) -> Result<()> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() > MAX_KEYS {
            limiter.retain_recent();
        }
        limiter
            .check_key(&login.trim().to_lowercase())
            .map_err(|_| {
                ServiceError::RateLimited(
                    "Too many sign-in attempts for this account; wait a minute and try again"
                        .into(),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_login_and_can_be_disabled() {
        let t = SignInThrottle::new(3);
        for _ in 0..3 {
            assert!(t.check("Ana").is_ok());
        }
        assert!(matches!(t.check("ana "), Err(ServiceError::RateLimited(_))));
        assert!(t.check("ben").is_ok(), "other logins are not affected");
        let off = SignInThrottle::new(0);
        for _ in 0..100 {
            assert!(off.check("ana").is_ok());
        }
    }
}

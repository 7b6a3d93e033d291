//! Web Push: phones and browsers that are not connected are woken by their push service
//! (Mozilla's, Google's, Apple's, or a Mastodon app's relay) when a notification arrives.
//!
//! A client registers a subscription per access token (Mastodon's
//! `/api/v1/push/subscription`): the push service's endpoint URL and the keys to encrypt
//! for. Every notification whose type the subscription's alerts include is queued for it in
//! the same transaction that stores the notification (see `starling_store::push`); a
//! background worker ([`Starling::run_push_worker`], in `delivery`) applies the policy and
//! the visibility rule, encrypts Mastodon's push JSON for the subscriber and POSTs it with
//! a VAPID signature. Posting never waits for any of that.

mod crypto;
mod delivery;

pub use crypto::PushCryptoError;
pub(crate) use crypto::VapidKey;
pub(crate) use delivery::retry_delay;
pub use starling_store::push::PushSubscriptionRecord;

use crate::auth::Principal;
use crate::{Result, ServiceError, Starling};
use starling_domain::id::now_millis;
use starling_domain::push::{Alerts, PushPolicy};
use starling_store::Db;

/// Name under which the VAPID private key is kept in the database.
const VAPID_KEY_NAME: &str = "vapid_private_key";
/// Longest endpoint URL accepted (push services' URLs are a few hundred bytes).
const MAX_ENDPOINT_LEN: usize = 2048;

/// The alerts and policy of a subscription (`data[alerts][…]`, `data[policy]`), as sent.
#[derive(Debug, Clone, Default)]
pub struct PushData {
    /// Alert types sent with their value; types not sent are off, unknown types are
    /// ignored (as Mastodon does).
    pub alerts: Vec<(String, bool)>,
    /// `all` (the default), `followed`, `follower` or `none`.
    pub policy: Option<String>,
}

/// A new subscription, as a client sends it (`subscription[…]` and `data[…]`).
#[derive(Debug, Clone, Default)]
pub struct NewPushSubscription {
    /// `subscription[endpoint]`: where pushes are POSTed.
    pub endpoint: Option<String>,
    /// `subscription[keys][p256dh]`: the subscriber's public key.
    pub p256dh: Option<String>,
    /// `subscription[keys][auth]`: the subscriber's authentication secret.
    pub auth: Option<String>,
    /// `data`.
    pub data: PushData,
}

impl PushData {
    fn parse(&self) -> Result<(Alerts, PushPolicy)> {
        let alerts = self
            .alerts
            .iter()
            .fold(Alerts::NONE, |a, (kind, on)| a.with(kind, *on));
        let policy = match self.policy.as_deref().map(str::trim) {
            None | Some("") => PushPolicy::All,
            Some(p) => PushPolicy::parse(p).map_err(|e| ServiceError::invalid(e.to_string()))?,
        };
        Ok((alerts, policy))
    }
}

/// The endpoint of a subscription: an https URL, or plain http to a loopback address (a
/// push relay on the same machine, and the tests' push service).
fn parse_endpoint(raw: &str) -> Result<url::Url> {
    let refuse = || {
        ServiceError::invalid(
            "subscription[endpoint] must be an https URL (http only to 127.0.0.1 or localhost)",
        )
    };
    let raw = raw.trim();
    if raw.len() > MAX_ENDPOINT_LEN {
        return Err(ServiceError::invalid(format!(
            "subscription[endpoint] must be at most {MAX_ENDPOINT_LEN} characters"
        )));
    }
    let url = url::Url::parse(raw).map_err(|_| refuse())?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(refuse()),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(refuse()),
    }
}

/// Loads the VAPID key pair, generating and storing it on the very first start.
pub(crate) async fn load_vapid_key(db: &Db) -> Result<VapidKey> {
    let candidate = VapidKey::generate();
    let stored = db
        .server_key(VAPID_KEY_NAME, &candidate.private_key(), now_millis())
        .await?;
    VapidKey::from_private_key(&stored).map_err(|e| ServiceError::Internal(Box::new(e)))
}

impl Starling {
    /// The server's VAPID public key (base64url, uncompressed P-256 point): what clients
    /// hand the browser as `applicationServerKey`, and the `k` of every push request.
    pub fn vapid_public_key(&self) -> &str {
        self.vapid().public_key()
    }

    /// `POST /api/v1/push/subscription`: subscribes the token, replacing its subscription
    /// if it had one.
    pub async fn subscribe_push(
        &self,
        p: &Principal,
        new: NewPushSubscription,
    ) -> Result<PushSubscriptionRecord> {
        let me = p.account()?;
        let required = |v: Option<String>, field: &str| {
            v.filter(|v| !v.trim().is_empty())
                .ok_or_else(|| ServiceError::invalid(format!("{field} is required")))
        };
        let endpoint = parse_endpoint(&required(new.endpoint, "subscription[endpoint]")?)?;
        let p256dh = crypto::parse_p256dh(&required(new.p256dh, "subscription[keys][p256dh]")?)
            .ok_or_else(|| {
                ServiceError::invalid(
                    "subscription[keys][p256dh] must be a base64url-encoded uncompressed \
                     P-256 public key (65 bytes)",
                )
            })?;
        let auth = crypto::parse_auth(&required(new.auth, "subscription[keys][auth]")?)
            .ok_or_else(|| {
                ServiceError::invalid(
                    "subscription[keys][auth] must be a base64url-encoded 16-byte secret",
                )
            })?;
        let (alerts, policy) = new.data.parse()?;
        let record = PushSubscriptionRecord {
            id: self.next_id(),
            token_id: p.token_id,
            account_id: me.id,
            endpoint: endpoint.to_string(),
            p256dh: crypto::encode_public_key(&p256dh),
            auth: base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, auth),
            alerts,
            policy: policy.as_str().to_owned(),
            created_at: now_millis(),
        };
        self.db().replace_push_subscription(&record).await?;
        Ok(record)
    }

    /// `GET /api/v1/push/subscription`: the token's subscription (404 if none).
    pub async fn push_subscription(&self, p: &Principal) -> Result<PushSubscriptionRecord> {
        p.account()?;
        Ok(self.db().push_subscription_of_token(p.token_id).await?)
    }

    /// `PUT /api/v1/push/subscription`: replaces the alerts and policy (as Mastodon does,
    /// alerts not sent are switched off and a missing policy is `all`); 404 if the token
    /// has no subscription.
    pub async fn update_push_subscription(
        &self,
        p: &Principal,
        data: PushData,
    ) -> Result<PushSubscriptionRecord> {
        p.account()?;
        let (alerts, policy) = data.parse()?;
        Ok(self
            .db()
            .update_push_subscription(p.token_id, alerts, policy.as_str())
            .await?)
    }

    /// Pushes queued and not yet delivered or given up (for operators and tests).
    pub async fn push_backlog(&self) -> Result<i64> {
        Ok(self.db().push_backlog().await?)
    }

    /// `DELETE /api/v1/push/subscription`: removes the token's subscription and its queued
    /// pushes (fine if there is none).
    pub async fn unsubscribe_push(&self, p: &Principal) -> Result<()> {
        p.account()?;
        self.db()
            .delete_push_subscription_of_token(p.token_id)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_or_loopback_http() {
        for ok in [
            "https://updates.push.services.mozilla.com/wpush/v2/abc",
            "https://push.example:8443/x",
            "http://127.0.0.1:9/push",
            "http://localhost/push",
            "http://[::1]:80/push",
        ] {
            assert!(parse_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://push.example/x",
            "ftp://push.example/x",
            "not a url",
            "https://",
            "mailto:push@example.com",
            "",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
        let long = format!("https://push.example/{}", "a".repeat(MAX_ENDPOINT_LEN));
        assert!(parse_endpoint(&long).is_err());
    }

    #[test]
    fn data_defaults_to_no_alerts_and_policy_all() {
        let (alerts, policy) = PushData::default().parse().unwrap();
        assert_eq!((alerts, policy), (Alerts::NONE, PushPolicy::All));
        let data = PushData {
            alerts: vec![
                ("mention".into(), true),
                ("favourite".into(), false),
                ("admin.sign_up".into(), true),
            ],
            policy: Some("followed".into()),
        };
        let (alerts, policy) = data.parse().unwrap();
        assert_eq!(alerts, Alerts::NONE.with("mention", true));
        assert_eq!(policy, PushPolicy::Followed);
        let bad = PushData {
            policy: Some("friends".into()),
            ..PushData::default()
        };
        assert!(
            matches!(bad.parse(), Err(ServiceError::Validation(m)) if m.contains("data[policy]"))
        );
    }
}

//! E-mail notifications: people who are not looking at Starling hear by mail when someone
//! mentions them, sends them a direct message or follows them, and, if they ask, get a
//! daily digest of what they missed. Off unless an SMTP server is configured (`smtp_url`).
//!
//! It mirrors Web Push (`crate::push`): a notification's mail is queued in the transaction
//! that stores the notification, for recipients whose preference for that kind is on
//! (`starling_store::email`); a background worker ([`Starling::run_mail_worker`], in
//! `delivery`) re-checks the preference and the visibility rule, writes the message
//! (`message`) and sends it through SMTP with lettre, retrying with backoff. Requests never
//! wait on the SMTP server. The same worker queues each opted-in person's digest once a day.

mod delivery;
pub mod message;

pub use delivery::{DigestOutcome, DigestReport};
pub use starling_domain::email::{EmailKind, EmailPreferences};

use crate::auth::Principal;
use crate::{Result, ServiceError, Settings, Starling};
use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use starling_domain::id::now_millis;
use starling_store::email::EmailJob;
use std::time::Duration;
use thiserror::Error;

/// A day, in milliseconds: how often a digest goes out, and what it covers.
pub(crate) const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Longest wait for the SMTP server to answer one command.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Most SMTP connections kept open at once (the worker sends a few mails in parallel).
const SMTP_CONNECTIONS: u32 = 4;

/// Why the e-mail settings cannot be used; names the setting.
#[derive(Debug, Error)]
pub enum MailConfigError {
    /// `smtp_url` is not an SMTP URL lettre can connect with.
    #[error("invalid smtp_url {url}: {source}")]
    SmtpUrl {
        /// The URL, without any password.
        url: String,
        /// What lettre said.
        source: lettre::transport::smtp::Error,
    },
    /// `mail_from` (or the address derived from `base_url`) is not a mailbox.
    #[error("invalid mail_from {value:?}: {source}")]
    From {
        /// The value in force.
        value: String,
        /// What is wrong with it.
        source: lettre::address::AddressError,
    },
}

/// What sends mail: the SMTP transport (with its connection pool) and the sender.
#[derive(Debug, Clone)]
pub(crate) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// The mailer for `settings`, or `None` when no SMTP server is configured. Connects to
    /// nothing yet: the first mail opens the first connection. Needs a Tokio runtime (the
    /// connection pool starts its own task).
    pub(crate) fn from_settings(
        settings: &Settings,
    ) -> std::result::Result<Option<Self>, MailConfigError> {
        Ok(prepare(settings)?.map(|(builder, from)| Self {
            transport: builder.build(),
            from,
        }))
    }
}

/// The transport builder and the sender for `settings`, checked, or `None` when no SMTP
/// server is configured.
fn prepare(
    settings: &Settings,
) -> std::result::Result<Option<(AsyncSmtpTransportBuilder, Mailbox)>, MailConfigError> {
    let Some(raw) = settings
        .smtp_url
        .as_deref()
        .filter(|_| settings.email_enabled())
    else {
        return Ok(None);
    };
    let url_error = |source| MailConfigError::SmtpUrl {
        url: settings.redacted_smtp_url().unwrap_or_default(),
        source,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(raw.trim())
        .map_err(url_error)?
        .timeout(Some(SMTP_TIMEOUT))
        .pool_config(PoolConfig::new().max_size(SMTP_CONNECTIONS));
    // EHLO with the instance's own name, unless the URL names one (`smtp://host/name`),
    // rather than lettre's `localhost`, which some servers score as spam.
    let names_itself = url::Url::parse(raw.trim()).is_ok_and(|u| u.path().len() > 1);
    if !names_itself && let Some(id) = client_id(&settings.base_url()) {
        builder = builder.hello_name(id);
    }
    let from = match settings.mail_from.as_deref().map(str::trim) {
        Some(value) if !value.is_empty() => {
            value
                .parse::<Mailbox>()
                .map_err(|source| MailConfigError::From {
                    value: value.to_owned(),
                    source,
                })?
        }
        _ => default_sender(settings)?,
    };
    Ok(Some((builder, from)))
}

/// The sender when `mail_from` is unset: the network's name and `notifications@` the host
/// of the base URL; `localhost` when that is an IP address (lettre cannot write an address
/// literal such as `[127.0.0.1]` into a `From:` header and read it back).
fn default_sender(settings: &Settings) -> std::result::Result<Mailbox, MailConfigError> {
    let domain = url::Url::parse(&settings.base_url())
        .ok()
        .and_then(|u| match u.host() {
            Some(url::Host::Domain(d)) => Some(d.to_owned()),
            _ => None,
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let address =
        lettre::Address::new("notifications", &domain).map_err(|source| MailConfigError::From {
            value: format!("notifications@{domain}"),
            source,
        })?;
    Ok(Mailbox::new(Some(settings.network_name.clone()), address))
}

/// The EHLO name for a base URL: its host name, or its address as a literal.
fn client_id(base_url: &str) -> Option<ClientId> {
    let url = url::Url::parse(base_url).ok()?;
    Some(match url.host()? {
        url::Host::Domain(d) => ClientId::Domain(d.to_owned()),
        url::Host::Ipv4(ip) => ClientId::Ipv4(ip),
        url::Host::Ipv6(ip) => ClientId::Ipv6(ip),
    })
}

/// Checks the e-mail settings without starting anything, so `serve` can refuse a bad
/// `smtp_url` or `mail_from` with a message naming it.
pub fn check_mail_settings(settings: &Settings) -> std::result::Result<(), MailConfigError> {
    prepare(settings).map(|_| ())
}

/// Changes to a person's e-mail preferences; `None` leaves a switch as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmailPreferencesUpdate {
    /// Mail for mentions.
    pub mention: Option<bool>,
    /// Mail for direct messages.
    pub direct: Option<bool>,
    /// Mail for new followers and follow requests.
    pub follow: Option<bool>,
    /// The daily digest.
    pub digest: Option<bool>,
}

impl Starling {
    /// Whether e-mail notifications are on (an SMTP server is configured).
    pub fn email_enabled(&self) -> bool {
        self.mailer().is_some()
    }

    /// `GET /api/v1/email_preferences`: the signed-in person's e-mail preferences.
    pub async fn email_preferences(&self, p: &Principal) -> Result<EmailPreferences> {
        let me = p.account()?;
        Ok(self.db().email_preferences(me.id).await?)
    }

    /// `PATCH /api/v1/email_preferences`: changes the switches sent, keeps the others.
    pub async fn update_email_preferences(
        &self,
        p: &Principal,
        changes: EmailPreferencesUpdate,
    ) -> Result<EmailPreferences> {
        let me = p.account()?;
        let current = self.db().email_preferences(me.id).await?;
        let updated = [
            (EmailKind::Mention, changes.mention),
            (EmailKind::Direct, changes.direct),
            (EmailKind::Follow, changes.follow),
            (EmailKind::Digest, changes.digest),
        ]
        .into_iter()
        .fold(current, |prefs, (kind, on)| match on {
            Some(on) => prefs.with(kind, on),
            None => prefs,
        });
        self.db()
            .set_email_preferences(me.id, updated, now_millis())
            .await?;
        Ok(updated)
    }

    /// E-mails queued and not yet sent or given up (for operators and tests).
    pub async fn email_backlog(&self) -> Result<i64> {
        Ok(self.db().email_backlog().await?)
    }

    /// Queues a digest for every opted-in account whose last one was queued at or before
    /// `due_before`, in batches, already claimed until `lease_until` when given (see
    /// `Db::queue_digests`); returns the jobs.
    pub(crate) async fn queue_digests(
        &self,
        due_before: i64,
        lease_until: Option<i64>,
    ) -> Result<Vec<EmailJob>> {
        const BATCH: usize = 100;
        let mut all = Vec::new();
        loop {
            let ids: Vec<i64> = (0..BATCH).map(|_| self.next_id()).collect();
            // Each batch is stamped with its own time, which is after `due_before`, so a
            // batch never claims an account an earlier batch took.
            let now = now_millis().max(due_before + 1);
            let jobs = self
                .db()
                .queue_digests(now, due_before, &ids, lease_until)
                .await?;
            let done = jobs.len() < BATCH;
            all.extend(jobs);
            if done {
                return Ok(all);
            }
        }
    }

    /// `starling admin send-digests`: queues a digest for every opted-in account now,
    /// whenever its last one went out (each account's next scheduled digest is then a day
    /// later), and sends them from this process, calling `progress` for each. They are
    /// queued already claimed by this process, so running servers leave them alone unless
    /// it dies (then they go out after the lease); failures stay queued for the servers to
    /// retry. Refused when e-mail is off.
    pub async fn send_digests_now(
        &self,
        mut progress: impl FnMut(&DigestReport),
    ) -> Result<Vec<DigestReport>> {
        if self.mailer().is_none() {
            return Err(ServiceError::invalid(
                "e-mail is off: set smtp_url to send digests",
            ));
        }
        let now = now_millis();
        let jobs = self
            .queue_digests(now - 1, Some(now + delivery::LEASE.as_millis() as i64))
            .await?;
        self.deliver_digests(jobs, &mut progress).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(smtp: Option<&str>, from: Option<&str>) -> Settings {
        Settings {
            base_url: Some("https://social.example".into()),
            smtp_url: smtp.map(str::to_owned),
            mail_from: from.map(str::to_owned),
            ..Settings::default()
        }
    }

    #[test]
    fn no_smtp_url_means_no_mailer() {
        assert!(prepare(&settings(None, None)).unwrap().is_none());
        assert!(prepare(&settings(Some("  "), None)).unwrap().is_none());
    }

    #[tokio::test]
    async fn a_mailer_is_built_without_connecting() {
        let s = settings(Some("smtp://127.0.0.1:9"), None);
        assert!(Mailer::from_settings(&s).unwrap().is_some());
    }

    #[test]
    fn smtp_urls_and_senders_are_checked() {
        for ok in [
            "smtp://127.0.0.1:2525",
            "smtp://user:secret@mail.example:587?tls=required",
            "smtps://mail.example",
        ] {
            assert!(
                prepare(&settings(Some(ok), None)).unwrap().is_some(),
                "{ok}"
            );
        }
        let err = check_mail_settings(&settings(Some("http://user:secret@mail.example"), None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("smtp_url") && !err.contains("secret"), "{err}");
        let err = check_mail_settings(&settings(
            Some("smtp://mail.example"),
            Some("not an address"),
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("mail_from"), "{err}");
    }

    #[test]
    fn the_default_sender_is_the_network_at_the_base_url_host() {
        for (base, address) in [
            ("https://social.example", "notifications@social.example"),
            ("http://127.0.0.1:8080", "notifications@localhost"),
            ("http://[::1]:8080", "notifications@localhost"),
        ] {
            let s = Settings {
                base_url: Some(base.into()),
                network_name: "Acme, \"Inc.\"".into(),
                smtp_url: Some("smtp://127.0.0.1:25".into()),
                ..Settings::default()
            };
            let (_, from) = prepare(&s).unwrap().unwrap();
            assert_eq!(from.email.to_string(), address);
            // It survives lettre's reading of the `From:` header.
            assert_eq!(from.to_string().parse::<Mailbox>().unwrap(), from);
            assert_eq!(from.name.as_deref(), Some("Acme, \"Inc.\""));
        }
    }
}

//! Settings: one typed struct, filled from defaults, a TOML file, `STARLING_*` environment
//! variables and command-line flags (in that order, later wins) by the server crate.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything an operator can configure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Public base URL (scheme, host, port) used in links and for the streaming URL;
    /// defaults to `http://<listen>`.
    pub base_url: Option<String>,
    /// Folder for the embedded database and uploaded files.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `sqlite://<data_dir>/starling.db`.
    pub database_url: Option<String>,
    /// Name of the network, shown to users and clients.
    pub network_name: String,
    /// One-paragraph description of the network.
    pub network_description: String,
    /// E-mail domains allowed to sign up; empty means any.
    pub allowed_email_domains: Vec<String>,
    /// Whether people may sign up themselves (admins can always create accounts).
    pub registrations_open: bool,
    /// Longest post, in characters (grapheme clusters; a URL counts 23).
    pub max_post_chars: usize,
    /// Followers count from which an account's posts are merged into home timelines on
    /// read instead of being copied to every follower on write.
    pub celebrity_threshold: i64,
    /// Fan-out workers per node on PostgreSQL, each copying its own batch of queued posts
    /// into home feeds at the same time (at least 1; SQLite always runs one, as it has one
    /// writer). Each busy worker holds one of the node's 16 database connections.
    pub fan_out_workers: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Password sign-in attempts allowed per login name and minute (0 = unlimited).
    pub sign_in_attempts_per_minute: u32,
    /// Most participants of a direct message, the author included (so 50 means the author
    /// and up to 49 mentioned accounts); a direct post mentioning more is refused.
    pub max_direct_participants: usize,
    /// Seconds between heartbeats on idle streaming connections (an SSE `:thump` comment,
    /// a WebSocket ping), so that proxies do not close them.
    pub streaming_heartbeat_secs: u64,
    /// Events kept for streaming clients that read slowly; a client further behind is
    /// disconnected (it reconnects and catches up over REST), so it never holds up others.
    pub streaming_buffer: usize,
    /// Contact that push services see on every Web Push (the VAPID `sub` claim): a
    /// `mailto:` or `https:` URL. Unset: the base URL when it is https, else
    /// `mailto:postmaster@<host>`.
    pub push_contact: Option<String>,
    /// Milliseconds between looks at the push queue when nothing wakes the worker (pushes
    /// queued on another node, retries coming due).
    pub push_poll_interval_ms: u64,
    /// Delay before retrying a push the push service refused for now (429, 5xx, network
    /// error), in milliseconds; it doubles with each attempt.
    pub push_retry_base_ms: u64,
    /// Longest delay between two attempts of a push, in milliseconds.
    pub push_retry_max_ms: u64,
    /// Attempts after which a push is given up.
    pub push_max_attempts: u32,
    /// SMTP server for e-mail notifications; unset (the default) turns e-mail off: nothing
    /// is queued and no mail worker runs. `smtp://HOST:PORT` (plain; add `?tls=required`
    /// for STARTTLS, `?tls=opportunistic` to use it when offered), `smtps://HOST:PORT`
    /// (TLS from the start); credentials as `smtp://USER:PASSWORD@HOST` (percent-encoded).
    /// Certificates are checked against the bundled Mozilla roots.
    pub smtp_url: Option<String>,
    /// Sender of e-mail notifications: `name@example.com` or `Name <name@example.com>`.
    /// Unset: the network's name with `notifications@<host of base_url>` (`localhost`
    /// when that host is an IP address).
    pub mail_from: Option<String>,
    /// Milliseconds between looks at the e-mail queue when nothing wakes the worker
    /// (mail queued on another node, retries coming due).
    pub mail_poll_interval_ms: u64,
    /// Delay before retrying an e-mail the SMTP server refused for now (4xx, network
    /// error), in milliseconds; it doubles with each attempt.
    pub mail_retry_base_ms: u64,
    /// Longest delay between two attempts of an e-mail, in milliseconds.
    pub mail_retry_max_ms: u64,
    /// Attempts after which an e-mail is given up.
    pub mail_max_attempts: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: None,
            data_dir: PathBuf::from("starling-data"),
            database_url: None,
            network_name: "Starling".to_owned(),
            network_description: "Our organisation's microsharing network.".to_owned(),
            allowed_email_domains: Vec::new(),
            registrations_open: true,
            max_post_chars: 140,
            celebrity_threshold: 10_000,
            fan_out_workers: 4,
            max_body_bytes: 1024 * 1024,
            sign_in_attempts_per_minute: 10,
            max_direct_participants: 50,
            streaming_heartbeat_secs: 15,
            streaming_buffer: 4096,
            push_contact: None,
            push_poll_interval_ms: 1000,
            push_retry_base_ms: 30_000,
            push_retry_max_ms: 3_600_000,
            push_max_attempts: 8,
            smtp_url: None,
            mail_from: None,
            mail_poll_interval_ms: 1000,
            mail_retry_base_ms: 60_000,
            mail_retry_max_ms: 3_600_000,
            mail_max_attempts: 8,
        }
    }
}

impl Settings {
    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("starling.db").display()))
    }

    /// The public base URL without a trailing slash. Borrowed once
    /// [`with_base_url_fixed`](Self::with_base_url_fixed) has run (the app does it when it
    /// opens): every account and post in a response links to it.
    pub fn base_url(&self) -> Cow<'_, str> {
        match &self.base_url {
            Some(url) => Cow::Borrowed(url.trim_end_matches('/')),
            None => Cow::Owned(format!("http://{}", self.listen)),
        }
    }

    /// These settings with the base URL spelled out (from the listen address when none
    /// was given), so that reading it allocates nothing.
    pub fn with_base_url_fixed(mut self) -> Self {
        self.base_url = Some(self.base_url().into_owned());
        self
    }

    /// Host (and port) part of the base URL, as Mastodon's `uri`/`domain`.
    pub fn host(&self) -> String {
        let base = self.base_url();
        url::Url::parse(&base)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_owned(),
                })
            })
            .unwrap_or_else(|| base.into_owned())
    }

    /// The interval between streaming heartbeats (at least a second).
    pub fn streaming_heartbeat(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.streaming_heartbeat_secs.max(1))
    }

    /// The VAPID contact in force (see [`Settings::push_contact`](Self#structfield.push_contact)).
    pub fn push_contact(&self) -> String {
        if let Some(contact) = self
            .push_contact
            .as_deref()
            .filter(|c| !c.trim().is_empty())
        {
            return contact.trim().to_owned();
        }
        let base = self.base_url();
        if base.starts_with("https://") {
            return base.into_owned();
        }
        let host = url::Url::parse(&base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".to_owned());
        format!("mailto:postmaster@{host}")
    }

    /// Whether e-mail notifications are on (an SMTP server is configured).
    pub fn email_enabled(&self) -> bool {
        self.smtp_url
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty())
    }

    /// The SMTP URL with any password replaced by `***`, fit for logs.
    pub fn redacted_smtp_url(&self) -> Option<String> {
        let raw = self.smtp_url.as_deref()?;
        Some(match url::Url::parse(raw) {
            Ok(mut parsed) if parsed.password().is_some() => {
                // Only fails for URLs that cannot have a password, which this one has.
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            Ok(parsed) => parsed.to_string(),
            Err(_) => "(not a URL)".to_owned(),
        })
    }

    /// The avatar shown for every account (Starling has no uploaded avatars yet).
    pub fn default_avatar_url(&self) -> String {
        format!("{}/avatars/original/missing.png", self.base_url())
    }

    /// The streaming API's base (`ws://` or `wss://` matching the base URL's scheme).
    pub fn streaming_url(&self) -> String {
        let base = self.base_url();
        if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.into_owned()
        }
    }
}

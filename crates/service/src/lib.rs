//! Starling's use cases: everything the HTTP API and the web UI can do, written once.
//!
//! Front ends authenticate, parse, call one function of [`Starling`] and convert the
//! result; the rules (who may see what, what a valid post is) live here and in the domain.

pub mod accounts;
pub mod auth;
pub mod config;
pub mod conversations;
pub mod credentials;
pub mod email;
pub mod error;
mod fan_out;
pub mod groups;
pub mod interactions;
pub mod lists;
pub mod notifications;
pub mod push;
pub mod realtime;
pub mod search;
pub mod seed;
pub mod social;
mod stats;
pub mod statuses;
pub mod tags;
mod throttle;
pub mod timelines;
pub mod views;
mod visibility;
pub mod web_sessions;

pub use config::Settings;
pub use error::{Result, ServiceError};
pub use starling_store::social::AccountList;
pub use starling_store::timelines::AccountTimelineFilter;
pub use starling_store::{
    AccountRecord, AppRecord, Db, EditRecord, MarkerRecord, NotificationRecord, Page,
    RelationshipRecord, StatusRecord,
};

use starling_domain::id::IdGenerator;
use std::sync::Arc;

/// The application: settings, database and id generator, cheap to clone and share.
#[derive(Clone, Debug)]
pub struct Starling {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    settings: Settings,
    ids: IdGenerator,
    sign_in_throttle: throttle::SignInThrottle,
    /// Password hashes computed at once, at most one per two cores: each argon2 run takes
    /// ~19 MiB, so a burst of sign-ins (64 at once in the benchmark) would otherwise take
    /// over a gigabyte. One per core took the benchmark server's peak to 76 MiB on two
    /// cores (against a 64 MiB target) and left no core for other requests meanwhile;
    /// one hash is ~25 ms, so a core still signs in ~40 people a second.
    password_hashing: Arc<tokio::sync::Semaphore>,
    /// What the fan-out worker and the posts it serves share (see [`fan_out`]).
    fan_out: fan_out::FanOutState,
    /// Network statistics with the time they were counted (see [`Starling::stats`]).
    stats: Arc<stats::StatsCache>,
    /// Carries events to this node's streaming subscriptions.
    hub: realtime::Hub,
    /// Carries events to and from the other nodes on the same PostgreSQL database;
    /// `None` on SQLite.
    relay: Option<realtime::Relay>,
    /// Wakes the push worker when notifications (and so perhaps pushes) were stored.
    push_wake: tokio::sync::Notify,
    /// The server's VAPID key pair, which signs Web Push requests.
    vapid: push::VapidKey,
    /// Sends e-mail notifications; `None` when no SMTP server is configured.
    mailer: Option<email::Mailer>,
    /// Wakes the mail worker when notifications (and so perhaps e-mails) were stored.
    mail_wake: tokio::sync::Notify,
    /// The web UI's application, loaded (or made) once (see `web_sessions`).
    web_app: tokio::sync::OnceCell<AppRecord>,
}

impl Starling {
    /// Connects to the configured database (applying migrations) and builds the application.
    pub async fn open(settings: Settings) -> Result<Self> {
        let db = Db::connect(&settings.database_url()).await?;
        Self::with_db(settings, db).await
    }

    /// Builds the application around an open database, loading the server's keys from it
    /// (and making them on the first start). Notifications queue e-mails only when an
    /// SMTP server is configured.
    pub async fn with_db(settings: Settings, db: Db) -> Result<Self> {
        let settings = settings.with_base_url_fixed();
        let hub = realtime::Hub::new(settings.streaming_buffer);
        let vapid = push::load_vapid_key(&db).await?;
        let mailer = email::Mailer::from_settings(&settings)
            .map_err(|e| ServiceError::Internal(Box::new(e)))?;
        let db = db.with_email_jobs(mailer.is_some());
        let relay = realtime::Relay::for_db(&db);
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                sign_in_throttle: throttle::SignInThrottle::new(
                    settings.sign_in_attempts_per_minute,
                ),
                password_hashing: Arc::new(tokio::sync::Semaphore::new(
                    (std::thread::available_parallelism().map_or(1, |n| n.get()) / 2).max(1),
                )),
                settings,
                ids: IdGenerator::new(),
                stats: Arc::default(),
                fan_out: fan_out::FanOutState::default(),
                hub,
                relay,
                push_wake: tokio::sync::Notify::new(),
                vapid,
                mailer,
                mail_wake: tokio::sync::Notify::new(),
                web_app: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    pub(crate) fn sign_in_throttle(&self) -> &throttle::SignInThrottle {
        &self.inner.sign_in_throttle
    }

    pub(crate) fn stats_cache(&self) -> &Arc<stats::StatsCache> {
        &self.inner.stats
    }

    pub(crate) fn fan_out_state(&self) -> &fan_out::FanOutState {
        &self.inner.fan_out
    }

    pub(crate) fn push_wake(&self) -> &tokio::sync::Notify {
        &self.inner.push_wake
    }

    pub(crate) fn mailer(&self) -> Option<&email::Mailer> {
        self.inner.mailer.as_ref()
    }

    pub(crate) fn mail_wake(&self) -> &tokio::sync::Notify {
        &self.inner.mail_wake
    }

    pub(crate) fn vapid(&self) -> &push::VapidKey {
        &self.inner.vapid
    }

    pub(crate) fn web_app_cell(&self) -> &tokio::sync::OnceCell<AppRecord> {
        &self.inner.web_app
    }

    pub(crate) fn hub(&self) -> &realtime::Hub {
        &self.inner.hub
    }

    pub(crate) fn next_id(&self) -> i64 {
        self.inner.ids.next_id()
    }

    /// Closes the database pools.
    pub async fn close(&self) {
        self.inner.db.close().await;
    }
}

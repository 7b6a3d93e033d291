//! Live subscriptions: which streams a connection follows (Mastodon's `user`, `public`,
//! `hashtag`, `list`, `direct`… and Starling's `group`), and turning the hub's events into
//! the views each one may show its viewer.
//!
//! Every event is reloaded and passed through the same visibility rule as a REST read of
//! the matching timeline ([`Batch::sees`], and for `user`/`list` the home rule
//! [`Batch::belongs_in_home`]) for this subscriber before it is sent, so a stream never
//! shows what the timeline would not. Deleted posts cannot be reloaded; the rule is then
//! applied to the snapshot the delete event carries.

use super::hub::{Delivery, Event, PostForAll, PostRef, Registration, SharedPost};
use crate::auth::Principal;
use crate::conversations::ConversationView;
use crate::timelines::Timeline;
use crate::views::{NotificationView, StatusView, views_of};
use crate::visibility::Batch;
use crate::{Result, ServiceError, Starling};
use starling_domain::tag::parse_tag;
use starling_domain::visibility::Visibility;
use starling_store::facts::PostKey;
use starling_store::tags::HomeContext;
use starling_store::{AccountRecord, StatusRecord, StoreError};
use std::collections::VecDeque;
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Duration, Instant};

/// How often an open subscription checks that its token still stands. Revocation and
/// deactivation close streams at once (an [`Event::AccessEnded`], relayed to the other
/// nodes too, and sent by `starling admin` commands); this catches the rest (a refresh
/// rotating the token, an event lost while a relay reconnected) for one primary-key read
/// per connection and minute.
const ACCESS_RECHECK: Duration = Duration::from_secs(60);

/// A stream a client can subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamSpec {
    /// `user`: the home timeline, plus notifications when the token may read them.
    User,
    /// `user:notification`: notifications only.
    UserNotification,
    /// `public` (`local`: `public:local`, the same on a network without federation):
    /// public posts, reblogs left out. The `public:remote` and `:media` variants are
    /// accepted as clients name them and, as the REST timeline's `remote` and
    /// `only_media`, match nothing while Starling has no remote posts and no media.
    Public {
        /// Whether `:local` was asked for.
        local: bool,
        /// Whether `:remote` was asked for (posts from other servers).
        remote: bool,
        /// Whether `:media` was asked for (posts with media attachments).
        only_media: bool,
    },
    /// `hashtag` / `hashtag:local`: public posts with a hashtag.
    Hashtag {
        /// The hashtag, normalised, without `#`.
        tag: String,
        /// Whether `:local` was asked for.
        local: bool,
    },
    /// `list`: one of the viewer's lists.
    List(i64),
    /// `direct`: conversation updates.
    Direct,
    /// `group` (Starling): posts in a group the viewer may read.
    Group(i64),
}

impl StreamSpec {
    /// The stream named `name` (as in `?stream=` or a `subscribe` message), with the
    /// parameter it needs (`tag`, `list` or `group`).
    pub fn parse(
        name: &str,
        tag: Option<&str>,
        list: Option<i64>,
        group: Option<i64>,
    ) -> Result<Self> {
        let hashtag = || -> Result<String> {
            let raw = tag.filter(|t| !t.is_empty()).ok_or_else(|| {
                ServiceError::BadRequest("No tag for stream provided: send tag=…".into())
            })?;
            parse_tag(raw)
                .ok_or_else(|| ServiceError::BadRequest(format!("{raw:?} is not a hashtag")))
        };
        Ok(match name {
            "user" => Self::User,
            "user:notification" => Self::UserNotification,
            "public"
            | "public:local"
            | "public:remote"
            | "public:media"
            | "public:local:media"
            | "public:remote:media" => Self::Public {
                local: name.contains(":local"),
                remote: name.contains(":remote"),
                only_media: name.ends_with(":media"),
            },
            "hashtag" => Self::Hashtag {
                tag: hashtag()?,
                local: false,
            },
            "hashtag:local" => Self::Hashtag {
                tag: hashtag()?,
                local: true,
            },
            "list" => Self::List(list.ok_or_else(|| {
                ServiceError::BadRequest("No list for stream provided: send list=…".into())
            })?),
            "direct" => Self::Direct,
            "group" => Self::Group(group.ok_or_else(|| {
                ServiceError::BadRequest("No group for stream provided: send group=…".into())
            })?),
            other => {
                return Err(ServiceError::BadRequest(format!(
                    "Unknown stream type {other:?}: use user, user:notification, public, \
                     public:local, public:remote (each with :media), hashtag, hashtag:local, \
                     list, direct or group"
                )));
            }
        })
    }

    /// The stream as messages name it (Mastodon's `stream` array): `["user"]`,
    /// `["hashtag", "rust"]`, `["list", "123"]`.
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::User => vec!["user".into()],
            Self::UserNotification => vec!["user:notification".into()],
            Self::Public {
                local,
                remote,
                only_media,
            } => {
                let mut name = "public".to_owned();
                if *local {
                    name.push_str(":local");
                } else if *remote {
                    name.push_str(":remote");
                }
                if *only_media {
                    name.push_str(":media");
                }
                vec![name]
            }
            Self::Hashtag { tag, local: false } => vec!["hashtag".into(), tag.clone()],
            Self::Hashtag { tag, local: true } => vec!["hashtag:local".into(), tag.clone()],
            Self::List(id) => vec!["list".into(), id.to_string()],
            Self::Direct => vec!["direct".into()],
            Self::Group(id) => vec!["group".into(), id.to_string()],
        }
    }

    /// The scope a token needs for this stream.
    fn scope(&self) -> &'static str {
        match self {
            Self::UserNotification => "read:notifications",
            _ => "read:statuses",
        }
    }
}

/// What a stream sends, ready to render for its viewer.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// `update`: a new post or reblog.
    Update(Box<StatusView>),
    /// `status.update`: an edited post.
    StatusUpdate(Box<StatusView>),
    /// `delete`: the id of a deleted post.
    Delete(i64),
    /// `notification`.
    Notification(Box<NotificationView>),
    /// `conversation`: a conversation with a new message.
    Conversation(Box<ConversationView>),
}

impl StreamEvent {
    /// The event's name in the streaming API.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Update(_) => "update",
            Self::StatusUpdate(_) => "status.update",
            Self::Delete(_) => "delete",
            Self::Notification(_) => "notification",
            Self::Conversation(_) => "conversation",
        }
    }
}

/// One event on one stream of a subscription.
#[derive(Debug, Clone)]
pub struct StreamMessage {
    /// The stream it is sent on.
    pub stream: StreamSpec,
    /// The event.
    pub event: StreamEvent,
}

/// Why a subscription ended; the connection should close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum StreamClosed {
    /// The subscriber fell too far behind the network's events.
    #[error("too slow to keep up with the stream; reconnect and catch up over REST")]
    Lagged,
    /// The token was revoked or the account deactivated.
    #[error("the access token was revoked or its account deactivated")]
    AccessEnded,
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// A live subscription of one signed-in account to any number of streams (one per
/// connection: a WebSocket may add and remove streams as it goes).
#[derive(Debug)]
pub struct Subscription {
    app: Starling,
    principal: Principal,
    me: Arc<AccountRecord>,
    streams: Vec<StreamSpec>,
    hub: Registration,
    /// The event being turned into messages; kept until done so that a cancelled
    /// [`Subscription::next`] starts it over instead of losing it.
    current: Option<Arc<Delivery>>,
    ready: VecDeque<StreamMessage>,
    next_access_check: Instant,
}

impl Starling {
    /// Opens a subscription for a signed-in account's token, with no stream yet (see
    /// [`Subscription::add`]). Events are received from this moment on.
    pub async fn subscribe(&self, principal: &Principal) -> Result<Subscription> {
        let me = principal
            .account
            .clone()
            .ok_or_else(|| ServiceError::Unauthorized("Streaming needs a user token".into()))?;
        let hub = self.hub();
        hub.start_router(self.db());
        self.start_relay().await;
        Ok(Subscription {
            hub: hub.register(me.id),
            app: self.clone(),
            principal: principal.clone(),
            me,
            streams: Vec::new(),
            current: None,
            ready: VecDeque::new(),
            next_access_check: Instant::now() + ACCESS_RECHECK,
        })
    }

    /// Ends every open subscription of this node (at shutdown).
    pub fn close_streams(&self) {
        self.hub().close();
    }

    /// Tells this node's subscriptions, and the other nodes', about `event` (never waits).
    pub(crate) fn publish(&self, event: Event) {
        self.relay_event(&event);
        self.hub().publish(event);
    }

    /// Publishes notifications just stored, and wakes the push and mail workers: their
    /// pushes and e-mails, if any, were queued with them.
    pub(crate) fn publish_notifications(&self, notes: &[(i64, i64)]) {
        if !notes.is_empty() {
            self.push_wake().notify_one();
            self.mail_wake().notify_one();
        }
        for (id, account_id) in notes {
            self.publish(Event::Notification {
                id: *id,
                account_id: *account_id,
            });
        }
    }
}

impl Subscription {
    /// Adds a stream after checking that the token may read it: its scope, and for a
    /// list that it is the viewer's own, for a group that the viewer may read it (a
    /// private group's non-member gets 403, as for its timeline). Adding a stream twice is
    /// fine.
    pub async fn add(&mut self, spec: StreamSpec) -> Result<()> {
        self.principal.require(spec.scope())?;
        match &spec {
            StreamSpec::List(id) => {
                self.app.list(&self.me, *id).await?;
            }
            StreamSpec::Group(id) => {
                self.app.readable_group(Some(&self.me), *id).await?;
            }
            _ => {}
        }
        if !self.streams.contains(&spec) {
            self.streams.push(spec);
        }
        Ok(())
    }

    /// Removes a stream (not subscribed is fine).
    pub fn remove(&mut self, spec: &StreamSpec) {
        self.streams.retain(|s| s != spec);
        self.ready.retain(|m| &m.stream != spec);
    }

    /// The streams subscribed to.
    pub fn streams(&self) -> &[StreamSpec] {
        &self.streams
    }

    /// The next message for this subscriber, or why the subscription ended.
    ///
    /// Cancel-safe: dropped mid-way (e.g. in a `select!` that a client message won), it
    /// loses nothing; the next call picks up the same event.
    pub async fn next(&mut self) -> std::result::Result<StreamMessage, StreamClosed> {
        loop {
            if let Some(message) = self.ready.pop_front() {
                return Ok(message);
            }
            let delivery = match &self.current {
                Some(d) => d.clone(),
                None => {
                    let d = self.receive().await?;
                    self.current = Some(d.clone());
                    d
                }
            };
            let messages = self.messages(&delivery).await;
            self.current = None;
            match messages {
                Ok(messages) => self.ready.extend(messages),
                Err(Stop::Closed(why)) => return Err(why),
                Err(Stop::Failed(e)) => {
                    // One event lost to a database error; the stream goes on.
                    tracing::warn!(error = %e, "could not prepare a streaming event");
                }
            }
        }
    }

    /// The next event from the hub, checking the token now and then while waiting.
    async fn receive(&mut self) -> std::result::Result<Arc<Delivery>, StreamClosed> {
        loop {
            if *self.hub.closed.borrow() {
                return Err(StreamClosed::ShuttingDown);
            }
            let check_at = self.next_access_check;
            tokio::select! {
                received = self.hub.events.recv() => match received {
                    Ok(delivery) => return Ok(delivery),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, account = self.me.id, "dropping a lagging stream");
                        return Err(StreamClosed::Lagged);
                    }
                    Err(RecvError::Closed) => return Err(StreamClosed::ShuttingDown),
                },
                changed = self.hub.closed.changed() => {
                    if changed.is_err() {
                        return Err(StreamClosed::ShuttingDown);
                    }
                }
                () = tokio::time::sleep_until(check_at) => {
                    self.next_access_check = Instant::now() + ACCESS_RECHECK;
                    match self.app.db().token_live(self.principal.token_id).await {
                        Ok(true) => {}
                        Ok(false) => return Err(StreamClosed::AccessEnded),
                        // The database being unreachable is no reason to cut streams.
                        Err(e) => tracing::warn!(error = %e, "could not recheck a stream's token"),
                    }
                }
            }
        }
    }

    /// The messages `delivery` makes on the subscribed streams, each one checked by the
    /// visibility rule for this viewer.
    async fn messages(&self, delivery: &Delivery) -> std::result::Result<Vec<StreamMessage>, Stop> {
        let me = self.me.id;
        match &delivery.event {
            Event::AccessEnded {
                token_id,
                account_id,
            } => {
                if *token_id == Some(self.principal.token_id) || *account_id == Some(me) {
                    return Err(Stop::Closed(StreamClosed::AccessEnded));
                }
                Ok(Vec::new())
            }
            Event::Update(post) | Event::StatusUpdate(post) => {
                let wanted = self.wanting(delivery, post);
                if wanted.is_empty() {
                    return Ok(Vec::new());
                }
                // The post and its facts as the router read them for everyone (or read
                // here if it could not); this viewer's part too when the router read it,
                // else that part and (for `user`) the home context in one read.
                let read_here;
                let shared = match &delivery.post {
                    Some(shared) => shared,
                    None => {
                        read_here = match self.app.db().shared_post(post.id).await {
                            Ok(Some((status, facts))) => SharedPost::Found(Box::new(PostForAll {
                                status: Arc::new(status),
                                facts,
                                parts: None,
                            })),
                            Ok(None) => SharedPost::Deleted,
                            Err(e) => return Err(Stop::Failed(e.into())),
                        };
                        &read_here
                    }
                };
                let SharedPost::Found(found) = shared else {
                    // Deleted meanwhile: its delete event follows.
                    return Ok(Vec::new());
                };
                let status = &found.status;
                let (facts, context) = match found.parts.as_ref().and_then(|p| p.part(me)) {
                    Some(part) => (
                        found.facts.clone().with_viewer_part(&part),
                        Some(part.context),
                    ),
                    None => {
                        let with_context = wanted.iter().any(|w| matches!(w, StreamSpec::User));
                        self.app
                            .db()
                            .viewer_facts(
                                me,
                                PostKey::of(status),
                                found.facts.clone(),
                                with_context,
                            )
                            .await
                            .map_err(|e| Stop::Failed(e.into()))?
                    }
                };
                let batch = Batch::new(Some(&self.me), vec![Arc::clone(status)], facts);
                let Some(view) = views_of(&batch, |_, _| true).into_iter().next() else {
                    return Ok(Vec::new());
                };
                let mut out = Vec::new();
                let mut home = context;
                for spec in wanted {
                    if self.shows(&spec, &batch, status, &mut home).await? {
                        let event = match delivery.event {
                            Event::Update(_) => StreamEvent::Update(Box::new(view.clone())),
                            _ => StreamEvent::StatusUpdate(Box::new(view.clone())),
                        };
                        out.push(StreamMessage {
                            stream: spec,
                            event,
                        });
                    }
                }
                Ok(out)
            }
            Event::Delete(post) => {
                let wanted = self.wanting(delivery, post);
                if wanted.is_empty() {
                    return Ok(Vec::new());
                }
                // The post is gone, and its mentions and tags with it: decide on the
                // snapshot, with the mentions and tags it had.
                let mut snapshot = post.snapshot();
                // A reblog deleted with its original: the original cannot be judged any
                // more, so the reblog is judged alone (its readers saw it; the delete
                // tells them no more than its id).
                if let Some(original) = snapshot.reblog_of_id
                    && matches!(
                        self.app.db().status(original).await,
                        Err(StoreError::NotFound)
                    )
                {
                    snapshot.reblog_of_id = None;
                }
                let mut batch = self
                    .app
                    .batch(Some(&self.me), vec![snapshot.clone()])
                    .await?;
                batch.mentions = post.mentions.iter().map(|m| (post.id, *m)).collect();
                batch.tags = post.tags.iter().map(|t| (post.id, t.clone())).collect();
                let mut out = Vec::new();
                let mut home = None;
                for spec in wanted {
                    if self.shows(&spec, &batch, &snapshot, &mut home).await? {
                        out.push(StreamMessage {
                            stream: spec,
                            event: StreamEvent::Delete(post.id),
                        });
                    }
                }
                Ok(out)
            }
            Event::Notification { id, account_id } => {
                if *account_id != me {
                    return Ok(Vec::new());
                }
                let notifications_readable = self.principal.scopes.grants("read:notifications");
                let wanted: Vec<StreamSpec> = self
                    .streams
                    .iter()
                    .filter(|s| {
                        matches!(s, StreamSpec::UserNotification)
                            || (matches!(s, StreamSpec::User) && notifications_readable)
                    })
                    .cloned()
                    .collect();
                if wanted.is_empty() {
                    return Ok(Vec::new());
                }
                let record = match self.app.db().notification(me, *id).await {
                    Ok(n) => n,
                    // Not stored after all (a repeated favourite), or dismissed already.
                    Err(StoreError::NotFound) => return Ok(Vec::new()),
                    Err(e) => return Err(Stop::Failed(e.into())),
                };
                let Some(view) = self
                    .app
                    .present_notifications(&self.me, vec![record])
                    .await?
                    .into_iter()
                    .next()
                else {
                    return Ok(Vec::new());
                };
                Ok(wanted
                    .into_iter()
                    .map(|stream| StreamMessage {
                        stream,
                        event: StreamEvent::Notification(Box::new(view.clone())),
                    })
                    .collect())
            }
            Event::Conversation {
                conversation_id,
                participants,
                ..
            } => {
                if !participants.contains(&me) || !self.streams.contains(&StreamSpec::Direct) {
                    return Ok(Vec::new());
                }
                let record = match self
                    .app
                    .db()
                    .conversation_by_thread(me, *conversation_id)
                    .await
                {
                    Ok(r) => r,
                    Err(StoreError::NotFound) => return Ok(Vec::new()),
                    Err(e) => return Err(Stop::Failed(e.into())),
                };
                let view = self
                    .app
                    .present_conversations(&self.me, vec![record])
                    .await?
                    .into_iter()
                    .next()
                    .filter(|c| c.last_status.is_some());
                Ok(view
                    .map(|c| StreamMessage {
                        stream: StreamSpec::Direct,
                        event: StreamEvent::Conversation(Box::new(c)),
                    })
                    .into_iter()
                    .collect())
            }
        }
    }

    /// The subscribed streams a post event could be for, by what the event itself says
    /// (no database read): most events are for none of them and stop here.
    fn wanting(&self, delivery: &Delivery, post: &PostRef) -> Vec<StreamSpec> {
        let me = self.me.id;
        let public = post.visibility == Visibility::Public.as_str();
        self.streams
            .iter()
            .filter(|spec| match spec {
                StreamSpec::User => delivery.may_reach_home_of(post, me),
                // List members are followed accounts; group posts and direct posts are
                // not in lists.
                StreamSpec::List(_) => {
                    post.group_id.is_none()
                        && post.visibility != Visibility::Direct.as_str()
                        && delivery.may_reach_home_of(post, me)
                }
                // Every post is local and none has media yet (see `StreamSpec::Public`).
                StreamSpec::Public {
                    remote, only_media, ..
                } => public && post.reblog_of_id.is_none() && !remote && !only_media,
                StreamSpec::Hashtag { tag, .. } => public && post.tags.contains(tag),
                StreamSpec::Group(g) => post.group_id == Some(*g),
                StreamSpec::UserNotification | StreamSpec::Direct => false,
            })
            .cloned()
            .collect()
    }

    /// Whether `spec`'s timeline shows `status` to this viewer: the rule its REST read
    /// applies (`home` is the viewer's home context, read once when first needed).
    async fn shows(
        &self,
        spec: &StreamSpec,
        batch: &Batch,
        status: &StatusRecord,
        home: &mut Option<HomeContext>,
    ) -> std::result::Result<bool, Stop> {
        let me = self.me.id;
        Ok(match spec {
            StreamSpec::User => {
                if home.is_none() {
                    let context = self.app.db().home_context(me).await;
                    *home = Some(context.map_err(ServiceError::from)?);
                }
                let Some(context) = home.as_ref() else {
                    return Ok(false);
                };
                !context.hidden_authors.contains(&status.account_id)
                    && batch.sees(status, true)
                    && batch.belongs_in_home(status, me, &context.followed_tags)
            }
            StreamSpec::List(id) => {
                // Gone or no longer ours (deleted meanwhile): nothing more to show.
                let sieve = match self.app.sieve(Some(&self.me), &Timeline::List(*id)).await {
                    Ok(sieve) => sieve,
                    Err(ServiceError::NotFound) => return Ok(false),
                    Err(e) => return Err(e.into()),
                };
                let member = self
                    .app
                    .db()
                    .list_members_among(*id, &[status.account_id])
                    .await
                    .map_err(ServiceError::from)?
                    .contains(&status.account_id);
                member
                    && !self
                        .app
                        .sift(&sieve, vec![status.clone()])
                        .await?
                        .is_empty()
                    && batch.sees(status, true)
                    && batch.belongs_in_home(status, me, &[])
            }
            StreamSpec::Public { .. } | StreamSpec::Hashtag { .. } | StreamSpec::Group(_) => {
                batch.sees(status, true)
            }
            StreamSpec::UserNotification | StreamSpec::Direct => false,
        })
    }
}

/// Why preparing an event's messages stopped.
enum Stop {
    /// The subscription must end.
    Closed(StreamClosed),
    /// Reading failed; this event is skipped.
    Failed(ServiceError),
}

impl From<ServiceError> for Stop {
    fn from(e: ServiceError) -> Self {
        Self::Failed(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_round_trip() {
        let cases = [
            ("user", None::<&str>, None::<i64>, None::<i64>),
            ("user:notification", None, None, None),
            ("public", None, None, None),
            ("public:local", None, None, None),
            ("public:remote", None, None, None),
            ("public:media", None, None, None),
            ("public:local:media", None, None, None),
            ("public:remote:media", None, None, None),
            ("hashtag", Some("rust"), None, None),
            ("hashtag:local", Some("rust"), None, None),
            ("list", None, Some(12), None),
            ("direct", None, None, None),
            ("group", None, None, Some(34)),
        ];
        for (name, tag, list, group) in cases {
            let spec = StreamSpec::parse(name, tag, list, group).unwrap();
            assert_eq!(spec.names()[0], name);
        }
        assert_eq!(
            StreamSpec::parse("hashtag", Some("#Rust"), None, None).unwrap(),
            StreamSpec::Hashtag {
                tag: "rust".into(),
                local: false
            },
            "tags are normalised"
        );
        assert_eq!(
            StreamSpec::List(12).names(),
            vec!["list".to_owned(), "12".to_owned()]
        );
    }

    #[test]
    fn streams_missing_their_parameter_are_refused() {
        for (name, tag) in [
            ("hashtag", None),
            ("hashtag", Some("two words")),
            ("list", None),
            ("group", None),
            ("nonsense", None),
        ] {
            assert!(
                matches!(
                    StreamSpec::parse(name, tag, None, None),
                    Err(ServiceError::BadRequest(_))
                ),
                "{name} {tag:?}"
            );
        }
    }
}

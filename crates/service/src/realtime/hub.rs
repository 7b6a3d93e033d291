//! The hub that carries events from the use cases that cause them (a post stored, a
//! notification created…) to the live subscriptions of this node, without ever making the
//! cause wait.
//!
//! Events are small references ([`Event`]: ids, plus the few facts that route a post), so
//! the relay (`super::relay`, PostgreSQL `NOTIFY`, payloads limited to 8 kB) passes them
//! between nodes and every node reloads what it sends and applies the visibility rule
//! itself.
//!
//! Shape: [`Hub::publish`] puts an event in a bounded queue (`try_send`: a full queue drops
//! the event with a warning; clients catch up over REST with `since_id`) and returns. One
//! router task takes events in order, works out once per post which *connected* accounts
//! could have it in their home (one indexed query, see [`Delivery::audience`]), reads the
//! post once for all of them, with each audience member's relations and marks
//! ([`Delivery::post`]: a subscriber then needs no read of its own), and sends
//! the result on **one** bounded `tokio::sync::broadcast` channel that every subscription
//! reads. A subscription that falls more than `streaming_buffer` (a setting) events behind
//! gets `Lagged` and is closed; nobody else notices.
//!
//! Rejected: a broadcast channel per stream key (`user:<id>`, `hashtag:<tag>`…), DESIGN.md's
//! first sketch. The sender would have to know every key an event belongs to — for `user`
//! streams the author's followers, group members and hashtag followers — before sending
//! anything, keep a registry of live keys and clean it up, and a WebSocket with several
//! streams would have to merge several receivers (losing their relative order and needing
//! one lag check each). With one channel the memory is one ring of `streaming_buffer` pointers
//! whatever the number of streams, a relay has a single entry point, and each subscription
//! discards the events that are not for it with an in-memory check (the audience set, a
//! tag, a group id) before the expensive part (reload and visibility) runs. The cost is
//! one wake-up per subscription and event, which is microseconds next to that reload.

use serde::{Deserialize, Serialize};
use starling_store::facts::PageFacts;
use starling_store::streaming::ViewerParts;
use starling_store::{Db, StatusRecord};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{broadcast, mpsc, watch};

/// Events waiting for the router. Routing is one indexed query per post, so this only
/// fills if the database stalls; events are then dropped rather than delaying posters.
const INBOX: usize = 4096;

/// A post as an event refers to it: its id and the facts that decide where it may go.
/// Kept for deleted posts too, which can no longer be read back: the visibility rule is
/// then applied to this snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostRef {
    /// The post's id.
    pub id: i64,
    /// Its author (for a reblog, the account that reblogged).
    pub author_id: i64,
    /// Its stored visibility (`public`, `unlisted`, `private`, `direct`).
    pub visibility: String,
    /// The group it was written in.
    pub group_id: Option<i64>,
    /// The post it reblogs, for a reblog.
    pub reblog_of_id: Option<i64>,
    /// The post it replies to.
    pub in_reply_to_id: Option<i64>,
    /// The author of the post it replies to.
    pub in_reply_to_account_id: Option<i64>,
    /// Accounts it mentions.
    pub mentions: Vec<i64>,
    /// Its hashtags, normalised.
    pub tags: Vec<String>,
    /// When it was written (Unix milliseconds).
    pub created_at: i64,
}

impl PostRef {
    /// The reference to a stored post with its mentions and tags.
    pub(crate) fn new(s: &StatusRecord, mentions: Vec<i64>, tags: Vec<String>) -> Self {
        Self {
            id: s.id,
            author_id: s.account_id,
            visibility: s.visibility.clone(),
            group_id: s.group_id,
            reblog_of_id: s.reblog_of_id,
            in_reply_to_id: s.in_reply_to_id,
            in_reply_to_account_id: s.in_reply_to_account_id,
            mentions,
            tags,
            created_at: s.created_at,
        }
    }

    /// A stand-in record (no text) for deciding who could see a post that is gone.
    pub(crate) fn snapshot(&self) -> StatusRecord {
        StatusRecord {
            id: self.id,
            account_id: self.author_id,
            text: String::new(),
            content: String::new(),
            spoiler_text: String::new(),
            sensitive: false,
            visibility: self.visibility.clone(),
            language: None,
            in_reply_to_id: self.in_reply_to_id,
            in_reply_to_account_id: self.in_reply_to_account_id,
            reblog_of_id: self.reblog_of_id,
            app_id: None,
            created_at: self.created_at,
            edited_at: None,
            replies_count: 0,
            reblogs_count: 0,
            favourites_count: 0,
            group_id: self.group_id,
        }
    }
}

/// Something that happened, as the hub carries it: a reference, never a rendered view
/// (each subscriber renders for its own viewer). Serialisable, for a relay between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A post (or reblog) was stored.
    Update(PostRef),
    /// A post was edited.
    StatusUpdate(PostRef),
    /// A post (or reblog) was deleted.
    Delete(PostRef),
    /// A notification was stored for `account_id`.
    Notification {
        /// The notification's id.
        id: i64,
        /// Whom it is for.
        account_id: i64,
    },
    /// A direct message joined a conversation.
    Conversation {
        /// The conversation (the id of its first direct post).
        conversation_id: i64,
        /// The new message.
        status_id: i64,
        /// Everyone taking part in the message, the author included.
        participants: Vec<i64>,
    },
    /// A token was revoked or an account deactivated: their streams close.
    AccessEnded {
        /// The revoked token.
        token_id: Option<i64>,
        /// The deactivated account.
        account_id: Option<i64>,
    },
}

/// An event as subscriptions receive it, with what the router worked out once for all.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// The event.
    pub(crate) event: Event,
    /// For post events: the connected accounts that follow the author, belong to the
    /// post's group or follow one of its (public) hashtags — the only ones besides the
    /// author and the mentioned accounts whose home the post could join. `None` when it
    /// could not be worked out (a database error): every subscription then checks.
    pub(crate) audience: Option<HashSet<i64>>,
    /// For `update` and `status.update`: the post and its viewer-independent facts, read
    /// once for every subscription (each then reads only its viewer's part). `None` when
    /// not read (another event, or the read failed: each subscription then reads it).
    pub(crate) post: Option<Arc<SharedPost>>,
}

/// A post as the router read it for all subscriptions.
#[derive(Debug)]
pub(crate) enum SharedPost {
    /// The post as read once for everyone.
    Found(Box<PostForAll>),
    /// Deleted before it could be read: its delete event follows.
    Deleted,
}

/// A post, the facts about it that are the same for every viewer, and the parts of the
/// facts that depend on the viewer for the connected accounts in its audience.
#[derive(Debug)]
pub(crate) struct PostForAll {
    /// The post (shared by the views every subscriber builds of it).
    pub(crate) status: Arc<StatusRecord>,
    /// The facts that are the same for every viewer.
    pub(crate) facts: PageFacts,
    /// Each audience member's part; a subscriber not in it reads its own.
    pub(crate) parts: Option<ViewerParts>,
}

impl Delivery {
    /// Whether `account` may have this post in their home, as far as routing knows (a
    /// superset: the home rule still decides).
    pub(crate) fn may_reach_home_of(&self, post: &PostRef, account: i64) -> bool {
        post.author_id == account
            || post.mentions.contains(&account)
            || self.audience.as_ref().is_none_or(|a| a.contains(&account))
    }
}

/// Open subscriptions per account, which the router restricts its audience query to.
type Connected = Arc<Mutex<HashMap<i64, usize>>>;

/// The hub of one node (see the module documentation).
#[derive(Debug)]
pub(crate) struct Hub {
    inbox: mpsc::Sender<Event>,
    /// The router's end of `inbox`, until the first subscription starts the router.
    router_inbox: Mutex<Option<mpsc::Receiver<Event>>>,
    out: broadcast::Sender<Arc<Delivery>>,
    connected: Connected,
    closed: watch::Sender<bool>,
}

/// A subscription's place in the hub: its receiver, and its account counted as connected
/// until this is dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    pub(crate) events: broadcast::Receiver<Arc<Delivery>>,
    pub(crate) closed: watch::Receiver<bool>,
    connected: Connected,
    account: i64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = self
            .connected
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.account) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.account);
            }
        }
    }
}

impl Hub {
    /// A hub whose broadcast channel keeps `capacity` events.
    pub(crate) fn new(capacity: usize) -> Self {
        let (inbox, router_inbox) = mpsc::channel(INBOX);
        let (out, _) = broadcast::channel(capacity.max(1));
        Self {
            inbox,
            router_inbox: Mutex::new(Some(router_inbox)),
            out,
            connected: Arc::default(),
            closed: watch::channel(false).0,
        }
    }

    /// Hands an event to the router without waiting. Nothing happens when nobody on this
    /// node is subscribed.
    pub(crate) fn publish(&self, event: Event) {
        if self.out.receiver_count() == 0 {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.inbox.try_send(event) {
            tracing::warn!("streaming hub queue full: an event was dropped");
        }
    }

    /// Starts the router on the current Tokio runtime, once; `db` serves its audience
    /// queries. Called with the first subscription: until then events are not even queued.
    pub(crate) fn start_router(&self, db: &Db) {
        let router_inbox = self
            .router_inbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(inbox) = router_inbox {
            tokio::spawn(route(
                db.clone(),
                inbox,
                self.out.clone(),
                self.connected.clone(),
                self.closed.subscribe(),
            ));
        }
    }

    /// Registers a subscription of `account`: its receiver, from now on.
    pub(crate) fn register(&self, account: i64) -> Registration {
        *self
            .connected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(account)
            .or_default() += 1;
        Registration {
            events: self.out.subscribe(),
            closed: self.closed.subscribe(),
            connected: self.connected.clone(),
            account,
        }
    }

    /// The flag [`Hub::close`] sets, for tasks that end with the hub (the relay's listener).
    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// Ends every subscription and the router (server shutdown): open streams would
    /// otherwise keep their connections, and the graceful shutdown, waiting forever.
    pub(crate) fn close(&self) {
        self.closed.send_replace(true);
    }
}

/// The router: takes events in order, adds the audience of posts, broadcasts them.
async fn route(
    db: Db,
    mut inbox: mpsc::Receiver<Event>,
    out: broadcast::Sender<Arc<Delivery>>,
    connected: Connected,
    mut closed: watch::Receiver<bool>,
) {
    loop {
        let event = tokio::select! {
            event = inbox.recv() => match event {
                Some(event) => event,
                // The hub is gone with the application.
                None => break,
            },
            // The flag only ever changes to `true` (or the hub is gone).
            _ = closed.changed() => break,
        };
        // A token revoked or an account deactivated, here or on another node (relayed):
        // no cached token may let its requests through any longer.
        if matches!(event, Event::AccessEnded { .. }) {
            db.forget_tokens();
        }
        let audience = match &event {
            Event::Update(post) | Event::StatusUpdate(post) | Event::Delete(post) => {
                audience(&db, post, &connected).await
            }
            _ => Some(HashSet::new()),
        };
        // The shared part of showing a post is done once here, not once per subscriber
        // (with 1,000 streams open that reload was most of the delivery cost).
        let post = match &event {
            Event::Update(post) | Event::StatusUpdate(post) => {
                read_for_all(&db, post, audience.as_ref(), &connected).await
            }
            _ => None,
        };
        // An error only means that nobody is subscribed any more.
        let _ = out.send(Arc::new(Delivery {
            event,
            audience,
            post,
        }));
    }
}

/// Reads `post` once for all subscriptions, with the viewer-dependent facts of the
/// connected accounts it may reach (its author, mentioned accounts and `audience`), so
/// that subscribers need no read of their own. `None` if reading failed: each
/// subscription then reads for itself.
async fn read_for_all(
    db: &Db,
    post: &PostRef,
    audience: Option<&HashSet<i64>>,
    connected: &Connected,
) -> Option<Arc<SharedPost>> {
    let failed = |e: starling_store::StoreError| {
        tracing::warn!(error = %e, "streaming: reading a post failed; every stream reads it");
    };
    let (status, facts) = match db.shared_post(post.id).await {
        Ok(Some(found)) => found,
        Ok(None) => return Some(Arc::new(SharedPost::Deleted)),
        Err(e) => {
            failed(e);
            return None;
        }
    };
    let viewers: Vec<i64> = {
        let connected = connected.lock().unwrap_or_else(PoisonError::into_inner);
        std::iter::once(post.author_id)
            .chain(post.mentions.iter().copied())
            .chain(audience.into_iter().flatten().copied())
            .filter(|a| connected.contains_key(a))
            .collect::<HashSet<i64>>()
            .into_iter()
            .collect()
    };
    let parts = match db
        .viewer_parts(status.clone(), facts.clone(), viewers)
        .await
    {
        Ok(parts) => parts,
        Err(e) => {
            failed(e);
            None
        }
    };
    Some(Arc::new(SharedPost::Found(Box::new(PostForAll {
        status: Arc::new(status),
        facts,
        parts,
    }))))
}

/// The connected accounts whose home `post` could join (see [`Delivery::audience`]).
async fn audience(db: &Db, post: &PostRef, connected: &Connected) -> Option<HashSet<i64>> {
    let candidates: Vec<i64> = connected
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .keys()
        .copied()
        .filter(|a| *a != post.author_id)
        .collect();
    if candidates.is_empty() {
        return Some(HashSet::new());
    }
    // Only public posts join the homes of their hashtags' followers.
    let tags: &[String] = if post.visibility == "public" {
        &post.tags
    } else {
        &[]
    };
    match db
        .home_audience_among(post.author_id, post.group_id, tags, &candidates)
        .await
    {
        Ok(audience) => Some(audience),
        Err(e) => {
            tracing::warn!(error = %e, "streaming audience query failed; every stream checks");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(author: i64) -> PostRef {
        PostRef {
            id: 1,
            author_id: author,
            visibility: "public".into(),
            group_id: None,
            reblog_of_id: None,
            in_reply_to_id: None,
            in_reply_to_account_id: None,
            mentions: vec![7],
            tags: Vec::new(),
            created_at: 0,
        }
    }

    #[test]
    fn routing_reaches_author_mentioned_and_audience_only() {
        let known = Delivery {
            event: Event::Update(post(1)),
            audience: Some(HashSet::from([3])),
            post: None,
        };
        let p = post(1);
        assert!(known.may_reach_home_of(&p, 1), "the author");
        assert!(known.may_reach_home_of(&p, 7), "a mentioned account");
        assert!(known.may_reach_home_of(&p, 3), "a follower");
        assert!(!known.may_reach_home_of(&p, 4), "anyone else");
        let unknown = Delivery {
            event: Event::Update(post(1)),
            audience: None,
            post: None,
        };
        assert!(
            unknown.may_reach_home_of(&p, 4),
            "unknown audience: everyone checks"
        );
    }

    #[test]
    fn events_fit_a_notify_payload_and_round_trip() {
        // A direct message to the most participants allowed, with long hashtags: still
        // far below PostgreSQL's 8000-byte NOTIFY limit.
        let mut p = post(i64::MAX);
        p.mentions = vec![i64::MAX; 50];
        p.tags = vec!["t".repeat(100); 10];
        let event = Event::Delete(p);
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.len() < 4000, "{} bytes", json.len());
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    }

    #[test]
    fn publishing_without_subscribers_is_a_no_op() {
        let hub = Hub::new(4);
        // Would fill the bounded queue if it were queued.
        for _ in 0..INBOX * 2 {
            hub.publish(Event::AccessEnded {
                token_id: Some(1),
                account_id: None,
            });
        }
        assert_eq!(hub.inbox.capacity(), INBOX);
    }

    #[test]
    fn registrations_count_connected_accounts() {
        let hub = Hub::new(4);
        let count = |account| hub.connected.lock().unwrap().get(&account).copied();
        let a = hub.register(5);
        let b = hub.register(5);
        assert_eq!(count(5), Some(2));
        assert_eq!(hub.out.receiver_count(), 2);
        drop(a);
        assert_eq!(count(5), Some(1));
        drop(b);
        assert_eq!(count(5), None, "no entry is left behind");
    }
}

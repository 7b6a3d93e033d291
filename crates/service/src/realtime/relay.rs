//! Live delivery across nodes (docs/decisions/0011-node-relay.md): when several Starling
//! nodes share one PostgreSQL database, every event a node publishes also goes to the
//! others over `NOTIFY`, and each node puts what it hears into its own hub exactly as if
//! it had been published locally, so routing, visibility and the per-subscriber work stay
//! the same. SQLite is one node by nature: there is no relay, and publishing only checks
//! that.
//!
//! Two tasks per node:
//! - the **sender** ([`Starling::run_relay_sender`], a background worker like fan-out)
//!   takes published events from a bounded queue in order, packs as many as fit into one
//!   notification payload (8000 bytes at most) and sends them after the writes that
//!   caused them committed, so a receiver always finds the rows. An event that does not
//!   fit alone (a post mentioning a great many accounts) is stored in `relay_spill` and the
//!   notification names it; the receiver reads it back.
//! - the **listener**, started with the node's first subscription and stopped with the
//!   hub: one dedicated `LISTEN` connection that decodes payloads, skips this node's own
//!   (each node has a random id) and publishes the rest to the local hub. It reconnects
//!   with a growing pause when the connection fails; what is sent while it is down is
//!   lost, and clients catch up over REST with `since_id` as after any gap.

use super::hub::Event;
use crate::Starling;
use serde::{Deserialize, Serialize};
use starling_domain::id::now_millis;
use starling_store::relay::{Heard, MAX_PAYLOAD};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use tokio::sync::{mpsc, watch};
use tokio::time::{Duration, Instant};

/// Events waiting for the sender. It sends up to [`BATCH`] per round trip, so this only
/// fills if the database stalls; events are then dropped (with a warning) rather than
/// delaying the requests that publish them.
const OUTBOX: usize = 8192;

/// The most events the sender takes from its queue for one round of notifications.
const BATCH: usize = 256;

/// How long a node's first subscription waits for the listener to be listening, so that
/// it receives every other node's events from the moment it is open (as it does this
/// node's). Bounded: with the database unreachable, streams still open (and get this
/// node's events).
const LISTEN_WAIT: Duration = Duration::from_secs(5);

/// The first pause before listening again after a failure; it doubles up to
/// [`MAX_BACKOFF`], and starts over once a connection has held that long.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The longest pause between attempts to listen again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A node's end of the relay (present on PostgreSQL only).
#[derive(Debug)]
pub(crate) struct Relay {
    /// This node's random id, which its payloads carry so that it skips its own echoes.
    node: u64,
    outbox: mpsc::Sender<Event>,
    /// The sender's end of `outbox`, until [`Starling::run_relay_sender`] takes it.
    sender_inbox: Mutex<Option<mpsc::Receiver<Event>>>,
    /// Whether a sender is running: without one, events are not queued at all.
    sending: AtomicBool,
    /// Whether the listener was started (it runs until the hub closes).
    listening: AtomicBool,
    /// Whether the listener is listening right now.
    connected: watch::Sender<bool>,
}

/// A notification payload: who sent it, and either the events or where the one event too
/// large to notify was spilled.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// The sending node's id.
    node: u64,
    /// The events, in the order they were published. Kept as JSON values and decoded one
    /// by one, so that an event this version does not know (a newer node during a rolling
    /// upgrade) costs only itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    events: Vec<serde_json::Value>,
    /// The `relay_spill` row holding an envelope too large to notify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spill: Option<i64>,
}

/// One notification to send.
#[derive(Debug, PartialEq, Eq)]
enum Outgoing {
    /// A payload that fits.
    Notify(String),
    /// An envelope with one event too large to notify: to store, and name in a notification.
    Spill(String),
}

impl Relay {
    /// The relay of a node on `db`, or `None` where there is only one node (SQLite).
    pub(crate) fn for_db(db: &starling_store::Db) -> Option<Self> {
        db.relays().then(|| {
            let (outbox, sender_inbox) = mpsc::channel(OUTBOX);
            Self {
                node: rand::random(),
                outbox,
                sender_inbox: Mutex::new(Some(sender_inbox)),
                sending: AtomicBool::new(false),
                listening: AtomicBool::new(false),
                connected: watch::channel(false).0,
            }
        })
    }

    /// Queues `event` for the other nodes without waiting.
    pub(crate) fn send(&self, event: &Event) {
        if !self.sending.load(Ordering::Acquire) {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.outbox.try_send(event.clone()) {
            tracing::warn!("relay queue full: an event was not sent to the other nodes");
        }
    }

    /// The payloads carrying `events` in order: as many per payload as fit in
    /// [`MAX_PAYLOAD`] bytes, an event that fits in none alone as a spill.
    fn pack(&self, events: &[Event]) -> Vec<Outgoing> {
        let head = format!("{{\"node\":{},\"events\":[", self.node);
        let tail = "]}";
        let mut out = Vec::new();
        let mut current = String::new();
        for event in events {
            let json = match serde_json::to_string(event) {
                Ok(json) => json,
                // Events are plain data; this cannot happen, but is no reason to panic.
                Err(e) => {
                    tracing::error!(error = %e, "an event could not be encoded for the relay");
                    continue;
                }
            };
            if !current.is_empty() && current.len() + 1 + json.len() + tail.len() <= MAX_PAYLOAD {
                current.push(',');
                current.push_str(&json);
                continue;
            }
            if !current.is_empty() {
                current.push_str(tail);
                out.push(Outgoing::Notify(std::mem::take(&mut current)));
            }
            if head.len() + json.len() + tail.len() <= MAX_PAYLOAD {
                current = format!("{head}{json}");
            } else {
                out.push(Outgoing::Spill(format!("{head}{json}{tail}")));
            }
        }
        if !current.is_empty() {
            current.push_str(tail);
            out.push(Outgoing::Notify(current));
        }
        out
    }

    /// The notification naming spilled row `id`.
    fn spill_notice(&self, id: i64) -> String {
        format!("{{\"node\":{},\"spill\":{id}}}", self.node)
    }
}

impl Starling {
    fn relay(&self) -> Option<&Relay> {
        self.inner.relay.as_ref()
    }

    /// Queues `event` for the other nodes (nothing on SQLite, or without a sender).
    pub(crate) fn relay_event(&self, event: &Event) {
        if let Some(relay) = self.relay() {
            relay.send(event);
        }
    }

    /// Sends this node's events to the other nodes until `stop` resolves, then sends what
    /// is still queued and returns. Returns at once on SQLite, or if a sender already runs.
    /// Run it beside the server (as the fan-out worker), or around an admin command whose
    /// events (a deactivation) the serving nodes should hear.
    pub async fn run_relay_sender(&self, stop: impl Future<Output = ()>) {
        let Some(relay) = self.relay() else {
            return;
        };
        let inbox = relay
            .sender_inbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut inbox) = inbox else {
            return;
        };
        relay.sending.store(true, Ordering::Release);
        tokio::pin!(stop);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                // Queued events go out before a stop is noticed.
                biased;
                n = inbox.recv_many(&mut batch, BATCH) => if n == 0 { break },
                () = &mut stop => break,
            }
            self.send_to_nodes(relay, &batch).await;
            batch.clear();
        }
        // Whatever the last requests published still goes out.
        relay.sending.store(false, Ordering::Release);
        while let Ok(event) = inbox.try_recv() {
            batch.push(event);
        }
        self.send_to_nodes(relay, &batch).await;
        // Back in place, so that a later run (the next admin command) can send again.
        *relay
            .sender_inbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(inbox);
    }

    /// Notifies the other nodes of `events`. A failure (the database unreachable) loses
    /// those events for the other nodes, which is logged; their clients catch up over REST.
    async fn send_to_nodes(&self, relay: &Relay, events: &[Event]) {
        for outgoing in relay.pack(events) {
            let sent = match &outgoing {
                Outgoing::Notify(payload) => self.db().notify_nodes(payload).await,
                Outgoing::Spill(envelope) => {
                    let id = self.next_id();
                    tracing::debug!(bytes = envelope.len(), "relaying a large event by spill");
                    match self
                        .db()
                        .spill_relay_payload(id, envelope, now_millis())
                        .await
                    {
                        Ok(()) => self.db().notify_nodes(&relay.spill_notice(id)).await,
                        Err(e) => Err(e),
                    }
                }
            };
            if let Err(e) = sent {
                tracing::warn!(error = %e, "events could not be relayed to the other nodes");
            }
        }
    }

    /// Starts the listener with the node's first subscription, and waits (a little) until
    /// it listens. Returns at once on SQLite and once the listener is up.
    pub(crate) async fn start_relay(&self) {
        let Some(relay) = self.relay() else {
            return;
        };
        if !relay.listening.swap(true, Ordering::AcqRel) {
            tokio::spawn(self.clone().listen_to_nodes());
        }
        let mut connected = relay.connected.subscribe();
        // The flag is read into a local: a borrow held across the wait would block the
        // listener's update of it.
        let listening = *connected.borrow();
        if !listening
            && !tokio::time::timeout(LISTEN_WAIT, connected.wait_for(|c| *c))
                .await
                .is_ok_and(|r| r.is_ok())
        {
            tracing::warn!("not yet listening to the other nodes; their events may be missed");
        }
    }

    /// The listener: hears the other nodes' events and publishes them to this node's hub,
    /// until the hub closes.
    async fn listen_to_nodes(self) {
        let Some(relay) = self.relay() else {
            return;
        };
        let mut closed = self.hub().closing();
        let mut backoff = FIRST_BACKOFF;
        loop {
            if *closed.borrow() {
                break;
            }
            let attempt = tokio::select! {
                attempt = self.db().listen_nodes() => attempt,
                _ = closed.changed() => break,
            };
            let mut listener = match attempt {
                Ok(Some(listener)) => listener,
                // Not PostgreSQL after all: nothing to listen to.
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "cannot listen to the other nodes");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        _ = closed.changed() => break,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            relay.connected.send_replace(true);
            let since = Instant::now();
            tracing::debug!("listening to the other nodes");
            let failure = loop {
                let heard = tokio::select! {
                    heard = listener.next() => heard,
                    _ = closed.changed() => break None,
                };
                match heard {
                    Ok(Heard::Payload(payload)) => self.receive(relay, &payload).await,
                    Ok(Heard::Reconnected) => tracing::warn!(
                        "the connection listening to the other nodes was lost and reopened; \
                         their events in between were missed"
                    ),
                    Err(e) => break Some(e),
                }
            };
            relay.connected.send_replace(false);
            // Given back before the next attempt: the listening pool has one connection.
            drop(listener);
            let Some(e) = failure else { break };
            if since.elapsed() >= MAX_BACKOFF {
                backoff = FIRST_BACKOFF;
            }
            tracing::warn!(error = %e, retry_in = ?backoff, "stopped listening to the other nodes");
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = closed.changed() => break,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        tracing::debug!("stopped listening to the other nodes (shutting down)");
    }

    /// Publishes the events of one payload to this node's hub, unless this node sent it.
    async fn receive(&self, relay: &Relay, payload: &str) {
        let mut envelope = match serde_json::from_str::<Envelope>(payload) {
            Ok(envelope) => envelope,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a malformed relay notification");
                return;
            }
        };
        if envelope.node == relay.node {
            return;
        }
        if let Some(id) = envelope.spill {
            envelope = match self.db().relay_spilled(id).await {
                Ok(Some(spilled)) => match serde_json::from_str(&spilled) {
                    Ok(envelope) => envelope,
                    Err(e) => {
                        tracing::warn!(error = %e, id, "ignoring a malformed spilled relay event");
                        return;
                    }
                },
                Ok(None) => {
                    tracing::warn!(id, "a spilled relay event is gone: it was missed");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, id, "a spilled relay event could not be read: it was missed");
                    return;
                }
            };
        }
        for value in envelope.events {
            match serde_json::from_value::<Event>(value) {
                Ok(event) => self.hub().publish(event),
                Err(e) => tracing::warn!(error = %e, "ignoring a relayed event of unknown shape"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::PostRef;

    fn relay() -> Relay {
        let (outbox, sender_inbox) = mpsc::channel(1);
        Relay {
            node: 42,
            outbox,
            sender_inbox: Mutex::new(Some(sender_inbox)),
            sending: AtomicBool::new(false),
            listening: AtomicBool::new(false),
            connected: watch::channel(false).0,
        }
    }

    fn post(id: i64, mentions: usize) -> Event {
        Event::Update(PostRef {
            id,
            author_id: 1,
            visibility: "direct".into(),
            group_id: None,
            reblog_of_id: None,
            in_reply_to_id: None,
            in_reply_to_account_id: None,
            mentions: (0..mentions as i64).map(|m| i64::MAX - m).collect(),
            tags: Vec::new(),
            created_at: 0,
        })
    }

    fn decode(payload: &str) -> Vec<Event> {
        let envelope: Envelope = serde_json::from_str(payload).unwrap();
        assert_eq!(envelope.node, 42);
        envelope
            .events
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect()
    }

    #[test]
    fn events_are_packed_in_order_into_payloads_that_fit() {
        let events: Vec<Event> = (0..200).map(|i| post(i, 3)).collect();
        let out = Relay::pack(&relay(), &events);
        assert!(out.len() > 1, "200 events need more than one payload");
        let mut decoded = Vec::new();
        for o in out {
            let Outgoing::Notify(payload) = o else {
                panic!("nothing here needs a spill");
            };
            assert!(payload.len() <= MAX_PAYLOAD, "{} bytes", payload.len());
            decoded.extend(decode(&payload));
        }
        assert_eq!(decoded, events);
    }

    #[test]
    fn an_event_too_large_to_notify_is_spilled_whole_between_the_others() {
        let huge = post(2, 1000);
        let events = vec![post(1, 1), huge.clone(), post(3, 1)];
        let out = Relay::pack(&relay(), &events);
        assert_eq!(out.len(), 3);
        let Outgoing::Spill(spilled) = &out[1] else {
            panic!("the large event is spilled: {out:?}");
        };
        assert!(spilled.len() > MAX_PAYLOAD);
        assert_eq!(decode(spilled), vec![huge]);
        assert!(matches!(&out[0], Outgoing::Notify(p) if decode(p) == vec![post(1, 1)]));
        assert!(matches!(&out[2], Outgoing::Notify(p) if decode(p) == vec![post(3, 1)]));
        let notice: Envelope = serde_json::from_str(&relay().spill_notice(7)).unwrap();
        assert_eq!((notice.node, notice.spill), (42, Some(7)));
    }

    #[test]
    fn without_a_sender_nothing_is_queued() {
        let relay = relay();
        // The queue holds one event: a second would be reported as full if queued.
        relay.send(&post(1, 0));
        relay.send(&post(2, 0));
        assert_eq!(relay.outbox.capacity(), 1);
    }
}

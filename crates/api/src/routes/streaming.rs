//! The Mastodon streaming API: a WebSocket at `/api/v1/streaming` carrying any number of
//! streams, and one Server-Sent Events stream per path under `/api/v1/streaming/…`.
//!
//! Wire format as clients parse it (../shared/mastodon-clients.md §0.4): WebSocket
//! messages are `{"stream":["hashtag","rust"],"event":"update","payload":"{…}"}` with the
//! payload a JSON *string* (a bare id for `delete`) and `stream` an array; SSE frames are
//! `event: update` / `data: {…}` with a space after each colon, and heartbeats are comment
//! lines (`:thump`). Which events a viewer may receive is decided in the service layer
//! ([`Subscription`]); this module authenticates, converts and writes frames.

use crate::entities::{Conversation, Notification, Status};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Params, bearer_token, flex_bool, flex_id};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use starling_service::auth::Principal;
use starling_service::realtime::{
    StreamClosed, StreamEvent, StreamMessage, StreamSpec, Subscription,
};
use starling_service::{ServiceError, Settings, Starling};
use std::convert::Infallible;
use tokio::time::{Duration, Instant, Interval, MissedTickBehavior};

pub(super) fn routes() -> Router<Starling> {
    Router::new()
        .route("/api/v1/streaming", get(websocket))
        .route("/api/v1/streaming/health", get(health))
        .route("/api/v1/streaming/{*stream}", get(event_stream))
}

/// Query parameters naming a stream (`stream=` for the WebSocket; the path names it
/// for SSE) and its argument.
#[derive(Debug, Default, Deserialize)]
struct StreamParams {
    stream: Option<String>,
    tag: Option<String>,
    #[serde(default, deserialize_with = "flex_id")]
    list: Option<i64>,
    #[serde(default, deserialize_with = "flex_id")]
    group: Option<i64>,
    /// SSE's way of asking for a `public…:media` stream.
    #[serde(default, deserialize_with = "flex_bool")]
    only_media: Option<bool>,
}

impl StreamParams {
    fn spec(&self, name: &str) -> Result<StreamSpec, ServiceError> {
        let media;
        let name = if self.only_media == Some(true)
            && name.starts_with("public")
            && !name.ends_with(":media")
        {
            media = format!("{name}:media");
            media.as_str()
        } else {
            name
        };
        StreamSpec::parse(name, self.tag.as_deref(), self.list, self.group)
    }
}

/// `GET /api/v1/streaming/health`: `OK` while the server runs.
async fn health() -> &'static str {
    "OK"
}

/// `GET /api/v1/streaming/:stream` (`user`, `user/notification`, `public`, `public/local`,
/// `hashtag?tag=`, `hashtag/local?tag=`, `list?list=`, `direct`, `group?group=`): one
/// stream as Server-Sent Events.
async fn event_stream(
    State(app): State<Starling>,
    Auth(p): Auth,
    Path(stream): Path<String>,
    Params(q): Params<StreamParams>,
) -> ApiResult<Response> {
    let spec = q.spec(&stream.replace('/', ":"))?;
    let mut sub = app.subscribe(&p).await?;
    sub.add(spec).await?;
    let ticks = heartbeat(app.settings());
    let frames = futures_util::stream::unfold(Some((sub, app, ticks)), |state| async move {
        let (mut sub, app, mut ticks) = state?;
        let frame = tokio::select! {
            message = sub.next() => match message {
                Ok(m) => sse_frame(&m, app.settings()),
                // Lagged, revoked or shutting down: ending the body closes the stream.
                Err(_) => return None,
            },
            _ = ticks.tick() => ":thump\n".to_owned(),
        };
        Some((
            Ok::<_, Infallible>(Bytes::from(frame)),
            Some((sub, app, ticks)),
        ))
    });
    // A first comment line, as Mastodon sends, so clients see the stream open at once.
    let opening = futures_util::stream::once(async { Ok(Bytes::from_static(b":)\n")) });
    Ok((
        [
            (CONTENT_TYPE, "text/event-stream"),
            (CACHE_CONTROL, "no-store"),
            // Tells nginx not to buffer the stream.
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(opening.chain(frames)),
    )
        .into_response())
}

/// `GET /api/v1/streaming` (WebSocket): the token comes in `Authorization: Bearer`,
/// `?access_token=` or `Sec-WebSocket-Protocol` (echoed back, as browsers require);
/// `?stream=` (with `tag`/`list`/`group`) subscribes at once, and `subscribe` /
/// `unsubscribe` messages change the streams later.
async fn websocket(
    State(app): State<Starling>,
    headers: HeaderMap,
    uri: Uri,
    Params(q): Params<StreamParams>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let mut upgrade = upgrade.map_err(|e| {
        ApiError::bad_request(format!(
            "{e}: this is the WebSocket endpoint; Server-Sent Events are at /api/v1/streaming/<stream>"
        ))
    })?;
    let protocol = upgrade.requested_protocols().next().cloned();
    let token = bearer_token(&headers, &uri)
        .or_else(|| {
            protocol
                .as_ref()
                .and_then(|p| p.to_str().ok())
                .map(str::to_owned)
        })
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "The access token is invalid"))?;
    let principal = app.authenticate(&token).await?;
    // Subscribed before the handshake completes, so nothing posted after the client's
    // connection is established can be missed.
    let sub = open(&app, &principal, &q).await?;
    if let Some(protocol) = protocol {
        upgrade.set_selected_protocol(protocol);
    }
    Ok(upgrade.on_upgrade(move |socket| serve_socket(app, socket, sub)))
}

/// A subscription with the stream of `?stream=`, if any.
async fn open(app: &Starling, p: &Principal, q: &StreamParams) -> ApiResult<Subscription> {
    let mut sub = app.subscribe(p).await?;
    if let Some(name) = q.stream.as_deref().filter(|s| !s.is_empty()) {
        sub.add(q.spec(name)?).await?;
    }
    Ok(sub)
}

/// A message a WebSocket client sends.
#[derive(Debug, Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    params: StreamParams,
}

/// Runs one WebSocket until either side ends it.
///
/// A client that has sent nothing (not even the pong every WebSocket client must answer a
/// ping with) for a whole heartbeat interval is gone or stuck, and is closed, as
/// Mastodon's streaming server does; a send that cannot complete within two intervals (the
/// client stopped reading and the socket's buffers are full) closes it too. Either way the
/// connection and its subscription are freed instead of being held forever.
async fn serve_socket(app: Starling, mut socket: WebSocket, mut sub: Subscription) {
    let mut ticks = heartbeat(app.settings());
    let send_limit = app.settings().streaming_heartbeat() * 2;
    let mut heard_since_ping = true;
    loop {
        // Each arm's future is cancel-safe (`Subscription::next` included), so whichever
        // completes first loses nothing of the others.
        tokio::select! {
            incoming = socket.recv() => {
                heard_since_ping = true;
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(reply) = client_message(&mut sub, text.as_str()).await
                            && !send_within(&mut socket, Message::text(reply), send_limit).await
                        {
                            break;
                        }
                    }
                    // Pings are answered by the WebSocket layer; pongs and binary are ignored.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_))) => {}
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                }
            },
            message = sub.next() => match message {
                Ok(m) => {
                    let frame = Message::text(ws_frame(&m, app.settings()));
                    if !send_within(&mut socket, frame, send_limit).await {
                        break;
                    }
                }
                Err(why) => {
                    let code = match why {
                        StreamClosed::Lagged => close_code::AGAIN,
                        StreamClosed::AccessEnded => close_code::POLICY,
                        StreamClosed::ShuttingDown => close_code::AWAY,
                    };
                    let frame = CloseFrame { code, reason: why.to_string().into() };
                    send_within(&mut socket, Message::Close(Some(frame)), send_limit).await;
                    break;
                }
            },
            _ = ticks.tick() => {
                if !heard_since_ping {
                    let frame = CloseFrame {
                        code: close_code::AWAY,
                        reason: "no answer to the last ping".into(),
                    };
                    send_within(&mut socket, Message::Close(Some(frame)), send_limit).await;
                    break;
                }
                heard_since_ping = false;
                if !send_within(&mut socket, Message::Ping(Bytes::new()), send_limit).await {
                    break;
                }
            }
        }
    }
}

/// Sends `message`, giving up after `limit`; whether it was sent.
async fn send_within(socket: &mut WebSocket, message: Message, limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, socket.send(message)).await,
        Ok(Ok(()))
    )
}

/// Applies a `subscribe`/`unsubscribe` message; returns the error message to send back,
/// if any (`{"error": "…", "status": 400}`, as Mastodon answers).
async fn client_message(sub: &mut Subscription, text: &str) -> Option<String> {
    let result = match serde_json::from_str::<ClientMessage>(text) {
        Err(e) => Err(ApiError::bad_request(format!("Malformed message: {e}"))),
        Ok(m) => match (m.kind.as_str(), m.params.stream.as_deref()) {
            (kind @ ("subscribe" | "unsubscribe"), Some(name)) => match m.params.spec(name) {
                Err(e) => Err(e.into()),
                Ok(spec) if kind == "subscribe" => sub.add(spec).await.map_err(ApiError::from),
                Ok(spec) => {
                    sub.remove(&spec);
                    Ok(())
                }
            },
            ("subscribe" | "unsubscribe", None) => Err(ApiError::bad_request(
                "Missing stream: send \"stream\": \"user\" or another",
            )),
            (other, _) => Err(ApiError::bad_request(format!(
                "Unknown message type {other:?}: use subscribe or unsubscribe"
            ))),
        },
    };
    result
        .err()
        .map(|e| json!({ "error": e.message(), "status": e.status().as_u16() }).to_string())
}

/// Heartbeat ticks, the first one interval from now.
fn heartbeat(settings: &Settings) -> Interval {
    let every = settings.streaming_heartbeat();
    let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks
}

/// The event's payload: the entity's JSON, or the bare id for `delete`.
fn payload(event: &StreamEvent, s: &Settings) -> String {
    let json = match event {
        StreamEvent::Update(v) | StreamEvent::StatusUpdate(v) => Status::json_of(v, s),
        StreamEvent::Delete(id) => return id.to_string(),
        StreamEvent::Notification(n) => serde_json::to_string(&Notification::from_view(n, s)),
        StreamEvent::Conversation(c) => serde_json::to_string(&Conversation::from_view(c, s)),
    };
    json.unwrap_or_else(|e| {
        // Our entities always serialise; should one not, the client gets an empty object.
        tracing::error!(error = %e, "cannot serialise a streaming payload");
        "{}".to_owned()
    })
}

/// A WebSocket text message; the payload is a JSON string inside the JSON.
fn ws_frame(m: &StreamMessage, s: &Settings) -> String {
    json!({
        "stream": m.stream.names(),
        "event": m.event.name(),
        "payload": payload(&m.event, s),
    })
    .to_string()
}

/// An SSE frame. Serialised JSON holds no raw line breaks, so the payload is one `data:`
/// line.
fn sse_frame(m: &StreamMessage, s: &Settings) -> String {
    format!(
        "event: {}\ndata: {}\n\n",
        m.event.name(),
        payload(&m.event, s)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_parse_with_string_or_number_ids() {
        let m: ClientMessage =
            serde_json::from_str(r#"{"type":"subscribe","stream":"list","list":"12"}"#).unwrap();
        assert_eq!(m.params.spec("list").unwrap(), StreamSpec::List(12));
        let m: ClientMessage =
            serde_json::from_str(r#"{"type":"subscribe","stream":"group","group":34}"#).unwrap();
        assert_eq!(m.params.spec("group").unwrap(), StreamSpec::Group(34));
        let m: ClientMessage =
            serde_json::from_str(r#"{"type":"unsubscribe","stream":"hashtag","tag":"Rust"}"#)
                .unwrap();
        assert_eq!(m.kind, "unsubscribe");
        assert_eq!(
            m.params.spec("hashtag").unwrap(),
            StreamSpec::Hashtag {
                tag: "rust".into(),
                local: false
            }
        );
    }

    #[test]
    fn delete_frames_carry_the_bare_id_as_a_string() {
        let m = StreamMessage {
            stream: StreamSpec::Public {
                local: true,
                remote: false,
                only_media: false,
            },
            event: StreamEvent::Delete(123),
        };
        let frame: serde_json::Value =
            serde_json::from_str(&ws_frame(&m, &Settings::default())).unwrap();
        assert_eq!(
            frame,
            json!({"stream": ["public:local"], "event": "delete", "payload": "123"})
        );
        assert_eq!(
            sse_frame(&m, &Settings::default()),
            "event: delete\ndata: 123\n\n"
        );
    }
}

//! `GET /live`: the web UI's live updates as Server-Sent Events, authenticated by the
//! session cookie (an `EventSource` sends cookies; a token in the URL would end up in
//! logs and history).
//!
//! It reuses the service's streaming machinery (`starling_service::realtime::Subscription`): the same hub, the same
//! per-viewer visibility rule as the API's streams and the REST timelines. What differs is
//! the payload: posts arrive as the HTML of the same template the page uses, so the script
//! inserts them as they are and no post is rendered twice in two languages.
//!
//! Events: `post` (`{"id","html"}`, a new post for the page's timeline), `edit` (same
//! shape, replaces a post in place), `delete` (an id), `unread` (the notification count).

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use starling_domain::id::{now_millis, parse_id};
use starling_service::realtime::{StreamEvent, StreamSpec};
use starling_service::timelines::Timeline;
use starling_service::{Page, Starling};
use std::convert::Infallible;
use tokio::time::{Instant, MissedTickBehavior};

use crate::error::WebResult;
use crate::forms::opt_id;
use crate::session::{Session, SignedIn};
use crate::view::{PostCard, Viewer};

/// `?stream=`: `home`, `public` or `notifications` (the default); `since`: the newest
/// post the page shows, so posts written between the page and the stream are not lost.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LiveParams {
    stream: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    since: Option<i64>,
}

/// Most posts sent to catch up when a stream (re)opens.
const CATCH_UP: i64 = 40;

/// One post's markup, exactly as a page prints it.
#[derive(Template)]
#[template(path = "post_fragment.html")]
pub(crate) struct PostFragment {
    pub(crate) post: PostCard,
    pub(crate) focal: bool,
    pub(crate) layout: Viewer,
}

/// `GET /live?stream=&since=`. On a reconnection the browser sends `Last-Event-ID`
/// (the last post it received), which takes the place of `since`.
pub(crate) async fn live(
    State(app): State<Starling>,
    SignedIn(session): SignedIn,
    headers: HeaderMap,
    Query(q): Query<LiveParams>,
) -> WebResult<Response> {
    let mut sub = app.subscribe(&session.principal).await?;
    let timeline = match q.stream.as_deref() {
        // `user` carries the home timeline and the notifications together.
        Some("home") => {
            sub.add(StreamSpec::User).await?;
            Some(Timeline::Home)
        }
        Some("public") => {
            sub.add(StreamSpec::Public {
                local: false,
                remote: false,
                only_media: false,
            })
            .await?;
            sub.add(StreamSpec::UserNotification).await?;
            Some(Timeline::Public)
        }
        _ => {
            sub.add(StreamSpec::UserNotification).await?;
            None
        }
    };
    // Catching up after subscribing: a post written in between is sent twice at worst,
    // and the script drops the second copy by id.
    let since = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_id)
        .or(q.since);
    let mut missed = String::new();
    if let (Some(tl), Some(since)) = (timeline, since) {
        let page = Page {
            since_id: Some(since),
            ..Page::first(CATCH_UP)
        };
        let views = app.timeline(Some(&session.account), tl, page).await?.items;
        // Oldest first, as live posts arrive.
        for v in views.iter().rev() {
            missed.push_str(&post_frame("post", v, &session).unwrap_or_default());
        }
    }
    let every = app.settings().streaming_heartbeat();
    let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let frames =
        futures_util::stream::unfold(Some((sub, app, session, ticks)), |state| async move {
            let (mut sub, app, session, mut ticks) = state?;
            let frame = loop {
                tokio::select! {
                    message = sub.next() => match message {
                        Ok(m) => {
                            if let Some(frame) = frame(&app, &session, m.event).await {
                                break frame;
                            }
                        }
                        // Lagged, signed out or shutting down: ending the body closes the
                        // stream; the browser reconnects (or finds itself signed out).
                        Err(_) => return None,
                    },
                    _ = ticks.tick() => break ":\n\n".to_owned(),
                }
            };
            Some((
                Ok::<_, Infallible>(Bytes::from(frame)),
                Some((sub, app, session, ticks)),
            ))
        });
    // The opening comment lets the browser see the stream open at once; `retry` asks it
    // to reconnect after 3 s if the connection drops.
    let opening = futures_util::stream::once(async move {
        Ok(Bytes::from(format!(": live\nretry: 3000\n\n{missed}")))
    });
    Ok((
        [
            (CONTENT_TYPE, "text/event-stream"),
            (CACHE_CONTROL, "no-store"),
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(opening.chain(frames)),
    )
        .into_response())
}

/// The SSE frame for an event, or `None` for events this page does not show.
async fn frame(app: &Starling, session: &Session, event: StreamEvent) -> Option<String> {
    match event {
        StreamEvent::Update(v) => post_frame("post", &v, session),
        StreamEvent::StatusUpdate(v) => post_frame("edit", &v, session),
        StreamEvent::Delete(id) => Some(format!("event: delete\ndata: {id}\n\n")),
        StreamEvent::Notification(_) => match app.unread_notifications(&session.account).await {
            Ok(count) => Some(format!("event: unread\ndata: {count}\n\n")),
            // The next notification (or the next page) brings the count up to date.
            Err(e) => {
                tracing::warn!(error = %e, "cannot count unread notifications for a live page");
                None
            }
        },
        StreamEvent::Conversation(_) => None,
    }
}

fn post_frame(
    name: &str,
    v: &starling_service::views::StatusView,
    session: &Session,
) -> Option<String> {
    let post = PostCard::of(v, now_millis());
    let id = post.id.clone();
    // The entry's id, which the browser sends back as `Last-Event-ID` to catch up from.
    let entry = post.entry_id.clone();
    let fragment = PostFragment {
        post,
        focal: false,
        layout: Viewer::of(Some(session)),
    };
    let html = match fragment.render() {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "cannot render a live post");
            return None;
        }
    };
    // JSON holds no raw line breaks, so the payload is one `data:` line.
    let data = json!({ "id": id, "html": html }).to_string();
    Some(format!("event: {name}\nid: {entry}\ndata: {data}\n\n"))
}

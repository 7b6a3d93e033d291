//! The streaming API over real sockets: WebSocket (token in the header, the query or the
//! subprotocol; `?stream=`; subscribe/unsubscribe) and Server-Sent Events; every stream
//! type; and what must never arrive (private-group posts for non-members, blocked
//! accounts' posts), checked by posting a visible marker afterwards and requiring the
//! marker to be the next event, so no test waits for silence.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use starling_service::realtime::{StreamClosed, StreamSpec};
use starling_testkit::live::{
    WAIT, Ws, account_id, closed, follow, next_ws, post, say, send_ws, sse, ws, ws_url,
};
use starling_testkit::{TestApp, expect_json, json_body, spawn_app, spawn_app_with};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// How a WebSocket client hands over its token.
#[derive(Debug, Clone, Copy)]
enum TokenIn {
    Header,
    Query,
    Protocol,
}

/// Opens a WebSocket with `query` (e.g. `?stream=user`), the token passed as `how`.
async fn try_ws(
    app: &TestApp,
    token: Option<&str>,
    how: TokenIn,
    query: &str,
) -> Result<
    (
        Ws,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    WsError,
> {
    let mut url = ws_url(app, query);
    if let (Some(t), TokenIn::Query) = (token, how) {
        url.push(if query.is_empty() { '?' } else { '&' });
        url.push_str(&format!("access_token={t}"));
    }
    let mut request = url.into_client_request().unwrap();
    match (token, how) {
        (Some(t), TokenIn::Header) => {
            request.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
            );
        }
        (Some(t), TokenIn::Protocol) => {
            request
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_str(t).unwrap());
        }
        _ => {}
    }
    tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("the WebSocket handshake hangs")
}

/// A raw text message (for error replies).
async fn next_text(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected message {other:?}"),
        }
    }
}

#[tokio::test]
async fn health_answers_ok_in_plain_text() {
    let app = spawn_app().await;
    for path in ["/api/v1/streaming/health", "/api/v1/streaming/health/"] {
        let r = app.get(path, None).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain"),
            "{path}"
        );
        assert_eq!(r.text().await.unwrap(), "OK");
    }
}

#[tokio::test]
async fn websocket_takes_the_token_from_the_header_the_query_or_the_subprotocol() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let mut sockets = Vec::new();
    for how in [TokenIn::Header, TokenIn::Query, TokenIn::Protocol] {
        let (socket, response) = try_ws(&app, Some(&ana), how, "?stream=user")
            .await
            .unwrap_or_else(|e| panic!("{how:?}: {e}"));
        if let TokenIn::Protocol = how {
            assert_eq!(
                response.headers()["sec-websocket-protocol"],
                ana.as_str(),
                "the subprotocol is echoed back"
            );
        }
        sockets.push(socket);
    }
    let id = say(&app, &ana, "hello, sockets").await;
    for socket in &mut sockets {
        let frame = next_ws(socket).await;
        assert_eq!(frame.stream, ["user"]);
        assert_eq!(frame.event, "update");
        assert_eq!(frame.id(), id);
        assert!(
            frame.payload["content"]
                .as_str()
                .unwrap()
                .contains("hello, sockets")
        );
    }

    for (token, how) in [
        (None, TokenIn::Header),
        (Some("not-a-token"), TokenIn::Header),
        (Some("not-a-token"), TokenIn::Query),
        (Some("not-a-token"), TokenIn::Protocol),
    ] {
        match try_ws(&app, token, how, "?stream=user").await {
            Err(WsError::Http(response)) => {
                assert_eq!(response.status(), 401, "{token:?} in {how:?}")
            }
            other => panic!("{token:?} in {how:?}: expected 401, got {other:?}"),
        }
    }
    // An unknown stream is refused before the upgrade.
    match try_ws(&app, Some(&ana), TokenIn::Header, "?stream=everything").await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 400),
        other => panic!("expected 400, got {other:?}"),
    }
}

#[tokio::test]
async fn a_followers_user_stream_gets_new_posts_and_strangers_do_not() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    follow(&app, &ben, &account_id(&app, &ana).await).await;
    let mut bens = ws(&app, &ben, "?stream=user").await;
    let mut cats = ws(&app, &cat, "?stream=user").await;

    let id = say(&app, &ana, "for my followers").await;
    let frame = next_ws(&mut bens).await;
    assert_eq!((frame.event.as_str(), frame.id()), ("update", id.as_str()));
    assert_eq!(frame.payload["account"]["username"], "ana");

    // cat does not follow ana: the next thing in cat's home is cat's own post.
    let own = say(&app, &cat, "marker").await;
    assert_eq!(next_ws(&mut cats).await.id(), own);
}

#[tokio::test]
async fn server_sent_events_carry_events_and_heartbeats() {
    let app = spawn_app_with(|s| s.streaming_heartbeat_secs = 1).await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let mut public = sse(&app, &ben, "/api/v1/streaming/public").await;
    assert_eq!(
        public.next_block().await.unwrap(),
        ":)",
        "an opening comment"
    );

    let id = say(&app, &ana, "over SSE").await;
    let frame = public.next_event().await;
    assert_eq!((frame.event.as_str(), frame.id()), ("update", id.as_str()));

    // Nothing happens now, so the next thing is a heartbeat.
    assert_eq!(public.next_block().await.unwrap(), ":thump");

    // The token may also come in the query string (EventSource cannot set headers).
    let r = app
        .get(
            &format!("/api/v1/streaming/public/local?access_token={ben}"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for path in ["/api/v1/streaming/user", "/api/v1/streaming/public"] {
        let r = app.get(path, None).await;
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "{path} without a token"
        );
    }
    let r = app.get("/api/v1/streaming/user", Some("not-a-token")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sse_paths_name_every_stream_and_refuse_what_the_viewer_may_not_read() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let list = expect_json(
        app.post_json("/api/v1/lists", Some(&ana), json!({"title": "close"}))
            .await,
        "list",
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = expect_json(
        app.post_json(
            "/api/v1/groups",
            Some(&ana),
            json!({"name": "Team", "description": "x", "visibility": "private"}),
        )
        .await,
        "group",
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        "/api/v1/streaming/user".to_owned(),
        "/api/v1/streaming/user/notification".to_owned(),
        "/api/v1/streaming/public".to_owned(),
        "/api/v1/streaming/public/local".to_owned(),
        "/api/v1/streaming/hashtag?tag=rust".to_owned(),
        "/api/v1/streaming/hashtag/local?tag=rust".to_owned(),
        format!("/api/v1/streaming/list?list={list}"),
        "/api/v1/streaming/direct".to_owned(),
        format!("/api/v1/streaming/group?group={group}"),
        // Trailing slashes are trimmed, as everywhere.
        "/api/v1/streaming/user/".to_owned(),
    ] {
        let mut s = sse(&app, &ana, &path).await;
        assert_eq!(s.next_block().await.unwrap(), ":)", "{path}");
    }
    for (path, status) in [
        (
            "/api/v1/streaming/hashtag".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/streaming/list".to_owned(), StatusCode::BAD_REQUEST),
        (
            "/api/v1/streaming/nonsense".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        // Another account's list is as unknown as a list that does not exist.
        (
            format!("/api/v1/streaming/list?list={list}"),
            StatusCode::NOT_FOUND,
        ),
        // A private group is for its members.
        (
            format!("/api/v1/streaming/group?group={group}"),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let r = app.get(&path, Some(&ben)).await;
        assert_eq!(r.status(), status, "{path}");
        assert!(json_body(r).await["error"].is_string());
    }
}

#[tokio::test]
async fn one_socket_subscribes_and_unsubscribes() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let mut socket = ws(&app, &ben, "").await;

    send_ws(
        &mut socket,
        json!({"type": "subscribe", "stream": "hashtag", "tag": "Rust"}),
    )
    .await;
    let first = say(&app, &ana, "learning #rust").await;
    let frame = next_ws(&mut socket).await;
    assert_eq!(frame.stream, ["hashtag", "rust"]);
    assert_eq!(frame.id(), first);

    // Two streams: an event matching both comes once on each.
    send_ws(
        &mut socket,
        json!({"type": "subscribe", "stream": "public"}),
    )
    .await;
    let second = say(&app, &ana, "still #rust").await;
    let mut streams = [next_ws(&mut socket).await, next_ws(&mut socket).await];
    streams.sort_by_key(|f| f.stream.clone());
    assert_eq!(streams[0].stream, ["hashtag", "rust"]);
    assert_eq!(streams[1].stream, ["public"]);
    assert!(streams.iter().all(|f| f.id() == second));

    send_ws(
        &mut socket,
        json!({"type": "unsubscribe", "stream": "hashtag", "tag": "rust"}),
    )
    .await;
    let third = say(&app, &ana, "#rust again").await;
    let frame = next_ws(&mut socket).await;
    assert_eq!(
        (frame.stream.clone(), frame.id()),
        (vec!["public".to_owned()], third.as_str())
    );
    let marker = say(&app, &ana, "marker").await;
    assert_eq!(
        next_ws(&mut socket).await.id(),
        marker,
        "nothing more came on the hashtag stream"
    );

    // Bad messages are answered with an error and leave the socket open.
    for (message, status) in [
        (json!({"type": "subscribe", "stream": "nonsense"}), 400),
        (json!({"type": "subscribe", "stream": "hashtag"}), 400),
        (
            json!({"type": "subscribe", "stream": "list", "list": "1"}),
            404,
        ),
        (json!({"type": "dance"}), 400),
    ] {
        socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
        let reply = next_text(&mut socket).await;
        assert_eq!(reply["status"], status, "{message}: {reply}");
        assert!(reply["error"].is_string());
    }
    socket.send(Message::text("not json")).await.unwrap();
    assert_eq!(next_text(&mut socket).await["status"], 400);
    let last = say(&app, &ana, "still here").await;
    assert_eq!(next_ws(&mut socket).await.id(), last);
}

#[tokio::test]
async fn public_and_hashtag_streams_show_public_originals_only() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let mut public = ws(&app, &ben, "?stream=public:local").await;
    let mut tagged = ws(&app, &ben, "?stream=hashtag:local&tag=news").await;

    post(
        &app,
        &ana,
        json!({"status": "quiet #news", "visibility": "unlisted"}),
    )
    .await;
    post(
        &app,
        &ana,
        json!({"status": "followers #news", "visibility": "private"}),
    )
    .await;
    let loud = say(&app, &ana, "loud #news").await;
    // A reblog is not a public original.
    expect_json(
        app.post_json(
            &format!("/api/v1/statuses/{loud}/reblog"),
            Some(&ben),
            json!({}),
        )
        .await,
        "reblog",
    )
    .await;
    let marker = say(&app, &ana, "marker #news").await;

    let frame = next_ws(&mut public).await;
    assert_eq!(frame.stream, ["public:local"]);
    assert_eq!(frame.id(), loud);
    assert_eq!(next_ws(&mut public).await.id(), marker);
    let frame = next_ws(&mut tagged).await;
    assert_eq!(frame.stream, ["hashtag:local", "news"]);
    assert_eq!(frame.id(), loud);
    assert_eq!(next_ws(&mut tagged).await.id(), marker);
}

#[tokio::test]
async fn remote_and_media_public_streams_open_but_match_nothing_yet() {
    // As the REST timeline's `remote` and `only_media`: Starling has no remote posts and
    // no media, so these streams are accepted (clients ask for them) and stay quiet.
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let mut socket = ws(&app, &ben, "?stream=public:remote").await;
    for stream in ["public:media", "public:local:media", "public"] {
        send_ws(&mut socket, json!({"type": "subscribe", "stream": stream})).await;
    }
    let first = say(&app, &ana, "first").await;
    let second = say(&app, &ana, "second").await;
    for expected in [first, second] {
        let frame = next_ws(&mut socket).await;
        assert_eq!(
            frame.stream,
            ["public"],
            "only the plain public stream speaks"
        );
        assert_eq!(frame.id(), expected);
    }
    for path in [
        "/api/v1/streaming/public/remote",
        "/api/v1/streaming/public?only_media=true",
        "/api/v1/streaming/public/local?only_media=1",
    ] {
        sse(&app, &ben, path).await;
    }
}

#[tokio::test]
async fn each_subscriber_gets_the_post_as_its_own_relations_and_marks_say() {
    // The router reads a post's viewer-dependent facts for all connected followers at
    // once; each must still get exactly what its own home shows.
    let app = spawn_app().await;
    let names = ["ana", "ben", "cat", "dan", "eve", "fay", "gil"];
    let mut tokens = Vec::new();
    for name in names {
        tokens.push(app.sign_up(name).await);
    }
    let [ana, ben, cat, dan, eve, fay, gil] = tokens.try_into().unwrap();
    let mut ids = Vec::new();
    for t in [&ana, &eve, &fay, &gil] {
        ids.push(account_id(&app, t).await);
    }
    let [ana_id, eve_id, fay_id, gil_id] = ids.try_into().unwrap();
    for (who, whom) in [
        (&ben, &ana_id),
        (&ben, &eve_id),
        (&ben, &gil_id),
        (&cat, &ana_id),
        (&cat, &gil_id),
        (&dan, &ana_id),
        (&dan, &eve_id),
        (&dan, &gil_id),
    ] {
        follow(&app, who, whom).await;
    }
    // dan does not want fay's reblogs; ben mutes ana; cat reads ana in an exclusive list.
    let r = app
        .post_form(
            &format!("/api/v1/accounts/{fay_id}/follow"),
            Some(&dan),
            &[("reblogs", "false")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    expect_json(
        app.post_json(
            &format!("/api/v1/accounts/{ana_id}/mute"),
            Some(&ben),
            json!({}),
        )
        .await,
        "mute",
    )
    .await;
    let list = expect_json(
        app.post_json(
            "/api/v1/lists",
            Some(&cat),
            json!({"title": "ana", "exclusive": true}),
        )
        .await,
        "list",
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_json(
        app.post_json(
            &format!("/api/v1/lists/{list}/accounts"),
            Some(&cat),
            json!({"account_ids": [ana_id]}),
        )
        .await,
        "list member",
    )
    .await;
    let earlier = say(&app, &ana, "earlier").await;
    expect_json(
        app.post_json(
            &format!("/api/v1/statuses/{earlier}/favourite"),
            Some(&dan),
            json!({}),
        )
        .await,
        "favourite",
    )
    .await;

    let mut bens = ws(&app, &ben, "?stream=user").await;
    let mut cats = ws(&app, &cat, "?stream=user").await;
    let mut dans = ws(&app, &dan, "?stream=user").await;
    let new = say(&app, &ana, "new").await;
    let boost = |t: &str| {
        let (app, earlier, t) = (&app, earlier.clone(), t.to_owned());
        async move {
            expect_json(
                app.post_json(
                    &format!("/api/v1/statuses/{earlier}/reblog"),
                    Some(&t),
                    json!({}),
                )
                .await,
                "reblog",
            )
            .await["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let eves = boost(&eve).await;
    boost(&fay).await;
    let marker = say(&app, &gil, "marker").await;

    assert_eq!(next_ws(&mut bens).await.id(), marker, "ana is muted");
    assert_eq!(
        next_ws(&mut cats).await.id(),
        marker,
        "ana is in an exclusive list"
    );
    assert_eq!(next_ws(&mut dans).await.id(), new);
    let reblog = next_ws(&mut dans).await;
    assert_eq!(reblog.id(), eves);
    assert_eq!(
        reblog.payload["reblog"]["favourited"], true,
        "dan's own mark"
    );
    assert_eq!(reblog.payload["favourited"], false);
    assert_eq!(
        next_ws(&mut dans).await.id(),
        marker,
        "fay's reblog is hidden"
    );
}

#[tokio::test]
async fn a_socket_that_never_answers_pings_is_closed_and_a_live_one_stays() {
    let app = spawn_app_with(|s| s.streaming_heartbeat_secs = 1).await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let mut silent = ws(&app, &ben, "?stream=public").await;
    let mut live = ws(&app, &ben, "?stream=public").await;
    // `live` is read (so its client answers pings) while `silent` is left alone for
    // longer than a heartbeat interval: the silence is what is under test.
    let reader = tokio::spawn(async move {
        let until = tokio::time::Instant::now() + Duration::from_millis(2500);
        while let Ok(frame) = tokio::time::timeout_at(until, live.next()).await {
            match frame {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    panic!("the live socket was closed")
                }
                Some(Ok(_)) => {}
            }
        }
        live
    });
    let mut live = reader.await.unwrap();
    // Pings keep coming to a socket left open, so `closed` alone would wait forever.
    let code = tokio::time::timeout(WAIT, closed(&mut silent))
        .await
        .expect("the silent socket is closed within the wait");
    assert_eq!(code, Some(1001), "closed as gone away");
    let id = say(&app, &ana, "still here").await;
    assert_eq!(next_ws(&mut live).await.id(), id);
}

#[tokio::test]
async fn a_mention_produces_a_notification() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let mut notes = ws(&app, &ben, "?stream=user:notification").await;
    let mut home = sse(&app, &ben, "/api/v1/streaming/user").await;

    let id = say(&app, &ana, "hi @ben").await;
    let frame = next_ws(&mut notes).await;
    assert_eq!(frame.stream, ["user:notification"]);
    assert_eq!(frame.event, "notification");
    assert_eq!(frame.payload["type"], "mention");
    assert_eq!(frame.payload["status"]["id"], id.as_str());
    assert_eq!(frame.payload["account"]["username"], "ana");

    // The user stream carries the notification too (not the post: ben does not follow
    // ana, so it is not in his home).
    let frame = home.next_event().await;
    assert_eq!(frame.event, "notification");
    assert_eq!(frame.payload["type"], "mention");

    // A follow is a notification too.
    follow(&app, &ana, &account_id(&app, &ben).await).await;
    let frame = next_ws(&mut notes).await;
    assert_eq!(frame.payload["type"], "follow");
}

#[tokio::test]
async fn private_group_posts_reach_members_only() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    let ana_id = account_id(&app, &ana).await;
    let ben_id = account_id(&app, &ben).await;
    let group = expect_json(
        app.post_json(
            "/api/v1/groups",
            Some(&ana),
            json!({"name": "Team", "description": "x", "visibility": "private"}),
        )
        .await,
        "group",
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_json(
        app.post_json(
            &format!("/api/v1/groups/{group}/join"),
            Some(&ben),
            json!({}),
        )
        .await,
        "join",
    )
    .await;
    expect_json(
        app.post_json(
            &format!("/api/v1/groups/{group}/requests/{ben_id}/authorize"),
            Some(&ana),
            json!({}),
        )
        .await,
        "authorize",
    )
    .await;
    // cat follows ana, listens to everything she may, and mentions cannot leak either.
    follow(&app, &cat, &ana_id).await;
    let mut cats = ws(&app, &cat, "?stream=user").await;
    send_ws(&mut cats, json!({"type": "subscribe", "stream": "public"})).await;
    socket_refused(
        &mut cats,
        json!({"type": "subscribe", "stream": "group", "group": group}),
        403,
    )
    .await;
    let mut bens = ws(&app, &ben, &format!("?stream=group&group={group}")).await;
    send_ws(&mut bens, json!({"type": "subscribe", "stream": "user"})).await;

    let secret = post(
        &app,
        &ana,
        json!({"status": "members only, @cat", "group_id": group}),
    )
    .await;
    let mut got = [next_ws(&mut bens).await, next_ws(&mut bens).await];
    got.sort_by_key(|f| f.stream.clone());
    assert_eq!(got[0].stream, ["group", group.as_str()]);
    assert_eq!(got[1].stream, ["user"]);
    assert!(got.iter().all(|f| f.id() == secret && f.event == "update"));
    assert_eq!(got[0].payload["group"]["id"], group.as_str());

    let marker = say(&app, &ana, "public marker").await;
    let mut seen = [next_ws(&mut cats).await, next_ws(&mut cats).await];
    seen.sort_by_key(|f| f.stream.clone());
    assert!(
        seen.iter().all(|f| f.id() == marker && f.event == "update"),
        "the group post never reached cat: {seen:?}"
    );
}

/// Sends a subscribe that must be refused with `status`.
async fn socket_refused(ws: &mut Ws, message: Value, status: u16) {
    ws.send(Message::text(message.to_string())).await.unwrap();
    let reply = next_text(ws).await;
    assert_eq!(reply["status"], status, "{message}: {reply}");
}

#[tokio::test]
async fn a_blocked_accounts_posts_never_arrive() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    let ana_id = account_id(&app, &ana).await;
    let cat_id = account_id(&app, &cat).await;
    follow(&app, &ben, &ana_id).await;
    follow(&app, &ben, &cat_id).await;
    // ben blocks cat; ana blocks ben. Neither's posts may reach ben any more.
    expect_json(
        app.post_json(
            &format!("/api/v1/accounts/{cat_id}/block"),
            Some(&ben),
            json!({}),
        )
        .await,
        "block",
    )
    .await;
    let ben_id = account_id(&app, &ben).await;
    expect_json(
        app.post_json(
            &format!("/api/v1/accounts/{ben_id}/block"),
            Some(&ana),
            json!({}),
        )
        .await,
        "block",
    )
    .await;
    let mut bens = ws(&app, &ben, "?stream=public").await;
    send_ws(&mut bens, json!({"type": "subscribe", "stream": "user"})).await;
    send_ws(
        &mut bens,
        json!({"type": "subscribe", "stream": "hashtag", "tag": "x"}),
    )
    .await;

    say(&app, &cat, "blocked by ben #x @ben").await;
    say(&app, &ana, "blocking ben #x @ben").await;
    let dan = app.sign_up("dan").await;
    let marker = say(&app, &dan, "marker #x").await;
    let mut got = [next_ws(&mut bens).await, next_ws(&mut bens).await];
    got.sort_by_key(|f| f.stream.clone());
    assert_eq!(got[0].stream, ["hashtag", "x"]);
    assert_eq!(got[1].stream, ["public"]);
    assert!(
        got.iter().all(|f| f.id() == marker),
        "only the marker arrives: {got:?}"
    );
}

#[tokio::test]
async fn deleting_and_editing_a_post_reach_its_streams() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    follow(&app, &ben, &account_id(&app, &ana).await).await;
    let mut home = ws(&app, &ben, "?stream=user").await;
    let mut public = sse(&app, &ben, "/api/v1/streaming/public").await;

    let id = say(&app, &ana, "first draft").await;
    assert_eq!(next_ws(&mut home).await.id(), id);
    assert_eq!(public.next_event().await.id(), id);

    let r = app
        .put_json(
            &format!("/api/v1/statuses/{id}"),
            Some(&ana),
            json!({"status": "second draft"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let frame = next_ws(&mut home).await;
    assert_eq!(
        (frame.event.as_str(), frame.id()),
        ("status.update", id.as_str())
    );
    assert!(
        frame.payload["content"]
            .as_str()
            .unwrap()
            .contains("second draft")
    );
    assert!(frame.payload["edited_at"].is_string());
    assert_eq!(public.next_event().await.event, "status.update");

    let r = app
        .delete(&format!("/api/v1/statuses/{id}"), Some(&ana))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let frame = next_ws(&mut home).await;
    assert_eq!(frame.event, "delete");
    assert_eq!(
        frame.payload,
        Value::String(id.clone()),
        "the bare id, as a string"
    );
    let frame = public.next_event().await;
    assert_eq!((frame.event.as_str(), frame.id()), ("delete", id.as_str()));

    // A private post's deletion reaches followers but not the public stream.
    let private = post(
        &app,
        &ana,
        json!({"status": "followers only", "visibility": "private"}),
    )
    .await;
    assert_eq!(next_ws(&mut home).await.id(), private);
    app.delete(&format!("/api/v1/statuses/{private}"), Some(&ana))
        .await;
    let frame = next_ws(&mut home).await;
    assert_eq!(
        (frame.event.as_str(), frame.id()),
        ("delete", private.as_str())
    );
    let marker = say(&app, &ana, "marker").await;
    assert_eq!(public.next_event().await.id(), marker);
}

#[tokio::test]
async fn a_direct_message_updates_the_conversation_on_the_direct_stream() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    let mut bens = ws(&app, &ben, "?stream=direct").await;
    let mut cats = sse(&app, &cat, "/api/v1/streaming/direct").await;

    let dm = post(
        &app,
        &ana,
        json!({"status": "@ben just us", "visibility": "direct"}),
    )
    .await;
    let frame = next_ws(&mut bens).await;
    assert_eq!(frame.stream, ["direct"]);
    assert_eq!(frame.event, "conversation");
    assert_eq!(frame.id(), dm);
    assert_eq!(frame.payload["unread"], true);
    assert_eq!(frame.payload["accounts"][0]["username"], "ana");

    let marker = post(
        &app,
        &ana,
        json!({"status": "@cat and you", "visibility": "direct"}),
    )
    .await;
    let frame = cats.next_event().await;
    assert_eq!(
        (frame.event.as_str(), frame.id()),
        ("conversation", marker.as_str())
    );
}

#[tokio::test]
async fn a_list_stream_shows_its_members_posts() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    let ana_id = account_id(&app, &ana).await;
    follow(&app, &ben, &ana_id).await;
    follow(&app, &ben, &account_id(&app, &cat).await).await;
    let list = expect_json(
        app.post_json("/api/v1/lists", Some(&ben), json!({"title": "ana"}))
            .await,
        "list",
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post_json(
            &format!("/api/v1/lists/{list}/accounts"),
            Some(&ben),
            json!({"account_ids": [ana_id]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut socket = ws(&app, &ben, &format!("?stream=list&list={list}")).await;

    say(&app, &cat, "not in the list").await;
    let id = say(&app, &ana, "in the list").await;
    let frame = next_ws(&mut socket).await;
    assert_eq!(frame.stream, ["list", list.as_str()]);
    assert_eq!(frame.id(), id);
}

#[tokio::test]
async fn a_followed_hashtag_brings_posts_into_the_user_stream() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let r = app
        .post_json("/api/v1/tags/birds/follow", Some(&ben), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut home = ws(&app, &ben, "?stream=user").await;
    say(&app, &ana, "no tag here").await;
    let id = say(&app, &ana, "a heron #birds").await;
    assert_eq!(next_ws(&mut home).await.id(), id);
}

#[tokio::test]
async fn a_revoked_token_or_deactivated_account_closes_its_streams() {
    let app = spawn_app().await;
    let (client_id, client_secret) = app.register_app().await;
    let token = app.sign_up_in_app(&client_id, &client_secret, "ana").await;
    let mut socket = ws(&app, &token, "?stream=user").await;
    let mut events = sse(&app, &token, "/api/v1/streaming/public").await;

    let r = app
        .post_form(
            "/oauth/revoke",
            None,
            &[
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.as_str()),
                ("token", token.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(closed(&mut socket).await, Some(1008));
    assert!(events.ends().await, "the SSE stream ends too");

    let ben = app.sign_up("ben").await;
    let mut socket = ws(&app, &ben, "?stream=user").await;
    app.app.deactivate("ben").await.unwrap();
    assert_eq!(closed(&mut socket).await, Some(1008));
    assert!(
        try_ws(&app, Some(&ben), TokenIn::Header, "?stream=user")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_lagging_subscriber_is_dropped_without_holding_up_anyone() {
    let app = spawn_app_with(|s| s.streaming_buffer = 4).await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    // A subscriber that never reads, through the service API.
    let principal = app.app.authenticate(&ben).await.unwrap();
    let mut slow = app.app.subscribe(&principal).await.unwrap();
    slow.add(StreamSpec::Public {
        local: false,
        remote: false,
        only_media: false,
    })
    .await
    .unwrap();
    let mut fast = ws(&app, &ben, "?stream=public").await;

    for i in 0..10 {
        let id = say(&app, &ana, &format!("post {i}")).await;
        assert_eq!(next_ws(&mut fast).await.id(), id, "the reader keeps up");
    }
    assert_eq!(slow.next().await.unwrap_err(), StreamClosed::Lagged);
}

#[tokio::test]
async fn shutting_down_closes_open_streams() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let mut socket = ws(&app, &ana, "?stream=user").await;
    let mut events = sse(&app, &ana, "/api/v1/streaming/user").await;
    tokio::time::timeout(WAIT, app.stop())
        .await
        .expect("the server stops despite open streams");
    assert_eq!(closed(&mut socket).await, Some(1001));
    assert!(events.ends().await);
}

#[tokio::test]
async fn reblogs_and_celebrity_posts_reach_followers_streams() {
    // With a threshold of 1 every followed account is a celebrity, whose posts are never
    // copied to followers' feeds: the stream must not depend on those copies.
    let app = spawn_app_with(|s| s.celebrity_threshold = 1).await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    follow(&app, &ben, &account_id(&app, &cat).await).await;
    let mut home = ws(&app, &ben, "?stream=user").await;

    let original = say(&app, &ana, "worth sharing").await;
    let reblog = expect_json(
        app.post_json(
            &format!("/api/v1/statuses/{original}/reblog"),
            Some(&cat),
            json!({}),
        )
        .await,
        "reblog",
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let frame = next_ws(&mut home).await;
    assert_eq!(
        (frame.event.as_str(), frame.id()),
        ("update", reblog.as_str())
    );
    assert_eq!(frame.payload["reblog"]["id"], original.as_str());

    let r = app
        .post_json(
            &format!("/api/v1/statuses/{original}/unreblog"),
            Some(&cat),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let frame = next_ws(&mut home).await;
    assert_eq!(
        (frame.event.as_str(), frame.id()),
        ("delete", reblog.as_str())
    );

    let own = say(&app, &cat, "from a celebrity").await;
    assert_eq!(next_ws(&mut home).await.id(), own);

    // Deleting the original takes its reblogs along: their readers (ben follows the
    // reblogger, not the author) get a `delete` of the reblog.
    let again = expect_json(
        app.post_json(
            &format!("/api/v1/statuses/{original}/reblog"),
            Some(&cat),
            json!({}),
        )
        .await,
        "reblog again",
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(next_ws(&mut home).await.id(), again);
    let r = app
        .delete(&format!("/api/v1/statuses/{original}"), Some(&ana))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let frame = next_ws(&mut home).await;
    assert_eq!(
        (frame.event.as_str(), frame.id()),
        ("delete", again.as_str())
    );
}

//! Live delivery across nodes (docs/decisions/0011-node-relay.md): two Starling servers on
//! one PostgreSQL database, events stored through node A reaching streams open on node B
//! — posts, notifications, deletes, ended access — with the same visibility rule, and no
//! node delivering its own events twice. What must never arrive is checked by a visible
//! marker being the next event, so no test waits for silence.
//!
//! PostgreSQL only (`STARLING_TEST_DATABASE=postgres`): SQLite is one node by nature, so on
//! SQLite every test here says so and returns. The last test checks that a node survives
//! PostgreSQL cutting its connections.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use starling_testkit::live::{
    Frame, Ws, account_id, closed, follow, next_ws_within, post, say, send_ws, sse, ws,
};
use starling_testkit::{TestApp, expect_json, on_postgres, spawn_app_with};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// How long an event may take to cross from one node to the other.
const WAIT: Duration = Duration::from_secs(3);

/// Two nodes on one fresh PostgreSQL database, or `None` (with a note) on SQLite.
async fn two_nodes() -> Option<(TestApp, TestApp)> {
    two_nodes_with(|_| {}).await
}

/// [`two_nodes`], node A with adjusted settings.
async fn two_nodes_with(
    tweak: impl FnOnce(&mut starling_service::Settings),
) -> Option<(TestApp, TestApp)> {
    if !on_postgres() {
        eprintln!(
            "skipped: relaying between nodes only applies to PostgreSQL \
             (run with STARLING_TEST_DATABASE=postgres); SQLite is always one node"
        );
        return None;
    }
    let a = spawn_app_with(tweak).await;
    let b = a.spawn_node().await;
    Some((a, b))
}

/// The next event on the socket, which must cross between the nodes within [`WAIT`].
async fn next_ws(ws: &mut Ws) -> Frame {
    next_ws_within(ws, WAIT).await
}

#[tokio::test]
async fn a_post_on_one_node_reaches_a_followers_stream_on_another() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let ana = a.sign_up("ana").await;
    let ben = a.sign_up("ben").await;
    follow(&b, &ben, &account_id(&a, &ana).await).await;
    let mut bens = ws(&b, &ben, "?stream=user").await;

    let id = say(&a, &ana, "hello from node A").await;
    let frame = next_ws(&mut bens).await;
    assert_eq!((frame.event.as_str(), frame.id()), ("update", id.as_str()));
    assert_eq!(frame.stream, ["user"]);
    assert_eq!(frame.payload["account"]["username"], "ana");
    assert_eq!(frame.payload["content"], "<p>hello from node A</p>");
}

#[tokio::test]
async fn a_mention_on_one_node_notifies_on_another() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let ana = a.sign_up("ana").await;
    let ben = a.sign_up("ben").await;
    let mut notes = ws(&b, &ben, "?stream=user:notification").await;
    let mut home = sse(&b, &ben, "/api/v1/streaming/user").await.within(WAIT);

    let id = say(&a, &ana, "hi @ben").await;
    let frame = next_ws(&mut notes).await;
    assert_eq!(frame.stream, ["user:notification"]);
    assert_eq!(frame.event, "notification");
    assert_eq!(frame.payload["type"], "mention");
    assert_eq!(frame.payload["status"]["id"], id.as_str());
    let frame = home.next_event().await;
    assert_eq!(frame.event, "notification");
    assert_eq!(frame.payload["type"], "mention");
}

#[tokio::test]
async fn a_delete_on_one_node_reaches_streams_on_another() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let ana = a.sign_up("ana").await;
    let ben = a.sign_up("ben").await;
    follow(&a, &ben, &account_id(&a, &ana).await).await;
    let mut bens = ws(&b, &ben, "?stream=user").await;

    let id = say(&a, &ana, "soon gone").await;
    assert_eq!(next_ws(&mut bens).await.id(), id);
    let r = a
        .delete(&format!("/api/v1/statuses/{id}"), Some(&ana))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let frame = next_ws(&mut bens).await;
    assert_eq!((frame.event.as_str(), frame.id()), ("delete", id.as_str()));
}

#[tokio::test]
async fn ending_access_on_one_node_closes_streams_on_another() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (client_id, client_secret) = a.register_app().await;
    let token = a.sign_up_in_app(&client_id, &client_secret, "ana").await;
    let mut socket = ws(&b, &token, "?stream=user").await;

    let r = a
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
    // Far sooner than the once-a-minute token check would.
    assert_eq!(closed(&mut socket).await, Some(1008));

    // A deactivation through node A's application closes the account's streams on B too.
    let ben = a.sign_up("ben").await;
    let mut socket = ws(&b, &ben, "?stream=user").await;
    a.app.deactivate("ben").await.unwrap();
    assert_eq!(closed(&mut socket).await, Some(1008));
}

#[tokio::test]
async fn private_group_posts_cross_nodes_to_members_only() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let ana = a.sign_up("ana").await;
    let ben = a.sign_up("ben").await;
    let cat = a.sign_up("cat").await;
    let ana_id = account_id(&a, &ana).await;
    let ben_id = account_id(&a, &ben).await;
    let group = expect_json(
        a.post_json(
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
        a.post_json(
            &format!("/api/v1/groups/{group}/join"),
            Some(&ben),
            json!({}),
        )
        .await,
        "join",
    )
    .await;
    expect_json(
        a.post_json(
            &format!("/api/v1/groups/{group}/requests/{ben_id}/authorize"),
            Some(&ana),
            json!({}),
        )
        .await,
        "authorize",
    )
    .await;
    // cat follows ana and listens on B to everything she may; the mention must not leak
    // the post either.
    follow(&a, &cat, &ana_id).await;
    let mut cats = ws(&b, &cat, "?stream=user").await;
    send_ws(&mut cats, json!({"type": "subscribe", "stream": "public"})).await;
    let mut bens = ws(&b, &ben, &format!("?stream=group&group={group}")).await;
    send_ws(&mut bens, json!({"type": "subscribe", "stream": "user"})).await;

    let secret = post(
        &a,
        &ana,
        json!({"status": "members only, @cat", "group_id": group}),
    )
    .await;
    // The member gets it on B, so the negative below is not vacuous.
    let mut got = [next_ws(&mut bens).await, next_ws(&mut bens).await];
    got.sort_by_key(|f| f.stream.clone());
    assert_eq!(got[0].stream, ["group", group.as_str()]);
    assert_eq!(got[1].stream, ["user"]);
    assert!(got.iter().all(|f| f.id() == secret && f.event == "update"));

    let marker = say(&a, &ana, "public marker").await;
    let seen = [next_ws(&mut cats).await, next_ws(&mut cats).await];
    assert!(
        seen.iter().all(|f| f.id() == marker && f.event == "update"),
        "the group post (or a notification about it) reached a non-member: {seen:?}"
    );
}

#[tokio::test]
async fn a_node_delivers_its_own_events_once() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let ana = a.sign_up("ana").await;
    let ben = a.sign_up("ben").await;
    follow(&a, &ben, &account_id(&a, &ana).await).await;
    // Both nodes listen to each other: A hears its own notifications echoed.
    let mut on_a = ws(&a, &ben, "?stream=user").await;
    let mut on_b = ws(&b, &ben, "?stream=user").await;

    let first = say(&a, &ana, "one").await;
    let second = say(&a, &ana, "two").await;
    for socket in [&mut on_a, &mut on_b] {
        assert_eq!(next_ws(socket).await.id(), first);
        assert_eq!(next_ws(socket).await.id(), second);
    }
    // B has heard both posts, so A's listener has had their echoes before anything B
    // notifies now (one channel, in commit order): a duplicate would come before this.
    let marker = say(&b, &ana, "marker from B").await;
    for socket in [&mut on_a, &mut on_b] {
        let frame = next_ws(socket).await;
        assert_eq!(
            (frame.event.as_str(), frame.id()),
            ("update", marker.as_str()),
            "exactly one update per post"
        );
    }
}

#[tokio::test]
async fn an_event_too_large_for_a_notification_still_arrives() {
    // A post carrying a hundred long hashtags: its reference is well over the 8000 bytes a
    // notification may carry.
    let Some((a, b)) = two_nodes_with(|s| s.max_post_chars = 20_000).await else {
        return;
    };
    let ana = a.sign_up("ana").await;
    let ben = a.sign_up("ben").await;
    follow(&a, &ben, &account_id(&a, &ana).await).await;
    let mut bens = ws(&b, &ben, "?stream=user").await;

    let text: Vec<String> = (0..100)
        .map(|i| format!("#t{i:03}{}", "x".repeat(90)))
        .collect();
    let id = say(&a, &ana, &text.join(" ")).await;
    let frame = next_ws(&mut bens).await;
    assert_eq!((frame.event.as_str(), frame.id()), ("update", id.as_str()));
    assert_eq!(frame.payload["tags"].as_array().map(Vec::len), Some(100));
    // Events after it keep their order.
    let next = say(&a, &ana, "small again").await;
    assert_eq!(next_ws(&mut bens).await.id(), next);
}

#[tokio::test]
async fn the_relay_listens_again_after_its_connection_is_cut() {
    use sqlx::{Connection, PgConnection};

    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let ana = a.sign_up("ana").await;
    let ben = a.sign_up("ben").await;
    follow(&a, &ben, &account_id(&a, &ana).await).await;
    let mut bens = ws(&b, &ben, "?stream=user").await;
    let before = say(&a, &ana, "before the cut").await;
    assert_eq!(next_ws(&mut bens).await.id(), before);

    // The server ends the listening connection (as a restart or a failover would).
    let mut admin = PgConnection::connect(&b.app.settings().database_url())
        .await
        .unwrap();
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!cut.is_empty() && cut.iter().all(|c| *c), "{cut:?}");
    let _ = admin.close().await;

    // What is posted while nobody listens is missed (clients catch up over REST); keep
    // posting until one arrives, within a deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut posted = Vec::new();
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing relayed after the connection was cut"
        );
        posted.push(say(&a, &ana, &format!("after the cut {}", posted.len())).await);
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(300), bens.next()).await
        {
            let v: Value = serde_json::from_str(text.as_str()).unwrap();
            let payload: Value = serde_json::from_str(v["payload"].as_str().unwrap()).unwrap();
            let id = payload["id"].as_str().unwrap();
            assert!(posted.iter().any(|p| p == id), "{id} is one of {posted:?}");
            break;
        }
    }
}

/// A node whose PostgreSQL connections are all cut (a database restart, a failover, an
/// idle timeout) fails at most a request per connection and then serves reads and
/// writes again: its workers open new connections instead of keeping broken ones.
#[tokio::test]
async fn a_node_recovers_when_postgresql_cuts_its_connections() {
    use sqlx::{Connection, Executor, PgConnection};
    if !on_postgres() {
        eprintln!("skipped: connections to cut only exist on PostgreSQL");
        return;
    }
    let app = starling_testkit::spawn_app().await;
    let ana = app.sign_up("ana").await;
    say(&app, &ana, "before the cut").await;
    // Open as many of the node's connections as a burst of reads and writes will.
    let burst = |n: usize| {
        let (app, ana) = (&app, &ana);
        futures_util::future::join_all((0..n).map(move |i| async move {
            let read = app.get("/api/v1/timelines/home", Some(ana)).await.status();
            let write = app
                .post_json(
                    "/api/v1/statuses",
                    Some(ana),
                    json!({ "status": format!("post {i}") }),
                )
                .await
                .status();
            (read, write)
        }))
    };
    assert!(
        burst(16)
            .await
            .iter()
            .all(|(r, w)| r.is_success() && w.is_success())
    );

    let url = app.app.settings().database_url();
    let mut admin = PgConnection::connect(&url).await.unwrap();
    let cut = admin
        .fetch_all(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap();
    assert!(!cut.is_empty(), "the node had no connection to cut");

    // Each broken connection may fail the one request that finds it broken; after that
    // every request succeeds.
    let mut in_a_row = 0;
    for _ in 0..200 {
        let results = burst(4).await;
        if results
            .iter()
            .all(|(r, w)| r.is_success() && w.is_success())
        {
            in_a_row += 1;
            if in_a_row == 10 {
                break;
            }
        } else {
            in_a_row = 0;
        }
    }
    assert_eq!(
        in_a_row, 10,
        "the node kept failing after its connections were cut"
    );
    let home = app.get("/api/v1/timelines/home?limit=40", Some(&ana)).await;
    assert_eq!(home.status(), StatusCode::OK);
    let _ = admin.close().await;
}

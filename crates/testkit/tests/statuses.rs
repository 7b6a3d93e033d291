//! Posting rules, threads, mentions, interactions and visibility of single posts, over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use serde_json::{Value, json};
use starling_testkit::{TestApp, json_body as body, spawn_app};

async fn post(app: &TestApp, token: &str, fields: Value) -> Value {
    let r = app.post_json("/api/v1/statuses", Some(token), fields).await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("string id").to_owned()
}

#[tokio::test]
async fn length_limit_counts_graphemes_and_urls() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let family = "👨\u{200d}👩\u{200d}👧";
    let ok = format!("{}{}", "😀".repeat(139), family);
    post(&app, &ana, json!({"status": ok})).await;
    let combining = "e\u{301}".repeat(140);
    post(&app, &ana, json!({"status": combining})).await;
    let url = format!("https://intranet.example.com/{}", "x".repeat(300));
    post(
        &app,
        &ana,
        json!({"status": format!("{} {url}", "a".repeat(116))}),
    )
    .await;

    for (text, count) in [
        ("a".repeat(141), 141),
        (format!("{} {url}", "a".repeat(117)), 141),
    ] {
        let r = app
            .post_json("/api/v1/statuses", Some(&ana), json!({"status": text}))
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let msg = body(r).await["error"].as_str().unwrap().to_owned();
        assert!(
            msg.contains("140") && msg.contains(&count.to_string()),
            "{msg}"
        );
    }
    for blank in ["", "   "] {
        let r = app
            .post_form("/api/v1/statuses", Some(&ana), &[("status", blank)])
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let me = body(
        app.get("/api/v1/accounts/verify_credentials", Some(&ana))
            .await,
    )
    .await;
    assert_eq!(me["statuses_count"], 3, "refused posts were not stored");
}

#[tokio::test]
async fn content_is_escaped_and_linked_text_is_kept() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    app.sign_up("ben").await;
    let text = "<script>alert(1)</script> @ben @nobody #Café https://x.example/a?b=1&c=2 javascript:alert(1)";
    let s = post(&app, &ana, json!({"status": text})).await;
    let content = s["content"].as_str().unwrap();
    assert!(!content.contains("<script>"), "{content}");
    assert!(content.contains("&lt;script&gt;"));
    assert!(content.contains("class=\"u-url mention\""));
    assert!(content.contains("@nobody"), "unknown mentions stay as text");
    assert!(!content.contains("href=\"javascript"));
    assert!(content.contains("href=\"https://x.example/a?b=1&amp;c=2\""));
    assert_eq!(s["text"], text);
    assert_eq!(s["mentions"][0]["username"], "ben");
    assert_eq!(s["mentions"].as_array().unwrap().len(), 1);
    assert_eq!(s["tags"][0]["name"], "café");
    assert!(
        s["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/@ana/{}", id(&s)))
    );
    assert!(s["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn idempotency_key_returns_the_first_post() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let send = || async {
        app.client
            .post(format!("{}/api/v1/statuses", app.base_url))
            .bearer_auth(&ana)
            .header("Idempotency-Key", "abc-123")
            .form(&[("status", "once")])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let first = send().await;
    let second = send().await;
    assert_eq!(first["id"], second["id"]);
    let me = body(
        app.get("/api/v1/accounts/verify_credentials", Some(&ana))
            .await,
    )
    .await;
    assert_eq!(me["statuses_count"], 1);
}

#[tokio::test]
async fn replies_context_edit_history_and_delete() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let root = post(&app, &ana, json!({"status": "root"})).await;
    let r1 = post(
        &app,
        &ben,
        json!({"status": "@ana first", "in_reply_to_id": id(&root)}),
    )
    .await;
    let r2 = post(
        &app,
        &ana,
        json!({"status": "second", "in_reply_to_id": id(&r1)}),
    )
    .await;
    let r3 = post(
        &app,
        &ben,
        json!({"status": "third", "in_reply_to_id": id(&root)}),
    )
    .await;
    assert_eq!(r1["in_reply_to_account_id"], root["account"]["id"]);

    let ctx = body(
        app.get(&format!("/api/v1/statuses/{}/context", id(&root)), None)
            .await,
    )
    .await;
    let desc: Vec<String> = ctx["descendants"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(
        desc,
        vec![id(&r1), id(&r2), id(&r3)],
        "depth-first thread order"
    );
    let ctx = body(
        app.get(&format!("/api/v1/statuses/{}/context", id(&r2)), None)
            .await,
    )
    .await;
    let anc: Vec<String> = ctx["ancestors"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(anc, vec![id(&root), id(&r1)]);
    let shown = body(
        app.get(&format!("/api/v1/statuses/{}", id(&root)), None)
            .await,
    )
    .await;
    assert_eq!(shown["replies_count"], 2);

    let r = app
        .put_json(
            &format!("/api/v1/statuses/{}", id(&root)),
            Some(&ben),
            json!({"status": "hijack"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "only the author edits");
    let edited = body(
        app.put_json(
            &format!("/api/v1/statuses/{}", id(&root)),
            Some(&ana),
            json!({"status": "root, edited"}),
        )
        .await,
    )
    .await;
    assert_eq!(edited["text"], "root, edited");
    assert!(edited["edited_at"].is_string());
    let history = body(
        app.get(&format!("/api/v1/statuses/{}/history", id(&root)), None)
            .await,
    )
    .await;
    let versions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["content"].as_str().unwrap())
        .collect();
    assert_eq!(versions, vec!["<p>root</p>", "<p>root, edited</p>"]);
    let source = body(
        app.get(
            &format!("/api/v1/statuses/{}/source", id(&root)),
            Some(&ana),
        )
        .await,
    )
    .await;
    assert_eq!(source["text"], "root, edited");

    let r = app
        .delete(&format!("/api/v1/statuses/{}", id(&r3)), Some(&ana))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "only the author deletes");
    let deleted = body(
        app.delete(&format!("/api/v1/statuses/{}", id(&r3)), Some(&ben))
            .await,
    )
    .await;
    assert_eq!(deleted["text"], "third");
    assert_eq!(
        app.get(&format!("/api/v1/statuses/{}", id(&r3)), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let shown = body(
        app.get(&format!("/api/v1/statuses/{}", id(&root)), None)
            .await,
    )
    .await;
    assert_eq!(shown["replies_count"], 1);
}

#[tokio::test]
async fn private_and_direct_posts_reach_only_their_audience() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let fan = app.sign_up("fan").await;
    let dm = app.sign_up("dm").await;
    let eve = app.sign_up("eve").await;
    let ana_id = body(
        app.get("/api/v1/accounts/verify_credentials", Some(&ana))
            .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_json(
        &format!("/api/v1/accounts/{ana_id}/follow"),
        Some(&fan),
        json!({}),
    )
    .await;
    let private = post(
        &app,
        &ana,
        json!({"status": "followers only", "visibility": "private"}),
    )
    .await;
    let direct = post(
        &app,
        &ana,
        json!({"status": "@dm secret", "visibility": "direct"}),
    )
    .await;
    for (who, tok, sees_private, sees_direct) in [
        ("author", Some(&ana), true, true),
        ("follower", Some(&fan), true, false),
        ("mentioned", Some(&dm), false, true),
        ("stranger", Some(&eve), false, false),
        ("anonymous", None, false, false),
    ] {
        let tok = tok.map(String::as_str);
        for (post, expected) in [(&private, sees_private), (&direct, sees_direct)] {
            let status = app
                .get(&format!("/api/v1/statuses/{}", id(post)), tok)
                .await
                .status();
            let want = if expected {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            };
            assert_eq!(status, want, "{who} reading {}", post["visibility"]);
            let ctx = app
                .get(&format!("/api/v1/statuses/{}/context", id(post)), tok)
                .await
                .status();
            assert_eq!(ctx, want, "{who} reading context of {}", post["visibility"]);
        }
    }
    let public = body(app.get("/api/v1/timelines/public", None).await).await;
    assert!(
        public.as_array().unwrap().is_empty(),
        "neither is on the network timeline"
    );
    let r = app
        .post_json(
            "/api/v1/statuses",
            Some(&ana),
            json!({"status": "@ghost hello", "visibility": "direct"}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a DM to no existing account"
    );
    let r = app
        .post_json(
            &format!("/api/v1/statuses/{}/reblog", id(&private)),
            Some(&fan),
            json!({}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "followers-only posts are not reblogged"
    );
    let r = app
        .post_json(
            "/api/v1/statuses",
            Some(&eve),
            json!({"status": "sneaky reply", "in_reply_to_id": id(&direct)}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "replying to an invisible post reveals nothing"
    );
}

#[tokio::test]
async fn favourites_reblogs_bookmarks_pins_and_notifications() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let s = post(&app, &ana, json!({"status": "like me"})).await;
    let sid = id(&s);
    let fav = body(
        app.post_json(
            &format!("/api/v1/statuses/{sid}/favourite"),
            Some(&ben),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(fav["favourited"], true);
    assert_eq!(fav["favourites_count"], 1);
    let again = body(
        app.post_json(
            &format!("/api/v1/statuses/{sid}/favourite"),
            Some(&ben),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(again["favourites_count"], 1, "favourite is idempotent");
    let wrapper = body(
        app.post_form(
            &format!("/api/v1/statuses/{sid}/reblog"),
            Some(&ben),
            &[("visibility", "public")],
        )
        .await,
    )
    .await;
    assert_eq!(wrapper["reblog"]["id"], s["id"]);
    assert_eq!(wrapper["reblogged"], true);
    assert_eq!(wrapper["reblog"]["reblogs_count"], 1);
    let by = body(
        app.get(&format!("/api/v1/statuses/{sid}/reblogged_by"), None)
            .await,
    )
    .await;
    assert_eq!(by[0]["username"], "ben");
    let by = body(
        app.get(&format!("/api/v1/statuses/{sid}/favourited_by"), None)
            .await,
    )
    .await;
    assert_eq!(by[0]["username"], "ben");
    let bm = body(
        app.post_json(
            &format!("/api/v1/statuses/{sid}/bookmark"),
            Some(&ben),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(bm["bookmarked"], true);
    let list = body(app.get("/api/v1/bookmarks", Some(&ben)).await).await;
    assert_eq!(list[0]["id"], s["id"]);
    let list = body(app.get("/api/v1/favourites", Some(&ben)).await).await;
    assert_eq!(list[0]["id"], s["id"]);
    let pinned = body(
        app.post_json(
            &format!("/api/v1/statuses/{sid}/pin"),
            Some(&ana),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(pinned["pinned"], true);
    let r = app
        .post_json(
            &format!("/api/v1/statuses/{sid}/pin"),
            Some(&ben),
            json!({}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "only own posts are pinned"
    );
    let ana_id = s["account"]["id"].as_str().unwrap();
    let pins = body(
        app.get(
            &format!("/api/v1/accounts/{ana_id}/statuses?pinned=true"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(pins.as_array().unwrap().len(), 1);

    let notes = body(app.get("/api/v1/notifications", Some(&ana)).await).await;
    let kinds: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["reblog", "favourite"]);
    let only = body(
        app.get("/api/v1/notifications?types[]=favourite", Some(&ana))
            .await,
    )
    .await;
    assert_eq!(only.as_array().unwrap().len(), 1);
    let excl = body(
        app.get(
            "/api/v1/notifications?exclude_types[]=favourite&exclude_types[]=reblog",
            Some(&ana),
        )
        .await,
    )
    .await;
    assert!(excl.as_array().unwrap().is_empty());
    let nid = notes[0]["id"].as_str().unwrap();
    assert_eq!(
        body(
            app.get(&format!("/api/v1/notifications/{nid}"), Some(&ana))
                .await
        )
        .await["type"],
        "reblog"
    );
    assert_eq!(
        app.get(&format!("/api/v1/notifications/{nid}"), Some(&ben))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    app.post_json(
        &format!("/api/v1/notifications/{nid}/dismiss"),
        Some(&ana),
        json!({}),
    )
    .await;
    assert_eq!(
        body(app.get("/api/v1/notifications", Some(&ana)).await)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.post_json("/api/v1/notifications/clear", Some(&ana), json!({}))
        .await;
    assert!(
        body(app.get("/api/v1/notifications", Some(&ana)).await)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    let un = body(
        app.post_json(
            &format!("/api/v1/statuses/{sid}/unreblog"),
            Some(&ben),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(un["id"], s["id"]);
    assert_eq!(un["reblogged"], false);
    assert_eq!(un["reblogs_count"], 0);
    let un = body(
        app.post_json(
            &format!("/api/v1/statuses/{sid}/unfavourite"),
            Some(&ben),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(un["favourites_count"], 0);

    let saved = body(
        app.post_json(
            "/api/v1/markers",
            Some(&ana),
            json!({"home": {"last_read_id": sid}}),
        )
        .await,
    )
    .await;
    assert_eq!(saved["home"]["last_read_id"], s["id"]);
    let read = body(app.get("/api/v1/markers?timeline[]=home", Some(&ana)).await).await;
    assert_eq!(read["home"]["version"], 1);
}

#[tokio::test]
async fn bell_followers_get_status_and_rebloggers_get_update_notifications() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    let ana_id = body(
        app.get("/api/v1/accounts/verify_credentials", Some(&ana))
            .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rel = body(
        app.post_form(
            &format!("/api/v1/accounts/{ana_id}/follow"),
            Some(&ben),
            &[("notify", "1"), ("reblogs", "1")],
        )
        .await,
    )
    .await;
    assert_eq!(rel["notifying"], true);
    app.post_form(
        &format!("/api/v1/accounts/{ana_id}/follow"),
        Some(&cat),
        &[("notify", "0")],
    )
    .await;
    let s = post(&app, &ana, json!({"status": "news"})).await;
    post(
        &app,
        &ana,
        json!({"status": "@cat secret", "visibility": "direct", "in_reply_to_id": null}),
    )
    .await;
    let kinds = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        kinds(body(app.get("/api/v1/notifications", Some(&ben)).await).await),
        vec!["status"]
    );
    assert_eq!(
        kinds(body(app.get("/api/v1/notifications", Some(&cat)).await).await),
        vec!["mention"],
        "notify=0 means no bell; the direct post only mentions"
    );

    app.post_json(
        &format!("/api/v1/statuses/{}/reblog", id(&s)),
        Some(&cat),
        json!({}),
    )
    .await;
    app.put_json(
        &format!("/api/v1/statuses/{}", id(&s)),
        Some(&ana),
        json!({"status": "news, corrected"}),
    )
    .await;
    let cat_notes = body(app.get("/api/v1/notifications", Some(&cat)).await).await;
    assert_eq!(kinds(cat_notes.clone()), vec!["update", "mention"]);
    assert_eq!(cat_notes[0]["status"]["text"], "news, corrected");
}

#[tokio::test]
async fn blocking_hides_earlier_notifications_from_the_blocked_account() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let ana_id = body(
        app.get("/api/v1/accounts/verify_credentials", Some(&ana))
            .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ben_id = body(
        app.get("/api/v1/accounts/verify_credentials", Some(&ben))
            .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_json(
        &format!("/api/v1/accounts/{ana_id}/follow"),
        Some(&ben),
        json!({}),
    )
    .await;
    post(&app, &ben, json!({"status": "@ana hello"})).await;
    let notes = body(app.get("/api/v1/notifications", Some(&ana)).await).await;
    assert_eq!(notes.as_array().unwrap().len(), 2, "a follow and a mention");
    app.post_json(
        &format!("/api/v1/accounts/{ben_id}/block"),
        Some(&ana),
        json!({}),
    )
    .await;
    let notes = body(app.get("/api/v1/notifications", Some(&ana)).await).await;
    assert!(notes.as_array().unwrap().is_empty(), "{notes}");
}

//! Following hashtags: their public posts join the follower's home timeline, and only
//! while the hashtag is followed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use serde_json::json;
use starling_testkit::{TestApp, json_body as body, spawn_app};

async fn post(app: &TestApp, token: &str, text: &str, visibility: &str) -> String {
    let r = app
        .post_json(
            "/api/v1/statuses",
            Some(token),
            json!({"status": text, "visibility": visibility}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await["id"].as_str().unwrap().to_owned()
}

async fn home(app: &TestApp, token: &str) -> Vec<String> {
    body(
        app.get("/api/v1/timelines/home?limit=40", Some(token))
            .await,
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|s| s["id"].as_str().unwrap().to_owned())
    .collect()
}

#[tokio::test]
async fn followed_hashtags_join_home_while_followed() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let before = post(&app, &ana, "old news #Rust", "public").await;

    let tag = body(
        app.post_json("/api/v1/tags/RUST/follow", Some(&ben), json!({}))
            .await,
    )
    .await;
    assert_eq!(tag["name"], "rust");
    assert_eq!(tag["following"], true);
    assert!(tag["url"].as_str().unwrap().ends_with("/tags/rust"));
    let public = post(&app, &ana, "new #rust release", "public").await;
    let unlisted = post(&app, &ana, "quiet #rust note", "unlisted").await;
    let private = post(&app, &ana, "followers-only #rust", "private").await;
    post(&app, &ana, "other #topic", "public").await;
    // Public posts only, as on the hashtag's own timeline (Mastodon keeps unlisted
    // posts off hashtag timelines).
    assert_eq!(home(&app, &ben).await, vec![public.clone(), before.clone()]);
    assert!(!home(&app, &ben).await.contains(&unlisted));
    assert!(
        !home(&app, &ben).await.contains(&private),
        "a followers-only post never leaks"
    );

    let shown = body(app.get("/api/v1/tags/rust", Some(&ben)).await).await;
    assert_eq!(shown["following"], true);
    let anonymous = body(app.get("/api/v1/tags/%23Rust", None).await).await;
    assert_eq!(anonymous["name"], "rust");
    assert!(anonymous.get("following").is_none());
    let list = body(app.get("/api/v1/followed_tags", Some(&ben)).await).await;
    assert_eq!(list[0]["name"], "rust");

    // A block still hides the author's tagged posts.
    let ana_id = body(
        app.get("/api/v1/accounts/verify_credentials", Some(&ana))
            .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_json(
        &format!("/api/v1/accounts/{ana_id}/block"),
        Some(&ben),
        json!({}),
    )
    .await;
    assert!(home(&app, &ben).await.is_empty());
    app.post_json(
        &format!("/api/v1/accounts/{ana_id}/unblock"),
        Some(&ben),
        json!({}),
    )
    .await;

    let tag = body(
        app.post_json("/api/v1/tags/rust/unfollow", Some(&ben), json!({}))
            .await,
    )
    .await;
    assert_eq!(tag["following"], false);
    assert!(
        home(&app, &ben).await.is_empty(),
        "unfollowing the hashtag takes its posts away"
    );
    assert!(
        body(app.get("/api/v1/followed_tags", Some(&ben)).await)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn hashtag_names_are_checked() {
    let app = spawn_app().await;
    let ben = app.sign_up("ben").await;
    for bad in ["123", "two%20words", "a-b"] {
        let r = app
            .post_json(&format!("/api/v1/tags/{bad}/follow"), Some(&ben), json!({}))
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(
            body(r).await["error"]
                .as_str()
                .unwrap()
                .contains("not a hashtag")
        );
        assert_eq!(
            app.get(&format!("/api/v1/tags/{bad}"), None).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let r = app
        .post_json("/api/v1/tags/rust/follow", None, json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        body(app.get("/api/v1/followed_tags", Some(&ben)).await)
            .await
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing stored"
    );
}

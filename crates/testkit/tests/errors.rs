//! Bad input and unknown things get clear `{"error"}` responses with the right status.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use serde_json::{Value, json};
use starling_testkit::{spawn_app, spawn_app_with};

async fn error_of(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let v: Value = r.json().await.expect("errors are JSON");
    (
        status,
        v["error"].as_str().expect("an error message").to_owned(),
    )
}

#[tokio::test]
async fn malformed_bodies_unknown_ids_and_bad_tokens() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let r = app
        .client
        .post(format!("{}/api/v1/statuses", app.base_url))
        .bearer_auth(&ana)
        .header("content-type", "application/json")
        .body("{\"status\": ")
        .send()
        .await
        .unwrap();
    let (status, msg) = error_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(msg.contains("JSON"), "{msg}");
    let r = app
        .post_json(
            "/api/v1/statuses",
            Some(&ana),
            json!({"status": "x", "in_reply_to_id": "abc"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post_json(
            "/api/v1/statuses",
            Some(&ana),
            json!({"status": "x", "visibility": "everyone"}),
        )
        .await;
    let (status, msg) = error_of(r).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(msg.contains("visibility"), "{msg}");
    let (status, _) = error_of(app.get("/api/v1/statuses/123456789", Some(&ana)).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = error_of(app.get("/api/v1/statuses/not-a-number", Some(&ana)).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, msg) = error_of(
        app.get("/api/v1/timelines/home?limit=lots", Some(&ana))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(msg.contains("limit"), "{msg}");
    let r = app.get("/api/v1/timelines/public?limit=100000", None).await;
    assert_eq!(r.status(), StatusCode::OK, "huge limits are capped");
    let (status, _) = error_of(app.get("/api/v1/timelines/home", None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = error_of(app.get("/api/v1/timelines/home", Some("forged")).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = error_of(app.get("/api/v1/no/such/route", None).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = error_of(
        app.post_json("/api/v1/accounts/1/follow", Some(&ana), json!({}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let me: Value = app
        .get("/api/v1/accounts/verify_credentials", Some(&ana))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["statuses_count"], 0,
        "no rejected request stored anything"
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app_with(|s| s.max_body_bytes = 4096).await;
    let ana = app.sign_up("ana").await;
    let r = app
        .post_form(
            "/api/v1/statuses",
            Some(&ana),
            &[("status", &"a".repeat(10_000))],
        )
        .await;
    let (status, msg) = error_of(r).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(msg.contains("too large"), "{msg}");
}

#[tokio::test]
async fn instance_describes_the_network_for_clients() {
    let app = spawn_app_with(|s| s.max_post_chars = 500).await;
    for path in ["/api/v1/instance", "/api/v1/instance/"] {
        let v: Value = app.get(path, None).await.json().await.unwrap();
        assert!(
            v["version"]
                .as_str()
                .unwrap()
                .starts_with("4.3.0+starling-")
        );
        assert_eq!(v["configuration"]["statuses"]["max_characters"], 500);
        assert_eq!(
            v["configuration"]["statuses"]["characters_reserved_per_url"],
            23
        );
        let streaming = v["urls"]["streaming_api"].as_str().unwrap();
        assert_eq!(streaming, app.base_url.replacen("http://", "ws://", 1));
        assert!(!v["uri"].as_str().unwrap().starts_with("http"));
    }
    for path in ["/api/v2/instance", "/api/v2/instance/"] {
        let v: Value = app.get(path, None).await.json().await.unwrap();
        assert_eq!(v["api_versions"]["mastodon"], 2);
        assert!(
            v["configuration"]["urls"]["streaming"]
                .as_str()
                .unwrap()
                .starts_with("ws://")
        );
    }
    let emojis: Value = app
        .get("/api/v1/custom_emojis", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(emojis, json!([]));
    let links: Value = app
        .get("/.well-known/nodeinfo", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        links["links"][0]["href"]
            .as_str()
            .unwrap()
            .ends_with("/nodeinfo/2.0")
    );
    let info: Value = app.get("/nodeinfo/2.0", None).await.json().await.unwrap();
    assert_eq!(info["software"]["name"], "starling");
}

#[tokio::test]
async fn default_avatar_and_header_images_are_served() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let me: Value = app
        .get("/api/v1/accounts/verify_credentials", Some(&ana))
        .await
        .json()
        .await
        .unwrap();
    for field in ["avatar", "header"] {
        let url = me[field].as_str().unwrap();
        let r = app.client.get(url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        assert_eq!(r.headers()["content-type"], "image/png");
        assert!(r.bytes().await.unwrap().starts_with(b"\x89PNG"));
    }
}

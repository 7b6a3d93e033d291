//! The harness itself: a spawned app answers HTTP on its own port and stops on request.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use starling_testkit::{spawn_app, spawn_app_with};

#[tokio::test]
async fn spawned_app_serves_and_stops() {
    let app = spawn_app().await;
    assert!(app.base_url.starts_with("http://127.0.0.1:"));
    assert_eq!(app.app.settings().base_url(), app.base_url);
    // Whatever routes exist, an unknown path is answered (404), proving the server runs.
    let response = app.get("/no/such/path", None).await;
    assert_eq!(response.status(), 404);
    let url = app.url("/no/such/path");
    app.stop().await;
    assert!(
        reqwest::get(url).await.is_err(),
        "server still answers after stop"
    );
}

#[tokio::test]
async fn settings_can_be_tweaked_and_apps_are_isolated() {
    let a = spawn_app_with(|s| s.network_name = "Tweaked".into()).await;
    let b = spawn_app().await;
    assert_eq!(a.app.settings().network_name, "Tweaked");
    assert_ne!(a.base_url, b.base_url);
    a.app
        .create_user("ana", "ana@example.com", "correct horse battery", None)
        .await
        .unwrap();
    assert_eq!(a.app.list_users(0, 10).await.unwrap().len(), 1);
    assert!(b.app.list_users(0, 10).await.unwrap().is_empty());
}

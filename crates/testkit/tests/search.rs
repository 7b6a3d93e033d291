//! Search over the Mastodon API: `GET /api/v1/accounts/search` and `GET /api/v2/search`
//! find accounts by username prefix (case-insensitively), never
//! blocked (either way) or deactivated ones, hashtags by prefix, and a local post by its
//! URL only when the searcher may see it; bad windows are 422s naming the field.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use serde_json::{Value, json};
use starling_testkit::{TestApp, json_body as body, spawn_app};

/// The usernames an account search returns, in order.
async fn names(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let r = app
        .get(&format!("/api/v1/accounts/search?{query}"), Some(token))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    usernames(&body(r).await)
}

fn usernames(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap().to_owned())
        .collect()
}

async fn id_of(app: &TestApp, token: &str) -> String {
    body(
        app.get("/api/v1/accounts/verify_credentials", Some(token))
            .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn act(app: &TestApp, token: &str, path: &str) {
    let r = app.post_json(path, Some(token), json!({})).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
}

#[tokio::test]
async fn accounts_are_found_by_prefix_case_insensitively() {
    let app = spawn_app().await;
    let me = app.sign_up("searcher").await;
    app.sign_up("alice").await;
    app.sign_up("Alfred").await;
    app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    let r = app
        .patch_json(
            "/api/v1/accounts/update_credentials",
            Some(&carol),
            json!({"display_name": "Alba Carol"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    assert_eq!(names(&app, &me, "q=al").await, ["Alfred", "alice"]);
    assert_eq!(
        names(&app, &me, "q=AL").await,
        ["Alfred", "alice"],
        "case-insensitive"
    );
    assert_eq!(names(&app, &me, "q=ca").await, ["carol"]);
    assert_eq!(names(&app, &me, "q=%40ali").await, ["alice"], "a leading @");
    // Display names are not searched (yet): that needs an index of its own.
    assert_eq!(names(&app, &me, "q=alba").await, Vec::<String>::new());
    assert_eq!(
        names(&app, &me, "q=a_").await,
        Vec::<String>::new(),
        "_ is no wildcard"
    );
    assert_eq!(names(&app, &me, "q=zz").await, Vec::<String>::new());
    assert_eq!(
        names(&app, &me, "q=%25").await,
        Vec::<String>::new(),
        "% is no wildcard"
    );
    assert_eq!(names(&app, &me, "q=").await, Vec::<String>::new());
    let host = app.base_url.trim_start_matches("http://");
    assert_eq!(names(&app, &me, &format!("q=bob%40{host}")).await, ["bob"]);
    assert_eq!(
        names(&app, &me, "q=bob%40elsewhere.example").await,
        Vec::<String>::new()
    );
    // The entity is a full Account.
    let r = body(app.get("/api/v1/accounts/search?q=bob", Some(&me)).await).await;
    assert_eq!(r[0]["acct"], "bob");
    assert!(r[0]["created_at"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn blocked_and_deactivated_accounts_never_appear() {
    let app = spawn_app().await;
    let me = app.sign_up("searcher").await;
    let blocker = app.sign_up("sam_blocker").await;
    let blocked = app.sign_up("sam_blocked").await;
    app.sign_up("sam_gone").await;
    app.sign_up("sam_ok").await;
    let me_id = id_of(&app, &me).await;
    let blocked_id = id_of(&app, &blocked).await;
    act(&app, &blocker, &format!("/api/v1/accounts/{me_id}/block")).await;
    act(&app, &me, &format!("/api/v1/accounts/{blocked_id}/block")).await;
    app.app.deactivate("sam_gone").await.unwrap();

    assert_eq!(names(&app, &me, "q=sam").await, ["sam_ok"]);
    let v2 = body(app.get("/api/v2/search?q=sam", Some(&me)).await).await;
    assert_eq!(usernames(&v2["accounts"]), ["sam_ok"]);
    // The blocker does not find the one it blocks either.
    assert_eq!(
        names(&app, &blocker, "q=search").await,
        Vec::<String>::new()
    );
    // A page stays full although blocked accounts are left out (filtered in the query).
    assert_eq!(
        names(&app, &me, "q=s&limit=2").await,
        ["sam_ok", "searcher"]
    );
    app.stop().await;
}

#[tokio::test]
async fn following_limit_and_offset() {
    let app = spawn_app().await;
    let me = app.sign_up("searcher").await;
    for n in ["dan1", "dan2", "dan3", "dan4"] {
        app.sign_up(n).await;
    }
    let dan3 = app.sign_up("dan5").await;
    let dan3_id = id_of(&app, &dan3).await;
    act(&app, &me, &format!("/api/v1/accounts/{dan3_id}/follow")).await;

    assert_eq!(names(&app, &me, "q=dan&following=true").await, ["dan5"]);
    assert_eq!(names(&app, &me, "q=dan&following=1").await, ["dan5"]);
    assert_eq!(names(&app, &me, "q=dan&following=false").await.len(), 5);
    assert_eq!(names(&app, &me, "q=dan&limit=2").await, ["dan1", "dan2"]);
    assert_eq!(
        names(&app, &me, "q=dan&limit=2&offset=2").await,
        ["dan3", "dan4"]
    );
    assert_eq!(names(&app, &me, "q=dan&offset=4").await, ["dan5"]);
    assert_eq!(
        names(&app, &me, "q=dan&limit=500").await.len(),
        5,
        "capped, not refused"
    );
    assert_eq!(names(&app, &me, "q=dan&resolve=true").await.len(), 5);
    let v2 = body(
        app.get(
            "/api/v2/search?q=dan&type=accounts&following=true",
            Some(&me),
        )
        .await,
    )
    .await;
    assert_eq!(usernames(&v2["accounts"]), ["dan5"]);

    for (query, field) in [
        ("q=dan&limit=0", "limit"),
        ("q=dan&limit=-3", "limit"),
        ("q=dan&limit=ten", "limit"),
        ("q=dan&offset=-1", "offset"),
        ("q=dan&offset=x", "offset"),
    ] {
        for path in ["/api/v1/accounts/search", "/api/v2/search"] {
            let r = app.get(&format!("{path}?{query}"), Some(&me)).await;
            assert_eq!(
                r.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}?{query}"
            );
            let error = body(r).await["error"].as_str().unwrap().to_owned();
            assert!(error.contains(field), "{query}: {error}");
        }
    }
    let r = app.get("/api/v2/search?q=dan&type=people", Some(&me)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body(r).await["error"].as_str().unwrap().contains("type"));
    assert_eq!(
        names(&app, &me, "").await,
        Vec::<String>::new(),
        "no q, no results"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_token_is_required() {
    let app = spawn_app().await;
    for path in ["/api/v1/accounts/search?q=a", "/api/v2/search?q=a"] {
        let r = app.get(path, None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        let r = app.get(path, Some("not-a-token")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    app.stop().await;
}

async fn post(app: &TestApp, token: &str, text: &str, visibility: &str) -> Value {
    let r = app
        .post_json(
            "/api/v1/statuses",
            Some(token),
            json!({"status": text, "visibility": visibility}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await
}

async fn v2(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app
        .get(&format!("/api/v2/search?{query}"), Some(token))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    body(r).await
}

fn tag_names(v: &Value) -> Vec<String> {
    v["hashtags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn v2_finds_hashtags_from_public_posts_and_posts_by_url() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    post(&app, &ana, "learning #Rust and #rustacean life", "public").await;
    post(&app, &ana, "more #rust", "public").await;
    post(&app, &ana, "a #rustsecret among friends", "private").await;
    let public = post(&app, &ana, "hello world", "public").await;
    let private = post(&app, &ana, "for followers", "private").await;

    let found = v2(&app, &ben, "q=%23RUS").await;
    assert_eq!(
        tag_names(&found),
        ["rust", "rustacean"],
        "no tag of a private post"
    );
    assert!(
        found["hashtags"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with("/tags/rust")
    );
    assert!(found["hashtags"][0]["history"].is_array());
    assert_eq!(found["statuses"], json!([]));
    assert_eq!(
        tag_names(&v2(&app, &ben, "q=rust&type=hashtags&limit=1&offset=1").await),
        ["rustacean"]
    );
    let accounts_only = v2(&app, &ben, "q=an&type=accounts").await;
    assert_eq!(usernames(&accounts_only["accounts"]), ["ana"]);
    assert_eq!(accounts_only["hashtags"], json!([]));

    // A post by its URL (`/@name/id`) or its API path, when ben may see it.
    let url = public["url"].as_str().unwrap();
    let found = v2(&app, &ben, &format!("q={}", urlencode(url))).await;
    assert_eq!(found["statuses"][0]["id"], public["id"]);
    assert_eq!(found["accounts"], json!([]));
    let api = format!(
        "{}/api/v1/statuses/{}",
        app.base_url,
        public["id"].as_str().unwrap()
    );
    let found = v2(&app, &ben, &format!("q={}&type=statuses", urlencode(&api))).await;
    assert_eq!(found["statuses"][0]["id"], public["id"]);
    let hidden = private["url"].as_str().unwrap();
    assert_eq!(
        v2(&app, &ben, &format!("q={}", urlencode(hidden))).await["statuses"],
        json!([])
    );
    assert_eq!(
        v2(&app, &ana, &format!("q={}", urlencode(hidden))).await["statuses"][0]["id"],
        private["id"]
    );
    // The wrong author's name in the URL, another host, or a narrower type find nothing.
    let wrong = url.replace("/@ana/", "/@ben/");
    assert_eq!(
        v2(&app, &ben, &format!("q={}", urlencode(&wrong))).await["statuses"],
        json!([])
    );
    let elsewhere = format!(
        "https://elsewhere.example/@ana/{}",
        public["id"].as_str().unwrap()
    );
    assert_eq!(
        v2(&app, &ben, &format!("q={}", urlencode(&elsewhere))).await["statuses"],
        json!([])
    );
    assert_eq!(
        v2(&app, &ben, &format!("q={}&type=accounts", urlencode(url))).await["statuses"],
        json!([])
    );
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

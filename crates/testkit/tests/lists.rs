//! Lists over HTTP: CRUD with JSON and form bodies, validation and privacy, members
//! (only followed accounts; removal with a DELETE body in either encoding), the list
//! timeline (content, pagination, replies policies, visibility), exclusive lists and
//! the cleanup that unfollowing and blocking do.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use starling_testkit::{TestApp, json_body as body, spawn_app, spawn_app_with};

async fn ok(r: reqwest::Response, what: &str) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{what}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn account_id(app: &TestApp, token: &str) -> String {
    id(&body(
        app.get("/api/v1/accounts/verify_credentials", Some(token))
            .await,
    )
    .await)
}

async fn post_with(app: &TestApp, token: &str, status: Value) -> String {
    id(&ok(
        app.post_json("/api/v1/statuses", Some(token), status).await,
        "POST /api/v1/statuses",
    )
    .await)
}

async fn post(app: &TestApp, token: &str, text: &str) -> String {
    post_with(app, token, json!({"status": text})).await
}

async fn reply(app: &TestApp, token: &str, to: &str, text: &str) -> String {
    post_with(app, token, json!({"status": text, "in_reply_to_id": to})).await
}

async fn follow(app: &TestApp, token: &str, target: &str) {
    let rel = ok(
        app.post_json(
            &format!("/api/v1/accounts/{target}/follow"),
            Some(token),
            json!({}),
        )
        .await,
        "follow",
    )
    .await;
    assert_eq!(rel["following"], true);
}

async fn create_list(app: &TestApp, token: &str, body: Value) -> String {
    id(&ok(
        app.post_json("/api/v1/lists", Some(token), body).await,
        "create list",
    )
    .await)
}

async fn add(app: &TestApp, token: &str, list: &str, accounts: &[&str]) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/lists/{list}/accounts"),
        Some(token),
        json!({ "account_ids": accounts }),
    )
    .await
}

async fn ids(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let r = app.get(path, Some(token)).await;
    ok(r, path)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect()
}

async fn members(app: &TestApp, token: &str, list: &str) -> Vec<String> {
    ids(app, &format!("/api/v1/lists/{list}/accounts"), token).await
}

/// Follows every `rel="next"` link from `path`, collecting ids.
async fn walk(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut url = app.url(path);
    for _ in 0..100 {
        let r = app
            .client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        let link = r
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let page: Vec<Value> = r.json().await.unwrap();
        if page.is_empty() {
            break;
        }
        out.extend(page.iter().map(id));
        let link = link.expect("a non-empty page has a Link header");
        assert!(
            link.starts_with('<') && link.contains(">; rel=\"next\""),
            "{link}"
        );
        url = link[1..link.find('>').unwrap()].to_owned();
    }
    out
}

async fn error_of(r: reqwest::Response, status: StatusCode) -> String {
    let got = r.status();
    let b = body(r).await;
    assert_eq!(got, status, "{b}");
    b["error"].as_str().expect("an error message").to_owned()
}

#[tokio::test]
async fn lists_are_created_read_updated_and_deleted_with_json_and_forms() {
    let app = spawn_app().await;
    let ben = app.sign_up("ben").await;

    let json_list = ok(
        app.post_json(
            "/api/v1/lists",
            Some(&ben),
            json!({"title": "  Friends  ", "replies_policy": "none"}),
        )
        .await,
        "JSON create",
    )
    .await;
    assert_eq!(json_list["title"], "Friends", "the title is trimmed");
    assert_eq!(json_list["replies_policy"], "none");
    assert_eq!(json_list["exclusive"], false);
    let friends = id(&json_list);

    // Mastodon.py's form: a false sent as 0 must stay false.
    let form_list = ok(
        app.post_form(
            "/api/v1/lists",
            Some(&ben),
            &[
                ("title", "Work"),
                ("replies_policy", "list"),
                ("exclusive", "0"),
            ],
        )
        .await,
        "form create",
    )
    .await;
    assert_eq!(form_list["exclusive"], false);
    let work = id(&form_list);
    let defaults = ok(
        app.post_form(
            "/api/v1/lists",
            Some(&ben),
            &[("title", "News"), ("exclusive", "1")],
        )
        .await,
        "form create with defaults",
    )
    .await;
    assert_eq!(defaults["replies_policy"], "list", "Mastodon's default");
    assert_eq!(defaults["exclusive"], true);

    let all = ok(app.get("/api/v1/lists", Some(&ben)).await, "index").await;
    let titles: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Friends", "Work", "News"]);
    let one = ok(
        app.get(&format!("/api/v1/lists/{work}"), Some(&ben)).await,
        "show",
    )
    .await;
    assert_eq!(one, form_list);

    let updated = ok(
        app.put_json(
            &format!("/api/v1/lists/{friends}"),
            Some(&ben),
            json!({"title": "Close friends", "exclusive": true}),
        )
        .await,
        "JSON update",
    )
    .await;
    assert_eq!(updated["title"], "Close friends");
    assert_eq!(
        updated["replies_policy"], "none",
        "fields left out are kept"
    );
    assert_eq!(updated["exclusive"], true);
    let r = app
        .request(Method::PUT, &format!("/api/v1/lists/{friends}"), Some(&ben))
        .form(&[("replies_policy", "followed"), ("exclusive", "false")])
        .send()
        .await
        .unwrap();
    let updated = ok(r, "form update").await;
    assert_eq!(updated["title"], "Close friends");
    assert_eq!(updated["replies_policy"], "followed");
    assert_eq!(updated["exclusive"], false);

    let r = app
        .delete(&format!("/api/v1/lists/{work}"), Some(&ben))
        .await;
    assert_eq!(ok(r, "delete").await, json!({}));
    let r = app.get(&format!("/api/v1/lists/{work}"), Some(&ben)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.delete(&format!("/api/v1/lists/{work}"), Some(&ben))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(ids(&app, "/api/v1/lists", &ben).await.len(), 2);
}

#[tokio::test]
async fn invalid_lists_are_refused_and_other_peoples_lists_do_not_exist() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;

    for title in [json!(""), json!("   "), json!("x".repeat(101)), json!(null)] {
        let r = app
            .post_json("/api/v1/lists", Some(&ben), json!({ "title": title }))
            .await;
        let msg = error_of(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(msg.contains("title"), "{msg}");
    }
    let r = app
        .post_json("/api/v1/lists", Some(&ben), json!({"title": "ok"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let hundred = "é".repeat(100);
    create_list(&app, &ben, json!({ "title": hundred })).await;
    let r = app
        .post_form(
            "/api/v1/lists",
            Some(&ben),
            &[("title", "t"), ("replies_policy", "everyone")],
        )
        .await;
    let msg = error_of(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(msg.contains("replies_policy"), "{msg}");

    let mine = create_list(&app, &ana, json!({"title": "Ana's"})).await;
    let r = app
        .put_json(
            &format!("/api/v1/lists/{mine}"),
            Some(&ana),
            json!({"title": ""}),
        )
        .await;
    let msg = error_of(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(msg.contains("title"), "{msg}");
    let r = app
        .put_json(
            &format!("/api/v1/lists/{mine}"),
            Some(&ana),
            json!({"replies_policy": "all"}),
        )
        .await;
    error_of(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Ben cannot see or touch ana's list, and cannot tell it from one that does not exist.
    let ana_id = account_id(&app, &ana).await;
    for list in [mine.as_str(), "123456789", "not-a-number"] {
        let base = format!("/api/v1/lists/{list}");
        let requests = [
            app.get(&base, Some(&ben)).await,
            app.put_json(&base, Some(&ben), json!({"title": "mine now"}))
                .await,
            app.delete(&base, Some(&ben)).await,
            app.get(&format!("{base}/accounts"), Some(&ben)).await,
            add(&app, &ben, list, &[&ana_id]).await,
            app.request(Method::DELETE, &format!("{base}/accounts"), Some(&ben))
                .json(&json!({"account_ids": [ana_id]}))
                .send()
                .await
                .unwrap(),
            app.get(&format!("/api/v1/timelines/list/{list}"), Some(&ben))
                .await,
        ];
        for r in requests {
            let url = r.url().to_string();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{url}");
            assert_eq!(body(r).await["error"], "Record not found");
        }
    }
    let still = ok(
        app.get(&format!("/api/v1/lists/{mine}"), Some(&ana)).await,
        "show",
    )
    .await;
    assert_eq!(still["title"], "Ana's");
    assert_eq!(ids(&app, "/api/v1/lists", &ben).await.len(), 2);

    // Without a token, 401; with a token lacking write:lists, 403.
    assert_eq!(
        app.get("/api/v1/lists", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (client_id, secret) = app.register_app().await;
    let token = ok(
        app.post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("client_id", &client_id),
                ("client_secret", &secret),
                ("username", "ana"),
                ("password", "password-ana"),
                ("scope", "read:lists"),
            ],
        )
        .await,
        "password grant",
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(ids(&app, "/api/v1/lists", &token).await, vec![mine.clone()]);
    let r = app
        .post_json("/api/v1/lists", Some(&token), json!({"title": "nope"}))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_account_has_at_most_a_hundred_lists() {
    let app = spawn_app().await;
    let ben = app.sign_up("ben").await;
    for i in 0..100 {
        create_list(&app, &ben, json!({ "title": format!("list {i}") })).await;
    }
    let r = app
        .post_json(
            "/api/v1/lists",
            Some(&ben),
            json!({"title": "one too many"}),
        )
        .await;
    let msg = error_of(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(msg.contains("100"), "{msg}");
    assert_eq!(ids(&app, "/api/v1/lists", &ben).await.len(), 100);
}

#[tokio::test]
async fn members_must_be_followed_and_are_added_and_removed_in_every_encoding() {
    let app = spawn_app().await;
    let ben = app.sign_up("ben").await;
    let mut who = Vec::new();
    for name in ["ana", "cat", "dan"] {
        let token = app.sign_up(name).await;
        who.push(account_id(&app, &token).await);
    }
    let (ana, cat, dan) = (who[0].clone(), who[1].clone(), who[2].clone());
    follow(&app, &ben, &ana).await;
    follow(&app, &ben, &cat).await;
    let list = create_list(&app, &ben, json!({"title": "Friends"})).await;
    let path = format!("/api/v1/lists/{list}/accounts");

    // Form body, as Mastodon.py sends it; adding twice is fine.
    let r = app
        .post_form(&path, Some(&ben), &[("account_ids[]", ana.as_str())])
        .await;
    assert_eq!(ok(r, "form add").await, json!({}));
    let r = app
        .post_json(
            &path,
            Some(&ben),
            json!({"account_ids": [ana.parse::<i64>().unwrap()]}),
        )
        .await;
    assert_eq!(ok(r, "JSON add with a numeric id, again").await, json!({}));
    assert_eq!(members(&app, &ben, &list).await, vec![ana.clone()]);

    // Not followed: refused with a clear message, and nothing of the request is stored.
    let msg = error_of(
        add(&app, &ben, &list, &[&cat, &dan]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(msg.contains("follow") && msg.contains("@dan"), "{msg}");
    assert_eq!(members(&app, &ben, &list).await, vec![ana.clone()]);
    error_of(
        add(&app, &ben, &list, &["123456789"]).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    error_of(add(&app, &ben, &list, &[]).await, StatusCode::BAD_REQUEST).await;

    // One id without brackets, as some form clients send it.
    let r = app
        .post_form(&path, Some(&ben), &[("account_ids", cat.as_str())])
        .await;
    ok(r, "form add without brackets").await;
    let mut both = vec![ana.clone(), cat.clone()];
    both.sort_by_key(|s| std::cmp::Reverse(s.parse::<i64>().unwrap()));
    assert_eq!(members(&app, &ben, &list).await, both);
    assert_eq!(walk(&app, &format!("{path}?limit=1"), &ben).await, both);
    let r = app.get(&format!("{path}?limit=0"), Some(&ben)).await;
    assert!(r.headers().get("link").is_none(), "limit=0 is everything");
    assert_eq!(body(r).await.as_array().unwrap().len(), 2);
    let accounts = ok(app.get(&path, Some(&ben)).await, "members").await;
    assert!(accounts[0]["username"].is_string() && accounts[0]["acct"].is_string());

    let other = create_list(&app, &ben, json!({"title": "Other"})).await;
    add(&app, &ben, &other, &[&ana]).await;
    let with_ana = ids(&app, &format!("/api/v1/accounts/{ana}/lists"), &ben).await;
    assert_eq!(with_ana, vec![list.clone(), other.clone()]);
    assert_eq!(
        ids(&app, &format!("/api/v1/accounts/{dan}/lists"), &ben).await,
        Vec::<String>::new()
    );

    // DELETE with a JSON body (masto.js, toot) and with a form body (Mastodon.py).
    let r = app
        .request(Method::DELETE, &path, Some(&ben))
        .json(&json!({"account_ids": [ana]}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok(r, "DELETE with JSON").await, json!({}));
    assert_eq!(members(&app, &ben, &list).await, vec![cat.clone()]);
    let r = app
        .request(Method::DELETE, &path, Some(&ben))
        .form(&[
            ("account_ids[]", cat.as_str()),
            ("account_ids[]", dan.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok(r, "DELETE with a form").await, json!({}));
    assert!(members(&app, &ben, &list).await.is_empty());
    assert_eq!(
        ids(&app, &format!("/api/v1/accounts/{ana}/lists"), &ben).await,
        vec![other]
    );
}

#[tokio::test]
async fn the_list_timeline_shows_members_posts_and_pages_like_home() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    let ana_id = account_id(&app, &ana).await;
    let cat_id = account_id(&app, &cat).await;
    follow(&app, &ben, &ana_id).await;
    follow(&app, &ben, &cat_id).await;
    let list = create_list(&app, &ben, json!({"title": "Ana"})).await;
    assert_eq!(
        ok(add(&app, &ben, &list, &[&ana_id]).await, "add").await,
        json!({})
    );

    let mut expected = Vec::new();
    for i in 0..13 {
        expected.push(post(&app, &ana, &format!("ana {i}")).await);
        post(&app, &cat, &format!("cat {i}")).await;
    }
    post(&app, &ben, "ben's own").await;
    expected.reverse();
    let path = format!("/api/v1/timelines/list/{list}");
    // Whatever the fan-out worker has copied so far, pages are the same.
    assert_eq!(walk(&app, &format!("{path}?limit=5"), &ben).await, expected);
    app.app.fan_out_queued().await.unwrap();
    assert_eq!(walk(&app, &format!("{path}?limit=5"), &ben).await, expected);
    assert_eq!(
        ids(&app, "/api/v1/timelines/home?limit=40", &ben)
            .await
            .len(),
        27
    );

    // min_id: the page right after a cursor; since_id: the newest above it.
    let page = ids(
        &app,
        &format!("{path}?limit=3&min_id={}", expected[8]),
        &ben,
    )
    .await;
    assert_eq!(page, expected[5..8].to_vec());
    let page = ids(
        &app,
        &format!("{path}?limit=3&since_id={}", expected[8]),
        &ben,
    )
    .await;
    assert_eq!(page, expected[0..3].to_vec());
    let r = app.get(&format!("{path}?limit=4"), Some(&ben)).await;
    let link = r.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.contains(&format!("max_id={}", expected[3]))
            && link.contains(&format!("min_id={}", expected[0]))
            && link.contains(&format!("/api/v1/timelines/list/{list}?")),
        "{link}"
    );

    // A reblog by a member is in the list; removing the member empties it.
    let boost = id(&ok(
        app.post_json(
            &format!("/api/v1/statuses/{}/reblog", expected[0]),
            Some(&ana),
            json!({}),
        )
        .await,
        "reblog",
    )
    .await);
    assert_eq!(ids(&app, &path, &ben).await[0], boost);
    app.request(
        Method::DELETE,
        &format!("/api/v1/lists/{list}/accounts"),
        Some(&ben),
    )
    .json(&json!({"account_ids": [ana_id]}))
    .send()
    .await
    .unwrap();
    assert!(ids(&app, &path, &ben).await.is_empty());
}

#[tokio::test]
async fn celebrity_members_are_merged_on_read() {
    // Threshold 1: every followed account is merged on read instead of fanned out.
    let app = spawn_app_with(|s| s.celebrity_threshold = 1).await;
    let star = app.sign_up("star").await;
    let other = app.sign_up("other").await;
    let ben = app.sign_up("ben").await;
    let star_id = account_id(&app, &star).await;
    let other_id = account_id(&app, &other).await;
    follow(&app, &ben, &star_id).await;
    follow(&app, &ben, &other_id).await;
    let list = create_list(&app, &ben, json!({"title": "Stars"})).await;
    ok(add(&app, &ben, &list, &[&star_id]).await, "add").await;
    let mut expected = Vec::new();
    for i in 0..7 {
        expected.push(post(&app, &star, &format!("star {i}")).await);
        post(&app, &other, &format!("other {i}")).await;
    }
    expected.reverse();
    let path = format!("/api/v1/timelines/list/{list}?limit=3");
    assert_eq!(walk(&app, &path, &ben).await, expected);
}

#[tokio::test]
async fn replies_policy_decides_which_replies_reach_the_list() {
    let app = spawn_app().await;
    let ben = app.sign_up("ben").await;
    let mut tokens = Vec::new();
    let mut accts = Vec::new();
    for name in ["ana", "cat", "fay", "dan"] {
        let t = app.sign_up(name).await;
        accts.push(account_id(&app, &t).await);
        tokens.push(t);
    }
    let (ana, cat, fay, dan) = (&tokens[0], &tokens[1], &tokens[2], &tokens[3]);
    // Ben follows ana and cat (members) and fay (not a member); not dan.
    for a in &accts[..3] {
        follow(&app, &ben, a).await;
    }
    let list = create_list(&app, &ben, json!({"title": "Mates"})).await;
    ok(add(&app, &ben, &list, &[&accts[0], &accts[1]]).await, "add").await;

    let by_cat = post(&app, cat, "cat says").await;
    let by_fay = post(&app, fay, "fay says").await;
    let by_dan = post(&app, dan, "dan says").await;
    let by_ben = post(&app, &ben, "ben says").await;
    let original = post(&app, ana, "ana says").await;
    let thread = reply(&app, ana, &original, "and more").await;
    let to_member = reply(&app, ana, &by_cat, "@cat yes").await;
    let to_followed = reply(&app, ana, &by_fay, "@fay yes").await;
    let to_stranger = reply(&app, ana, &by_dan, "@dan yes").await;
    let to_owner = reply(&app, ana, &by_ben, "@ben yes").await;

    let path = format!("/api/v1/timelines/list/{list}");
    let expect = |kept: &[&String]| -> Vec<String> {
        let mut v: Vec<String> = kept.iter().map(|s| (*s).clone()).collect();
        v.push(by_cat.clone());
        v.sort_by_key(|s| std::cmp::Reverse(s.parse::<i64>().unwrap()));
        v
    };
    assert_eq!(
        ids(&app, &path, &ben).await,
        expect(&[&to_owner, &to_member, &thread, &original]),
        "list (the default): replies to members and to the owner"
    );
    for (policy, kept) in [
        (
            "followed",
            expect(&[&to_owner, &to_followed, &to_member, &thread, &original]),
        ),
        ("none", expect(&[&to_owner, &thread, &original])),
        ("list", expect(&[&to_owner, &to_member, &thread, &original])),
    ] {
        ok(
            app.put_json(
                &format!("/api/v1/lists/{list}"),
                Some(&ben),
                json!({ "replies_policy": policy }),
            )
            .await,
            "update",
        )
        .await;
        assert_eq!(ids(&app, &path, &ben).await, kept, "{policy}");
        assert!(!kept.contains(&to_stranger));
    }
}

#[tokio::test]
async fn exclusive_lists_keep_their_members_out_of_home() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    let ana_id = account_id(&app, &ana).await;
    let cat_id = account_id(&app, &cat).await;
    follow(&app, &ben, &ana_id).await;
    follow(&app, &ben, &cat_id).await;
    let by_ana = post(&app, &ana, "from ana").await;
    let by_cat = post(&app, &cat, "from cat").await;
    let own = post(&app, &ben, "my own").await;
    let all = vec![own.clone(), by_cat.clone(), by_ana.clone()];

    let plain = create_list(&app, &ben, json!({"title": "Plain"})).await;
    ok(add(&app, &ben, &plain, &[&ana_id]).await, "add").await;
    assert_eq!(ids(&app, "/api/v1/timelines/home", &ben).await, all);

    let exclusive = create_list(&app, &ben, json!({"title": "Only", "exclusive": true})).await;
    ok(add(&app, &ben, &exclusive, &[&ana_id]).await, "add").await;
    assert_eq!(
        ids(&app, "/api/v1/timelines/home", &ben).await,
        vec![own.clone(), by_cat.clone()]
    );
    for list in [&plain, &exclusive] {
        assert_eq!(
            ids(&app, &format!("/api/v1/timelines/list/{list}"), &ben).await,
            vec![by_ana.clone()]
        );
    }
    // Ana still sees her own posts in her home; only ben's home is affected.
    assert_eq!(
        ids(&app, "/api/v1/timelines/home", &ana).await,
        vec![by_ana.clone()]
    );

    ok(
        app.put_json(
            &format!("/api/v1/lists/{exclusive}"),
            Some(&ben),
            json!({"exclusive": false}),
        )
        .await,
        "update",
    )
    .await;
    assert_eq!(ids(&app, "/api/v1/timelines/home", &ben).await, all);
}

#[tokio::test]
async fn unfollowing_and_blocking_remove_the_account_from_lists() {
    let app = spawn_app().await;
    let ben = app.sign_up("ben").await;
    let ana = app.sign_up("ana").await;
    let cat = app.sign_up("cat").await;
    let dan = app.sign_up("dan").await;
    let ben_id = account_id(&app, &ben).await;
    let ana_id = account_id(&app, &ana).await;
    let cat_id = account_id(&app, &cat).await;
    let dan_id = account_id(&app, &dan).await;
    for a in [&ana_id, &cat_id, &dan_id] {
        follow(&app, &ben, a).await;
    }
    let one = create_list(&app, &ben, json!({"title": "One"})).await;
    let two = create_list(&app, &ben, json!({"title": "Two"})).await;
    for list in [&one, &two] {
        ok(
            add(&app, &ben, list, &[&ana_id, &cat_id, &dan_id]).await,
            "add",
        )
        .await;
    }
    // Ana's own list with ben in it is not touched by ben's unfollows.
    follow(&app, &ana, &ben_id).await;
    let anas = create_list(&app, &ana, json!({"title": "Ana's"})).await;
    ok(add(&app, &ana, &anas, &[&ben_id]).await, "add").await;

    app.post_json(
        &format!("/api/v1/accounts/{ana_id}/unfollow"),
        Some(&ben),
        json!({}),
    )
    .await;
    assert_eq!(
        ids(&app, &format!("/api/v1/accounts/{ana_id}/lists"), &ben).await,
        Vec::<String>::new()
    );
    follow(&app, &ben, &ana_id).await;
    assert!(
        !members(&app, &ben, &one).await.contains(&ana_id),
        "following again does not put the account back"
    );
    assert_eq!(members(&app, &ana, &anas).await, vec![ben_id.clone()]);

    // Blocking ends follows both ways: ben blocking cat, and dan blocking ben.
    app.post_json(
        &format!("/api/v1/accounts/{cat_id}/block"),
        Some(&ben),
        json!({}),
    )
    .await;
    app.post_json(
        &format!("/api/v1/accounts/{ben_id}/block"),
        Some(&dan),
        json!({}),
    )
    .await;
    for list in [&one, &two] {
        assert!(members(&app, &ben, list).await.is_empty(), "{list}");
    }
}

#[tokio::test]
async fn members_posts_appear_in_the_list_only_when_the_owner_may_see_them() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    let eve = app.sign_up("eve").await;
    let ana_id = account_id(&app, &ana).await;
    let ben_id = account_id(&app, &ben).await;
    follow(&app, &ben, &ana_id).await;
    let list = create_list(&app, &ben, json!({"title": "Ana"})).await;
    ok(add(&app, &ben, &list, &[&ana_id]).await, "add").await;
    let path = format!("/api/v1/timelines/list/{list}");

    let private = post_with(
        &app,
        &ana,
        json!({"status": "followers only", "visibility": "private"}),
    )
    .await;
    let to_cat = post_with(
        &app,
        &ana,
        json!({"status": "@cat just you", "visibility": "direct"}),
    )
    .await;
    let to_ben = post_with(
        &app,
        &ana,
        json!({"status": "@ben just you", "visibility": "direct"}),
    )
    .await;
    // Eve blocks ben: ana's reblog of eve's post must not show eve's post to ben.
    let by_eve = post(&app, &eve, "eve's public post").await;
    app.post_json(
        &format!("/api/v1/accounts/{ben_id}/block"),
        Some(&eve),
        json!({}),
    )
    .await;
    let boost = id(&ok(
        app.post_json(
            &format!("/api/v1/statuses/{by_eve}/reblog"),
            Some(&ana),
            json!({}),
        )
        .await,
        "reblog",
    )
    .await);
    app.app.fan_out_queued().await.unwrap();

    let seen = ids(&app, &path, &ben).await;
    assert_eq!(seen, vec![private.clone()], "{seen:?}");
    assert!(!seen.contains(&boost) && !seen.contains(&to_cat));
    assert!(
        !seen.contains(&to_ben),
        "direct posts are conversations, not list content (as in Mastodon)"
    );
    let home = ids(&app, "/api/v1/timelines/home", &ben).await;
    assert_eq!(home, vec![to_ben, private.clone()]);
    let cat_home = ids(&app, "/api/v1/timelines/home", &cat).await;
    assert!(cat_home.contains(&to_cat));

    // Muting the member hides them here as in home.
    let r = app
        .post_json(
            &format!("/api/v1/accounts/{ana_id}/mute"),
            Some(&ben),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(ids(&app, &path, &ben).await.is_empty());
}

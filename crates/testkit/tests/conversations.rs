//! Direct-message conversations over HTTP: who gets a conversation, unread flags, replies
//! moving a conversation to the top, reading, deleting, pagination, blocks, deleted
//! messages, and refused direct posts (unknown accounts, too many participants).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use serde_json::{Value, json};
use starling_testkit::live::account_id;
use starling_testkit::{TestApp, json_body as body, spawn_app, spawn_app_with};
use std::collections::HashSet;

/// Posts a direct message (replying to `reply_to` if given) and returns its id.
async fn dm(app: &TestApp, token: &str, text: &str, reply_to: Option<&str>) -> String {
    let r = app
        .post_json(
            "/api/v1/statuses",
            Some(token),
            json!({"status": text, "visibility": "direct", "in_reply_to_id": reply_to}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "posting {text:?}");
    body(r).await["id"].as_str().unwrap().to_owned()
}

/// `GET /api/v1/conversations` as an array.
async fn conversations(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get("/api/v1/conversations", Some(token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await.as_array().unwrap().clone()
}

fn account_ids(c: &Value) -> HashSet<String> {
    c["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

fn set(ids: &[&str]) -> HashSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

fn last_status_id(c: &Value) -> &str {
    c["last_status"]["id"].as_str().unwrap()
}

#[tokio::test]
async fn a_dm_gives_both_sides_a_conversation_and_replies_move_it_to_the_top() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    let (ana_id, ben_id, cat_id) = (
        account_id(&app, &ana).await,
        account_id(&app, &ben).await,
        account_id(&app, &cat).await,
    );

    let first = dm(&app, &ana, "@ben lunch?", None).await;
    let bens = conversations(&app, &ben).await;
    assert_eq!(bens.len(), 1);
    let conv = &bens[0];
    assert!(conv["id"].is_string(), "ids are strings: {conv}");
    assert_eq!(conv["unread"], true, "new for the recipient");
    assert_eq!(account_ids(conv), set(&[&ana_id]), "only the other side");
    assert_eq!(last_status_id(conv), first);
    assert_eq!(conv["last_status"]["visibility"], "direct");
    let anas = conversations(&app, &ana).await;
    assert_eq!(anas.len(), 1);
    assert_eq!(
        anas[0]["unread"], false,
        "the author has read her own message"
    );
    assert_eq!(account_ids(&anas[0]), set(&[&ben_id]));

    let slash = body(app.get("/api/v1/conversations/", Some(&ben)).await).await;
    assert_eq!(
        slash,
        json!(bens),
        "the trailing-slash form Mastodon.py uses"
    );

    // A newer conversation with cat goes on top of ana's list…
    dm(&app, &ana, "@cat coffee?", None).await;
    let anas = conversations(&app, &ana).await;
    assert_eq!(anas.len(), 2);
    assert_eq!(account_ids(&anas[0]), set(&[&cat_id]));
    // …until ben's reply brings the first one back, as the same conversation.
    let reply = dm(&app, &ben, "@ana yes, noon", Some(&first)).await;
    let anas = conversations(&app, &ana).await;
    assert_eq!(anas.len(), 2, "a reply joins the conversation: {anas:?}");
    assert_eq!(account_ids(&anas[0]), set(&[&ben_id]));
    assert_eq!(last_status_id(&anas[0]), reply);
    assert_eq!(anas[0]["unread"], true);
    assert_eq!(anas[0]["last_status"]["in_reply_to_id"], first.as_str());
    let bens_after = conversations(&app, &ben).await;
    assert_eq!(bens_after.len(), 1);
    assert_eq!(
        bens_after[0]["id"], conv["id"],
        "the conversation keeps its id"
    );
    assert_eq!(
        bens_after[0]["unread"], false,
        "ben wrote the latest message"
    );
    assert_eq!(last_status_id(&bens_after[0]), reply);

    // A direct reply to a public post starts a conversation of its own.
    let public = body(
        app.post_json("/api/v1/statuses", Some(&cat), json!({"status": "hello"}))
            .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    dm(&app, &ben, "@cat psst", Some(&public)).await;
    assert_eq!(conversations(&app, &ben).await.len(), 2);
}

#[tokio::test]
async fn a_group_dm_reaches_exactly_its_participants() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    let dan = app.sign_up("dan").await;
    let eve = app.sign_up("eve").await;
    let ids = [
        account_id(&app, &ana).await,
        account_id(&app, &ben).await,
        account_id(&app, &cat).await,
        account_id(&app, &dan).await,
    ];
    let everyone: HashSet<String> = ids.iter().cloned().collect();

    let m = dm(&app, &ana, "@ben @cat @dan plan for friday", None).await;
    for (i, token) in [&ana, &ben, &cat, &dan].into_iter().enumerate() {
        let list = conversations(&app, token).await;
        assert_eq!(list.len(), 1, "participant {i}");
        let mut others = everyone.clone();
        others.remove(&ids[i]);
        assert_eq!(account_ids(&list[0]), others, "participant {i}");
        assert_eq!(list[0]["unread"], i != 0, "participant {i}");
        assert_eq!(last_status_id(&list[0]), m);
    }

    // A third party sees neither the conversation nor its messages, and cannot touch it.
    assert!(conversations(&app, &eve).await.is_empty());
    let r = app.get(&format!("/api/v1/statuses/{m}"), Some(&eve)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .get(&format!("/api/v1/statuses/{m}/context"), Some(&eve))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let anas_id = conversations(&app, &ana).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post_json(
            &format!("/api/v1/conversations/{anas_id}/read"),
            Some(&eve),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .delete(&format!("/api/v1/conversations/{anas_id}"), Some(&eve))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(conversations(&app, &ana).await.len(), 1, "still there");

    // A reply to ana alone updates only the two of them.
    let aside = dm(&app, &cat, "@ana just between us", Some(&m)).await;
    assert_eq!(last_status_id(&conversations(&app, &ana).await[0]), aside);
    assert_eq!(last_status_id(&conversations(&app, &cat).await[0]), aside);
    let bens = conversations(&app, &ben).await;
    assert_eq!(last_status_id(&bens[0]), m, "ben was not addressed");
    let r = app
        .get(&format!("/api/v1/statuses/{aside}"), Some(&ben))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let anas = conversations(&app, &ana).await;
    assert_eq!(account_ids(&anas[0]), set(&[&ids[2]]));

    // Without a token there is nothing to list.
    let r = app.get("/api/v1/conversations", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn read_clears_unread_and_delete_hides_until_the_next_message() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let ana_id = account_id(&app, &ana).await;
    let first = dm(&app, &ana, "@ben hi", None).await;
    let conv = conversations(&app, &ben).await[0].clone();
    let cid = conv["id"].as_str().unwrap();

    let r = app
        .post_form(
            &format!("/api/v1/conversations/{cid}/read"),
            Some(&ben),
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let read = body(r).await;
    assert_eq!(read["id"], cid);
    assert_eq!(read["unread"], false);
    assert_eq!(account_ids(&read), set(&[&ana_id]));
    assert_eq!(last_status_id(&read), first);
    assert_eq!(conversations(&app, &ben).await[0]["unread"], false);
    let r = app
        .post_json(
            "/api/v1/conversations/123456789/read",
            Some(&ben),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let r = app
        .delete(&format!("/api/v1/conversations/{cid}"), Some(&ben))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await, json!({}));
    assert!(conversations(&app, &ben).await.is_empty());
    assert_eq!(
        conversations(&app, &ana).await.len(),
        1,
        "deleting only removes it from ben's list"
    );
    let r = app
        .get(&format!("/api/v1/statuses/{first}"), Some(&ben))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "the messages stay");
    let r = app
        .delete(&format!("/api/v1/conversations/{cid}"), Some(&ben))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let again = dm(&app, &ana, "@ben are you there?", Some(&first)).await;
    let bens = conversations(&app, &ben).await;
    assert_eq!(bens.len(), 1, "a new message brings it back");
    assert_eq!(bens[0]["unread"], true);
    assert_eq!(last_status_id(&bens[0]), again);
}

#[tokio::test]
async fn conversations_paginate_with_link_headers() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(dm(&app, &ana, &format!("@ben topic {i}"), None).await);
    }
    sent.reverse(); // newest first, as listed

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut url = app.url("/api/v1/conversations?limit=2");
    for _ in 0..10 {
        let r = app.client.get(&url).bearer_auth(&ben).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let link = r
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned());
        let page = body(r).await.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|c| last_status_id(c).to_owned()));
        pages.push(page);
        let link = link.expect("a non-empty page has a Link header");
        assert!(
            link.starts_with('<') && link.contains(">; rel=\"next\""),
            "{link}"
        );
        url = link[1..link.find('>').unwrap()].to_owned();
        assert!(url.contains("limit=2") && url.contains("max_id="), "{url}");
    }
    assert_eq!(seen, sent, "every conversation once, most recent first");
    assert_eq!(pages.len(), 3);

    // rel="prev" of the second page leads back to the first.
    let r = app
        .get(
            &format!("/api/v1/conversations?limit=2&max_id={}", sent[1]),
            Some(&ben),
        )
        .await;
    let link = r.headers()["link"].to_str().unwrap().to_owned();
    let prev = link
        .split(", ")
        .find(|p| p.ends_with("rel=\"prev\""))
        .unwrap();
    let prev_url = &prev[1..prev.find('>').unwrap()];
    assert!(prev_url.contains("min_id="), "{prev_url}");
    let r = app
        .client
        .get(prev_url)
        .bearer_auth(&ben)
        .send()
        .await
        .unwrap();
    let back: Vec<String> = body(r)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|c| last_status_id(c).to_owned())
        .collect();
    assert_eq!(back, sent[..2].to_vec());
}

#[tokio::test]
async fn blocked_participants_stop_receiving() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    let eve = app.sign_up("eve").await;
    let (ana_id, ben_id, cat_id, eve_id) = (
        account_id(&app, &ana).await,
        account_id(&app, &ben).await,
        account_id(&app, &cat).await,
        account_id(&app, &eve).await,
    );
    let earlier = dm(&app, &ana, "@ben before the block", None).await;
    assert_eq!(conversations(&app, &ben).await.len(), 1);

    // ben blocks ana (the recipient blocks the author).
    let r = app
        .post_json(
            &format!("/api/v1/accounts/{ana_id}/block"),
            Some(&ben),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // ana can still write (a refusal would reveal the block); ben gets nothing.
    let reply = dm(&app, &ana, "@ben still there?", Some(&earlier)).await;
    let group = dm(&app, &ana, "@ben @cat party tonight", None).await;
    assert!(
        conversations(&app, &ben).await.is_empty(),
        "no conversation with someone ben blocked"
    );
    let notes = body(app.get("/api/v1/notifications", Some(&ben)).await).await;
    assert!(notes.as_array().unwrap().is_empty(), "{notes}");
    for id in [&earlier, &reply, &group] {
        let r = app.get(&format!("/api/v1/statuses/{id}"), Some(&ben)).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let cats = conversations(&app, &cat).await;
    assert_eq!(cats.len(), 1);
    assert_eq!(
        account_ids(&cats[0]),
        set(&[&ana_id]),
        "ben is not part of it"
    );
    assert_eq!(last_status_id(&cats[0]), group);
    let anas = conversations(&app, &ana).await;
    assert_eq!(anas.len(), 2);
    assert_eq!(account_ids(&anas[0]), set(&[&cat_id]));
    assert!(
        anas.iter().all(|c| !account_ids(c).contains(&ben_id)),
        "the latest messages did not reach ben: {anas:?}"
    );

    // ana blocks eve (the author blocks a recipient): eve gets nothing either.
    app.post_json(
        &format!("/api/v1/accounts/{eve_id}/block"),
        Some(&ana),
        json!({}),
    )
    .await;
    let to_eve = dm(&app, &ana, "@eve @cat hello", None).await;
    assert!(conversations(&app, &eve).await.is_empty());
    let r = app
        .get(&format!("/api/v1/statuses/{to_eve}"), Some(&eve))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let notes = body(app.get("/api/v1/notifications", Some(&eve)).await).await;
    assert!(notes.as_array().unwrap().is_empty(), "{notes}");
    assert_eq!(last_status_id(&conversations(&app, &cat).await[0]), to_eve);
}

#[tokio::test]
async fn direct_posts_to_unknown_accounts_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    for text in [
        "@ghost hello",
        "@ben @ghost hello",
        "no one at all",
        "@ana myself",
    ] {
        let r = app
            .post_json(
                "/api/v1/statuses",
                Some(&ana),
                json!({"status": text, "visibility": "direct"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{text}");
        let msg = body(r).await["error"].as_str().unwrap().to_owned();
        if text.contains("ghost") {
            assert!(msg.contains("@ghost"), "names the unknown account: {msg}");
            assert!(!msg.contains("@ben"), "{msg}");
        }
    }
    let me = body(
        app.get("/api/v1/accounts/verify_credentials", Some(&ana))
            .await,
    )
    .await;
    assert_eq!(me["statuses_count"], 0, "nothing stored");
    assert!(conversations(&app, &ana).await.is_empty());
    assert!(conversations(&app, &ben).await.is_empty());
    let notes = body(app.get("/api/v1/notifications", Some(&ben)).await).await;
    assert!(notes.as_array().unwrap().is_empty(), "{notes}");
}

#[tokio::test]
async fn too_many_participants_are_refused_naming_the_limit() {
    let app = spawn_app_with(|s| s.max_direct_participants = 3).await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    app.sign_up("cat").await;
    let dan = app.sign_up("dan").await;
    // Three participants: the author and two mentioned accounts (mentioning oneself or
    // someone twice does not count again).
    let ok = dm(&app, &ana, "@ben @cat @ana @BEN ok", None).await;
    let r = app
        .post_json(
            "/api/v1/statuses",
            Some(&ana),
            json!({"status": "@ben @cat @dan too many", "visibility": "direct"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let msg = body(r).await["error"].as_str().unwrap().to_owned();
    assert!(msg.contains("at most 3 participants"), "{msg}");
    assert!(msg.contains('4'), "says how many there were: {msg}");
    let me = body(
        app.get("/api/v1/accounts/verify_credentials", Some(&ana))
            .await,
    )
    .await;
    assert_eq!(me["statuses_count"], 1, "the refused post was not stored");
    assert!(conversations(&app, &dan).await.is_empty());
    assert_eq!(conversations(&app, &ben).await.len(), 1);
    let notes = body(app.get("/api/v1/notifications", Some(&dan)).await).await;
    assert!(notes.as_array().unwrap().is_empty(), "{notes}");
    // Nor can an edit widen the message past the limit, or to an unknown account.
    for text in ["@ben @cat @dan edited", "@ben @ghost edited"] {
        let r = app
            .put_json(
                &format!("/api/v1/statuses/{ok}"),
                Some(&ana),
                json!({ "status": text }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    }
    let r = app.get(&format!("/api/v1/statuses/{ok}"), Some(&dan)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The limit is only for direct posts.
    let r = app
        .post_json(
            "/api/v1/statuses",
            Some(&ana),
            json!({"status": "@ben @cat @dan public is fine"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn deleting_the_last_message_changes_last_status() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let first = dm(&app, &ana, "@ben first", None).await;
    let second = dm(&app, &ben, "@ana second", Some(&first)).await;
    assert_eq!(last_status_id(&conversations(&app, &ana).await[0]), second);

    let r = app
        .delete(&format!("/api/v1/statuses/{second}"), Some(&ben))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for token in [&ana, &ben] {
        let list = conversations(&app, token).await;
        assert_eq!(list.len(), 1);
        assert_eq!(
            last_status_id(&list[0]),
            first,
            "falls back to the one left"
        );
    }

    let r = app
        .delete(&format!("/api/v1/statuses/{first}"), Some(&ana))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for token in [&ana, &ben] {
        assert!(
            conversations(&app, token).await.is_empty(),
            "no message left, no conversation"
        );
    }
}

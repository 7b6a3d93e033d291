//! Groups over HTTP: creating and editing, the directory, joining public groups, asking
//! to join private ones and answering requests, invitations, roles (with the last-owner
//! rule), posting in a group (audience, replies, homes, notifications), leaving and
//! deleting — with the bad-input cases and what they must leave untouched.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use serde_json::{Value, json};
use starling_testkit::{TestApp, expect_json, json_body, spawn_app};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn me(app: &TestApp, token: &str) -> Value {
    expect_json(
        app.get("/api/v1/accounts/verify_credentials", Some(token))
            .await,
        "verify_credentials",
    )
    .await
}

async fn create_group(app: &TestApp, token: &str, name: &str, visibility: &str) -> String {
    let g = expect_json(
        app.post_json(
            "/api/v1/groups",
            Some(token),
            json!({"name": name, "description": "about it", "visibility": visibility}),
        )
        .await,
        "create group",
    )
    .await;
    id(&g)
}

async fn join(app: &TestApp, token: &str, group: &str) -> Value {
    expect_json(
        app.post_json(
            &format!("/api/v1/groups/{group}/join"),
            Some(token),
            json!({}),
        )
        .await,
        "join",
    )
    .await
}

async fn post_in(app: &TestApp, token: &str, group: &str, text: &str) -> String {
    let s = expect_json(
        app.post_json(
            "/api/v1/statuses",
            Some(token),
            json!({"status": text, "group_id": group}),
        )
        .await,
        "post in group",
    )
    .await;
    id(&s)
}

async fn ids_of(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let v = expect_json(app.get(path, Some(token)).await, path).await;
    v.as_array().unwrap().iter().map(id).collect()
}

async fn error(r: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(r.status(), status);
    json_body(r).await["error"].as_str().unwrap().to_owned()
}

async fn notification_types(app: &TestApp, token: &str) -> Vec<String> {
    let v = expect_json(app.get("/api/v1/notifications", Some(token)).await, "notes").await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn creating_editing_and_the_directory() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;

    let r = app
        .post_json(
            "/api/v1/groups",
            Some(&ana),
            json!({"name": "  Rust guild ", "visibility": "public"}),
        )
        .await;
    let g = expect_json(r, "create").await;
    assert_eq!(g["name"], "Rust guild");
    assert_eq!(g["visibility"], "public");
    assert_eq!(g["members_count"], 1);
    assert_eq!(g["relationship"]["role"], "owner");
    assert_eq!(g["relationship"]["member"], true);
    let public = id(&g);
    // Form bodies work too; the default visibility is public.
    let r = app
        .post_form("/api/v1/groups", Some(&ana), &[("name", "Lyon campus")])
        .await;
    assert_eq!(expect_json(r, "form").await["visibility"], "public");
    let private = create_group(&app, &ana, "Board", "private").await;

    // Bad input names the field and the rule, and stores nothing.
    let e = error(
        app.post_json("/api/v1/groups", Some(&ana), json!({"name": "  "}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(e.contains("name must be 1 to 100 characters"), "{e}");
    let e = error(
        app.post_json(
            "/api/v1/groups",
            Some(&ana),
            json!({"name": "x", "visibility": "secret"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        e.contains("visibility must be one of public, private"),
        "{e}"
    );
    let e = error(
        app.post_json(
            "/api/v1/groups",
            Some(&ana),
            json!({"name": "x", "description": "d".repeat(1001)}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(e.contains("description"), "{e}");
    assert_eq!(
        app.post_json("/api/v1/groups", None, json!({"name": "x"}))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // The directory: public groups for everyone, private ones for their members only.
    let for_ben = ids_of(&app, "/api/v1/groups", &ben).await;
    assert!(for_ben.contains(&public) && !for_ben.contains(&private));
    let for_ana = ids_of(&app, "/api/v1/groups", &ana).await;
    assert_eq!(for_ana.len(), 3);
    assert_eq!(for_ana[2], public, "newest first");
    assert!(
        ids_of(&app, "/api/v1/groups?mine=true", &ben)
            .await
            .is_empty()
    );
    // Paginated with Link headers.
    let r = app.get("/api/v1/groups?limit=1", Some(&ana)).await;
    assert!(r.headers().get("link").is_some());
    assert_eq!(json_body(r).await.as_array().unwrap().len(), 1);
    // A private group can be looked up (to ask to join it), its content cannot.
    let g = expect_json(
        app.get(&format!("/api/v1/groups/{private}"), Some(&ben))
            .await,
        "show",
    )
    .await;
    assert_eq!(g["relationship"]["member"], false);
    assert_eq!(
        app.get(&format!("/api/v1/groups/{private}/members"), Some(&ben))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/v1/groups/123456", Some(&ben)).await.status(),
        StatusCode::NOT_FOUND
    );

    // Editing: owners and admins; members and outsiders get 403 and change nothing.
    let r = app
        .put_json(
            &format!("/api/v1/groups/{public}"),
            Some(&ben),
            json!({"name": "Hijacked"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let g = expect_json(
        app.put_json(
            &format!("/api/v1/groups/{public}"),
            Some(&ana),
            json!({"description": "Rustaceans of the company"}),
        )
        .await,
        "update",
    )
    .await;
    assert_eq!(g["name"], "Rust guild");
    assert_eq!(g["description"], "Rustaceans of the company");
    app.stop().await;
}

#[tokio::test]
async fn public_groups_are_joined_and_left_freely() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let group = create_group(&app, &ana, "Guild", "public").await;

    let g = join(&app, &ben, &group).await;
    assert_eq!(g["relationship"]["member"], true);
    assert_eq!(g["relationship"]["role"], "member");
    assert_eq!(g["members_count"], 2);
    // Joining twice changes nothing.
    assert_eq!(join(&app, &ben, &group).await["members_count"], 2);
    let members = expect_json(
        app.get(&format!("/api/v1/groups/{group}/members"), Some(&ben))
            .await,
        "members",
    )
    .await;
    let roles: Vec<(&str, &str)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["account"]["username"].as_str().unwrap(),
                m["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(roles, vec![("ben", "member"), ("ana", "owner")]);
    let owners = expect_json(
        app.get(
            &format!("/api/v1/groups/{group}/members?role=owner"),
            Some(&ben),
        )
        .await,
        "owners",
    )
    .await;
    assert_eq!(owners.as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(
            &format!("/api/v1/groups/{group}/members?role=king"),
            Some(&ben)
        )
        .await
        .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let g = expect_json(
        app.post_json(
            &format!("/api/v1/groups/{group}/leave"),
            Some(&ben),
            json!({}),
        )
        .await,
        "leave",
    )
    .await;
    assert_eq!(g["relationship"]["member"], false);
    assert_eq!(g["members_count"], 1);
    app.stop().await;
}

#[tokio::test]
async fn private_groups_need_approval_or_an_invitation() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cid = app.sign_up("cid").await;
    let dan = app.sign_up("dan").await;
    let ben_id = id(&me(&app, &ben).await);
    let cid_id = id(&me(&app, &cid).await);
    let dan_id = id(&me(&app, &dan).await);
    let group = create_group(&app, &ana, "Board", "private").await;
    let secret = post_in(&app, &ana, &group, "Quarterly figures").await;

    // Asking to join is not joining: Ben can neither read nor post yet.
    let g = join(&app, &ben, &group).await;
    assert_eq!(g["relationship"]["member"], false);
    assert_eq!(g["relationship"]["requested"], true);
    assert_eq!(g["members_count"], 1);
    assert_eq!(
        app.get(&format!("/api/v1/groups/{group}/timeline"), Some(&ben))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&format!("/api/v1/statuses/{secret}"), Some(&ben))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let before = me(&app, &ben).await["statuses_count"].clone();
    let e = error(
        app.post_json(
            "/api/v1/statuses",
            Some(&ben),
            json!({"status": "let me in", "group_id": group}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(e.contains("group_id"), "{e}");
    assert_eq!(
        me(&app, &ben).await["statuses_count"],
        before,
        "nothing stored"
    );
    // Only moderators see and answer requests.
    assert_eq!(
        app.get(&format!("/api/v1/groups/{group}/requests"), Some(&ben))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post_json(
            &format!("/api/v1/groups/{group}/requests/{ben_id}/authorize"),
            Some(&ben),
            json!({})
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    assert!(
        notification_types(&app, &ana)
            .await
            .contains(&"group_request".to_owned())
    );
    let notes = expect_json(app.get("/api/v1/notifications", Some(&ana)).await, "n").await;
    assert_eq!(notes[0]["group"]["id"], group.as_str());
    assert_eq!(
        ids_of(&app, &format!("/api/v1/groups/{group}/requests"), &ana).await,
        vec![ben_id.clone()]
    );
    // Authorizing someone who did not ask is refused.
    assert_eq!(
        app.post_json(
            &format!("/api/v1/groups/{group}/requests/{cid_id}/authorize"),
            Some(&ana),
            json!({})
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    let g = expect_json(
        app.post_json(
            &format!("/api/v1/groups/{group}/requests/{ben_id}/authorize"),
            Some(&ana),
            json!({}),
        )
        .await,
        "authorize",
    )
    .await;
    assert_eq!(g["members_count"], 2);
    assert!(
        notification_types(&app, &ben)
            .await
            .contains(&"group_approval".to_owned())
    );
    assert_eq!(
        ids_of(&app, &format!("/api/v1/groups/{group}/timeline"), &ben).await,
        vec![secret.clone()]
    );
    // Rejected requests go away and change nothing else.
    join(&app, &cid, &group).await;
    expect_json(
        app.post_json(
            &format!("/api/v1/groups/{group}/requests/{cid_id}/reject"),
            Some(&ana),
            json!({}),
        )
        .await,
        "reject",
    )
    .await;
    let g = expect_json(
        app.get(&format!("/api/v1/groups/{group}"), Some(&cid))
            .await,
        "show",
    )
    .await;
    assert_eq!(g["relationship"]["requested"], false);
    assert_eq!(g["relationship"]["member"], false);

    // Invitations: by moderators only; the invited account joins without approval.
    assert_eq!(
        app.post_json(
            &format!("/api/v1/groups/{group}/invitations"),
            Some(&ben),
            json!({"account_ids": [dan_id]}),
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post_json(
            &format!("/api/v1/groups/{group}/invitations"),
            Some(&ana),
            json!({"account_ids": ["99999"]}),
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    let r = app
        .post_form(
            &format!("/api/v1/groups/{group}/invitations"),
            Some(&ana),
            &[("account_ids[]", dan_id.as_str())],
        )
        .await;
    expect_json(r, "invite").await;
    assert!(
        notification_types(&app, &dan)
            .await
            .contains(&"group_invitation".to_owned())
    );
    let g = expect_json(
        app.get(&format!("/api/v1/groups/{group}"), Some(&dan))
            .await,
        "show",
    )
    .await;
    assert_eq!(g["relationship"]["invited"], true);
    let g = join(&app, &dan, &group).await;
    assert_eq!(g["relationship"]["member"], true);
    assert_eq!(g["relationship"]["invited"], false);
    app.stop().await;
}

#[tokio::test]
async fn roles_and_the_last_owner() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cid = app.sign_up("cid").await;
    let ana_id = id(&me(&app, &ana).await);
    let ben_id = id(&me(&app, &ben).await);
    let cid_id = id(&me(&app, &cid).await);
    let group = create_group(&app, &ana, "Guild", "public").await;
    join(&app, &ben, &group).await;
    join(&app, &cid, &group).await;
    let member = |who: &str| format!("/api/v1/groups/{group}/members/{who}");

    // The only owner can neither leave nor step down.
    let e = error(
        app.post_json(
            &format!("/api/v1/groups/{group}/leave"),
            Some(&ana),
            json!({}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(e.contains("at least one owner"), "{e}");
    assert_eq!(
        app.put_json(&member(&ana_id), Some(&ana), json!({"role": "member"}))
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Members cannot promote anyone.
    assert_eq!(
        app.put_json(&member(&ben_id), Some(&cid), json!({"role": "admin"}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.put_json(&member(&ben_id), Some(&ana), json!({"role": "emperor"}))
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    expect_json(
        app.put_json(&member(&ben_id), Some(&ana), json!({"role": "admin"}))
            .await,
        "promote",
    )
    .await;
    // Admins run members but never touch owners.
    assert_eq!(
        app.put_json(&member(&cid_id), Some(&ben), json!({"role": "owner"}))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete(&member(&ana_id), Some(&ben)).await.status(),
        StatusCode::FORBIDDEN
    );
    let g = expect_json(app.delete(&member(&cid_id), Some(&ben)).await, "remove").await;
    assert_eq!(g["members_count"], 2);
    assert_eq!(
        app.delete(&member(&cid_id), Some(&ben)).await.status(),
        StatusCode::NOT_FOUND
    );
    // With a second owner, the first may go.
    expect_json(
        app.put_json(&member(&ben_id), Some(&ana), json!({"role": "owner"}))
            .await,
        "make owner",
    )
    .await;
    let g = expect_json(
        app.post_json(
            &format!("/api/v1/groups/{group}/leave"),
            Some(&ana),
            json!({}),
        )
        .await,
        "leave",
    )
    .await;
    assert_eq!(g["relationship"]["member"], false);
    let owners = expect_json(
        app.get(
            &format!("/api/v1/groups/{group}/members?role=owner"),
            Some(&ben),
        )
        .await,
        "owners",
    )
    .await;
    assert_eq!(owners[0]["account"]["id"], ben_id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn posting_in_a_group() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let eve = app.sign_up("eve").await;
    let eve_id = id(&me(&app, &eve).await);
    let private = create_group(&app, &ana, "Board", "private").await;
    let public = create_group(&app, &ana, "Guild", "public").await;
    expect_json(
        app.post_json(
            &format!("/api/v1/groups/{private}/invitations"),
            Some(&ana),
            json!({"account_ids": [id(&me(&app, &ben).await)]}),
        )
        .await,
        "invite",
    )
    .await;
    // Ben joins and asks to hear of every new post; Eve follows Ana but is no member.
    let g = expect_json(
        app.post_json(
            &format!("/api/v1/groups/{private}/join"),
            Some(&ben),
            json!({"notify": true}),
        )
        .await,
        "join",
    )
    .await;
    assert_eq!(g["relationship"]["notifying"], true);
    expect_json(
        app.post_json(
            &format!("/api/v1/accounts/{}/follow", id(&me(&app, &ana).await)),
            Some(&eve),
            json!({"notify": true}),
        )
        .await,
        "follow",
    )
    .await;

    let s = expect_json(
        app.post_json(
            "/api/v1/statuses",
            Some(&ana),
            json!({"status": "Board only, @eve cannot see this", "group_id": private, "visibility": "public"}),
        )
        .await,
        "post",
    )
    .await;
    let secret = id(&s);
    assert_eq!(s["group"]["id"], private.as_str());
    assert_eq!(s["group"]["name"], "Board");
    assert_eq!(s["visibility"], "private", "the group is the audience");
    // Members see it at home and in the group; Ben was notified; Eve sees nothing, not
    // even through the mention or the follow, and hears nothing.
    assert!(
        ids_of(&app, "/api/v1/timelines/home", &ben)
            .await
            .contains(&secret)
    );
    assert!(
        !ids_of(&app, "/api/v1/timelines/home", &eve)
            .await
            .contains(&secret)
    );
    assert!(
        notification_types(&app, &ben)
            .await
            .contains(&"status".to_owned())
    );
    assert!(notification_types(&app, &eve).await.is_empty());
    for path in [
        format!("/api/v1/statuses/{secret}"),
        format!("/api/v1/statuses/{secret}/context"),
    ] {
        assert_eq!(
            app.get(&path, Some(&eve)).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let ana_id = id(&me(&app, &ana).await);
    assert!(
        !ids_of(&app, &format!("/api/v1/accounts/{ana_id}/statuses"), &eve)
            .await
            .contains(&secret)
    );
    // Not reblogable, not public.
    assert_ne!(
        app.post_json(
            &format!("/api/v1/statuses/{secret}/reblog"),
            Some(&ben),
            json!({})
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert!(
        !ids_of(&app, "/api/v1/timelines/public", &ben)
            .await
            .contains(&secret)
    );

    // Replies stay in the group.
    let r = expect_json(
        app.post_json(
            "/api/v1/statuses",
            Some(&ben),
            json!({"status": "Noted", "in_reply_to_id": secret}),
        )
        .await,
        "reply",
    )
    .await;
    assert_eq!(r["group"]["id"], private.as_str());
    assert_eq!(r["visibility"], "private");
    let e = error(
        app.post_json(
            "/api/v1/statuses",
            Some(&ben),
            json!({"status": "elsewhere", "in_reply_to_id": secret, "group_id": public}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(e.contains("group_id"), "{e}");
    let e = error(
        app.post_json(
            "/api/v1/statuses",
            Some(&ana),
            json!({"status": "psst @ben", "group_id": private, "visibility": "direct"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(e.contains("visibility"), "{e}");
    let e = error(
        app.post_json(
            "/api/v1/statuses",
            Some(&ana),
            json!({"status": "hello", "group_id": "987654321"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(e.contains("group_id"), "{e}");

    // A public group's posts are readable by all (not listed on the network timeline);
    // only members post there.
    let open = post_in(&app, &ana, &public, "Guild meeting at noon").await;
    let s = expect_json(
        app.get(&format!("/api/v1/statuses/{open}"), Some(&eve))
            .await,
        "read public group post",
    )
    .await;
    assert_eq!(s["visibility"], "unlisted");
    assert_eq!(
        ids_of(&app, &format!("/api/v1/groups/{public}/timeline"), &eve).await,
        vec![open.clone()]
    );
    assert!(
        !ids_of(&app, "/api/v1/timelines/public", &eve)
            .await
            .contains(&open)
    );
    assert_eq!(
        app.post_json(
            "/api/v1/statuses",
            Some(&eve),
            json!({"status": "me too", "in_reply_to_id": open}),
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    join(&app, &eve, &public).await;
    assert!(
        ids_of(&app, "/api/v1/timelines/home", &eve)
            .await
            .contains(&open)
    );

    // Leaving takes the group out of home at once.
    assert!(
        ids_of(&app, "/api/v1/timelines/home", &ben)
            .await
            .contains(&secret)
    );
    expect_json(
        app.post_json(
            &format!("/api/v1/groups/{private}/leave"),
            Some(&ben),
            json!({}),
        )
        .await,
        "leave",
    )
    .await;
    assert!(
        !ids_of(&app, "/api/v1/timelines/home", &ben)
            .await
            .contains(&secret)
    );
    assert_eq!(
        app.get(&format!("/api/v1/statuses/{secret}"), Some(&ben))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // …but Ben's own reply stays his.
    assert_eq!(
        app.get(&format!("/api/v1/statuses/{}", id(&r)), Some(&ben))
            .await
            .status(),
        StatusCode::OK
    );
    let _ = eve_id;
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_group_deletes_its_posts() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let ben_id = id(&me(&app, &ben).await);
    let group = create_group(&app, &ana, "Guild", "public").await;
    join(&app, &ben, &group).await;
    let post = post_in(&app, &ben, &group, "in the guild").await;
    expect_json(
        app.post_json(
            &format!("/api/v1/statuses/{post}/reblog"),
            Some(&ana),
            json!({}),
        )
        .await,
        "reblog",
    )
    .await;
    expect_json(
        app.post_json(
            "/api/v1/statuses",
            Some(&ben),
            json!({"status": "elsewhere"}),
        )
        .await,
        "post",
    )
    .await;
    assert_eq!(me(&app, &ben).await["statuses_count"], 2);
    assert_eq!(me(&app, &ana).await["statuses_count"], 1);

    // Admins may not delete; owners may.
    expect_json(
        app.put_json(
            &format!("/api/v1/groups/{group}/members/{ben_id}"),
            Some(&ana),
            json!({"role": "admin"}),
        )
        .await,
        "promote",
    )
    .await;
    assert_eq!(
        app.delete(&format!("/api/v1/groups/{group}"), Some(&ben))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    expect_json(
        app.delete(&format!("/api/v1/groups/{group}"), Some(&ana))
            .await,
        "delete",
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/groups/{group}"), Some(&ana))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/statuses/{post}"), Some(&ben))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(me(&app, &ben).await["statuses_count"], 1);
    assert_eq!(me(&app, &ana).await["statuses_count"], 0);
    assert!(
        ids_of(&app, "/api/v1/timelines/home", &ana)
            .await
            .is_empty()
    );
    app.stop().await;
}

#[tokio::test]
async fn changing_a_groups_visibility_changes_who_reads_its_past_posts() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let eve = app.sign_up("eve").await;
    let group = create_group(&app, &ana, "Guild", "public").await;
    let post = post_in(&app, &ana, &group, "said in public").await;
    let path = format!("/api/v1/statuses/{post}");
    assert_eq!(app.get(&path, Some(&eve)).await.status(), StatusCode::OK);

    expect_json(
        app.put_json(
            &format!("/api/v1/groups/{group}"),
            Some(&ana),
            json!({"visibility": "private"}),
        )
        .await,
        "make private",
    )
    .await;
    assert_eq!(
        app.get(&path, Some(&eve)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get(&path, None).await.status(), StatusCode::NOT_FOUND);
    let s = expect_json(app.get(&path, Some(&ana)).await, "author reads").await;
    assert_eq!(s["visibility"], "private", "apps show the new reach");
    assert_eq!(
        app.get(&format!("/api/v1/groups/{group}/timeline"), Some(&eve))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    expect_json(
        app.put_json(
            &format!("/api/v1/groups/{group}"),
            Some(&ana),
            json!({"visibility": "public"}),
        )
        .await,
        "make public",
    )
    .await;
    let s = expect_json(app.get(&path, Some(&eve)).await, "readable again").await;
    assert_eq!(s["visibility"], "unlisted");
    app.stop().await;
}

#[tokio::test]
async fn group_moderators_may_delete_posts_in_their_group() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cid = app.sign_up("cid").await;
    let group = create_group(&app, &ana, "Guild", "public").await;
    join(&app, &ben, &group).await;
    join(&app, &cid, &group).await;
    let spam = post_in(&app, &ben, &group, "buy my stuff").await;
    let elsewhere = expect_json(
        app.post_json(
            "/api/v1/statuses",
            Some(&ben),
            json!({"status": "not in a group"}),
        )
        .await,
        "post",
    )
    .await;
    // A fellow member may not delete it; the owner may, but only inside the group.
    assert_eq!(
        app.delete(&format!("/api/v1/statuses/{spam}"), Some(&cid))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/api/v1/statuses/{}", id(&elsewhere)), Some(&ana))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    expect_json(
        app.delete(&format!("/api/v1/statuses/{spam}"), Some(&ana))
            .await,
        "owner deletes",
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/statuses/{spam}"), Some(&ben))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(me(&app, &ben).await["statuses_count"], 1);
    app.stop().await;
}

#[tokio::test]
async fn anonymous_readers_see_public_groups_only() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let public = create_group(&app, &ana, "Guild", "public").await;
    let private = create_group(&app, &ana, "Board", "private").await;
    let open = post_in(&app, &ana, &public, "open to all").await;
    post_in(&app, &ana, &private, "members only").await;

    let g = expect_json(
        app.get(&format!("/api/v1/groups/{public}"), None).await,
        "anonymous show",
    )
    .await;
    assert_eq!(g["relationship"]["member"], false);
    let timeline = expect_json(
        app.get(&format!("/api/v1/groups/{public}/timeline"), None)
            .await,
        "anonymous timeline",
    )
    .await;
    assert_eq!(timeline[0]["id"], open.as_str());
    for path in [
        format!("/api/v1/groups/{private}"),
        format!("/api/v1/groups/{private}/timeline"),
    ] {
        assert_eq!(
            app.get(&path, None).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // The rest needs a user.
    for path in [
        "/api/v1/groups".to_owned(),
        format!("/api/v1/groups/{public}/members"),
    ] {
        assert_eq!(
            app.get(&path, None).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn answered_or_withdrawn_requests_take_their_notifications_along() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let group = create_group(&app, &ana, "Board", "private").await;
    for _ in 0..3 {
        join(&app, &ben, &group).await;
        expect_json(
            app.post_json(
                &format!("/api/v1/groups/{group}/leave"),
                Some(&ben),
                json!({}),
            )
            .await,
            "withdraw",
        )
        .await;
    }
    assert!(notification_types(&app, &ana).await.is_empty());
    join(&app, &ben, &group).await;
    assert_eq!(notification_types(&app, &ana).await, vec!["group_request"]);
    let ben_id = id(&me(&app, &ben).await);
    expect_json(
        app.post_json(
            &format!("/api/v1/groups/{group}/requests/{ben_id}/reject"),
            Some(&ana),
            json!({}),
        )
        .await,
        "reject",
    )
    .await;
    assert!(notification_types(&app, &ana).await.is_empty());
    app.stop().await;
}

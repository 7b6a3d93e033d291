//! The web UI's groups and direct messages over HTTP: the forms (creating and joining a
//! group, posting in it, join requests, starting and answering a conversation), the
//! anti-forgery token on each, and privacy: a private group's posts and members, and a
//! conversation, reach no one outside them — not a signed-in non-member, not a
//! signed-out visitor, not by URL nor by the live stream.
//!
//! [`Browser`] is the testkit's browser stand-in, as in `web.rs`: it keeps cookies and
//! reads the forms' CSRF token out of the HTML.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use starling_testkit::browser::{Browser, csrf_of, location, read_until};
use starling_testkit::spawn_app;

/// Creates a group through the directory's form; returns its id.
async fn create_group(b: &mut Browser<'_>, name: &str, visibility: &str) -> String {
    let r = b
        .send(
            "/groups",
            &[
                ("name", name),
                ("description", "About things"),
                ("visibility", visibility),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r)
        .strip_prefix("/groups/")
        .expect("sent to the group's page")
        .to_owned()
}

/// Posts in a group through its page's composer.
async fn post_in_group(b: &mut Browser<'_>, group: &str, text: &str) -> reqwest::Response {
    let path = format!("/groups/{group}");
    let html = b.page(&path).await;
    assert!(html.contains(&format!("name=\"group_id\" value=\"{group}\"")));
    let csrf = csrf_of(&html);
    b.post(
        "/statuses",
        &[
            ("csrf", &csrf),
            ("status", text),
            ("visibility", ""),
            ("group_id", group),
            ("return_to", &path),
        ],
    )
    .await
}

#[tokio::test]
async fn a_public_group_is_created_joined_and_posted_in_through_forms() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let mut ben = Browser::new(&app);
    ben.sign_up("ben").await;

    // Refused: a missing name comes back in the form with the reason and the input.
    let r = ana
        .send(
            "/groups",
            &[
                ("name", "  "),
                ("description", "kept text"),
                ("visibility", "public"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("role=\"alert\">The group was not created: "),
        "{html}"
    );
    assert!(html.contains("name"), "the message names the field");
    assert!(html.contains("kept text"));

    let id = create_group(&mut ana, "Gardeners", "public").await;
    let html = ana.page("/groups").await;
    assert!(
        html.contains("Gardeners") && html.contains("1 member"),
        "{html}"
    );
    assert!(html.contains("aria-current=\"page\">Groups"));

    // Ben joins and posts; the post is on the group's page, marked as the group's.
    let html = ben.page(&format!("/groups/{id}")).await;
    assert!(html.contains("Join group"));
    assert!(
        !html.contains("data-composer"),
        "no composer before joining"
    );
    let r = ben.send(&format!("/groups/{id}/join"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = post_in_group(&mut ben, &id, "Tomatoes are up").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/groups/{id}"));
    let html = ana.page(&format!("/groups/{id}")).await;
    assert!(html.contains("Tomatoes are up") && html.contains("2 members"));
    assert!(html.contains("<span class=\"audience\">Group</span>"));
    assert!(html.contains(&format!("data-live=\"group:{id}\"")));
    // Signed out, a public group reads the same.
    let mut visitor = Browser::new(&app);
    assert!(
        visitor
            .page(&format!("/groups/{id}"))
            .await
            .contains("Tomatoes are up")
    );

    // Members with roles.
    let html = ben.page(&format!("/groups/{id}/members")).await;
    assert!(html.contains("@ana") && html.contains("Owner") && html.contains("@ben"));
    assert!(
        !html.contains("/remove"),
        "a member gets no member controls"
    );

    // A refused group post keeps the group as its audience.
    let r = post_in_group(&mut ben, &id, &"x".repeat(141)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("name=\"group_id\" value=\"{id}\"")));

    // Ben leaves.
    let r = ben.send(&format!("/groups/{id}/leave"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        ben.page(&format!("/groups/{id}"))
            .await
            .contains("1 member")
    );
}

#[tokio::test]
async fn group_forms_without_the_sessions_token_are_refused() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let mut ben = Browser::new(&app);
    ben.sign_up("ben").await;
    let id = create_group(&mut ana, "Board", "private").await;
    let ben_id = app.app.lookup("ben").await.unwrap().id.to_string();
    let ana_token = ana.csrf().await;

    for token in ["", "wrong", ana_token.as_str()] {
        let r = ben
            .post("/groups", &[("csrf", token), ("name", "Forged")])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "create with {token:?}");
        let r = ben
            .post(&format!("/groups/{id}/join"), &[("csrf", token)])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "join with {token:?}");
        let r = ben
            .post(
                "/messages",
                &[
                    ("csrf", token),
                    ("recipients", "@ana"),
                    ("status", "forged"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "message with {token:?}");
    }
    // Ana's own forms need her token too.
    let r = ana
        .post(
            &format!("/groups/{id}/requests/{ben_id}/authorize"),
            &[("csrf", "wrong")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!ana.page("/groups").await.contains("Forged"));
    assert!(ana.page("/messages").await.contains("No conversations yet"));
    let html = ana.page(&format!("/groups/{id}/members")).await;
    assert!(html.contains("No one is waiting to join"));
}

#[tokio::test]
async fn a_private_groups_posts_and_members_stay_with_its_members() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let mut ben = Browser::new(&app);
    ben.sign_up("ben").await;
    let mut eve = Browser::new(&app);
    eve.sign_up("eve").await;
    let id = create_group(&mut ana, "Board", "private").await;
    let r = post_in_group(&mut ana, &id, "board-only secret plans").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let group = format!("/groups/{id}");
    let members = format!("{group}/members");

    // The directory lists it for members only.
    assert!(ana.page("/groups").await.contains("Board"));
    assert!(!ben.page("/groups").await.contains("Board"));
    // By URL, a signed-in non-member learns what the service allows (name, size), never
    // the posts or the members.
    let html = ben.page(&group).await;
    assert!(html.contains("Board") && html.contains("Private group"));
    assert!(html.contains("Request to join"));
    assert!(
        !html.contains("secret plans") && !html.contains("@ana"),
        "{html}"
    );
    assert!(!html.contains("data-live=\"group:"));
    let r = ben.get(&members).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!r.text().await.unwrap().contains("@ana"));
    let r = ben.get(&format!("{group}?max_id=99999999999999999")).await;
    assert!(!r.text().await.unwrap().contains("secret plans"));
    let r = ben.get(&format!("/live?stream=group:{id}")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Posting in it is refused to a non-member.
    let csrf = ben.csrf().await;
    let r = ben
        .post(
            "/statuses",
            &[("csrf", &csrf), ("status", "let me in"), ("group_id", &id)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Signed out: no such page at all.
    let mut visitor = Browser::new(&app);
    assert_eq!(visitor.get(&group).await.status(), StatusCode::NOT_FOUND);
    let r = visitor.get(&members).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "members need a session");

    // Ben asks to join; Eve cannot answer it; Ana accepts; then Ben reads the posts.
    let r = ben.send(&format!("{group}/join"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = ben.page(&group).await;
    assert!(html.contains("Requested") && !html.contains("secret plans"));
    let ben_id = app.app.lookup("ben").await.unwrap().id.to_string();
    let r = eve
        .send(&format!("{group}/requests/{ben_id}/authorize"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = ben
        .send(&format!("{group}/requests/{ben_id}/authorize"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no approving oneself");
    let html = ana.page(&members).await;
    assert!(html.contains("Join requests") && html.contains("@ben"));
    let r = ana
        .send(&format!("{group}/requests/{ben_id}/authorize"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = ben.page(&group).await;
    assert!(html.contains("secret plans") && html.contains("2 members"));
    assert!(ben.page(&members).await.contains("@ana"));

    // Eve's request is rejected; she stays out.
    eve.send(&format!("{group}/join"), &[]).await;
    let eve_id = app.app.lookup("eve").await.unwrap().id.to_string();
    let r = ana
        .send(&format!("{group}/requests/{eve_id}/reject"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = eve.page(&group).await;
    assert!(html.contains("Request to join") && !html.contains("secret plans"));

    // Ana makes Ben an admin, then removes him; the last owner cannot be demoted.
    let r = ana
        .send(
            &format!("{group}/members/{ben_id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(ana.page(&members).await.contains("Admin</span>"));
    let ana_id = app.app.lookup("ana").await.unwrap().id.to_string();
    let r = ben
        .send(&format!("{group}/members/{ana_id}/remove"), &[])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "admins cannot touch owners"
    );
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("role=\"alert\">Not changed: ")
    );
    let r = ana
        .send(&format!("{group}/members/{ben_id}/remove"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!ben.page(&group).await.contains("secret plans"));
}

#[tokio::test]
async fn conversations_are_started_answered_and_seen_only_by_their_people() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let mut ben = Browser::new(&app);
    ben.sign_up("ben").await;
    let mut eve = Browser::new(&app);
    eve.sign_up("eve").await;

    // Refusals name the field and the rule, and keep what was typed.
    for (recipients, status, says) in [
        ("", "hi", "Recipients: name at least one person"),
        ("@b!n", "hi", "is not a username"),
        ("@nobody", "hi", "no account is named @nobody"),
        ("@ben", "  ", "Message: write something"),
    ] {
        let r = ana
            .send(
                "/messages",
                &[("recipients", recipients), ("status", status)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{recipients}");
        let html = r.text().await.unwrap();
        assert!(html.contains(says), "{says}: {html}");
    }

    let r = ana
        .send(
            "/messages",
            &[("recipients", "@ben"), ("status", "Lunch at noon?")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let anas = location(&r);
    assert!(anas.starts_with("/messages/"), "{anas}");
    let html = ana.page(&anas).await;
    assert!(html.contains("Lunch at noon?") && html.contains("Conversation with ben"));
    assert!(html.contains("@ben </textarea>"), "the reply addresses Ben");

    // Ben sees it unread in his list, opens it, and it is read.
    let html = ben.page("/messages").await;
    assert!(html.contains("Lunch at noon?") && html.contains("Unread"));
    let start = html.find("href=\"/messages/").unwrap() + "href=\"".len();
    let bens = html[start..start + html[start..].find('"').unwrap()].to_owned();
    assert!(ben.page(&bens).await.contains("Lunch at noon?"));
    assert!(!ben.page("/messages").await.contains(">Unread<"));

    // Ben's open thread gets Ana's next message live.
    let conv = bens.strip_prefix("/messages/").unwrap();
    let mut live = ben.get(&format!("/live?stream=conversation:{conv}")).await;
    assert_eq!(live.status(), StatusCode::OK);
    read_until(&mut live, ": live").await;
    let html = ana.page(&anas).await;
    let reply_to = {
        let marker = "name=\"in_reply_to_id\" value=\"";
        let s = html.find(marker).unwrap() + marker.len();
        html[s..s + html[s..].find('"').unwrap()].to_owned()
    };
    let csrf = csrf_of(&html);
    let r = ana
        .post(
            "/statuses",
            &[
                ("csrf", &csrf),
                ("status", "@ben Or at one?"),
                ("visibility", "direct"),
                ("in_reply_to_id", &reply_to),
                ("return_to", &anas),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), anas);
    let seen = read_until(&mut live, "Or at one?").await;
    assert!(seen.contains("event: post"));
    assert!(ben.page(&bens).await.contains("Or at one?"));

    // Eve: not in her list, 404 by URL (both rows), no stream.
    let html = eve.page("/messages").await;
    assert!(!html.contains("Lunch") && html.contains("No conversations yet"));
    for path in [&anas, &bens] {
        let r = eve.get(path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text().await.unwrap().contains("Lunch"));
        let id = path.strip_prefix("/messages/").unwrap();
        let r = eve.get(&format!("/live?stream=conversation:{id}")).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    // Signed out: sent to sign in.
    let mut visitor = Browser::new(&app);
    assert_eq!(visitor.get(&anas).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn group_admins_invite_edit_and_delete() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let mut ben = Browser::new(&app);
    ben.sign_up("ben").await;
    let id = create_group(&mut ana, "Board", "private").await;
    let group = format!("/groups/{id}");

    // Invitations: unknown names and bad input are refused, naming the field.
    for (field, says) in [
        ("@nobody", "People to invite: no account is named @nobody"),
        ("@b?n", "is not a username"),
    ] {
        let r = ana
            .send(&format!("{group}/invitations"), &[("usernames", field)])
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains(says), "{says}");
    }
    // A member who is no admin cannot invite.
    let r = ben
        .send(&format!("{group}/invitations"), &[("usernames", "@ben")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = ana
        .send(&format!("{group}/invitations"), &[("usernames", "@ben")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Ben is told, with a link to the group, and joins without waiting.
    let html = ben.page("/notifications").await;
    assert!(html.contains(&format!(
        "invited you to a group: <a href=\"{group}\">Board</a>"
    )));
    let html = ben.page(&group).await;
    assert!(html.contains("Accept invitation") && html.contains("Decline"));
    ben.send(&format!("{group}/join"), &[]).await;
    assert!(ben.page(&group).await.contains("Leave group"));

    // Editing: the service's rules and messages apply.
    let r = ben
        .send(
            &format!("{group}/edit"),
            &[
                ("name", "Mine now"),
                ("description", ""),
                ("visibility", "public"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = ana
        .send(
            &format!("{group}/edit"),
            &[
                ("name", ""),
                ("description", "x"),
                ("visibility", "private"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("role=\"alert\">Not changed: ")
    );
    let r = ana
        .send(
            &format!("{group}/edit"),
            &[
                ("name", "Board of directors"),
                ("description", "Decisions"),
                ("visibility", "private"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(ben.page(&group).await.contains("Board of directors"));

    // Deleting: owners only, and only with the box ticked.
    let r = ana.send(&format!("{group}/delete"), &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("tick the box"));
    let r = ben
        .send(&format!("{group}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = ana
        .send(&format!("{group}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/groups");
    assert_eq!(ana.get(&group).await.status(), StatusCode::NOT_FOUND);
}

/// The `href` of the link whose text is `text`.
fn link_to(html: &str, text: &str) -> Option<String> {
    let end = html.find(&format!("\">{text}</a>"))?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].replace("&amp;", "&"))
}

#[tokio::test]
async fn long_lists_are_paginated() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let mut ben = Browser::new(&app);
    ben.sign_up("ben").await;
    let csrf = ana.csrf().await;

    // 21 groups: the directory's second page has the oldest.
    let mut first = String::new();
    for n in 0..21 {
        let id = create_group(&mut ana, &format!("Group number {n:02}"), "public").await;
        if n == 0 {
            first = id;
        }
    }
    let html = ana.page("/groups").await;
    assert!(html.contains("Group number 20") && !html.contains("Group number 00"));
    let more = link_to(&html, "More groups").expect("a link to more groups");
    assert!(ana.page(&more).await.contains("Group number 00"));
    // Ben's own groups: none yet; after joining one, that one only.
    assert!(
        ben.page("/groups?mine=1")
            .await
            .contains("You are in no group yet")
    );
    ben.send(&format!("/groups/{first}/join"), &[]).await;
    let html = ben.page("/groups?mine=1").await;
    assert!(html.contains("Group number 00") && !html.contains("Group number 01"));

    // 21 posts in a group: the second page of its timeline has the first.
    let group = format!("/groups/{first}");
    for n in 0..21 {
        let r = post_in_group(&mut ana, &first, &format!("group post {n:02}")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let html = ana.page(&group).await;
    assert!(html.contains("group post 20") && !html.contains("group post 00"));
    let older = link_to(&html, "Older posts").expect("a link to older posts");
    assert!(ana.page(&older).await.contains("group post 00"));

    // 21 messages in one conversation: the newest page, oldest first, links to earlier.
    let r = ana
        .send(
            "/messages",
            &[("recipients", "@ben"), ("status", "message 00")],
        )
        .await;
    let thread = location(&r);
    for n in 1..21 {
        let html = ana.page(&thread).await;
        let marker = "name=\"in_reply_to_id\" value=\"";
        let s = html.find(marker).unwrap() + marker.len();
        let parent = html[s..s + html[s..].find('"').unwrap()].to_owned();
        let text = format!("@ben message {n:02}");
        let r = ana
            .post(
                "/statuses",
                &[
                    ("csrf", &csrf),
                    ("status", &text),
                    ("visibility", "direct"),
                    ("in_reply_to_id", &parent),
                    ("return_to", &thread),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let html = ana.page(&thread).await;
    assert!(!html.contains("message 00"));
    let (a, b) = (
        html.find("message 01").unwrap(),
        html.find("message 20").unwrap(),
    );
    assert!(a < b, "oldest first");
    let earlier = link_to(&html, "Earlier messages").expect("a link to earlier messages");
    let html = ana.page(&earlier).await;
    assert!(html.contains("message 00") && html.contains("Newest messages"));
    // All of it is one conversation in Ben's list.
    let html = ben.page("/messages").await;
    assert_eq!(html.matches("class=\"conversation-item").count(), 1);
    assert!(html.contains("message 20"));
}

#[tokio::test]
async fn a_stale_settings_form_does_not_undo_a_change_of_privacy() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let id = create_group(&mut ana, "Team", "public").await;
    let group = format!("/groups/{id}");
    let members = format!("{group}/members");
    let private = "id=\"group-private\" name=\"visibility\" value=\"private\" checked";
    // The settings form as first shown: public, and says so.
    let stale = ana.page(&members).await;
    assert!(stale.contains("name=\"visibility_was\" value=\"public\""));
    // Meanwhile the group is made private (another tab, or another admin).
    let r = ana
        .send(
            &format!("{group}/edit"),
            &[
                ("name", "Team"),
                ("description", "About things"),
                ("visibility", "private"),
                ("visibility_was", "public"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(ana.page(&members).await.contains(private));
    // The stale form, sent to change only the description, keeps the group private.
    let r = ana
        .send(
            &format!("{group}/edit"),
            &[
                ("name", "Team"),
                ("description", "New words"),
                ("visibility", "public"),
                ("visibility_was", "public"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = ana.page(&members).await;
    assert!(html.contains("New words"));
    assert!(html.contains(private), "still private");
}

#[tokio::test]
async fn a_field_naming_too_many_people_is_refused_before_any_lookup() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let id = create_group(&mut ana, "Team", "public").await;
    let many: Vec<String> = (0..51).map(|i| format!("@person{i}")).collect();
    let r = ana
        .send(
            &format!("/groups/{id}/invitations"),
            &[("usernames", &many.join(" "))],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("People to invite: name at most 50 people at a time")
    );
}

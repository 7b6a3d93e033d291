//! The web UI over HTTP: sessions, anti-forgery tokens, sign-in redirects, escaping of
//! post text, the security headers, assets and the live endpoint.
//!
//! The testkit's browser stand-in ([`Browser`]) keeps cookies and reads the forms' CSRF
//! token out of the HTML, as a browser would send them back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, SET_COOKIE};
use starling_testkit::browser::{Browser, csrf_of, location, read_until};
use starling_testkit::spawn_app;

#[tokio::test]
async fn pages_that_need_a_session_send_to_sign_in_and_back() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    for (path, next) in [
        ("/home", "/home"),
        ("/notifications?max_id=5", "/notifications%3Fmax_id%3D5"),
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&r), format!("/sign-in?next={next}"));
    }
    // The network timeline and profiles are open to signed-out visitors.
    assert!(b.page("/public").await.contains("<h1>Network</h1>"));

    // Signing in comes back to the page asked for; a foreign `next` is ignored.
    app.app
        .create_user("ana", "ana@example.com", "correct horse battery", None)
        .await
        .unwrap();
    let html = b.page("/sign-in?next=%2Fnotifications").await;
    let csrf = csrf_of(&html);
    let r = b
        .post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("login", "ana"),
                ("password", "correct horse battery"),
                ("next", "//evil.example/x"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/home");
    assert!(b.page("/home").await.contains("data-composer"));
}

#[tokio::test]
async fn wrong_password_shows_the_form_again() {
    let app = spawn_app().await;
    app.app
        .create_user("ana", "ana@example.com", "correct horse battery", None)
        .await
        .unwrap();
    let mut b = Browser::new(&app);
    let csrf = csrf_of(&b.page("/sign-in").await);
    let r = b
        .post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("login", "ana"),
                ("password", "wrong one!"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(!b.cookies.contains_key("starling_session"));
    let html = r.text().await.unwrap();
    assert!(html.contains("role=\"alert\">Invalid username/e-mail or password"));
    assert!(html.contains("value=\"ana\""), "the login is kept");
}

#[tokio::test]
async fn session_cookie_is_http_only_and_same_site() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    let csrf = csrf_of(&b.page("/sign-up").await);
    let r = b
        .post(
            "/sign-up",
            &[
                ("csrf", &csrf),
                ("username", "ana"),
                ("email", "ana@example.com"),
                ("password", "correct horse battery"),
                ("agreement", "true"),
            ],
        )
        .await;
    let set: Vec<&str> = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("starling_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(
        !session.contains("Secure"),
        "plain http base URL: {session}"
    );
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused() {
    let app = spawn_app().await;
    // Signed out: the sign-up form's token must match its cookie.
    let mut stranger = Browser::new(&app);
    let r = stranger
        .post(
            "/sign-up",
            &[
                ("csrf", "made-up"),
                ("username", "mallory"),
                ("email", "m@example.com"),
                ("password", "correct horse battery"),
                ("agreement", "true"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(app.app.lookup("mallory").await.is_err(), "no account made");

    // Signed in: posting, following and signing out need the session's token.
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let mut ben = Browser::new(&app);
    ben.sign_up("ben").await;
    let ana_id = app.app.lookup("ana").await.unwrap().id.to_string();
    let ana_token = csrf_of(&ana.page("/home").await);
    let ben_token = csrf_of(&ben.page("/home").await);
    assert_ne!(ana_token, ben_token, "tokens are per session");
    for token in ["", "wrong", ana_token.as_str()] {
        let r = ben
            .post(
                "/statuses",
                &[
                    ("csrf", token),
                    ("status", "forged"),
                    ("visibility", "public"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "token {token:?}");
        let r = ben
            .post(&format!("/accounts/{ana_id}/follow"), &[("csrf", token)])
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = ben.post("/sign-out", &[("csrf", token)]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let public = app.get("/api/v1/timelines/public", None).await;
    let posts: serde_json::Value = public.json().await.unwrap();
    assert_eq!(posts.as_array().unwrap().len(), 0, "nothing was posted");
    let ana_account = app.app.lookup("ana").await.unwrap();
    assert_eq!(ana_account.followers_count, 0, "no follow happened");
    // The right token works.
    let r = ben
        .post(
            &format!("/accounts/{ana_id}/follow"),
            &[("csrf", &ben_token)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/@ana");
    assert!(ben.page("/@ana").await.contains(">Unfollow<"));
}

#[tokio::test]
async fn sign_out_revokes_the_session() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let old = ana.cookies.clone();
    let csrf = csrf_of(&ana.page("/home").await);
    let r = ana.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        !ana.cookies.contains_key("starling_session"),
        "cookie cleared"
    );
    // Replaying the old cookie does not work either: the token is gone.
    ana.cookies = old;
    let r = ana.get("/home").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/sign-in"));
}

#[tokio::test]
async fn an_api_token_is_not_a_web_session() {
    let app = spawn_app().await;
    let token = app.sign_up("ana").await;
    let mut b = Browser::new(&app);
    b.cookies.insert("starling_session".into(), token);
    let r = b.get("/home").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn post_text_is_rendered_as_text() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let evil = "<script>alert(1)</script> <img src=x onerror=alert(2)> \
                <a href=\"javascript:alert(3)\">click</a> javascript:alert(4)";
    let r = ana.post_status(evil).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    for path in ["/home", "/public", "/@ana"] {
        let html = ana.page(path).await;
        assert!(!html.contains("<script>alert"), "{path}");
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(!html.contains("href=\"javascript:"), "{path}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(2)&gt;"),
            "{path}"
        );
    }
    // The thread page too (reached from the post's link on the profile).
    let id = app.app.lookup("ana").await.unwrap();
    let page = app
        .app
        .timeline(
            None,
            starling_service::timelines::Timeline::Account(id.id, Default::default()),
            starling_service::Page::first(1),
        )
        .await
        .unwrap();
    let post_id = page.items[0].status.id;
    let html = ana.page(&format!("/@ana/{post_id}")).await;
    assert!(html.contains("&lt;script&gt;"));
    assert!(!html.contains("<script>alert"));
    // A display name with markup is escaped as well.
    let mut me = app.app.lookup("ana").await.unwrap();
    me = app
        .app
        .update_profile(
            &me,
            starling_service::accounts::ProfileChanges {
                display_name: Some("<b>Ana</b>".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let html = ana.page(&format!("/@{}", me.username)).await;
    assert!(!html.contains("<b>Ana"), "{html}");
    assert!(html.contains("&#60;b&#62;Ana&#60;/b&#62;"), "{html}");
}

#[tokio::test]
async fn a_refused_post_comes_back_with_the_reason_and_the_text() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let long = format!("{} 👍🏽", "a".repeat(139));
    let r = ana.post_status(&long).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("text is too long: 141 characters, the limit is 140"),
        "{html}"
    );
    assert!(html.contains(&format!(">{long}</textarea>")), "text kept");
}

#[tokio::test]
async fn pages_carry_a_strict_content_security_policy_and_assets_are_cached() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    let r = b.get("/public").await;
    let csp = r
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    let html = r.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "no inline code"
    );
    for ext in ["css", "js"] {
        let start = html.find("/assets/app.").unwrap();
        let path = html[start..]
            .split('"')
            .find(|p| p.ends_with(ext))
            .map(str::to_owned)
            .or_else(|| {
                let i = html.find(&format!(".{ext}\"")).unwrap();
                let s = html[..i].rfind("/assets/").unwrap();
                Some(html[s..i + ext.len() + 1].to_owned())
            })
            .unwrap();
        let r = b.get(&path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let cache = r.headers().get("cache-control").unwrap().to_str().unwrap();
        assert!(cache.contains("immutable"), "{path}: {cache}");
    }
    assert_eq!(
        b.get("/assets/app.0000000000000000.js").await.status(),
        StatusCode::NOT_FOUND
    );
    // Unknown paths still get the API's answer.
    let r = b.get("/api/v1/nothing").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn live_sends_followed_posts_as_html_and_the_unread_count() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let mut ben = Browser::new(&app);
    ben.sign_up("ben").await;
    let ana_id = app.app.lookup("ana").await.unwrap().id.to_string();
    let csrf = csrf_of(&ben.page("/home").await);
    ben.post(&format!("/accounts/{ana_id}/follow"), &[("csrf", &csrf)])
        .await;

    let mut bens_live = ben.get("/live?stream=home").await;
    assert_eq!(bens_live.status(), StatusCode::OK);
    read_until(&mut bens_live, ": live").await;
    let mut anas_live = ana.get("/live?stream=notifications").await;
    read_until(&mut anas_live, ": live").await;

    ana.post_status("Hello <b>live</b> @ben").await;
    let seen = read_until(&mut bens_live, "event: post").await;
    let seen = read_until_end_of_frame(&mut bens_live, seen).await;
    let data = seen.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let payload: serde_json::Value = serde_json::from_str(data).unwrap();
    let html = payload["html"].as_str().unwrap();
    assert!(html.contains("class=\"post"), "{html}");
    assert!(html.contains("Hello &lt;b&gt;live&lt;/b&gt;"), "{html}");
    // Ana is followed by Ben and mentioned nobody; Ben, mentioned, gets an unread count.
    let seen = read_until(&mut bens_live, "event: unread").await;
    assert!(seen.contains("event: unread\ndata: 1"), "{seen}");
    // Ben's follow reached Ana's notifications before her stream opened; his reply now.
    let post_id = payload["id"].as_str().unwrap();
    let csrf = csrf_of(&ben.page("/home").await);
    ben.post(
        "/statuses",
        &[
            ("csrf", &csrf),
            ("status", "@ana hi!"),
            ("in_reply_to_id", post_id),
            ("visibility", "public"),
        ],
    )
    .await;
    let seen = read_until(&mut anas_live, "event: unread").await;
    assert!(
        seen.contains("event: unread\ndata: 2"),
        "follow + mention: {seen}"
    );
    // Without a session there is no stream.
    let mut stranger = Browser::new(&app);
    assert_eq!(
        stranger.get("/live?stream=home").await.status(),
        StatusCode::SEE_OTHER
    );
}

/// Reads on until the frame that `seen` ends in is complete (a blank line).
async fn read_until_end_of_frame(r: &mut reqwest::Response, mut seen: String) -> String {
    let at = seen.find("event: post").unwrap();
    while !seen[at..].contains("\n\n") {
        let chunk = r.chunk().await.unwrap().unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    seen[at..].to_owned()
}

#[tokio::test]
async fn live_catches_up_from_the_newest_post_the_page_showed() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    ana.post_status("one").await;
    let html = ana.page("/home").await;
    let marker = "data-entry-id=\"";
    let at = html.find(marker).unwrap() + marker.len();
    let since = html[at..].split('"').next().unwrap().to_owned();
    // Written after the page was rendered, before its stream opened.
    ana.post_status("two, written in the gap").await;
    let mut live = ana.get(&format!("/live?stream=home&since={since}")).await;
    let seen = read_until(&mut live, "written in the gap").await;
    assert!(!seen.contains(">one<"), "only posts after `since`: {seen}");
    // A reconnection's Last-Event-ID takes the place of `since`.
    let r = app
        .client
        .get(app.url("/live?stream=home"))
        .header(COOKIE, ana.cookie_header())
        .header("last-event-id", since.as_str())
        .send()
        .await
        .unwrap();
    let mut r = r;
    read_until(&mut r, "written in the gap").await;
}

#[tokio::test]
async fn a_private_groups_posts_stay_invisible_to_a_non_members_browser() {
    let app = spawn_app().await;
    let mut ana = Browser::new(&app);
    ana.sign_up("ana").await;
    let mut ben = Browser::new(&app);
    ben.sign_up("ben").await;
    let ana_account = app.app.lookup("ana").await.unwrap();
    let csrf = csrf_of(&ben.page("/home").await);
    ben.post(
        &format!("/accounts/{}/follow", ana_account.id),
        &[("csrf", &csrf)],
    )
    .await;

    let group = app
        .app
        .create_group(
            &ana_account,
            starling_service::groups::NewGroup {
                name: "Board".into(),
                description: None,
                visibility: Some("private".into()),
            },
        )
        .await
        .unwrap();
    let token = app
        .app
        .admin_token("ana", "read write")
        .await
        .unwrap()
        .access_token;
    let principal = app.app.authenticate(&token).await.unwrap();
    let secret = app
        .app
        .post(
            &principal,
            starling_service::statuses::NewPost {
                text: "board-only secret plans".into(),
                group_id: Some(group.group.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id = secret.status.id;
    ana.post_status("a public hello").await;

    // Ben follows Ana, but is no member: the group post is nowhere in his pages.
    for path in ["/home", "/public", "/@ana"] {
        let html = ben.page(path).await;
        assert!(
            html.contains("a public hello"),
            "{path} shows Ana's public post"
        );
        assert!(
            !html.contains("secret plans"),
            "{path} leaks the group post"
        );
    }
    let r = ben.get(&format!("/@ana/{id}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = ben.get(&format!("/statuses/{id}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // A member (Ana) sees it.
    assert!(
        ana.page(&format!("/@ana/{id}"))
            .await
            .contains("secret plans")
    );
}

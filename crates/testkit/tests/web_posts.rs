//! The web UI's post actions, bookmarks, lists, hashtag following and infinite-scroll
//! fragments over HTTP: the forms with and without their anti-forgery token, what
//! answers 404 (a post one cannot see, another account's list), and that pages of a
//! timeline fetched as fragments neither repeat nor skip posts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, COOKIE, REFERER};
use starling_testkit::browser::{Browser, location};
use starling_testkit::{TestApp, spawn_app};

/// A browser whose forms are sent from the home page (their `Referer`) unless a test
/// names another page.
fn browser(app: &TestApp) -> Browser<'_> {
    Browser::new(app).with_referer("/home")
}

/// A signed-up [`browser`] for `name`.
async fn user<'a>(app: &'a TestApp, name: &str) -> Browser<'a> {
    let mut b = browser(app);
    b.sign_up(name).await;
    b
}

/// The `aria-pressed` value of the `kind` button of post `id` in a page.
fn pressed(html: &str, id: &str, kind: &str) -> Option<String> {
    let marker = format!("data-act=\"{kind}\" data-post=\"{id}\"");
    let start = html.find(&marker)?;
    let rest = &html[start..];
    let p = rest.find("aria-pressed=\"")? + "aria-pressed=\"".len();
    Some(rest[p..p + rest[p..].find('"')?].to_owned())
}

/// The count shown on the `kind` button of post `id`.
fn count(html: &str, id: &str, kind: &str) -> Option<i64> {
    let marker = format!("data-act=\"{kind}\" data-post=\"{id}\"");
    let rest = &html[html.find(&marker)?..];
    let p = rest.find("data-n>")? + "data-n>".len();
    rest[p..p + rest[p..].find('<')?].parse().ok()
}

#[tokio::test]
async fn like_repost_and_bookmark_forms_need_the_token_and_redirect_back() {
    let app = spawn_app().await;
    let mut ana = user(&app, "ana").await;
    let mut ben = user(&app, "ben").await;
    let id = ana.publish("hello from ana", "public").await;

    // Without the right token nothing happens.
    let ana_csrf = ana.csrf().await;
    for kind in ["favourite", "reblog", "bookmark"] {
        for token in ["", "wrong", ana_csrf.as_str()] {
            let r = ben
                .post(&format!("/statuses/{id}/{kind}"), &[("csrf", token)])
                .await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{kind} with {token:?}");
        }
    }
    let html = ben.page("/public").await;
    assert_eq!(pressed(&html, &id, "favourite").as_deref(), Some("false"));
    assert_eq!(count(&html, &id, "favourite"), Some(0));

    // With it: back to the page the form was on, at the post.
    for kind in ["favourite", "reblog", "bookmark"] {
        let csrf = ben.csrf().await;
        let r = ben
            .post_from(
                "/public?max_id=999999999999999999",
                &format!("/statuses/{id}/{kind}"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{kind}");
        assert_eq!(
            location(&r),
            format!("/public?max_id=999999999999999999#post-{id}")
        );
    }
    let html = ben.page("/public").await;
    for kind in ["favourite", "reblog", "bookmark"] {
        assert_eq!(pressed(&html, &id, kind).as_deref(), Some("true"), "{kind}");
    }
    assert_eq!(count(&html, &id, "favourite"), Some(1));
    assert_eq!(count(&html, &id, "reblog"), Some(1));
    // Another viewer sees the counts, not ben's marks.
    let html = ana.page("/public").await;
    assert_eq!(pressed(&html, &id, "favourite").as_deref(), Some("false"));
    assert_eq!(count(&html, &id, "favourite"), Some(1));

    // The script's request gets the state as JSON.
    let csrf = ben.csrf().await;
    let r = app
        .client
        .post(app.url(&format!("/statuses/{id}/unfavourite")))
        .header(COOKIE, ben.cookie_header())
        .header(ACCEPT, "application/json")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let state: serde_json::Value = r.json().await.unwrap();
    assert_eq!(state["favourited"], false);
    assert_eq!(state["favourites_count"], 0);
    assert_eq!(state["bookmarked"], true);

    // Undoing works through the forms too; an unknown action is 404.
    assert_eq!(
        ben.send(&format!("/statuses/{id}/unreblog"), &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        ben.send(&format!("/statuses/{id}/unbookmark"), &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        ben.send(&format!("/statuses/{id}/explode"), &[])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let html = ben.page("/public").await;
    assert_eq!(pressed(&html, &id, "reblog").as_deref(), Some("false"));
    assert_eq!(count(&html, &id, "reblog"), Some(0));
    assert!(ben.page("/bookmarks").await.contains("No bookmarks yet"));

    // A foreign Referer is not followed: back to the post instead.
    let csrf = ben.csrf().await;
    let r = app
        .client
        .post(app.url(&format!("/statuses/{id}/favourite")))
        .header(COOKIE, ben.cookie_header())
        .header(REFERER, "https://evil.example/x")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), format!("/statuses/{id}#post-{id}"));
}

#[tokio::test]
async fn marking_a_post_one_cannot_see_is_not_found() {
    let app = spawn_app().await;
    let mut ana = user(&app, "ana").await;
    let mut ben = user(&app, "ben").await;
    let secret = ana.publish("for my followers only", "private").await;
    for kind in [
        "favourite",
        "reblog",
        "bookmark",
        "unfavourite",
        "unbookmark",
    ] {
        let r = ben.send(&format!("/statuses/{secret}/{kind}"), &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{kind}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("for my followers only"));
    }
    let me = app.app.lookup("ana").await.unwrap();
    let view = app
        .app
        .status(Some(&me), secret.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(view.status.favourites_count, 0);
    assert_eq!(view.status.reblogs_count, 0);
    // Signed out, the forms are not offered and the actions send to sign-in.
    let mut stranger = browser(&app);
    let public = ana.publish("public one", "public").await;
    let html = stranger.page("/public").await;
    assert!(html.contains("0 likes") && !html.contains(&format!("data-post=\"{public}\"")));
    let r = stranger
        .post(&format!("/statuses/{public}/favourite"), &[("csrf", "x")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/sign-in"));
}

#[tokio::test]
async fn bookmarks_are_private_and_reposts_show_who_reposted() {
    let app = spawn_app().await;
    let mut ana = user(&app, "ana").await;
    let mut ben = user(&app, "ben").await;
    let mut cy = user(&app, "cy").await;
    let id = ana.publish("worth keeping", "public").await;
    assert_eq!(
        ben.send(&format!("/statuses/{id}/bookmark"), &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert!(ben.page("/bookmarks").await.contains("worth keeping"));
    assert!(!cy.page("/bookmarks").await.contains("worth keeping"));

    // cy follows ben; ben's repost shows in cy's home as "ben reposted".
    let ben_id = app.app.lookup("ben").await.unwrap().id;
    cy.send(&format!("/accounts/{ben_id}/follow"), &[]).await;
    ben.send(&format!("/statuses/{id}/reblog"), &[]).await;
    let home = cy.page("/home").await;
    assert!(home.contains("worth keeping"));
    assert!(
        home.contains("<a href=\"/@ben\">ben</a> reposted"),
        "{home}"
    );
}

#[tokio::test]
async fn lists_belong_to_their_owner() {
    let app = spawn_app().await;
    let mut ana = user(&app, "ana").await;
    let mut ben = user(&app, "ben").await;
    let mut cy = user(&app, "cy").await;

    // A bad title is refused with the reason and the field.
    let csrf = ana.csrf().await;
    let r = ana
        .post("/lists", &[("csrf", &csrf), ("title", "  ")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("The list was not created: title")
    );
    let r = ana
        .post("/lists", &[("csrf", "nope"), ("title", "Team")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = ana
        .post("/lists", &[("csrf", &csrf), ("title", "Team")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let list = location(&r);
    let list_id = list.trim_start_matches("/lists/").to_owned();
    assert!(ana.page("/lists").await.contains(">Team</a>"));

    // Only followed accounts can be added.
    let r = ana
        .post(
            &format!("{list}/members"),
            &[("csrf", &csrf), ("name", "@ben")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("you can only add accounts you follow")
    );
    let r = ana
        .post(
            &format!("{list}/members"),
            &[("csrf", &csrf), ("name", "@nobody")],
        )
        .await;
    assert!(r.text().await.unwrap().contains("there is no @nobody here"));
    let ben_id = app.app.lookup("ben").await.unwrap().id;
    ana.send(&format!("/accounts/{ben_id}/follow"), &[]).await;
    let r = ana
        .post(
            &format!("{list}/members"),
            &[("csrf", &csrf), ("name", "@ben")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    ben.publish("ben in the list", "public").await;
    let page = ana.page(&list).await;
    assert!(page.contains("ben in the list") && page.contains("@ben</span>"));

    // Someone else's list is not found, whatever they try.
    let ccsrf = cy.csrf().await;
    assert_eq!(cy.get(&list).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        cy.get(&format!("{list}?max_id=1&fragment=1"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    for (path, form) in [
        (
            format!("{list}/rename"),
            vec![("csrf", ccsrf.as_str()), ("title", "Mine")],
        ),
        (format!("{list}/delete"), vec![("csrf", ccsrf.as_str())]),
        (
            format!("{list}/members"),
            vec![("csrf", ccsrf.as_str()), ("name", "@ben")],
        ),
        (
            format!("{list}/members/{ben_id}/remove"),
            vec![("csrf", ccsrf.as_str())],
        ),
    ] {
        let r = cy.post(&path, &form).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text().await.unwrap().contains("Team"));
    }
    assert!(!cy.page("/lists").await.contains("Team"));

    // The owner removes, renames and deletes.
    let r = ana
        .send(&format!("{list}/members/{ben_id}/remove"), &[])
        .await;
    assert_eq!(location(&r), format!("{list}#members"));
    assert!(ana.page(&list).await.contains("Nobody in this list yet"));
    let r = ana
        .post_from(
            "/lists",
            &format!("{list}/rename"),
            &[("csrf", &csrf), ("title", "Crew")],
        )
        .await;
    assert_eq!(location(&r), "/lists");
    assert!(ana.page("/lists").await.contains(">Crew</a>"));
    assert_eq!(
        ana.send(&format!("{list}/delete"), &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(ana.page("/lists").await.contains("No lists yet"));
    assert_eq!(
        ana.get(&format!("/lists/{list_id}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn hashtags_can_be_followed_from_their_page() {
    let app = spawn_app().await;
    let mut ana = user(&app, "ana").await;
    assert!(
        ana.page("/tags/Rust")
            .await
            .contains("action=\"/tags/rust/follow\"")
    );
    let r = ana.post("/tags/Rust/follow", &[("csrf", "bad")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = ana.send("/tags/Rust/follow", &[]).await;
    assert_eq!(location(&r), "/tags/rust");
    let html = ana.page("/tags/rust").await;
    assert!(
        html.contains("action=\"/tags/rust/unfollow\"") && html.contains("You follow this hashtag")
    );
    ana.send("/tags/rust/unfollow", &[]).await;
    assert!(
        ana.page("/tags/rust")
            .await
            .contains("action=\"/tags/rust/follow\"")
    );
    // Signed out: no button.
    let mut stranger = browser(&app);
    assert!(
        !stranger
            .page("/tags/rust")
            .await
            .contains("/tags/rust/follow")
    );
}

/// The entry ids of the posts in some HTML, in order.
fn entries(html: &str) -> Vec<String> {
    html.split("data-entry-id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect()
}

#[tokio::test]
async fn timeline_fragments_continue_without_repeating() {
    let app = spawn_app().await;
    let mut ana = user(&app, "ana").await;
    for i in 0..27 {
        ana.publish(&format!("numbered post {i}"), "public").await;
    }
    let csrf = ana.csrf().await;
    for base in ["/home", "/public", "/@ana"] {
        let first = ana.page(base).await;
        let mut seen = entries(&first);
        assert_eq!(seen.len(), 20, "{base}");
        let marker = "href=\"";
        let older_at = first.find("data-older").expect("an older link");
        let link_start = first[..older_at].rfind(marker).unwrap() + marker.len();
        let mut next = first[link_start..first[link_start..].find('"').unwrap() + link_start]
            .replace("&amp;", "&");
        let fragment = ana.page(&format!("{next}&fragment=1")).await;
        assert!(!fragment.contains("<html"), "only the posts");
        assert!(
            !fragment.contains("data-older"),
            "{base}: the last page has no next link"
        );
        seen.extend(entries(&fragment));
        let mut sorted = seen.clone();
        sorted.sort_by_key(|id| std::cmp::Reverse(id.parse::<i64>().unwrap()));
        sorted.dedup();
        assert_eq!(seen, sorted, "{base}: newest first, no repeats");
        assert_eq!(seen.len(), 27, "{base}: nothing skipped");
        // The fragment carries the action forms with the session's token.
        assert!(fragment.contains(&format!("value=\"{csrf}\"")));
        next.clear();
    }
}

#[tokio::test]
async fn mention_suggestions_need_a_session_and_match_username_prefixes() {
    let app = spawn_app().await;
    let mut ana = user(&app, "ana").await;
    for name in ["anabel", "anx_y", "anxzy", "bob"] {
        user(&app, name).await;
    }
    let names = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a["username"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = ana.get("/mentions?q=@AN").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        names(r.json().await.unwrap()),
        ["ana", "anabel", "anx_y", "anxzy"]
    );
    // `_` is a character, not a wildcard; other characters find nobody.
    let r = ana.get("/mentions?q=anx_").await;
    assert_eq!(names(r.json().await.unwrap()), ["anx_y"]);
    for q in ["", "a%25", "a'", "%40"] {
        let r = ana.get(&format!("/mentions?q={q}")).await;
        assert_eq!(names(r.json().await.unwrap()), Vec::<String>::new(), "{q}");
    }
    // Someone who blocked the viewer is not suggested.
    let bob = app.app.lookup("bob").await.unwrap();
    let ana_id = app.app.lookup("ana").await.unwrap().id;
    app.app.block(&bob, ana_id).await.unwrap();
    let r = ana.get("/mentions?q=bo").await;
    assert_eq!(names(r.json().await.unwrap()), Vec::<String>::new());
    // Signed out: sent to sign in, nothing listed.
    let mut stranger = browser(&app);
    let r = stranger.get("/mentions?q=an").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_bookmarks_page_thinned_by_a_block_still_leads_to_older_ones() {
    let app = spawn_app().await;
    let mut ana = user(&app, "ana").await;
    let mut ben = user(&app, "ben").await;
    let mut cy = user(&app, "cy").await;
    // Twenty bookmarks of Cy's posts, then the newest one of Ben's: the first page (20)
    // holds Ben's and 19 of Cy's; Ana then blocks Ben, which hides his from her.
    let mut cys = Vec::new();
    for i in 0..20 {
        cys.push(cy.publish(&format!("cy keeps {i:02}"), "public").await);
    }
    for id in &cys {
        ana.send(&format!("/statuses/{id}/bookmark"), &[]).await;
    }
    let bens = ben.publish("ben's to keep", "public").await;
    ana.send(&format!("/statuses/{bens}/bookmark"), &[]).await;
    let ben_id = app.app.lookup("ben").await.unwrap().id;
    let r = ana.send(&format!("/accounts/{ben_id}/block"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let first = ana.page("/bookmarks").await;
    assert!(!first.contains("ben's to keep"));
    assert!(
        !first.contains("cy keeps 00"),
        "the oldest is on the next page"
    );
    let marker = "<a href=\"";
    let older_at = first
        .find("data-older")
        .expect("a page with fewer than 20 shown still links to older ones");
    let start = first[..older_at].rfind(marker).unwrap() + marker.len();
    let older = first[start..start + first[start..].find('"').unwrap()].replace("&amp;", "&");
    let second = ana.page(&older).await;
    assert!(second.contains("cy keeps 00"));
    assert!(!second.contains("data-older"), "and the list ends there");
}

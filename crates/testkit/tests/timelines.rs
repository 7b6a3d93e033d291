//! Home, network, hashtag and account timelines: content, order, pagination, and
//! correctness under follow, unfollow, block, mute and delete — including the
//! merge-on-read path for accounts above the celebrity threshold.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use serde_json::{Value, json};
use starling_testkit::live::account_id;
use starling_testkit::{TestApp, json_body as body, spawn_app, spawn_app_with};
use std::collections::HashSet;

async fn post(app: &TestApp, token: &str, text: &str) -> String {
    let r = app
        .post_json("/api/v1/statuses", Some(token), json!({"status": text}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await["id"].as_str().unwrap().to_owned()
}

async fn ids(app: &TestApp, path: &str, token: Option<&str>) -> Vec<String> {
    let r = app.get(path, token).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    body(r)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Follows every `rel="next"` link from `path`, collecting ids.
async fn walk(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut url = format!("{}{path}", app.base_url);
    for _ in 0..100 {
        let r = app
            .client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let link = r
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let page: Vec<Value> = r.json().await.unwrap();
        if page.is_empty() {
            break;
        }
        out.extend(page.iter().map(|s| s["id"].as_str().unwrap().to_owned()));
        let link = link.expect("a non-empty page has a Link header");
        assert!(
            link.starts_with('<') && link.contains(">; rel=\"next\""),
            "{link}"
        );
        url = link[1..link.find('>').unwrap()].to_owned();
    }
    out
}

fn newest_first(ids: &[String]) -> bool {
    ids.windows(2)
        .all(|w| w[0].parse::<i64>().unwrap() > w[1].parse::<i64>().unwrap())
}

#[tokio::test]
async fn home_follows_unfollows_and_deletes() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let ana_id = account_id(&app, &ana).await;
    let before = post(&app, &ana, "before the follow").await;
    let rel = body(
        app.post_json(
            &format!("/api/v1/accounts/{ana_id}/follow"),
            Some(&ben),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(rel["following"], true);
    let after = post(&app, &ana, "after the follow").await;
    let mine = post(&app, &ben, "my own").await;
    let home = ids(&app, "/api/v1/timelines/home", Some(&ben)).await;
    assert_eq!(
        home,
        vec![mine.clone(), after.clone(), before.clone()],
        "own posts, new and backfilled posts"
    );

    app.delete(&format!("/api/v1/statuses/{after}"), Some(&ana))
        .await;
    assert_eq!(
        ids(&app, "/api/v1/timelines/home", Some(&ben)).await,
        vec![mine.clone(), before.clone()]
    );

    let rels = body(
        app.get(
            &format!("/api/v1/accounts/relationships?id[]={ana_id}"),
            Some(&ben),
        )
        .await,
    )
    .await;
    assert_eq!(rels[0]["following"], true);
    let followers = body(
        app.get(&format!("/api/v1/accounts/{ana_id}/followers"), None)
            .await,
    )
    .await;
    assert_eq!(followers[0]["username"], "ben");
    app.post_json(
        &format!("/api/v1/accounts/{ana_id}/unfollow"),
        Some(&ben),
        json!({}),
    )
    .await;
    assert_eq!(
        ids(&app, "/api/v1/timelines/home", Some(&ben)).await,
        vec![mine]
    );
    let ana_acc = body(app.get(&format!("/api/v1/accounts/{ana_id}"), None).await).await;
    assert_eq!(ana_acc["followers_count"], 0);
}

#[tokio::test]
async fn blocks_hide_both_sides_and_mutes_hide_from_timelines() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let ana_id = account_id(&app, &ana).await;
    let ben_id = account_id(&app, &ben).await;
    app.post_json(
        &format!("/api/v1/accounts/{ana_id}/follow"),
        Some(&ben),
        json!({}),
    )
    .await;
    app.post_json(
        &format!("/api/v1/accounts/{ben_id}/follow"),
        Some(&ana),
        json!({}),
    )
    .await;
    let a = post(&app, &ana, "from ana #topic").await;
    let b = post(&app, &ben, "from ben #topic").await;

    app.post_json(
        &format!("/api/v1/accounts/{ben_id}/mute"),
        Some(&ana),
        json!({}),
    )
    .await;
    assert_eq!(
        ids(&app, "/api/v1/timelines/home", Some(&ana)).await,
        vec![a.clone()]
    );
    assert_eq!(
        ids(&app, "/api/v1/timelines/public", Some(&ana)).await,
        vec![a.clone()]
    );
    assert_eq!(
        app.get(&format!("/api/v1/statuses/{b}"), Some(&ana))
            .await
            .status(),
        StatusCode::OK,
        "muting hides from timelines only"
    );
    let mutes = body(app.get("/api/v1/mutes", Some(&ana)).await).await;
    assert_eq!(mutes[0]["username"], "ben");
    app.post_json(
        &format!("/api/v1/accounts/{ben_id}/unmute"),
        Some(&ana),
        json!({}),
    )
    .await;

    let rel = body(
        app.post_json(
            &format!("/api/v1/accounts/{ben_id}/block"),
            Some(&ana),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(rel["blocking"], true);
    assert_eq!(rel["following"], false);
    assert_eq!(rel["followed_by"], false, "a block ends follows both ways");
    for (tok, other_post, own) in [(&ana, &b, &a), (&ben, &a, &b)] {
        assert_eq!(
            app.get(&format!("/api/v1/statuses/{other_post}"), Some(tok))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ids(&app, "/api/v1/timelines/home", Some(tok)).await,
            vec![own.clone()]
        );
        assert_eq!(
            ids(&app, "/api/v1/timelines/public", Some(tok)).await,
            vec![own.clone()]
        );
        assert_eq!(
            ids(&app, "/api/v1/timelines/tag/topic", Some(tok)).await,
            vec![own.clone()]
        );
    }
    let r = app
        .post_json(
            &format!("/api/v1/accounts/{ana_id}/follow"),
            Some(&ben),
            json!({}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "the blocked cannot follow"
    );
    let r = app
        .post_json(
            &format!("/api/v1/statuses/{a}/favourite"),
            Some(&ben),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let blocks = body(app.get("/api/v1/blocks", Some(&ana)).await).await;
    assert_eq!(blocks[0]["username"], "ben");
    app.post_json(
        &format!("/api/v1/accounts/{ben_id}/unblock"),
        Some(&ana),
        json!({}),
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/statuses/{b}"), Some(&ana))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn pagination_walks_every_post_once_in_order() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let ana_id = account_id(&app, &ana).await;
    app.post_json(
        &format!("/api/v1/accounts/{ana_id}/follow"),
        Some(&ben),
        json!({}),
    )
    .await;
    let mut posted = Vec::new();
    for i in 0..25 {
        posted.push(post(&app, &ana, &format!("post {i} #paged")).await);
    }
    posted.reverse();
    for path in [
        "/api/v1/timelines/home?limit=7",
        "/api/v1/timelines/public?limit=7&local=true",
        "/api/v1/timelines/tag/PAGED?limit=7",
        &format!("/api/v1/accounts/{ana_id}/statuses?limit=7"),
    ] {
        let seen = walk(&app, path, &ben).await;
        assert_eq!(seen, posted, "{path}");
    }
    // min_id gives the page right after a cursor, newest first; since_id the newest above it.
    let page = ids(
        &app,
        &format!("/api/v1/timelines/home?limit=5&min_id={}", posted[20]),
        Some(&ben),
    )
    .await;
    assert_eq!(page, posted[15..20].to_vec());
    let page = ids(
        &app,
        &format!("/api/v1/timelines/home?limit=5&since_id={}", posted[20]),
        Some(&ben),
    )
    .await;
    assert_eq!(page, posted[0..5].to_vec());
    let r = app.get("/api/v1/timelines/home?limit=7", Some(&ben)).await;
    let link = r.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.contains(&format!("max_id={}", posted[6]))
            && link.contains(&format!("min_id={}", posted[0])),
        "{link}"
    );
}

#[tokio::test]
async fn celebrity_posts_are_merged_on_read_and_stay_correct() {
    // Threshold 2: the third follower turns `star` into a merged-on-read account.
    let app = spawn_app_with(|s| s.celebrity_threshold = 2).await;
    let star = app.sign_up("star").await;
    let star_id = account_id(&app, &star).await;
    let mut fans = Vec::new();
    for name in ["fan1", "fan2", "fan3"] {
        let tok = app.sign_up(name).await;
        app.post_json(
            &format!("/api/v1/accounts/{star_id}/follow"),
            Some(&tok),
            json!({}),
        )
        .await;
        fans.push(tok);
    }
    let friend = app.sign_up("friend").await;
    let friend_id = account_id(&app, &friend).await;
    app.post_json(
        &format!("/api/v1/accounts/{friend_id}/follow"),
        Some(&fans[0]),
        json!({}),
    )
    .await;
    let mut expected = Vec::new();
    for i in 0..12 {
        let tok = if i % 3 == 0 { &friend } else { &star };
        expected.push(post(&app, tok, &format!("interleaved {i}")).await);
    }
    let dm = app
        .post_json(
            "/api/v1/statuses",
            Some(&star),
            json!({"status": "@fan2 just you", "visibility": "direct"}),
        )
        .await;
    let dm_id = body(dm).await["id"].as_str().unwrap().to_owned();
    expected.reverse();

    let seen = walk(&app, "/api/v1/timelines/home?limit=5", &fans[0]).await;
    assert_eq!(
        seen, expected,
        "merged pages: every post once, newest first"
    );
    assert!(newest_first(&seen));
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());
    assert!(
        !seen.contains(&dm_id),
        "direct posts of a celebrity reach only the mentioned"
    );
    assert!(
        ids(&app, "/api/v1/timelines/home", Some(&fans[1]))
            .await
            .contains(&dm_id)
    );

    let victim = expected[1].clone();
    app.delete(&format!("/api/v1/statuses/{victim}"), Some(&star))
        .await;
    assert!(
        !ids(&app, "/api/v1/timelines/home?limit=40", Some(&fans[0]))
            .await
            .contains(&victim)
    );
    app.post_json(
        &format!("/api/v1/accounts/{star_id}/unfollow"),
        Some(&fans[0]),
        json!({}),
    )
    .await;
    let home = ids(&app, "/api/v1/timelines/home?limit=40", Some(&fans[0])).await;
    assert_eq!(home.len(), 4, "only the friend's posts remain: {home:?}");
    let star_acc = body(app.get(&format!("/api/v1/accounts/{star_id}"), None).await).await;
    assert_eq!(star_acc["followers_count"], 2);
    app.post_json(
        &format!("/api/v1/accounts/{star_id}/block"),
        Some(&fans[2]),
        json!({}),
    )
    .await;
    assert!(
        ids(&app, "/api/v1/timelines/home?limit=40", Some(&fans[2]))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn account_timeline_filters() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let ana_id = account_id(&app, &ana).await;
    let b = post(&app, &ben, "ben's").await;
    let own = post(&app, &ana, "own").await;
    let reply = body(
        app.post_json(
            "/api/v1/statuses",
            Some(&ana),
            json!({"status": "reply", "in_reply_to_id": b}),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let boost = body(
        app.post_json(
            &format!("/api/v1/statuses/{b}/reblog"),
            Some(&ana),
            json!({}),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/api/v1/accounts/{ana_id}/statuses");
    assert_eq!(
        ids(&app, &base, None).await,
        vec![boost.clone(), reply.clone(), own.clone()]
    );
    assert_eq!(
        ids(&app, &format!("{base}?exclude_replies=true"), None).await,
        vec![boost.clone(), own.clone()]
    );
    assert_eq!(
        ids(&app, &format!("{base}?exclude_reblogs=1"), None).await,
        vec![reply, own.clone()]
    );
    assert!(
        ids(&app, &format!("{base}?only_media=1"), None)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn home_reads_the_same_before_and_after_the_fan_out_worker_runs() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cat = app.sign_up("cat").await;
    let ana_id = account_id(&app, &ana).await;
    let cat_id = account_id(&app, &cat).await;
    // dan follows both, reblogs included: one batch of the worker serves several
    // followers of several authors.
    let dan = app.sign_up("dan").await;
    for (who, target) in [(&ben, &ana_id), (&dan, &ana_id), (&dan, &cat_id)] {
        app.post_json(
            &format!("/api/v1/accounts/{target}/follow"),
            Some(who),
            json!({}),
        )
        .await;
    }
    app.post_form(
        &format!("/api/v1/accounts/{cat_id}/follow"),
        Some(&ben),
        &[("reblogs", "0")],
    )
    .await;
    let mut expected = Vec::new();
    for i in 0..6 {
        expected.push(post(&app, &ana, &format!("queued {i}")).await);
    }
    let boost = body(
        app.post_json(
            &format!("/api/v1/statuses/{}/reblog", expected[0]),
            Some(&cat),
            json!({}),
        )
        .await,
    )
    .await;
    assert!(boost["id"].is_string());
    expected.reverse();
    // Whatever the worker has done so far, the page is the same, and cat's reblog is
    // hidden because ben asked not to see cat's reblogs.
    let before = ids(&app, "/api/v1/timelines/home", Some(&ben)).await;
    assert_eq!(before, expected);
    let mut dan_expected = vec![boost["id"].as_str().unwrap().to_owned()];
    dan_expected.extend(expected.iter().cloned());
    assert_eq!(
        ids(&app, "/api/v1/timelines/home", Some(&dan)).await,
        dan_expected
    );
    app.app.fan_out_queued().await.unwrap();
    assert_eq!(app.app.fan_out_backlog().await.unwrap(), 0);
    assert_eq!(
        ids(&app, "/api/v1/timelines/home", Some(&ben)).await,
        expected
    );
    assert_eq!(
        ids(&app, "/api/v1/timelines/home", Some(&dan)).await,
        dan_expected
    );
    // Unfollowing right after posting never leaves the post behind, queued or copied.
    let late = post(&app, &ana, "just before the unfollow").await;
    app.post_json(
        &format!("/api/v1/accounts/{ana_id}/unfollow"),
        Some(&ben),
        json!({}),
    )
    .await;
    app.app.fan_out_queued().await.unwrap();
    let home = ids(&app, "/api/v1/timelines/home", Some(&ben)).await;
    assert!(!home.contains(&late) && home.is_empty(), "{home:?}");
}

/// Many authors post at once while several fan-out workers (on PostgreSQL; one on SQLite)
/// and explicit drains copy the queue concurrently: every post is fanned out exactly once
/// (no two batches claim the same post), every follower's home ends up with every post
/// once and in order from the feed alone, and unfollows and deletions still hold.
#[tokio::test]
async fn parallel_fan_out_copies_every_post_exactly_once() {
    const AUTHORS: usize = 6;
    const POSTS_EACH: usize = 40;
    let app = std::sync::Arc::new(spawn_app_with(|s| s.fan_out_workers = 4).await);
    // SQLite keeps one worker whatever the setting: it has one writer connection.
    let workers = if starling_testkit::on_postgres() {
        4
    } else {
        1
    };
    assert_eq!(app.app.fan_out_worker_count(), workers);
    let mut authors = Vec::new();
    for i in 0..AUTHORS {
        let token = app.sign_up(&format!("author{i}")).await;
        let id = account_id(&app, &token).await;
        authors.push((token, id));
    }
    let mut readers = Vec::new();
    for i in 0..3 {
        let token = app.sign_up(&format!("reader{i}")).await;
        for (_, id) in &authors {
            starling_testkit::live::follow(&app, &token, id).await;
        }
        readers.push(token);
    }

    // Two extra drains race the node's own workers for the same queue.
    let posting = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut drains = Vec::new();
    for _ in 0..2 {
        let (app, posting) = (app.clone(), posting.clone());
        drains.push(tokio::spawn(async move {
            while posting.load(std::sync::atomic::Ordering::Relaxed) {
                // A deadlock or a serialisation error between batches fails the test here.
                app.app.fan_out_queued().await.unwrap();
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut writers = Vec::new();
    for (i, (token, _)) in authors.iter().enumerate() {
        let (app, token) = (app.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for n in 0..POSTS_EACH {
                mine.push(post(&app, &token, &format!("author {i}, post {n}")).await);
            }
            mine
        }));
    }
    let mut per_author: Vec<Vec<String>> = Vec::new();
    for w in writers {
        per_author.push(w.await.unwrap());
    }
    let mut all: Vec<u64> = per_author
        .iter()
        .flatten()
        .map(|id| id.parse().unwrap())
        .collect();
    posting.store(false, std::sync::atomic::Ordering::Relaxed);
    for d in drains {
        d.await.unwrap();
    }
    app.app.fan_out_queued().await.unwrap();
    for _ in 0..200 {
        if app.app.fan_out_backlog().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.app.fan_out_backlog().await.unwrap(), 0);
    // Each queued post was claimed by exactly one batch, whichever worker or drain ran it.
    assert_eq!(app.app.fanned_out_posts(), all.len() as u64);

    all.sort_unstable_by(|a, b| b.cmp(a));
    let expected: Vec<String> = all.iter().map(u64::to_string).collect();
    for reader in &readers {
        let home = walk(&app, "/api/v1/timelines/home?limit=40", reader).await;
        assert_eq!(home, expected, "every post once, newest first");
    }

    // Unfollows and deletions hold for rows the workers wrote.
    let gone_author = &authors[0].1;
    app.post_json(
        &format!("/api/v1/accounts/{gone_author}/unfollow"),
        Some(&readers[0]),
        json!({}),
    )
    .await;
    let deleted = per_author[1][5].clone();
    let r = app
        .delete(&format!("/api/v1/statuses/{deleted}"), Some(&authors[1].0))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let unfollowed: HashSet<&String> = per_author[0].iter().collect();
    let home = walk(&app, "/api/v1/timelines/home?limit=40", &readers[0]).await;
    let want: Vec<String> = expected
        .iter()
        .filter(|id| **id != deleted && !unfollowed.contains(id))
        .cloned()
        .collect();
    assert_eq!(home, want);
    let home = walk(&app, "/api/v1/timelines/home?limit=40", &readers[1]).await;
    let want: Vec<String> = expected
        .iter()
        .filter(|id| **id != deleted)
        .cloned()
        .collect();
    assert_eq!(home, want);
}

/// The authors shown on a page are current: the server keeps recent pages' authors in
/// memory, and every change to an account (profile, counters, deactivation) shows on the
/// next page read, even one read right after.
#[tokio::test]
async fn authors_on_a_page_show_their_latest_state() {
    let app = spawn_app().await;
    let ana = app.sign_up("ana").await;
    let ben = app.sign_up("ben").await;
    let cam = app.sign_up("cam").await;
    let ana_id = account_id(&app, &ana).await;
    starling_testkit::live::follow(&app, &ben, &ana_id).await;
    post(&app, &ana, "first").await;
    let author = |home: Value| home[0]["account"].clone();
    let home = || async { body(app.get("/api/v1/timelines/home", Some(&ben)).await).await };
    let a = author(home().await);
    assert_eq!(
        (a["display_name"].as_str(), a["statuses_count"].as_i64()),
        (Some(""), Some(1))
    );
    assert_eq!(a["followers_count"], 1);

    let r = app
        .patch_json(
            "/api/v1/accounts/update_credentials",
            Some(&ana),
            json!({"display_name": "Ana"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(author(home().await)["display_name"], "Ana");

    post(&app, &ana, "second").await;
    let page = home().await;
    assert_eq!(page.as_array().unwrap().len(), 2);
    assert!(
        page.as_array()
            .unwrap()
            .iter()
            .all(|s| s["account"]["statuses_count"] == 2)
    );

    starling_testkit::live::follow(&app, &cam, &ana_id).await;
    assert_eq!(author(home().await)["followers_count"], 2);
    let r = app
        .post_json(
            &format!("/api/v1/accounts/{ana_id}/unfollow"),
            Some(&cam),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(author(home().await)["followers_count"], 1);

    let newest = home().await[0]["id"].as_str().unwrap().to_owned();
    let r = app
        .delete(&format!("/api/v1/statuses/{newest}"), Some(&ana))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(author(home().await)["statuses_count"], 1);

    app.app.deactivate("ana").await.expect("deactivate ana");
    assert_eq!(home().await, json!([]));
}

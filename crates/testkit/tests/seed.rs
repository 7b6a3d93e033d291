//! The benchmark seeder builds a consistent network whose timelines read correctly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use reqwest::StatusCode;
use serde_json::Value;
use starling_service::seed::{SeedPlan, SeedProgress};
use starling_testkit::spawn_app_with;
use std::cell::Cell;

struct Count(Cell<u64>);

impl SeedProgress for Count {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, n: u64) {
        self.0.set(self.0.get() + n);
    }
}

fn plan() -> SeedPlan {
    SeedPlan {
        accounts: 60,
        active: 12,
        follows_min: 2,
        follows_max: 6,
        posts_per_active: 3,
        celebrity_posts: 5,
        filler_posts: 30,
        group_members: 30,
        group_posts: 8,
        rng_seed: 7,
    }
}

#[tokio::test]
async fn seeded_network_reads_like_a_real_one() {
    // Threshold 20: the celebrity (59 followers) is merged on read, the others fanned out.
    let app = spawn_app_with(|s| s.celebrity_threshold = 20).await;
    let progress = Count(Cell::new(0));
    let outcome = app.app.seed(&plan(), &progress).await.unwrap();
    assert!(progress.0.get() > 0, "progress was reported");
    assert_eq!(outcome.counts.0, 60);
    assert_eq!(outcome.counts.2, 12 * 3 + 5 + 30 + 8);
    let group = outcome.group_id.expect("the all-company group");
    let g: Value = app
        .get(
            &format!("/api/v1/groups/{group}"),
            Some(&outcome.celebrity.token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(g["members_count"], 30);
    assert_eq!(g["relationship"]["role"], "owner");
    assert_eq!(outcome.users.len(), 12);

    let celeb: Value = app
        .get(&format!("/api/v1/accounts/{}", outcome.celebrity.id), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(celeb["followers_count"], 59);
    assert_eq!(celeb["statuses_count"], 5);

    for user in &outcome.users {
        let r = app
            .get("/api/v1/timelines/home?limit=40", Some(&user.token))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let page: Vec<Value> = r.json().await.unwrap();
        let ids: Vec<i64> = page
            .iter()
            .map(|s| s["id"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] > w[1]),
            "newest first, no duplicates"
        );
        let celebrity_posts = page
            .iter()
            .filter(|s| s["account"]["username"] == "celebrity")
            .count();
        assert_eq!(
            celebrity_posts, 5,
            "every follower sees the celebrity's posts, merged on read"
        );
        let group_posts = page
            .iter()
            .filter(|s| s["group"]["id"] == group.to_string().as_str())
            .count();
        assert_eq!(group_posts, 8, "every member sees the group's posts");
        let rels: Value = app
            .get(
                &format!(
                    "/api/v1/accounts/relationships?id[]={}",
                    outcome.celebrity.id
                ),
                Some(&user.token),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(rels[0]["following"], true);
    }

    let again = app.app.seed(&plan(), &progress).await;
    assert!(again.is_err(), "a non-empty database is never seeded");
}

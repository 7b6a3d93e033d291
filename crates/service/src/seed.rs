//! Builds a large synthetic network for benchmarks, in memory first and then in bulk:
//! a celebrity followed by every account, a power-law follow graph among the active
//! accounts, an all-company group the celebrity owns, posts spread over the past 30 days,
//! pre-filled home feeds and tokens.

use crate::auth::{hash_secret, new_secret};
use crate::{Result, ServiceError, Starling};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use starling_domain::id::{min_id_at, now_millis};
use starling_store::seed::{SeedAccount, SeedStatus};
use std::collections::HashSet;

/// Rows per bulk transaction: large enough to amortise commits, small enough for progress.
const CHUNK: usize = 20_000;
/// Home-feed rows kept per active reader (older posts are still reachable by pagination
/// in a real network; the benchmark reads the first pages).
const FEED_DEPTH: usize = 200;
/// Window the seeded posts are spread over.
const SPAN_MS: i64 = 30 * 24 * 3600 * 1000;
/// Scopes of the seeded tokens.
const TOKEN_SCOPES: &str = "read write follow";

/// The shape of the network to create.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    /// All accounts, the celebrity included.
    pub accounts: usize,
    /// Accounts that post, follow each other and get tokens.
    pub active: usize,
    /// Fewest other active accounts an active account follows.
    pub follows_min: usize,
    /// Most other active accounts an active account follows.
    pub follows_max: usize,
    /// Posts by each active account.
    pub posts_per_active: usize,
    /// Posts by the celebrity.
    pub celebrity_posts: usize,
    /// Posts by passive accounts (followed by nobody), to make the database large.
    pub filler_posts: usize,
    /// Members of the public all-company group (the celebrity owns it; the active
    /// accounts come first); 0 for no group.
    pub group_members: usize,
    /// Posts in the all-company group, by its active members.
    pub group_posts: usize,
    /// Random seed, so a plan always produces the same network.
    pub rng_seed: u64,
}

/// A seeded account that benchmarks act as.
#[derive(Debug, Clone)]
pub struct SeededUser {
    pub id: i64,
    pub username: String,
    pub token: String,
}

/// What seeding created.
#[derive(Debug, Clone)]
pub struct SeedOutcome {
    /// The password every seeded account shares.
    pub password: String,
    /// The account followed by everyone.
    pub celebrity: SeededUser,
    /// The active accounts.
    pub users: Vec<SeededUser>,
    /// The all-company group, if one was created.
    pub group_id: Option<i64>,
    /// Members of the all-company group.
    pub group_members: usize,
    /// Rows written: accounts, follows, posts, home-feed rows.
    pub counts: (usize, usize, usize, usize),
}

/// Receives progress while seeding (a progress bar in the CLI).
pub trait SeedProgress {
    /// A stage with `total` units of work begins.
    fn stage(&self, name: &str, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
}

fn username(i: usize, active: usize) -> String {
    match i {
        0 => "celebrity".to_owned(),
        i if i <= active => format!("user{i}"),
        i => format!("member{i}"),
    }
}

impl Starling {
    /// Seeds an empty database with the planned network.
    pub async fn seed(&self, plan: &SeedPlan, progress: &dyn SeedProgress) -> Result<SeedOutcome> {
        if plan.accounts < plan.active + 1 || plan.active < 2 || plan.follows_min > plan.follows_max
        {
            return Err(ServiceError::invalid(
                "accounts must exceed active, active must be at least 2, and follows-min must not exceed follows-max",
            ));
        }
        if !self.db().is_empty().await? {
            return Err(ServiceError::invalid(
                "the database already has accounts: seed only an empty database",
            ));
        }
        let mut rng = StdRng::seed_from_u64(plan.rng_seed);
        let now = now_millis();
        let password = "seeded-password".to_owned();
        let password_hash = self.hash_password(&password).await?;
        let n = plan.accounts;
        let ids: Vec<i64> = (0..n).map(|_| self.next_id()).collect();

        // Follow graph: everyone follows the celebrity (index 0); active accounts
        // (1..=active) follow a power-law sample of other active accounts.
        progress.stage("planning follow graph", plan.active as u64);
        let mut followees: Vec<Vec<usize>> = vec![Vec::new(); plan.active + 1];
        let mut followers_count = vec![0i64; n];
        let mut following_count = vec![0i64; n];
        followers_count[0] = (n - 1) as i64;
        for count in following_count.iter_mut().skip(1) {
            *count = 1;
        }
        for (a, list) in followees.iter_mut().enumerate().skip(1) {
            let span = (plan.follows_max - plan.follows_min) as f64;
            let want = (plan.follows_min + (span * rng.r#gen::<f64>().powi(2)) as usize)
                .min(plan.active - 1);
            let mut chosen = HashSet::with_capacity(want);
            while chosen.len() < want {
                // Cubing a uniform draw favours low indices: a few very popular accounts.
                let t = 1 + ((plan.active as f64) * rng.r#gen::<f64>().powi(3)) as usize;
                if t != a && t <= plan.active {
                    chosen.insert(t);
                }
            }
            for &t in &chosen {
                followers_count[t] += 1;
            }
            following_count[a] += chosen.len() as i64;
            list.extend(chosen);
            progress.advance(1);
        }

        // The all-company group: the first `members` accounts (celebrity and active
        // accounts first); its posts are written by its active members.
        let members = plan.group_members.min(n);
        let group_posts = if members == 0 { 0 } else { plan.group_posts };
        let posting_members = members.saturating_sub(1).min(plan.active);

        // Posts, oldest first, evenly spread over the window so ids follow time. Each is
        // (author, in the group).
        let active_posts = plan.active * plan.posts_per_active;
        let total_posts = active_posts + plan.celebrity_posts + plan.filler_posts + group_posts;
        let mut authors: Vec<(usize, bool)> = Vec::with_capacity(total_posts);
        authors.extend((0..active_posts).map(|i| (1 + i % plan.active, false)));
        authors.extend(std::iter::repeat_n((0, false), plan.celebrity_posts));
        authors.extend((0..plan.filler_posts).map(|_| {
            let a = rng
                .gen_range(plan.active + 1..n.max(plan.active + 2))
                .min(n - 1);
            (a, false)
        }));
        authors.extend((0..group_posts).map(|_| {
            let a = if posting_members == 0 {
                0
            } else {
                rng.gen_range(1..=posting_members)
            };
            (a, true)
        }));
        // Shuffle authorship over time so every author's posts are spread out.
        for i in (1..authors.len()).rev() {
            let j = rng.gen_range(0..=i);
            authors.swap(i, j);
        }
        let mut statuses_count = vec![0i64; n];
        let mut last_status_at: Vec<Option<i64>> = vec![None; n];
        let step = (SPAN_MS / total_posts.max(1) as i64).max(1);
        let start = now - SPAN_MS;
        let post_at = |i: usize| start + i as i64 * step;
        let post_id = |i: usize| min_id_at(post_at(i)) + (i % 65_536) as i64;
        for (i, &(a, _)) in authors.iter().enumerate() {
            statuses_count[a] += 1;
            last_status_at[a] = Some(post_at(i));
        }

        let threshold = self.settings().celebrity_threshold;
        progress.stage("accounts", n as u64);
        let mut batch = Vec::with_capacity(CHUNK);
        for i in 0..n {
            let name = username(i, plan.active);
            batch.push(SeedAccount {
                id: ids[i],
                email: format!("{name}@seed.example"),
                username: name,
                password_hash: password_hash.clone(),
                celebrity: followers_count[i] >= threshold,
                created_at: now - SPAN_MS - 1000,
                followers_count: followers_count[i],
                following_count: following_count[i],
                statuses_count: statuses_count[i],
                last_status_at: last_status_at[i],
            });
            if batch.len() == CHUNK || i + 1 == n {
                self.db().seed_accounts(&batch).await?;
                progress.advance(batch.len() as u64);
                batch.clear();
            }
        }

        let follow_rows: usize = (n - 1) + followees.iter().map(Vec::len).sum::<usize>();
        progress.stage("follows", follow_rows as u64);
        let mut rows = Vec::with_capacity(CHUNK);
        let pairs = (1..n).map(|a| (a, 0)).chain(
            followees
                .iter()
                .enumerate()
                .flat_map(|(a, l)| l.iter().map(move |&t| (a, t))),
        );
        for (a, t) in pairs {
            rows.push((self.next_id(), ids[a], ids[t]));
            if rows.len() == CHUNK {
                self.db().seed_follows(&rows).await?;
                progress.advance(rows.len() as u64);
                rows.clear();
            }
        }
        self.db().seed_follows(&rows).await?;
        progress.advance(rows.len() as u64);

        let group_id = (members > 0).then(|| self.next_id());
        if let Some(group) = group_id {
            progress.stage("all-company group", members as u64);
            self.db()
                .seed_group(group, "All company", members as i64, now - SPAN_MS)
                .await?;
            let mut rows = Vec::with_capacity(CHUNK);
            for (i, &account) in ids.iter().enumerate().take(members) {
                let role = if i == 0 { "owner" } else { "member" };
                rows.push((self.next_id(), group, account, role));
                if rows.len() == CHUNK || i + 1 == members {
                    self.db().seed_group_members(&rows, now - SPAN_MS).await?;
                    progress.advance(rows.len() as u64);
                    rows.clear();
                }
            }
        }

        progress.stage("posts", total_posts as u64);
        let mut batch = Vec::with_capacity(CHUNK);
        for (i, &(a, in_group)) in authors.iter().enumerate() {
            let text = format!(
                "Seeded post {i} by {} with some words to read",
                username(a, plan.active)
            );
            batch.push(SeedStatus {
                id: post_id(i),
                account_id: ids[a],
                content: format!("<p>{text}</p>"),
                text,
                created_at: post_at(i),
                group_id: if in_group { group_id } else { None },
            });
            if batch.len() == CHUNK || i + 1 == authors.len() {
                self.db().seed_statuses(&batch).await?;
                progress.advance(batch.len() as u64);
                batch.clear();
            }
        }

        // Home feeds of active readers: the newest posts of the non-celebrity accounts
        // they follow (celebrities and groups are merged on read), plus their own.
        let mut by_author: Vec<Vec<usize>> = vec![Vec::new(); plan.active + 1];
        for (i, &(a, in_group)) in authors.iter().enumerate().rev() {
            if a <= plan.active && !in_group {
                by_author[a].push(i);
            }
        }
        progress.stage("home feeds", plan.active as u64);
        let mut rows = Vec::with_capacity(CHUNK);
        let mut feed_rows = 0;
        let celebrity_merged = followers_count[0] >= threshold;
        for reader in 1..=plan.active {
            let mut sources: Vec<usize> = followees[reader].clone();
            sources.push(reader);
            if !celebrity_merged {
                sources.push(0);
            }
            let mut posts: Vec<(usize, usize)> = sources
                .iter()
                .flat_map(|&a| by_author[a].iter().take(FEED_DEPTH).map(move |&i| (i, a)))
                .collect();
            posts.sort_unstable_by_key(|p| std::cmp::Reverse(p.0));
            posts.truncate(FEED_DEPTH);
            for (i, a) in posts {
                rows.push((ids[reader], post_id(i), ids[a]));
            }
            if rows.len() >= CHUNK || reader == plan.active {
                feed_rows += rows.len();
                self.db().seed_home_feed(&rows).await?;
                rows.clear();
            }
            progress.advance(1);
        }

        progress.stage("tokens", plan.active as u64 + 1);
        let mut users = Vec::with_capacity(plan.active + 1);
        let mut token_rows = Vec::with_capacity(plan.active + 1);
        for (i, &id) in ids.iter().enumerate().take(plan.active + 1) {
            let token = new_secret();
            token_rows.push((
                self.next_id(),
                hash_secret(&token),
                id,
                TOKEN_SCOPES.to_owned(),
            ));
            users.push(SeededUser {
                id,
                username: username(i, plan.active),
                token,
            });
        }
        for chunk in token_rows.chunks(CHUNK) {
            self.db().seed_tokens(chunk, now).await?;
            progress.advance(chunk.len() as u64);
        }
        self.db().analyze().await?;
        let celebrity = users.remove(0);
        Ok(SeedOutcome {
            password,
            celebrity,
            users,
            group_id,
            group_members: members,
            counts: (n, follow_rows, total_posts, feed_rows),
        })
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.
//! Model-based property test of who may see which post.
//!
//! Five accounts (`ana`, `ben`, `cid`, `dan`, `eve`) and two groups — `Guild`, public,
//! owned by `ana`, and `Board`, private, owned by `ben` — live on a real server (a fresh
//! [`spawn_app`] per sequence, over HTTP). A seeded random sequence of operations runs
//! against it: follow, unfollow, block, unblock, join, leave, post (random visibility,
//! random mentions of the others, sometimes in a random group, sometimes in a group the
//! author is not in) and delete (one's own post, a post in a group one owns — owners
//! moderate their group — or, to check the 404, anyone else's). Every operation's status
//! code is checked against a model, which then records its effect: who follows and blocks
//! whom, group memberships, and the posts with their author, visibility, mentions (as
//! the server keeps them: an account blocking or blocked by the author at posting time
//! is not mentioned), group and deletion. A new post's JSON must show the visibility and
//! mentions the model expects (a group's posts take the group's audience).
//!
//! Joining the private group: the joiner either asks (`POST …/join`, which must leave a
//! pending request) and the owner authorizes the request at once, or the owner invites
//! first and the invitee then joins without approval; the seed picks one of the two per
//! join, so both paths are exercised. The owners never leave (trying must answer 422).
//!
//! After each step, for every account and for an anonymous reader:
//! 1. `GET /api/v1/statuses/:id` answers 200 for exactly the posts the model lets the
//!    reader see and 404 for all others (every post ever written, deleted ones included);
//! 2. the home timeline (signed-in readers) is exactly the expected set, newest first:
//!    own posts, posts outside groups and not direct by followed accounts, direct posts
//!    mentioning the reader and posts of the reader's groups — less whatever the reader
//!    may not see;
//! 3. each group timeline is exactly the group's visible posts, newest first, or 403 for
//!    a signed-in non-member of the private group. Anonymous readers may get 401 (the
//!    route needs a token); if they get 200 it must be the expected list, and never for
//!    the private group.
//!
//! The checks run concurrently (they are all reads). A follow backfills only the newest
//! 40 posts of the followed account, so authors with 30 live posts delete instead of
//! posting, which keeps the "whole history of followed accounts" expectation exact.
//!
//! Seeds: each sequence draws its own random seed unless `STARLING_PROPTEST_SEED` is set,
//! in which case that one seed is replayed. `STARLING_PROPTEST_SEQUENCES` (default 3)
//! and `STARLING_PROPTEST_STEPS` (default 60) change the amount of work. A failure
//! prints the seed, every mismatch of the failing step, the operation log (as the
//! requests sent) and the model's state.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};
use starling_testkit::{TestApp, expect_json, json_body, spawn_app};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Instant;
use tokio::task::JoinSet;

const NAMES: [&str; 5] = ["ana", "ben", "cid", "dan", "eve"];
const USERS: usize = NAMES.len();
/// Group 0 is public, group 1 private.
const GROUP_NAMES: [&str; 2] = ["Guild (public)", "Board (private)"];
const PRIVATE_GROUP: usize = 1;
/// The owner of each group (its creator, who never leaves).
const OWNERS: [usize; 2] = [0, 1];
/// Live posts per author above which the author deletes instead of posting (see the
/// module doc: follow backfill is 40 posts).
const MAX_LIVE_POSTS: usize = 30;
/// Page size of timeline reads (the API's maximum).
const PAGE: usize = 40;

// ---------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vis {
    Public,
    Unlisted,
    Private,
    Direct,
}

/// Visibilities of new posts, weighted towards those whose audience depends on follows,
/// mentions and blocks.
const WEIGHTED_VIS: [Vis; 6] = [
    Vis::Public,
    Vis::Unlisted,
    Vis::Private,
    Vis::Private,
    Vis::Direct,
    Vis::Direct,
];

impl Vis {
    fn as_str(self) -> &'static str {
        match self {
            Vis::Public => "public",
            Vis::Unlisted => "unlisted",
            Vis::Private => "private",
            Vis::Direct => "direct",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JoinPath {
    /// `POST …/join` (a pending request for the private group), then the owner's
    /// `POST …/requests/:account_id/authorize`.
    Request,
    /// The owner's `POST …/invitations`, then `POST …/join`.
    Invitation,
}

#[derive(Debug, Clone)]
enum Op {
    Follow(usize, usize),
    Unfollow(usize, usize),
    Block(usize, usize),
    Unblock(usize, usize),
    Join(usize, usize, JoinPath),
    Leave(usize, usize),
    Post {
        author: usize,
        visibility: Vis,
        mentions: Vec<usize>,
        group: Option<usize>,
    },
    /// `actor` deletes post number `post` (not necessarily theirs, maybe already deleted).
    Delete {
        actor: usize,
        post: usize,
    },
}

fn name(u: usize) -> &'static str {
    NAMES[u]
}

/// The text of a post: a unique marker and the mentions.
fn post_text(step: usize, mentions: &[usize]) -> String {
    let mut text = format!("step {step}");
    for m in mentions {
        let _ = write!(text, " @{}", name(*m));
    }
    text
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Post {
    /// The server's id.
    id: String,
    author: usize,
    /// The visibility the server gave it (a group decides for its posts).
    visibility: Vis,
    /// The accounts it mentions as stored (blocked ones dropped at posting time).
    mentions: BTreeSet<usize>,
    group: Option<usize>,
    deleted: bool,
}

#[derive(Debug, Clone)]
struct Model {
    /// `(follower, followed)`.
    follows: BTreeSet<(usize, usize)>,
    /// `(blocker, blocked)`.
    blocks: BTreeSet<(usize, usize)>,
    members: [BTreeSet<usize>; 2],
    posts: Vec<Post>,
}

impl Model {
    fn new() -> Self {
        Self {
            follows: BTreeSet::new(),
            blocks: BTreeSet::new(),
            members: [BTreeSet::from([OWNERS[0]]), BTreeSet::from([OWNERS[1]])],
            posts: Vec::new(),
        }
    }

    fn blocked_either(&self, a: usize, b: usize) -> bool {
        self.blocks.contains(&(a, b)) || self.blocks.contains(&(b, a))
    }

    fn member(&self, u: usize, g: usize) -> bool {
        self.members[g].contains(&u)
    }

    fn live_posts_of(&self, u: usize) -> Vec<usize> {
        (0..self.posts.len())
            .filter(|i| self.posts[*i].author == u && !self.posts[*i].deleted)
            .collect()
    }

    /// The one visibility rule, restated independently of the server's code.
    fn may_see(&self, viewer: Option<usize>, p: &Post) -> bool {
        if p.deleted {
            return false;
        }
        if viewer == Some(p.author) {
            return true;
        }
        if let Some(v) = viewer
            && self.blocked_either(v, p.author)
        {
            return false;
        }
        if let Some(g) = p.group {
            return g != PRIVATE_GROUP || viewer.is_some_and(|v| self.member(v, g));
        }
        let mentioned = viewer.is_some_and(|v| p.mentions.contains(&v));
        match p.visibility {
            Vis::Public | Vis::Unlisted => true,
            Vis::Private => {
                mentioned || viewer.is_some_and(|v| self.follows.contains(&(v, p.author)))
            }
            Vis::Direct => mentioned,
        }
    }

    fn belongs_in_home(&self, u: usize, p: &Post) -> bool {
        p.author == u
            || (p.group.is_none()
                && p.visibility != Vis::Direct
                && self.follows.contains(&(u, p.author)))
            || (p.visibility == Vis::Direct && p.mentions.contains(&u))
            || p.group.is_some_and(|g| self.member(u, g))
    }

    /// Post ids, newest first.
    fn newest_first(&self, keep: impl Fn(&Post) -> bool) -> Vec<String> {
        let mut ids: Vec<&Post> = self.posts.iter().filter(|p| keep(p)).collect();
        ids.sort_by_key(|p| std::cmp::Reverse(numeric(&p.id)));
        ids.into_iter().map(|p| p.id.clone()).collect()
    }

    fn home(&self, u: usize) -> Vec<String> {
        self.newest_first(|p| self.may_see(Some(u), p) && self.belongs_in_home(u, p))
    }

    fn group_timeline(&self, viewer: Option<usize>, g: usize) -> Vec<String> {
        self.newest_first(|p| p.group == Some(g) && self.may_see(viewer, p))
    }

    /// The status the operation must answer with (the last request for multi-request
    /// operations; the earlier ones are checked on the way).
    fn expected_status(&self, op: &Op) -> StatusCode {
        match op {
            Op::Follow(a, b) if self.blocked_either(*a, *b) => StatusCode::FORBIDDEN,
            Op::Leave(a, g) if OWNERS[*g] == *a => StatusCode::UNPROCESSABLE_ENTITY,
            Op::Post {
                author,
                visibility,
                mentions,
                group,
            } => match group {
                Some(g) if !self.member(*author, *g) => StatusCode::FORBIDDEN,
                Some(_) if *visibility == Vis::Direct => StatusCode::UNPROCESSABLE_ENTITY,
                None if *visibility == Vis::Direct && mentions.is_empty() => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => StatusCode::OK,
            },
            Op::Delete { actor, post } => {
                let p = &self.posts[*post];
                // The author, or an owner of the post's group (who moderates it).
                let may_delete = p.author == *actor || p.group.is_some_and(|g| OWNERS[g] == *actor);
                if may_delete && !p.deleted {
                    StatusCode::OK
                } else {
                    StatusCode::NOT_FOUND
                }
            }
            _ => StatusCode::OK,
        }
    }

    /// Records a successful operation's effect (`new_post_id`: the id the server gave a
    /// new post).
    fn apply(&mut self, op: &Op, new_post_id: Option<String>) {
        match op {
            Op::Follow(a, b) => {
                self.follows.insert((*a, *b));
            }
            Op::Unfollow(a, b) => {
                self.follows.remove(&(*a, *b));
            }
            Op::Block(a, b) => {
                self.blocks.insert((*a, *b));
                self.follows.remove(&(*a, *b));
                self.follows.remove(&(*b, *a));
            }
            Op::Unblock(a, b) => {
                self.blocks.remove(&(*a, *b));
            }
            Op::Join(a, g, _) => {
                self.members[*g].insert(*a);
            }
            Op::Leave(a, g) => {
                self.members[*g].remove(a);
            }
            Op::Post {
                author,
                visibility,
                mentions,
                group,
            } => {
                let visibility = match group {
                    Some(g) if *g == PRIVATE_GROUP => Vis::Private,
                    Some(_) => Vis::Unlisted,
                    None => *visibility,
                };
                let mentions = mentions
                    .iter()
                    .copied()
                    .filter(|m| !self.blocked_either(*author, *m))
                    .collect();
                self.posts.push(Post {
                    id: new_post_id.expect("a new post has an id"),
                    author: *author,
                    visibility,
                    mentions,
                    group: *group,
                    deleted: false,
                });
            }
            Op::Delete { post, .. } => {
                self.posts[*post].deleted = true;
            }
        }
    }

    fn describe(&self) -> String {
        let pairs = |set: &BTreeSet<(usize, usize)>| {
            set.iter()
                .map(|(a, b)| format!("{}→{}", name(*a), name(*b)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = String::new();
        let _ = writeln!(s, "  follows: {}", pairs(&self.follows));
        let _ = writeln!(s, "  blocks: {}", pairs(&self.blocks));
        for (g, members) in self.members.iter().enumerate() {
            let names: Vec<&str> = members.iter().map(|u| name(*u)).collect();
            let _ = writeln!(s, "  members of {}: {}", GROUP_NAMES[g], names.join(", "));
        }
        for (i, p) in self.posts.iter().enumerate() {
            let _ = writeln!(s, "  {}", self.post_line(i, p));
        }
        s
    }

    fn post_line(&self, i: usize, p: &Post) -> String {
        let mentions: Vec<&str> = p.mentions.iter().map(|u| name(*u)).collect();
        format!(
            "p{i} (id {}): by {}, {}, mentions [{}]{}{}",
            p.id,
            name(p.author),
            p.visibility.as_str(),
            mentions.join(", "),
            p.group
                .map(|g| format!(", in {}", GROUP_NAMES[g]))
                .unwrap_or_default(),
            if p.deleted { ", DELETED" } else { "" }
        )
    }

    /// What a list lacks and what it has too much, compared with the expected one (order
    /// aside), with the posts described.
    fn difference(&self, expected: &[String], got: &[String]) -> String {
        let describe = |ids: Vec<&String>| {
            ids.into_iter()
                .map(|id| match self.posts.iter().position(|p| &p.id == id) {
                    Some(i) => self.post_line(i, &self.posts[i]),
                    None => format!("unknown id {id}"),
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let missing: Vec<&String> = expected.iter().filter(|id| !got.contains(id)).collect();
        let extra: Vec<&String> = got.iter().filter(|id| !expected.contains(id)).collect();
        let mut s = String::new();
        if !missing.is_empty() {
            let _ = write!(s, "\n      missing: {}", describe(missing));
        }
        if !extra.is_empty() {
            let _ = write!(s, "\n      forbidden or unexpected: {}", describe(extra));
        }
        if s.is_empty() && expected != got {
            s.push_str("\n      same posts, wrong order");
        }
        s
    }

    /// `p<n>` labels for server ids, for readable mismatch reports.
    fn labels(&self, ids: &[String]) -> String {
        let labels: Vec<String> = ids
            .iter()
            .map(|id| {
                self.posts
                    .iter()
                    .position(|p| &p.id == id)
                    .map_or_else(|| format!("unknown id {id}"), |i| format!("p{i}"))
            })
            .collect();
        format!("[{}]", labels.join(", "))
    }
}

fn numeric(id: &str) -> i64 {
    id.parse()
        .unwrap_or_else(|_| panic!("post id {id:?} is not a number"))
}

// ---------------------------------------------------------------------------------------
// Generating operations
// ---------------------------------------------------------------------------------------

fn other(rng: &mut StdRng, a: usize) -> usize {
    let b = rng.gen_range(0..USERS - 1);
    if b >= a { b + 1 } else { b }
}

fn generate(rng: &mut StdRng, model: &Model) -> Op {
    let a = rng.gen_range(0..USERS);
    let roll = rng.gen_range(0..100);
    match roll {
        0..=17 => Op::Follow(a, other(rng, a)),
        18..=27 => {
            // Mostly unfollow someone actually followed.
            let followed: Vec<usize> = (0..USERS)
                .filter(|b| model.follows.contains(&(a, *b)))
                .collect();
            if !followed.is_empty() && rng.gen_bool(0.8) {
                Op::Unfollow(a, followed[rng.gen_range(0..followed.len())])
            } else {
                Op::Unfollow(a, other(rng, a))
            }
        }
        28..=33 => Op::Block(a, other(rng, a)),
        34..=41 => {
            let blocked: Vec<usize> = (0..USERS)
                .filter(|b| model.blocks.contains(&(a, *b)))
                .collect();
            if !blocked.is_empty() && rng.gen_bool(0.8) {
                Op::Unblock(a, blocked[rng.gen_range(0..blocked.len())])
            } else {
                Op::Unblock(a, other(rng, a))
            }
        }
        42..=49 => {
            let path = if rng.gen_bool(0.5) {
                JoinPath::Request
            } else {
                JoinPath::Invitation
            };
            Op::Join(a, rng.gen_range(0..2), path)
        }
        50..=55 => {
            // Mostly leave a group one is in (owners included: they must be refused).
            let mine: Vec<usize> = (0..2).filter(|g| model.member(a, *g)).collect();
            if !mine.is_empty() && rng.gen_bool(0.8) {
                Op::Leave(a, mine[rng.gen_range(0..mine.len())])
            } else {
                Op::Leave(a, rng.gen_range(0..2))
            }
        }
        56..=64 => delete_op(rng, model, a),
        _ => {
            if model.live_posts_of(a).len() >= MAX_LIVE_POSTS {
                return delete_op(rng, model, a);
            }
            let visibility = WEIGHTED_VIS[rng.gen_range(0..WEIGHTED_VIS.len())];
            let mentions: Vec<usize> = (0..USERS)
                .filter(|m| *m != a && rng.gen_bool(0.4))
                .collect();
            let group = if rng.gen_bool(0.4) {
                // Mostly a group the author is in; sometimes any (a 403 to check).
                let mine: Vec<usize> = (0..2).filter(|g| model.member(a, *g)).collect();
                if !mine.is_empty() && rng.gen_bool(0.85) {
                    Some(mine[rng.gen_range(0..mine.len())])
                } else {
                    Some(rng.gen_range(0..2))
                }
            } else {
                None
            };
            // Direct posts in a group are refused; keep them rare.
            let visibility = if group.is_some() && visibility == Vis::Direct && rng.gen_bool(0.7) {
                Vis::Public
            } else {
                visibility
            };
            Op::Post {
                author: a,
                visibility,
                mentions,
                group,
            }
        }
    }
}

fn delete_op(rng: &mut StdRng, model: &Model, a: usize) -> Op {
    // A group's owner sometimes deletes someone else's post in the group.
    let moderated: Vec<usize> = (0..model.posts.len())
        .filter(|i| {
            let p = &model.posts[*i];
            !p.deleted && p.author != a && p.group.is_some_and(|g| OWNERS[g] == a)
        })
        .collect();
    if !moderated.is_empty() && rng.gen_bool(0.5) {
        return Op::Delete {
            actor: a,
            post: moderated[rng.gen_range(0..moderated.len())],
        };
    }
    let mine = model.live_posts_of(a);
    if !model.posts.is_empty() && (mine.is_empty() || rng.gen_bool(0.15)) {
        // Someone else's post or an already deleted one: must answer 404.
        return Op::Delete {
            actor: a,
            post: rng.gen_range(0..model.posts.len()),
        };
    }
    if mine.is_empty() {
        // Nothing to delete at all yet: post instead.
        return Op::Post {
            author: a,
            visibility: Vis::Public,
            mentions: Vec::new(),
            group: None,
        };
    }
    Op::Delete {
        actor: a,
        post: mine[rng.gen_range(0..mine.len())],
    }
}

// ---------------------------------------------------------------------------------------
// The server side
// ---------------------------------------------------------------------------------------

struct World {
    app: TestApp,
    tokens: Vec<String>,
    account_ids: Vec<String>,
    group_ids: Vec<String>,
}

impl World {
    async fn new() -> Self {
        let app = spawn_app().await;
        let mut tokens = Vec::new();
        let mut account_ids = Vec::new();
        for n in NAMES {
            let token = app.sign_up(n).await;
            let me = expect_json(
                app.get("/api/v1/accounts/verify_credentials", Some(&token))
                    .await,
                "verify_credentials",
            )
            .await;
            account_ids.push(me["id"].as_str().unwrap().to_owned());
            tokens.push(token);
        }
        let mut group_ids = Vec::new();
        for (g, visibility) in ["public", "private"].into_iter().enumerate() {
            let group = expect_json(
                app.post_json(
                    "/api/v1/groups",
                    Some(&tokens[OWNERS[g]]),
                    json!({"name": GROUP_NAMES[g], "visibility": visibility}),
                )
                .await,
                "create group",
            )
            .await;
            group_ids.push(group["id"].as_str().unwrap().to_owned());
        }
        Self {
            app,
            tokens,
            account_ids,
            group_ids,
        }
    }

    fn token(&self, u: usize) -> Option<&str> {
        Some(&self.tokens[u])
    }

    /// The requests an operation sends, as a replayable log line.
    fn requests(&self, op: &Op, step: usize, model: &Model) -> String {
        let acct = |u: usize| format!("{}({})", self.account_ids[u], name(u));
        match op {
            Op::Follow(a, b) => format!("{} POST /api/v1/accounts/{}/follow", name(*a), acct(*b)),
            Op::Unfollow(a, b) => {
                format!("{} POST /api/v1/accounts/{}/unfollow", name(*a), acct(*b))
            }
            Op::Block(a, b) => {
                format!("{} POST /api/v1/accounts/{}/block", name(*a), acct(*b))
            }
            Op::Unblock(a, b) => format!("{} POST /api/v1/accounts/{}/unblock", name(*a), acct(*b)),
            Op::Join(a, g, path) => {
                let gid = &self.group_ids[*g];
                let owner = name(OWNERS[*g]);
                if *g != PRIVATE_GROUP || model.member(*a, *g) {
                    format!("{} POST /api/v1/groups/{gid}/join", name(*a))
                } else if *path == JoinPath::Request {
                    format!(
                        "{} POST /api/v1/groups/{gid}/join (pending); {owner} POST \
                         /api/v1/groups/{gid}/requests/{}/authorize",
                        name(*a),
                        acct(*a)
                    )
                } else {
                    format!(
                        "{owner} POST /api/v1/groups/{gid}/invitations {{account_ids:[{}]}}; \
                         {} POST /api/v1/groups/{gid}/join",
                        acct(*a),
                        name(*a)
                    )
                }
            }
            Op::Leave(a, g) => format!(
                "{} POST /api/v1/groups/{}/leave",
                name(*a),
                self.group_ids[*g]
            ),
            Op::Post {
                author,
                visibility,
                mentions,
                group,
            } => format!(
                "{} POST /api/v1/statuses {}",
                name(*author),
                post_body(
                    step,
                    *visibility,
                    mentions,
                    group.map(|g| &self.group_ids[g])
                )
            ),
            Op::Delete { actor, post } => format!(
                "{} DELETE /api/v1/statuses/{} (p{post})",
                name(*actor),
                model.posts[*post].id
            ),
        }
    }

    /// Sends an operation; returns the final status, the new post's JSON for a post, and
    /// a complaint about an intermediate step if one went wrong.
    async fn perform(
        &self,
        op: &Op,
        step: usize,
        model: &Model,
    ) -> (StatusCode, Option<Value>, Option<String>) {
        let app = &self.app;
        let status_of = |r: reqwest::Response| r.status();
        match op {
            Op::Follow(a, b) | Op::Unfollow(a, b) | Op::Block(a, b) | Op::Unblock(a, b) => {
                let verb = match op {
                    Op::Follow(..) => "follow",
                    Op::Unfollow(..) => "unfollow",
                    Op::Block(..) => "block",
                    _ => "unblock",
                };
                let path = format!("/api/v1/accounts/{}/{verb}", self.account_ids[*b]);
                let r = app.post_json(&path, self.token(*a), json!({})).await;
                (status_of(r), None, None)
            }
            Op::Join(a, g, path) => {
                let gid = &self.group_ids[*g];
                let join = format!("/api/v1/groups/{gid}/join");
                if *g != PRIVATE_GROUP || model.member(*a, *g) {
                    let r = app.post_json(&join, self.token(*a), json!({})).await;
                    let status = r.status();
                    let body = json_body(r).await;
                    let complaint = (status == StatusCode::OK
                        && body["relationship"]["member"] != true)
                        .then(|| format!("join answered {body}, not a membership"));
                    return (status, None, complaint);
                }
                let owner = self.token(OWNERS[*g]);
                match path {
                    JoinPath::Request => {
                        let r = app.post_json(&join, self.token(*a), json!({})).await;
                        let status = r.status();
                        let body = json_body(r).await;
                        if status != StatusCode::OK
                            || body["relationship"]["member"] != false
                            || body["relationship"]["requested"] != true
                        {
                            return (
                                status,
                                None,
                                Some(format!(
                                    "asking to join the private group answered {status} {body}, \
                                     not a pending request"
                                )),
                            );
                        }
                        let r = app
                            .post_json(
                                &format!(
                                    "/api/v1/groups/{gid}/requests/{}/authorize",
                                    self.account_ids[*a]
                                ),
                                owner,
                                json!({}),
                            )
                            .await;
                        (status_of(r), None, None)
                    }
                    JoinPath::Invitation => {
                        let r = app
                            .post_json(
                                &format!("/api/v1/groups/{gid}/invitations"),
                                owner,
                                json!({"account_ids": [self.account_ids[*a]]}),
                            )
                            .await;
                        if r.status() != StatusCode::OK {
                            let status = r.status();
                            let body = json_body(r).await;
                            return (
                                status,
                                None,
                                Some(format!("invitation answered {status} {body}")),
                            );
                        }
                        let r = app.post_json(&join, self.token(*a), json!({})).await;
                        let status = r.status();
                        let body = json_body(r).await;
                        let complaint = (status == StatusCode::OK
                            && body["relationship"]["member"] != true)
                            .then(|| format!("joining when invited answered {body}"));
                        (status, None, complaint)
                    }
                }
            }
            Op::Leave(a, g) => {
                let r = app
                    .post_json(
                        &format!("/api/v1/groups/{}/leave", self.group_ids[*g]),
                        self.token(*a),
                        json!({}),
                    )
                    .await;
                (status_of(r), None, None)
            }
            Op::Post {
                author,
                visibility,
                mentions,
                group,
            } => {
                let body = post_body(
                    step,
                    *visibility,
                    mentions,
                    group.map(|g| &self.group_ids[g]),
                );
                let r = app
                    .post_json("/api/v1/statuses", self.token(*author), body)
                    .await;
                let status = r.status();
                let body = json_body(r).await;
                (status, Some(body), None)
            }
            Op::Delete { actor, post } => {
                let r = app
                    .delete(
                        &format!("/api/v1/statuses/{}", model.posts[*post].id),
                        self.token(*actor),
                    )
                    .await;
                (status_of(r), None, None)
            }
        }
    }
}

fn post_body(step: usize, visibility: Vis, mentions: &[usize], group: Option<&String>) -> Value {
    let mut body = json!({
        "status": post_text(step, mentions),
        "visibility": visibility.as_str(),
    });
    if let Some(g) = group {
        body["group_id"] = json!(g);
    }
    body
}

// ---------------------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------------------

/// One read to check after a step.
#[derive(Debug, Clone)]
enum Probe {
    Status { viewer: Option<usize>, post: usize },
    Home { viewer: usize },
    Group { viewer: Option<usize>, group: usize },
}

/// What a read answered: its status and, for a timeline answering 200, the ids.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    ids: Vec<String>,
    error: Option<String>,
}

fn viewer_name(v: Option<usize>) -> &'static str {
    v.map_or("anonymous", name)
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> (StatusCode, Option<Value>) {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url} failed to send: {e}"));
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).ok())
}

/// Reads a timeline to its end (pages of [`PAGE`], following `max_id`).
async fn read_timeline(client: &reqwest::Client, base: &str, token: Option<&str>) -> Answer {
    let mut ids: Vec<String> = Vec::new();
    let mut max_id: Option<String> = None;
    loop {
        let url = match &max_id {
            Some(m) => format!("{base}?limit={PAGE}&max_id={m}"),
            None => format!("{base}?limit={PAGE}"),
        };
        let (status, body) = get(client, &url, token).await;
        if status != StatusCode::OK {
            return Answer {
                status,
                ids: Vec::new(),
                error: None,
            };
        }
        let Some(items) = body.as_ref().and_then(Value::as_array) else {
            return Answer {
                status,
                ids,
                error: Some(format!("GET {url}: body is not a JSON array: {body:?}")),
            };
        };
        let page: Vec<String> = items
            .iter()
            .map(|s| s["id"].as_str().unwrap_or("?").to_owned())
            .collect();
        let short = page.len() < PAGE;
        max_id = page.last().cloned();
        ids.extend(page);
        if short || max_id.is_none() || ids.len() > 10 * PAGE {
            return Answer {
                status,
                ids,
                error: None,
            };
        }
    }
}

/// Runs every probe concurrently; answers in probe order.
async fn run_probes(world: &World, model: &Model, probes: &[Probe]) -> Vec<Answer> {
    let mut set = JoinSet::new();
    for (i, probe) in probes.iter().enumerate() {
        let client = world.app.client.clone();
        let base = world.app.base_url.clone();
        let token = |v: Option<usize>| v.map(|u| world.tokens[u].clone());
        let (url, token, timeline) = match probe {
            Probe::Status { viewer, post } => (
                format!("{base}/api/v1/statuses/{}", model.posts[*post].id),
                token(*viewer),
                false,
            ),
            Probe::Home { viewer } => (
                format!("{base}/api/v1/timelines/home"),
                token(Some(*viewer)),
                true,
            ),
            Probe::Group { viewer, group } => (
                format!("{base}/api/v1/groups/{}/timeline", world.group_ids[*group]),
                token(*viewer),
                true,
            ),
        };
        set.spawn(async move {
            let answer = if timeline {
                read_timeline(&client, &url, token.as_deref()).await
            } else {
                let (status, body) = get(&client, &url, token.as_deref()).await;
                let error = (status == StatusCode::OK
                    && body.as_ref().and_then(|b| b["id"].as_str()) != url.rsplit('/').next())
                .then(|| format!("GET {url} answered another post: {body:?}"));
                Answer {
                    status,
                    ids: Vec::new(),
                    error,
                }
            };
            (i, answer)
        });
    }
    let mut answers: BTreeMap<usize, Answer> = BTreeMap::new();
    while let Some(done) = set.join_next().await {
        let (i, answer) = done.expect("probe task");
        answers.insert(i, answer);
    }
    answers.into_values().collect()
}

/// Every read to check: each post for each reader, each home, each group timeline.
fn probes(model: &Model) -> Vec<Probe> {
    let viewers: Vec<Option<usize>> = (0..USERS).map(Some).chain([None]).collect();
    let mut out = Vec::new();
    for v in &viewers {
        for post in 0..model.posts.len() {
            out.push(Probe::Status { viewer: *v, post });
        }
        if let Some(u) = v {
            out.push(Probe::Home { viewer: *u });
        }
        for group in 0..2 {
            out.push(Probe::Group { viewer: *v, group });
        }
    }
    out
}

/// Compares the answers with the model; returns the mismatches.
fn compare(model: &Model, probes: &[Probe], answers: &[Answer]) -> Vec<String> {
    let mut bad = Vec::new();
    for (probe, answer) in probes.iter().zip(answers) {
        if let Some(e) = &answer.error {
            bad.push(e.clone());
        }
        match probe {
            Probe::Status { viewer, post } => {
                let p = &model.posts[*post];
                let expected = if model.may_see(*viewer, p) {
                    StatusCode::OK
                } else {
                    StatusCode::NOT_FOUND
                };
                if answer.status != expected {
                    bad.push(format!(
                        "GET /api/v1/statuses/{} as {}: expected {expected}, got {} — {}",
                        p.id,
                        viewer_name(*viewer),
                        answer.status,
                        model.post_line(*post, p)
                    ));
                }
            }
            Probe::Home { viewer } => {
                let expected = model.home(*viewer);
                if answer.status != StatusCode::OK || answer.ids != expected {
                    bad.push(format!(
                        "home of {}: expected {} {}, got {} {}{}",
                        name(*viewer),
                        StatusCode::OK,
                        model.labels(&expected),
                        answer.status,
                        model.labels(&answer.ids),
                        model.difference(&expected, &answer.ids)
                    ));
                }
            }
            Probe::Group { viewer, group } => {
                let expected = model.group_timeline(*viewer, *group);
                let what = format!(
                    "timeline of {} as {}",
                    GROUP_NAMES[*group],
                    viewer_name(*viewer)
                );
                let ok = match viewer {
                    Some(u) if *group == PRIVATE_GROUP && !model.member(*u, *group) => {
                        answer.status == StatusCode::FORBIDDEN
                    }
                    Some(_) => answer.status == StatusCode::OK && answer.ids == expected,
                    None if *group == PRIVATE_GROUP => answer.status != StatusCode::OK,
                    None => {
                        answer.status == StatusCode::UNAUTHORIZED
                            || (answer.status == StatusCode::OK && answer.ids == expected)
                    }
                };
                if !ok {
                    bad.push(format!(
                        "{what}: expected {}, got {} {}{}",
                        match viewer {
                            Some(u) if *group == PRIVATE_GROUP && !model.member(*u, *group) =>
                                "403".to_owned(),
                            None if *group == PRIVATE_GROUP => "no 200".to_owned(),
                            None => format!("401 or 200 {}", model.labels(&expected)),
                            Some(_) => format!("200 {}", model.labels(&expected)),
                        },
                        answer.status,
                        model.labels(&answer.ids),
                        if answer.status == StatusCode::OK {
                            model.difference(&expected, &answer.ids)
                        } else {
                            String::new()
                        }
                    ));
                }
            }
        }
    }
    bad
}

// ---------------------------------------------------------------------------------------
// Sequences
// ---------------------------------------------------------------------------------------

fn env_number(key: &str) -> Option<u64> {
    let raw = std::env::var(key).ok()?;
    Some(
        raw.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{key} must be a number, not {raw:?}")),
    )
}

fn report(seed: u64, step: usize, log: &[String], model: &Model, problems: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "visibility property failed: seed {seed}, step {step} (replay: \
         STARLING_PROPTEST_SEED={seed} STARLING_PROPTEST_STEPS={} cargo test \
         -p starling-testkit --test visibility_property)",
        step + 1
    );
    let _ = writeln!(s, "mismatches ({}):", problems.len());
    for p in problems.iter().take(40) {
        let _ = writeln!(s, "  {p}");
    }
    if problems.len() > 40 {
        let _ = writeln!(s, "  … and {} more", problems.len() - 40);
    }
    let _ = writeln!(s, "operations (accounts: {}):", NAMES.join(", "));
    for line in log {
        let _ = writeln!(s, "  {line}");
    }
    let _ = writeln!(s, "model after the last operation:");
    s.push_str(&model.describe());
    s
}

async fn run_sequence(seed: u64, steps: usize) -> Result<usize, String> {
    let world = World::new().await;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Model::new();
    let mut log: Vec<String> = vec![format!(
        "setup: {} creates {} (id {}), {} creates {} (id {})",
        name(OWNERS[0]),
        GROUP_NAMES[0],
        world.group_ids[0],
        name(OWNERS[1]),
        GROUP_NAMES[1],
        world.group_ids[1]
    )];
    let mut requests = 0;
    for step in 0..steps {
        let op = generate(&mut rng, &model);
        let expected = model.expected_status(&op);
        let line = world.requests(&op, step, &model);
        let (status, body, complaint) = world.perform(&op, step, &model).await;
        let mut problems: Vec<String> = complaint.into_iter().collect();
        log.push(format!(
            "step {step}: {line} → {status}{}",
            if status == expected {
                String::new()
            } else {
                format!(" (expected {expected})")
            }
        ));
        if status != expected {
            problems.push(format!(
                "step {step}: {line} answered {status}, expected {expected}: {}",
                body.as_ref().map(Value::to_string).unwrap_or_default()
            ));
            return Err(report(seed, step, &log, &model, &problems));
        }
        if status == StatusCode::OK {
            let new_id = match (&op, &body) {
                (Op::Post { .. }, Some(b)) => Some(b["id"].as_str().unwrap_or("?").to_owned()),
                _ => None,
            };
            model.apply(&op, new_id);
            if let (Op::Post { .. }, Some(b)) = (&op, &body) {
                let i = model.posts.len() - 1;
                let p = &model.posts[i];
                let _ = write!(
                    log.last_mut().expect("logged"),
                    " = {}",
                    model.post_line(i, p)
                );
                if b["visibility"] != p.visibility.as_str() {
                    problems.push(format!(
                        "new post p{i} has visibility {}, expected {}",
                        b["visibility"],
                        p.visibility.as_str()
                    ));
                }
                let mut got: Vec<&str> = b["mentions"]
                    .as_array()
                    .map(|m| m.iter().filter_map(|a| a["id"].as_str()).collect())
                    .unwrap_or_default();
                got.sort_unstable();
                let mut want: Vec<&str> = p
                    .mentions
                    .iter()
                    .map(|u| world.account_ids[*u].as_str())
                    .collect();
                want.sort_unstable();
                if got != want {
                    problems.push(format!(
                        "new post p{i} mentions accounts {got:?}, expected {want:?}"
                    ));
                }
            }
        }
        let probes = probes(&model);
        let answers = run_probes(&world, &model, &probes).await;
        requests += probes.len() + 1;
        problems.extend(compare(&model, &probes, &answers));
        if !problems.is_empty() {
            return Err(report(seed, step, &log, &model, &problems));
        }
    }
    world.app.stop().await;
    Ok(requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn visibility_matches_the_model_after_every_step() {
    let fixed = env_number("STARLING_PROPTEST_SEED");
    let sequences =
        env_number("STARLING_PROPTEST_SEQUENCES").unwrap_or(if fixed.is_some() { 1 } else { 3 });
    let steps = env_number("STARLING_PROPTEST_STEPS").unwrap_or(60) as usize;
    for i in 0..sequences {
        let seed = match fixed {
            Some(s) => s.wrapping_add(i),
            None => rand::random(),
        };
        let started = Instant::now();
        eprintln!("visibility_property: sequence {i}, seed {seed}, {steps} steps");
        match run_sequence(seed, steps).await {
            Ok(requests) => eprintln!(
                "visibility_property: seed {seed} passed ({requests} requests in {:.1} s)",
                started.elapsed().as_secs_f64()
            ),
            Err(report) => panic!("{report}"),
        }
    }
}

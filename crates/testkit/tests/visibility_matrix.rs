#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.
//! The visibility matrix: every kind of post × every kind of viewer × every read path,
//! with the expected answer of each cell written out in [`MATRIX`] so a reader can check
//! the whole promise by eye.
//!
//! It proves that each read path of the API shows a post to exactly the viewers the one
//! visibility rule allows, and lists it only where that path should: the single post, the
//! context of its thread, the home, public, hashtag, account and group timelines,
//! notifications, conversations and the favourited_by / reblogged_by lists. The kinds of
//! post are the four Mastodon visibilities (with direct posts to one and to three
//! people), a post in a public group, a post in a private group, a reply inside the
//! private group (which stays in the group by itself) and a reblog of each post that can
//! be reblogged; the ones that cannot are refused ([`REFUSED_REBLOGS`]). The viewers cover
//! every relation that matters: author, follower, stranger, mentioned account, group
//! member and admin, follower-and-mentioned non-member, pending join request, an account
//! the author blocked, one that blocked the author, a deactivated account (whose token
//! answers 401 everywhere), a network administrator (no extra access) and anonymous.
//!
//! Every cell is checked and failures are collected (see [`Findings`]), so one run lists
//! every wrong cell instead of stopping at the first. The matrix runs twice: with posts
//! fanned out to homes on write, and with every author "celebrity" (merged on read).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use starling_testkit::{TestApp, spawn_app, spawn_app_with};
use std::collections::HashMap;

/// An id that no post has.
const MISSING: &str = "999999999999999";

// ---------------------------------------------------------------------------------------
// The expectations
// ---------------------------------------------------------------------------------------

/// The viewers, in column order. All relations are to `ana`, who wrote every post (the
/// reblogs are by `rbl`, an account that is not a column):
///
/// ```text
/// ana   the author; owner of both groups.
/// fan   follows ana (with the bell) and rbl.
/// eve   no relation to anyone (the non-follower).
/// men   mentioned in every post (the one recipient of DM1, one of DM3's three).
/// mem   member of both groups (asked to hear of every post); follows nobody.
/// adm   admin of both groups; otherwise as mem (a group role adds nothing to reading).
/// non   the non-member: follows ana (bell) and is mentioned in every non-direct post,
///       group posts included, but is in neither group.
/// pnd   asked to join the private group; the request is still pending.
/// bob   blocked BY ana (after the posts): had followed ana and rbl, was a member of
///       both groups, is mentioned in every non-direct post and in DM3.
/// blk   BLOCKS ana (after the posts); had the same relations as bob.
/// dee   deactivated (after the posts): had followed ana and rbl, was a member of both
///       groups, is mentioned in every non-direct post. Its token must answer 401.
/// ops   a network administrator with no other relation: no extra access.
/// anon  no token at all.
/// ```
const VIEWERS: [&str; 13] = [
    "ana", "fan", "eve", "men", "mem", "adm", "non", "pnd", "bob", "blk", "dee", "ops", "anon",
];

/// The posts, in row order. Every original is by ana, carries `#vmx` and a unique marker
/// word (`zzPUBzz`, …) that a leak would carry:
///
/// ```text
/// PUB     public, mentioning men, non, bob, blk and dee.
/// UNL     unlisted, same mentions.
/// FOL     followers-only ("private"), same mentions.
/// DM1     direct to men alone.
/// DM3     direct to three: men, bob and blk.
/// PGP     in the public group (so "unlisted"), same mentions as PUB.
/// PRG     in the private group (so "private"), same mentions as PUB.
/// RPL     ana's reply to PRG, sent without group_id and asking for "public": it stays
///         in the private group.
/// RB-PUB  rbl's reblogs of PUB, UNL and PGP (fan, bob, blk and dee follow rbl).
/// RB-UNL
/// RB-PGP
/// ```
///
/// Setup also makes each original (but PRG and RPL, which answer each other) a thread: ana
/// replies to it publicly with no tag, marker or mention (in the public group the reply
/// stays there). men favourites every post it can read, mem favourites PRG and RPL.
const POSTS: [&str; 11] = [
    "PUB", "UNL", "FOL", "DM1", "DM3", "PGP", "PRG", "RPL", "RB-PUB", "RB-UNL", "RB-PGP",
];

/// The read paths, in the order of [`MATRIX`]'s blocks.
const PATHS: [&str; 10] = [
    "status",
    "context",
    "home",
    "public",
    "tag",
    "account",
    "group",
    "notifications",
    "conversations",
    "who",
];

/// What every viewer gets, per read path and post. A cell is:
///
/// - `Y` the viewer gets the post there;
/// - `.` the viewer does not: on a single-post route a 404 byte for byte like a missing
///   id; in a listing (200) the post is not an item — and if the viewer may not read the
///   post at all (`.` in the `status` block), neither its marker nor its id shows anywhere
///   in the answer;
/// - `401`, `403`, `404` the whole route answers that status (a 404 exactly as for a
///   missing id), showing nothing;
/// - `-` the path does not apply to this kind of post (not requested).
///
/// The paths:
///
/// - `status`   `GET /api/v1/statuses/:id` (for a reblog, the wrapper's id).
/// - `context`  `GET /api/v1/statuses/:id/context` answers, and the thread read from its
///   other end lists the post: the public reply's context (PRG: RPL's; RPL: PRG's
///   descendants). A reblog has no thread: only its own context is asked for.
/// - `home`     `GET /api/v1/timelines/home`: own posts, posts of followed accounts
///   (group posts excepted), direct posts to the viewer, posts of the viewer's groups.
/// - `public`   `GET /api/v1/timelines/public`: public originals only.
/// - `tag`      `GET /api/v1/timelines/tag/vmx`: public originals only (as in Mastodon:
///   never unlisted, so never a group post), never followers-only, direct or reblogs.
/// - `account`  `GET /api/v1/accounts/:id/statuses` of the post's author (ana; for a
///   reblog rbl, the reblogger).
/// - `group`    `GET /api/v1/groups/:id/timeline` of the post's group (RB-PGP: the public
///   group's, which lists no reblogs); a private group's answers 403 to non-members and
///   404 to anonymous readers.
/// - `notifications` `GET /api/v1/notifications` has a notification about the post
///   (mention, bell "status", favourite); for a reblog: ana's "reblog" notification from
///   rbl about the original.
/// - `conversations` `GET /api/v1/conversations` has the post as a conversation's last
///   status.
/// - `who`      `GET /api/v1/statuses/:id/favourited_by` lists men (mem for PRG and RPL);
///   for a reblog `GET /api/v1/statuses/:original/reblogged_by` lists rbl.
#[rustfmt::skip]
const MATRIX: &[(&str, &str, &str)] = &[
    // status: the visibility rule itself. A private group's posts: members and the author
    // only, whatever mention or follow; blocks hide both ways; no admin privilege.
    //                              ana fan eve men mem adm non pnd bob blk dee ops anon
    ("status", "PUB",              "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("status", "UNL",              "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("status", "FOL",              "Y   Y   .   Y   .   .   Y   .   .   .   401 .   ."),
    ("status", "DM1",              "Y   .   .   Y   .   .   .   .   .   .   401 .   ."),
    ("status", "DM3",              "Y   .   .   Y   .   .   .   .   .   .   401 .   ."),
    ("status", "PGP",              "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("status", "PRG",              "Y   .   .   .   Y   Y   .   .   .   .   401 .   ."),
    ("status", "RPL",              "Y   .   .   .   Y   Y   .   .   .   .   401 .   ."),
    ("status", "RB-PUB",           "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("status", "RB-UNL",           "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("status", "RB-PGP",           "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),

    // context: as status (a hidden post is neither asked for nor listed in its thread).
    //                              ana fan eve men mem adm non pnd bob blk dee ops anon
    ("context", "PUB",             "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("context", "UNL",             "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("context", "FOL",             "Y   Y   .   Y   .   .   Y   .   .   .   401 .   ."),
    ("context", "DM1",             "Y   .   .   Y   .   .   .   .   .   .   401 .   ."),
    ("context", "DM3",             "Y   .   .   Y   .   .   .   .   .   .   401 .   ."),
    ("context", "PGP",             "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("context", "PRG",             "Y   .   .   .   Y   Y   .   .   .   .   401 .   ."),
    ("context", "RPL",             "Y   .   .   .   Y   Y   .   .   .   .   401 .   ."),
    ("context", "RB-PUB",          "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("context", "RB-UNL",          "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("context", "RB-PGP",          "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),

    // home: being mentioned brings only direct posts home; group posts come home to
    // members only (not to the author's followers: fan, non); rbl's reblogs reach rbl's
    // followers (fan), not ana. bob and blk lost their follows with the blocks.
    //                              ana fan eve men mem adm non pnd bob blk dee ops anon
    ("home", "PUB",                "Y   Y   .   .   .   .   Y   .   .   .   401 .   401"),
    ("home", "UNL",                "Y   Y   .   .   .   .   Y   .   .   .   401 .   401"),
    ("home", "FOL",                "Y   Y   .   .   .   .   Y   .   .   .   401 .   401"),
    ("home", "DM1",                "Y   .   .   Y   .   .   .   .   .   .   401 .   401"),
    ("home", "DM3",                "Y   .   .   Y   .   .   .   .   .   .   401 .   401"),
    ("home", "PGP",                "Y   .   .   .   Y   Y   .   .   .   .   401 .   401"),
    ("home", "PRG",                "Y   .   .   .   Y   Y   .   .   .   .   401 .   401"),
    ("home", "RPL",                "Y   .   .   .   Y   Y   .   .   .   .   401 .   401"),
    ("home", "RB-PUB",             ".   Y   .   .   .   .   .   .   .   .   401 .   401"),
    ("home", "RB-UNL",             ".   Y   .   .   .   .   .   .   .   .   401 .   401"),
    ("home", "RB-PGP",             ".   Y   .   .   .   .   .   .   .   .   401 .   401"),

    // public: the public original only, for everyone who may read it.
    //                              ana fan eve men mem adm non pnd bob blk dee ops anon
    ("public", "PUB",              "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("public", "UNL",              ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("public", "FOL",              ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("public", "DM1",              ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("public", "DM3",              ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("public", "PGP",              ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("public", "PRG",              ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("public", "RPL",              ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("public", "RB-PUB",           ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("public", "RB-UNL",           ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("public", "RB-PGP",           ".   .   .   .   .   .   .   .   .   .   401 .   ."),

    // tag: public originals only, as in Mastodon: nothing unlisted (so no group post),
    // followers-only or direct, not even for the author or members.
    //                              ana fan eve men mem adm non pnd bob blk dee ops anon
    ("tag", "PUB",                 "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("tag", "UNL",                 ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("tag", "FOL",                 ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("tag", "DM1",                 ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("tag", "DM3",                 ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("tag", "PGP",                 ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("tag", "PRG",                 ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("tag", "RPL",                 ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("tag", "RB-PUB",              ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("tag", "RB-UNL",              ".   .   .   .   .   .   .   .   .   .   401 .   ."),
    ("tag", "RB-PGP",              ".   .   .   .   .   .   .   .   .   .   401 .   ."),

    // account: the author's profile lists what the viewer may read (as status).
    //                              ana fan eve men mem adm non pnd bob blk dee ops anon
    ("account", "PUB",             "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("account", "UNL",             "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("account", "FOL",             "Y   Y   .   Y   .   .   Y   .   .   .   401 .   ."),
    ("account", "DM1",             "Y   .   .   Y   .   .   .   .   .   .   401 .   ."),
    ("account", "DM3",             "Y   .   .   Y   .   .   .   .   .   .   401 .   ."),
    ("account", "PGP",             "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("account", "PRG",             "Y   .   .   .   Y   Y   .   .   .   .   401 .   ."),
    ("account", "RPL",             "Y   .   .   .   Y   Y   .   .   .   .   401 .   ."),
    ("account", "RB-PUB",          "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("account", "RB-UNL",          "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("account", "RB-PGP",          "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),

    // group: the public group's timeline is open to everyone; the private group's is 403
    // to non-members (pending request included) and 404 to anonymous readers, exactly as
    // for a missing group; bob and blk are still members, but the block hides ana's posts
    // there too.
    //                              ana fan eve men mem adm non pnd bob blk dee ops anon
    ("group", "PUB",               "-   -   -   -   -   -   -   -   -   -   -   -   -"),
    ("group", "UNL",               "-   -   -   -   -   -   -   -   -   -   -   -   -"),
    ("group", "FOL",               "-   -   -   -   -   -   -   -   -   -   -   -   -"),
    ("group", "DM1",               "-   -   -   -   -   -   -   -   -   -   -   -   -"),
    ("group", "DM3",               "-   -   -   -   -   -   -   -   -   -   -   -   -"),
    ("group", "PGP",               "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("group", "PRG",               "Y   403 403 403 Y   Y   403 403 .   .   401 403 404"),
    ("group", "RPL",               "Y   403 403 403 Y   Y   403 403 .   .   401 403 404"),
    ("group", "RB-PUB",            "-   -   -   -   -   -   -   -   -   -   -   -   -"),
    ("group", "RB-UNL",            "-   -   -   -   -   -   -   -   -   -   -   -   -"),
    ("group", "RB-PGP",            ".   .   .   .   .   .   .   .   .   .   401 .   ."),

    // notifications: ana hears of men's favourites (mem's for PRG and RPL) and of rbl's
    // reblogs; mentioned accounts of mentions — but of a private group's post only
    // members hear; bell followers (fan, non) of non-direct posts they may read; members
    // who asked (mem, adm) of their groups' posts. Blocks silence everything.
    //                              ana fan eve men mem adm non pnd bob blk dee ops anon
    ("notifications", "PUB",       "Y   Y   .   Y   .   .   Y   .   .   .   401 .   401"),
    ("notifications", "UNL",       "Y   Y   .   Y   .   .   Y   .   .   .   401 .   401"),
    ("notifications", "FOL",       "Y   Y   .   Y   .   .   Y   .   .   .   401 .   401"),
    ("notifications", "DM1",       "Y   .   .   Y   .   .   .   .   .   .   401 .   401"),
    ("notifications", "DM3",       "Y   .   .   Y   .   .   .   .   .   .   401 .   401"),
    ("notifications", "PGP",       "Y   Y   .   Y   Y   Y   Y   .   .   .   401 .   401"),
    ("notifications", "PRG",       "Y   .   .   .   Y   Y   .   .   .   .   401 .   401"),
    ("notifications", "RPL",       "Y   .   .   .   Y   Y   .   .   .   .   401 .   401"),
    ("notifications", "RB-PUB",    "Y   .   .   .   .   .   .   .   .   .   401 .   401"),
    ("notifications", "RB-UNL",    "Y   .   .   .   .   .   .   .   .   .   401 .   401"),
    ("notifications", "RB-PGP",    "Y   .   .   .   .   .   .   .   .   .   401 .   401"),

    // conversations: direct posts only, for their participants (the blocks end bob's and
    // blk's part in DM3).
    //                              ana fan eve men mem adm non pnd bob blk dee ops anon
    ("conversations", "PUB",       ".   .   .   .   .   .   .   .   .   .   401 .   401"),
    ("conversations", "UNL",       ".   .   .   .   .   .   .   .   .   .   401 .   401"),
    ("conversations", "FOL",       ".   .   .   .   .   .   .   .   .   .   401 .   401"),
    ("conversations", "DM1",       "Y   .   .   Y   .   .   .   .   .   .   401 .   401"),
    ("conversations", "DM3",       "Y   .   .   Y   .   .   .   .   .   .   401 .   401"),
    ("conversations", "PGP",       ".   .   .   .   .   .   .   .   .   .   401 .   401"),
    ("conversations", "PRG",       ".   .   .   .   .   .   .   .   .   .   401 .   401"),
    ("conversations", "RPL",       ".   .   .   .   .   .   .   .   .   .   401 .   401"),
    ("conversations", "RB-PUB",    ".   .   .   .   .   .   .   .   .   .   401 .   401"),
    ("conversations", "RB-UNL",    ".   .   .   .   .   .   .   .   .   .   401 .   401"),
    ("conversations", "RB-PGP",    ".   .   .   .   .   .   .   .   .   .   401 .   401"),

    // who: favourited_by / reblogged_by answer exactly who may read the post (as status).
    //                              ana fan eve men mem adm non pnd bob blk dee ops anon
    ("who", "PUB",                 "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("who", "UNL",                 "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("who", "FOL",                 "Y   Y   .   Y   .   .   Y   .   .   .   401 .   ."),
    ("who", "DM1",                 "Y   .   .   Y   .   .   .   .   .   .   401 .   ."),
    ("who", "DM3",                 "Y   .   .   Y   .   .   .   .   .   .   401 .   ."),
    ("who", "PGP",                 "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("who", "PRG",                 "Y   .   .   .   Y   Y   .   .   .   .   401 .   ."),
    ("who", "RPL",                 "Y   .   .   .   Y   Y   .   .   .   .   401 .   ."),
    ("who", "RB-PUB",              "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("who", "RB-UNL",              "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
    ("who", "RB-PGP",              "Y   Y   Y   Y   Y   Y   Y   Y   .   .   401 Y   Y"),
];

/// Reblogs that must be refused, before the blocks: (post, who tries, status). 403 for
/// someone who may read the post (it is not public), 404 exactly like a missing post for
/// someone who may not. Afterwards nothing is stored: the post has no rebloggers.
#[rustfmt::skip]
const REFUSED_REBLOGS: &[(&str, &str, u16)] = &[
    ("FOL", "fan", 403),
    ("FOL", "rbl", 404),
    ("DM1", "men", 403),
    ("DM1", "ana", 403), // not even its author reblogs a direct post
    ("DM1", "rbl", 404),
    ("DM3", "men", 403),
    ("PRG", "mem", 403),
    ("PRG", "ana", 403), // not even its author: the group is its audience
    ("PRG", "non", 404), // follows ana and is mentioned, but is no member
    ("PRG", "rbl", 404),
    ("RPL", "adm", 403),
    ("RPL", "pnd", 404),
];

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A signed-up account.
struct User {
    token: String,
    id: String,
}

/// One row of the matrix, as set up.
struct Post {
    /// The post's id (a reblog's: the wrapper's).
    id: String,
    /// The word only this post's text (or a reblog's original's) carries.
    marker: String,
    /// The account whose profile lists it (ana; rbl for a reblog).
    author: String,
    /// A reblog's original.
    original: Option<String>,
    /// The other end of its thread and whether this post is an ancestor there.
    thread: Option<(String, bool)>,
    /// Who favourited it (an original) or reblogged the original (a reblog).
    marked_by: String,
    /// The group whose timeline is checked.
    group: Option<String>,
}

/// Any request; returns the status and the raw body (markers are searched in the raw
/// text, so no field can hide a leak).
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut request = app.request(method.clone(), path, token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status();
    (status, response.text().await.unwrap())
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// A setup request that must succeed; returns its JSON.
async fn must(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> Value {
    let (status, text) = call(app, method.clone(), path, Some(token), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "setup {method} {path}: {text}");
    parse(&text)
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

async fn user(app: &TestApp, name: &str) -> User {
    let token = app.sign_up(name).await;
    let (status, text) = call(
        app,
        Method::GET,
        "/api/v1/accounts/verify_credentials",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "verify_credentials of {name}: {text}"
    );
    User {
        id: id_of(&parse(&text)),
        token,
    }
}

fn short(body: &str) -> String {
    const MAX: usize = 300;
    if body.len() <= MAX {
        return body.to_owned();
    }
    let cut = (0..=MAX)
        .rev()
        .find(|i| body.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}… ({} bytes)", &body[..cut], body.len())
}

/// The ids of every status object anywhere in a JSON answer (items, reblogged originals,
/// notifications' and conversations' statuses, context lists).
fn status_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("content")
                && m.contains_key("visibility")
                && let Some(id) = m.get("id").and_then(Value::as_str)
            {
                out.push(id.to_owned());
            }
            m.values().for_each(|x| status_ids(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| status_ids(x, out)),
        _ => {}
    }
}

/// The matrix's cell for (path, post, viewer).
fn cell(path: &str, post: &str, viewer: usize) -> &'static str {
    let (_, _, cells) = MATRIX
        .iter()
        .find(|(p, k, _)| *p == path && *k == post)
        .unwrap_or_else(|| panic!("no row for {path} / {post}"));
    cells.split_whitespace().nth(viewer).unwrap()
}

/// The status a `401`, `403` or `404` cell stands for (`None` for the others).
fn refused(c: &str) -> Option<StatusCode> {
    c.parse::<u16>()
        .ok()
        .map(|code| StatusCode::from_u16(code).unwrap())
}

/// The table is complete, in order, and every cell is one of the legend's.
fn check_table_shape() {
    assert_eq!(
        MATRIX.len(),
        PATHS.len() * POSTS.len(),
        "one row per path and post"
    );
    for (i, (path, post, cells)) in MATRIX.iter().enumerate() {
        assert_eq!(*path, PATHS[i / POSTS.len()], "row {i} is out of order");
        assert_eq!(*post, POSTS[i % POSTS.len()], "row {i} is out of order");
        let tokens: Vec<&str> = cells.split_whitespace().collect();
        assert_eq!(tokens.len(), VIEWERS.len(), "{path} / {post}: {cells:?}");
        for t in tokens {
            assert!(
                ["Y", ".", "-", "401", "403", "404"].contains(&t),
                "{path} / {post}: bad cell {t:?}"
            );
        }
    }
}

/// Failures found so far: every check records a line instead of panicking, and
/// [`Findings::assert_none`] fails the test with all of them.
struct Findings<'a> {
    app: &'a TestApp,
    failures: Vec<String>,
    /// Listings answer the same for every post: fetched once per (path, token).
    cache: HashMap<(String, Option<String>), (StatusCode, String)>,
}

impl<'a> Findings<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            failures: Vec::new(),
            cache: HashMap::new(),
        }
    }

    fn expect(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(what());
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, String) {
        call(self.app, Method::GET, path, token, None).await
    }

    async fn cached(&mut self, path: &str, token: Option<&str>) -> (StatusCode, String) {
        let key = (path.to_owned(), token.map(str::to_owned));
        if let Some(hit) = self.cache.get(&key) {
            return hit.clone();
        }
        let answer = self.get(path, token).await;
        self.cache.insert(key, answer.clone());
        answer
    }

    /// The request aimed at `id` answers 404 exactly as the same request aimed at a
    /// missing id: nothing tells an invisible post from a missing one.
    async fn hidden(
        &mut self,
        method: Method,
        template: &str,
        id: &str,
        token: Option<&str>,
        what: &str,
    ) {
        let path = template.replace("{id}", id);
        let (status, text) = call(self.app, method.clone(), &path, token, None).await;
        let missing = template.replace("{id}", MISSING);
        let (m_status, m_text) = call(self.app, method.clone(), &missing, token, None).await;
        self.expect(status == StatusCode::NOT_FOUND, || {
            format!(
                "{what}: {method} {path} answered {status}, expected 404: {}",
                short(&text)
            )
        });
        self.expect(
            status != StatusCode::NOT_FOUND || (status, &text) == (m_status, &m_text),
            || {
                format!(
                    "{what}: {method} {path} answered {status} {} but a missing id gets \
                     {m_status} {}",
                    short(&text),
                    short(&m_text)
                )
            },
        );
    }

    /// A single-post route (`template` with `{id}`) for a `Y`, `.` or status cell; for
    /// `Y`, `shows` must hold of the answer.
    async fn single(
        &mut self,
        template: &str,
        id: &str,
        token: Option<&str>,
        c: &str,
        what: &str,
        shows: impl FnOnce(&Value) -> bool,
    ) {
        let path = template.replace("{id}", id);
        match c {
            "." | "404" => self.hidden(Method::GET, template, id, token, what).await,
            "Y" => {
                let (status, text) = self.get(&path, token).await;
                let ok = status == StatusCode::OK && shows(&parse(&text));
                self.expect(ok, || {
                    format!(
                        "{what}: GET {path} answered {status}, expected 200 showing the post: {}",
                        short(&text)
                    )
                });
            }
            _ => {
                let want = refused(c).unwrap();
                let (status, text) = self.get(&path, token).await;
                self.expect(status == want, || {
                    format!(
                        "{what}: GET {path} answered {status}, expected {want}: {}",
                        short(&text)
                    )
                });
            }
        }
    }

    /// A listing for a `Y`, `.` or status cell. `listed` says whether the answer has the
    /// post as an item; `readable` whether the viewer may read the post at all (if not,
    /// a `.` also requires that neither its marker nor its id appears anywhere). A 404
    /// must be exactly the answer for `missing`, the same listing of a missing object.
    #[allow(clippy::too_many_arguments)] // Each names a part of the cell.
    async fn listing(
        &mut self,
        path: &str,
        missing: &str,
        token: Option<&str>,
        c: &str,
        post: &Post,
        readable: bool,
        listed: impl FnOnce(&Value) -> bool,
        what: &str,
    ) {
        let (status, text) = self.cached(path, token).await;
        let want = refused(c).unwrap_or(StatusCode::OK);
        if status != want {
            self.failures.push(format!(
                "{what}: GET {path} answered {status}, expected {want}: {}",
                short(&text)
            ));
            return;
        }
        if want == StatusCode::NOT_FOUND {
            let (m_status, m_text) = self.cached(missing, token).await;
            self.expect((m_status, &m_text) == (status, &text), || {
                format!(
                    "{what}: GET {path} answered {status} {} but a missing id gets {m_status} {}",
                    short(&text),
                    short(&m_text)
                )
            });
        }
        if c == "Y" || c == "." {
            let json = parse(&text);
            let is_listed = listed(&json);
            self.expect(is_listed == (c == "Y"), || {
                let verb = if c == "Y" {
                    "is missing from"
                } else {
                    "is LISTED in"
                };
                format!("{what}: the post {verb} GET {path}: {}", short(&text))
            });
            if c == "Y" || readable {
                return;
            }
            let mut ids = Vec::new();
            status_ids(&json, &mut ids);
            self.expect(!ids.contains(&post.id), || {
                format!(
                    "{what}: LEAK of the post (its id) in GET {path}: {}",
                    short(&text)
                )
            });
        }
        self.expect(!text.contains(&post.marker), || {
            format!(
                "{what}: LEAK of {:?} in GET {path}: {}",
                post.marker,
                short(&text)
            )
        });
    }

    fn assert_none(self) {
        assert!(
            self.failures.is_empty(),
            "{} visibility check(s) failed:\n  - {}",
            self.failures.len(),
            self.failures.join("\n  - ")
        );
    }
}

/// Whether a listing of statuses has `id` as an item.
fn has_item(json: &Value, id: &str) -> bool {
    json.as_array()
        .is_some_and(|a| a.iter().any(|s| s["id"].as_str() == Some(id)))
}

// ---------------------------------------------------------------------------------------
// The network
// ---------------------------------------------------------------------------------------

/// Everything the checks need: the accounts (by name, viewers and rbl) and the posts.
struct World {
    users: HashMap<&'static str, User>,
    posts: HashMap<&'static str, Post>,
}

impl World {
    fn token(&self, name: &str) -> Option<&str> {
        self.users.get(name).map(|u| u.token.as_str())
    }
    fn id(&self, name: &str) -> &str {
        &self.users[name].id
    }
}

async fn follow(app: &TestApp, w: &HashMap<&'static str, User>, who: &str, whom: &str) {
    let rel = must(
        app,
        Method::POST,
        &format!("/api/v1/accounts/{}/follow", w[whom].id),
        &w[who].token,
        json!({"notify": whom == "ana"}),
    )
    .await;
    assert_eq!(rel["following"], true, "{who} follows {whom}");
}

async fn block(app: &TestApp, w: &HashMap<&'static str, User>, who: &str, whom: &str) {
    let rel = must(
        app,
        Method::POST,
        &format!("/api/v1/accounts/{}/block", w[whom].id),
        &w[who].token,
        json!({}),
    )
    .await;
    assert_eq!(rel["blocking"], true, "{who} blocks {whom}");
}

/// ana posts `text` (optionally in a group or as a reply); returns the post's JSON.
async fn post(
    app: &TestApp,
    ana: &str,
    text: &str,
    visibility: &str,
    group: Option<&str>,
    in_reply_to: Option<&str>,
) -> Value {
    must(
        app,
        Method::POST,
        "/api/v1/statuses",
        ana,
        json!({
            "status": text,
            "visibility": visibility,
            "group_id": group,
            "in_reply_to_id": in_reply_to,
        }),
    )
    .await
}

/// Builds the network the doc comments of [`VIEWERS`] and [`POSTS`] describe, checks the
/// refused reblogs on the way, then blocks and deactivates.
async fn build(app: &TestApp, f: &mut Findings<'_>) -> World {
    // Signing up is the slow part (argon2 runs off the async runtime, one hash per
    // account), so all accounts sign up at once.
    let accounts = tokio::join!(
        user(app, "ana"),
        user(app, "fan"),
        user(app, "eve"),
        user(app, "men"),
        user(app, "mem"),
        user(app, "adm"),
        user(app, "non"),
        user(app, "pnd"),
        user(app, "bob"),
        user(app, "blk"),
        user(app, "dee"),
        user(app, "ops"),
        user(app, "rbl"),
    );
    let (ana, fan, eve, men, mem, adm, non, pnd, bob, blk, dee, ops, rbl) = accounts;
    let users: HashMap<&'static str, User> = [
        ("ana", ana),
        ("fan", fan),
        ("eve", eve),
        ("men", men),
        ("mem", mem),
        ("adm", adm),
        ("non", non),
        ("pnd", pnd),
        ("bob", bob),
        ("blk", blk),
        ("dee", dee),
        ("ops", ops),
        ("rbl", rbl),
    ]
    .into();
    assert!(
        VIEWERS
            .iter()
            .all(|v| *v == "anon" || users.contains_key(v))
    );
    app.app
        .set_role("ops", "admin")
        .await
        .expect("make ops a network admin");
    let (_, me) = call(
        app,
        Method::GET,
        "/api/v1/accounts/verify_credentials",
        Some(&users["ops"].token),
        None,
    )
    .await;
    assert_eq!(
        parse(&me)["role"]["name"],
        "Admin",
        "ops is a network admin"
    );
    for who in ["fan", "non", "bob", "blk", "dee"] {
        follow(app, &users, who, "ana").await;
    }
    for who in ["fan", "bob", "blk", "dee"] {
        follow(app, &users, who, "rbl").await;
    }

    let ana = users["ana"].token.clone();
    let mut groups = Vec::new();
    for (name, visibility) in [("Open guild", "public"), ("Closed board", "private")] {
        let g = must(
            app,
            Method::POST,
            "/api/v1/groups",
            &ana,
            json!({"name": name, "description": "matrix", "visibility": visibility}),
        )
        .await;
        groups.push(id_of(&g));
    }
    let (pubg, prig) = (groups[0].clone(), groups[1].clone());
    let joiners = ["mem", "adm", "bob", "blk", "dee"];
    let ids: Vec<&str> = joiners.iter().map(|n| users[n].id.as_str()).collect();
    must(
        app,
        Method::POST,
        &format!("/api/v1/groups/{prig}/invitations"),
        &ana,
        json!({"account_ids": ids}),
    )
    .await;
    for g in [&pubg, &prig] {
        for who in joiners {
            let joined = must(
                app,
                Method::POST,
                &format!("/api/v1/groups/{g}/join"),
                &users[who].token,
                json!({"notify": true}),
            )
            .await;
            assert_eq!(joined["relationship"]["member"], true, "{who} joins {g}");
        }
        let promoted = must(
            app,
            Method::PUT,
            &format!("/api/v1/groups/{g}/members/{}", users["adm"].id),
            &ana,
            json!({"role": "admin"}),
        )
        .await;
        assert!(promoted["id"].is_string());
    }
    let asked = must(
        app,
        Method::POST,
        &format!("/api/v1/groups/{prig}/join"),
        &users["pnd"].token,
        json!({}),
    )
    .await;
    assert_eq!(
        asked["relationship"]["member"], false,
        "pnd's request waits"
    );
    assert_eq!(
        asked["relationship"]["requested"], true,
        "pnd's request waits"
    );

    // The originals.
    let many = "@men @non @bob @blk @dee";
    let mut posts = HashMap::new();
    let originals: [(&'static str, String, &str, Option<&str>); 7] = [
        ("PUB", format!("zzPUBzz #vmx {many}"), "public", None),
        ("UNL", format!("zzUNLzz #vmx {many}"), "unlisted", None),
        ("FOL", format!("zzFOLzz #vmx {many}"), "private", None),
        ("DM1", "@men zzDM1zz #vmx".to_owned(), "direct", None),
        (
            "DM3",
            "@men @bob @blk zzDM3zz #vmx".to_owned(),
            "direct",
            None,
        ),
        (
            "PGP",
            format!("zzPGPzz #vmx {many}"),
            "public",
            Some(pubg.as_str()),
        ),
        (
            "PRG",
            format!("zzPRGzz #vmx {many}"),
            "public",
            Some(prig.as_str()),
        ),
    ];
    for (code, text, visibility, group) in originals {
        let s = post(app, &ana, &text, visibility, group, None).await;
        let want = match code {
            "PGP" => "unlisted",
            "PRG" => "private",
            _ => visibility,
        };
        assert_eq!(s["visibility"], want, "{code}'s visibility");
        posts.insert(
            code,
            Post {
                id: id_of(&s),
                marker: format!("zz{code}zz"),
                author: users["ana"].id.clone(),
                original: None,
                thread: None,
                marked_by: users["men"].id.clone(),
                group: group.map(str::to_owned),
            },
        );
    }
    // The reply inside the private group: no group_id, asks for public, stays in the group.
    let prg = posts["PRG"].id.clone();
    let s = post(
        app,
        &ana,
        &format!("zzRPLzz #vmx {many}"),
        "public",
        None,
        Some(&prg),
    )
    .await;
    assert_eq!(
        s["group"]["id"].as_str(),
        Some(prig.as_str()),
        "RPL stays in the group"
    );
    assert_eq!(s["visibility"], "private", "RPL has the group's audience");
    let rpl = id_of(&s);
    posts.insert(
        "RPL",
        Post {
            id: rpl.clone(),
            marker: "zzRPLzz".into(),
            author: users["ana"].id.clone(),
            original: None,
            thread: Some((prg.clone(), false)),
            marked_by: users["mem"].id.clone(),
            group: Some(prig.clone()),
        },
    );
    posts.get_mut("PRG").unwrap().thread = Some((rpl.clone(), true));
    posts.get_mut("PRG").unwrap().marked_by = users["mem"].id.clone();
    // Every other original gets a public reply (in the public group, it stays there).
    for code in ["PUB", "UNL", "FOL", "DM1", "DM3", "PGP"] {
        let parent = posts[code].id.clone();
        let tail = post(
            app,
            &ana,
            "and one more thing",
            "public",
            None,
            Some(&parent),
        )
        .await;
        posts.get_mut(code).unwrap().thread = Some((id_of(&tail), true));
    }

    // Reblogs: rbl reblogs the three that can be; the others are refused.
    for code in ["PUB", "UNL", "PGP"] {
        let original = posts[code].id.clone();
        let w = must(
            app,
            Method::POST,
            &format!("/api/v1/statuses/{original}/reblog"),
            &users["rbl"].token,
            json!({}),
        )
        .await;
        let rb = format!("RB-{code}");
        let rb: &'static str = POSTS.iter().find(|p| **p == rb).unwrap();
        posts.insert(
            rb,
            Post {
                id: id_of(&w),
                marker: format!("zz{code}zz"),
                author: users["rbl"].id.clone(),
                original: Some(original),
                thread: None,
                marked_by: users["rbl"].id.clone(),
                group: (code == "PGP").then(|| pubg.clone()),
            },
        );
    }
    for (code, who, want) in REFUSED_REBLOGS {
        let what = format!("[{who}] reblog {code} must be refused");
        let template = "/api/v1/statuses/{id}/reblog";
        let token = Some(users[who].token.as_str());
        if *want == 404 {
            f.hidden(Method::POST, template, &posts[code].id, token, &what)
                .await;
        } else {
            let path = template.replace("{id}", &posts[code].id);
            let (status, text) = call(app, Method::POST, &path, token, Some(json!({}))).await;
            f.expect(status.as_u16() == *want, || {
                format!("{what}: POST {path} answered {status}, expected {want}: {text}")
            });
        }
    }
    for code in ["FOL", "DM1", "DM3", "PRG", "RPL"] {
        let path = format!("/api/v1/statuses/{}/reblogged_by", posts[code].id);
        let (status, text) = call(app, Method::GET, &path, Some(&ana), None).await;
        f.expect(
            status == StatusCode::OK && parse(&text) == json!([]),
            || format!("refused reblogs of {code} stored something: GET {path}: {status} {text}"),
        );
    }

    // Favourites, by someone who may read each post.
    for code in ["PUB", "UNL", "FOL", "DM1", "DM3", "PGP", "PRG", "RPL"] {
        let who = if matches!(code, "PRG" | "RPL") {
            "mem"
        } else {
            "men"
        };
        must(
            app,
            Method::POST,
            &format!("/api/v1/statuses/{}/favourite", posts[code].id),
            &users[who].token,
            json!({}),
        )
        .await;
    }

    // Cutting ties after the fact: every trace (follows, memberships, mentions,
    // notifications, conversations, feed rows) stays behind and must show nothing.
    block(app, &users, "ana", "bob").await;
    block(app, &users, "blk", "ana").await;
    app.app.deactivate("dee").await.expect("deactivate dee");

    World { users, posts }
}

/// Checks one cell.
async fn check(f: &mut Findings<'_>, w: &World, path: &str, code: &str, v: usize) {
    let c = cell(path, code, v);
    if c == "-" {
        return;
    }
    let viewer = VIEWERS[v];
    let token = w.token(viewer);
    let post = &w.posts[code];
    let readable = cell("status", code, v) == "Y";
    let what = format!("[{viewer}] {path} / {code} (cell {c})");
    let id = post.id.as_str();
    match path {
        "status" => {
            let shows = |s: &Value| match &post.original {
                Some(o) => s["id"] == id && s["reblog"]["id"] == o.as_str(),
                None => s["id"] == id,
            };
            f.single("/api/v1/statuses/{id}", id, token, c, &what, shows)
                .await;
        }
        "context" => {
            let template = "/api/v1/statuses/{id}/context";
            f.single(template, id, token, c, &what, |_| true).await;
            let Some((other, ancestor)) = &post.thread else {
                return;
            };
            let other_path = template.replace("{id}", other);
            let (status, text) = f.get(&other_path, token).await;
            let what = format!("{what}, read from the other end of its thread");
            let list = if *ancestor {
                "ancestors"
            } else {
                "descendants"
            };
            match c {
                "Y" => {
                    let ok = status == StatusCode::OK && has_item(&parse(&text)[list], id);
                    f.expect(ok, || {
                        format!(
                            "{what}: GET {other_path} answered {status} without the post in \
                             {list}: {}",
                            short(&text)
                        )
                    });
                }
                "." => {
                    let mut ids = Vec::new();
                    if status == StatusCode::OK {
                        status_ids(&parse(&text), &mut ids);
                    }
                    let ok = (status == StatusCode::OK || status == StatusCode::NOT_FOUND)
                        && !ids.contains(&post.id)
                        && !text.contains(&post.marker);
                    f.expect(ok, || {
                        format!(
                            "{what}: LEAK in GET {other_path}: {status} {}",
                            short(&text)
                        )
                    });
                }
                _ => {
                    f.expect(status == StatusCode::UNAUTHORIZED, || {
                        format!("{what}: GET {other_path} answered {status}, expected 401")
                    });
                }
            }
        }
        "who" => {
            let (template, target) = match &post.original {
                Some(o) => ("/api/v1/statuses/{id}/reblogged_by", o.as_str()),
                None => ("/api/v1/statuses/{id}/favourited_by", id),
            };
            let by = post.marked_by.as_str();
            f.single(template, target, token, c, &what, |a| has_item(a, by))
                .await;
        }
        _ => {
            let url = match path {
                "home" => "/api/v1/timelines/home?limit=40".to_owned(),
                "public" => "/api/v1/timelines/public?limit=40".to_owned(),
                "tag" => "/api/v1/timelines/tag/vmx?limit=40".to_owned(),
                "account" => format!("/api/v1/accounts/{}/statuses?limit=40", post.author),
                "group" => {
                    let g = post.group.as_deref().expect("a group post");
                    format!("/api/v1/groups/{g}/timeline?limit=40")
                }
                "notifications" => "/api/v1/notifications?limit=40".to_owned(),
                "conversations" => "/api/v1/conversations?limit=40".to_owned(),
                other => panic!("unknown path {other}"),
            };
            // The same listing of a missing account or group, for 404 cells.
            let missing = match (path, &post.group) {
                ("account", _) => url.replace(&post.author, MISSING),
                ("group", Some(g)) => url.replace(g, MISSING),
                _ => url.clone(),
            };
            let rbl = w.id("rbl");
            let listed = |json: &Value| -> bool {
                let items = json.as_array().cloned().unwrap_or_default();
                match path {
                    "notifications" => items.iter().any(|n| match &post.original {
                        Some(o) => {
                            n["type"] == "reblog"
                                && n["status"]["id"] == o.as_str()
                                && n["account"]["id"] == rbl
                        }
                        None => n["status"]["id"] == id,
                    }),
                    "conversations" => items.iter().any(|c| c["last_status"]["id"] == id),
                    _ => has_item(json, id),
                }
            };
            f.listing(&url, &missing, token, c, post, readable, listed, &what)
                .await;
        }
    }
}

async fn every_post_reaches_exactly_the_viewers_the_matrix_says(app: TestApp) {
    check_table_shape();
    let mut f = Findings::new(&app);
    let w = build(&app, &mut f).await;
    for path in PATHS {
        for code in POSTS {
            for v in 0..VIEWERS.len() {
                check(&mut f, &w, path, code, v).await;
            }
        }
    }
    // The deactivated account's token answers 401 to writes too.
    let dee = w.token("dee");
    for (path, body) in [
        ("/api/v1/statuses", json!({"status": "still here?"})),
        (
            &*format!("/api/v1/statuses/{}/favourite", w.posts["PUB"].id),
            json!({}),
        ),
        (
            &*format!(
                "/api/v1/groups/{}/join",
                w.posts["PGP"].group.clone().unwrap()
            ),
            json!({}),
        ),
    ] {
        let (status, text) = call(&app, Method::POST, path, dee, Some(body)).await;
        f.expect(status == StatusCode::UNAUTHORIZED, || {
            format!(
                "[dee] POST {path} answered {status}, expected 401: {}",
                short(&text)
            )
        });
    }
    let (status, _) = f.get("/api/v1/accounts/verify_credentials", dee).await;
    f.expect(status == StatusCode::UNAUTHORIZED, || {
        format!("[dee] verify_credentials answered {status}, expected 401")
    });
    f.assert_none();
}

#[tokio::test]
async fn every_post_reaches_exactly_the_viewers_the_matrix_says_fanned_out() {
    every_post_reaches_exactly_the_viewers_the_matrix_says(spawn_app().await).await;
}

/// The same matrix when every author is merged into homes on read (a "celebrity" from
/// the first follower on) instead of fanned out on write.
#[tokio::test]
async fn every_post_reaches_exactly_the_viewers_the_matrix_says_merged_on_read() {
    let app = spawn_app_with(|s| s.celebrity_threshold = 1).await;
    every_post_reaches_exactly_the_viewers_the_matrix_says(app).await;
}

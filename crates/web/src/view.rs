//! What templates display, built from the service's read models: the page frame (who is
//! signed in, the unread count, the anti-forgery token, the asset names) and posts and
//! notifications with their links and times ready to print.
//!
//! Post text is never rendered here: `content` is the HTML the domain produced when the
//! post was written (`starling_domain::text::render_html`), in which every character of
//! the user's text is escaped and the only markup is our own paragraphs and links.

use starling_service::views::{NotificationView, StatusView};
use starling_service::{AccountRecord, Starling};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::assets::{ASSETS, Assets};
use crate::session::Session;

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The home timeline.
    Home,
    /// The network timeline.
    Network,
    /// Notifications.
    Notifications,
    /// The visitor's own profile.
    Profile,
    /// Groups: the directory and group pages.
    Groups,
    /// Direct messages.
    Messages,
    /// The visitor's settings.
    Settings,
    /// Anything else.
    Other,
    // --- Lists and bookmarks ---
    /// The lists and a list's page.
    Lists,
    /// Bookmarks.
    Bookmarks,
}

/// The frame every page shares.
#[derive(Debug)]
pub struct Layout {
    /// The page's title (also its `<h1>` unless the page says otherwise).
    pub title: String,
    /// The network's name.
    pub network: String,
    /// The signed-in account's username, if any.
    pub me: Option<String>,
    /// The anti-forgery token for this page's forms.
    pub csrf: String,
    /// Unread notifications (capped; see `unread_label`).
    pub unread: usize,
    /// The hashed asset names.
    pub assets: &'static Assets,
    /// The current navigation entry.
    pub nav: Nav,
    /// The live stream this page follows (`home`, `public`, `notifications`, or
    /// `group:<id>`), if any.
    pub live: String,
    /// The longest post, as the server counts.
    pub max_chars: usize,
}

impl Layout {
    /// A frame for `session` (or a signed-out visitor with the anonymous token `csrf`).
    pub fn new(
        app: &Starling,
        session: Option<&Session>,
        title: impl Into<String>,
        nav: Nav,
        unread: usize,
        anon_csrf: Option<String>,
    ) -> Self {
        let live = match (session, nav) {
            (None, _) => "",
            (Some(_), Nav::Home) => "home",
            (Some(_), Nav::Network) => "public",
            (Some(_), _) => "notifications",
        }
        .to_owned();
        Self {
            title: title.into(),
            network: app.settings().network_name.clone(),
            me: session.map(|s| s.account.username.clone()),
            csrf: session
                .map(|s| s.csrf.clone())
                .or(anon_csrf)
                .unwrap_or_default(),
            unread,
            assets: &ASSETS,
            nav,
            live,
            max_chars: app.settings().max_post_chars,
        }
    }

    /// The unread count as shown: empty for none, `40+` past the cap.
    pub fn unread_label(&self) -> String {
        match self.unread {
            0 => String::new(),
            n if n >= starling_service::web_sessions::UNREAD_CAP => format!("{n}+"),
            n => n.to_string(),
        }
    }

    /// Whether `nav` names the current entry (for `aria-current="page"`).
    pub fn is_current(&self, nav: &str) -> bool {
        let this = match nav {
            "home" => Nav::Home,
            "network" => Nav::Network,
            "notifications" => Nav::Notifications,
            "profile" => Nav::Profile,
            "lists" => Nav::Lists,
            "bookmarks" => Nav::Bookmarks,
            "groups" => Nav::Groups,
            "messages" => Nav::Messages,
            "settings" => Nav::Settings,
            _ => Nav::Other,
        };
        this == self.nav
    }
}

/// A moment, for `<time>`: machine-readable, exact, and relative to the page's render.
#[derive(Debug, Clone)]
pub struct When {
    /// RFC 3339, for `datetime`.
    pub iso: String,
    /// `2026-11-27 12:35 UTC`, for the `title` (the script shows local time instead).
    pub exact: String,
    /// `5m`, `3h`, `2d` or a date.
    pub relative: String,
}

impl When {
    /// `at_ms` (Unix milliseconds) seen from `now_ms`.
    pub fn new(at_ms: i64, now_ms: i64) -> Self {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let iso = at.format(&Rfc3339).unwrap_or_default();
        let exact = at
            .format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .unwrap_or_default();
        let secs = (now_ms - at_ms).max(0) / 1000;
        let relative = match secs {
            0..60 => "now".to_owned(),
            60..3600 => format!("{}m", secs / 60),
            3600..86_400 => format!("{}h", secs / 3600),
            86_400..604_800 => format!("{}d", secs / 86_400),
            _ => at
                .format(format_description!(
                    "[day padding:none] [month repr:short] [year]"
                ))
                .unwrap_or_default(),
        };
        Self {
            iso,
            exact,
            relative,
        }
    }
}

/// An account as a post or notification shows it.
#[derive(Debug, Clone)]
pub struct Person {
    /// The display name, or the username when there is none.
    pub name: String,
    /// The username.
    pub username: String,
    /// `/@username`.
    pub url: String,
}

impl Person {
    /// From an account record.
    pub fn of(a: &AccountRecord) -> Self {
        let name = if a.display_name.trim().is_empty() {
            a.username.clone()
        } else {
            a.display_name.clone()
        };
        Self {
            name,
            username: a.username.clone(),
            url: format!("/@{}", a.username),
        }
    }
}

/// A post ready to print.
#[derive(Debug, Clone)]
pub struct PostCard {
    /// The post's id (of the reposted post, for a repost).
    pub id: String,
    /// The timeline entry's id (the repost's own, for a repost): the cursor of live
    /// catch-up.
    pub entry_id: String,
    /// The thread page of the post.
    pub url: String,
    /// Its author.
    pub author: Person,
    /// The domain's sanitised HTML of its text.
    pub content: String,
    /// Its content warning, if any.
    pub spoiler: String,
    /// When it was written.
    pub when: When,
    /// Who sees it, in words.
    pub audience: &'static str,
    /// The thread page of the post it answers.
    pub reply_to: Option<String>,
    /// Replies so far.
    pub replies: i64,
    /// Who reposted it, for a repost in a timeline.
    pub reposted_by: Option<Person>,
    // --- Post actions (like, repost, bookmark) ---
    /// The viewer liked it.
    pub favourited: bool,
    /// The viewer reposted it.
    pub reblogged: bool,
    /// The viewer bookmarked it.
    pub bookmarked: bool,
    /// Likes so far.
    pub favourites: i64,
    /// Reposts so far.
    pub reblogs: i64,
    /// Whether it may be reposted at all (public and unlisted posts; never direct ones).
    pub can_reblog: bool,
}

/// Words for a visibility value.
pub fn audience(visibility: &str) -> &'static str {
    match visibility {
        "public" => "Public",
        "unlisted" => "Unlisted",
        "private" => "Followers only",
        "direct" => "Direct",
        _ => "Limited",
    }
}

impl PostCard {
    /// A view as a card (a repost shows the reposted post, marked with who reposted it).
    pub fn of(v: &StatusView, now_ms: i64) -> Self {
        match &v.reblog {
            Some(original) => Self {
                reposted_by: Some(Person::of(&v.account)),
                entry_id: v.status.id.to_string(),
                ..Self::of(original, now_ms)
            },
            None => {
                let s = &v.status;
                Self {
                    id: s.id.to_string(),
                    entry_id: s.id.to_string(),
                    url: format!("/@{}/{}", v.account.username, s.id),
                    author: Person::of(&v.account),
                    content: s.content.clone(),
                    spoiler: s.spoiler_text.clone(),
                    when: When::new(s.created_at, now_ms),
                    // A group's post reaches the group, whatever its visibility says.
                    audience: if s.group_id.is_some() {
                        "Group"
                    } else {
                        audience(&s.visibility)
                    },
                    reply_to: s.in_reply_to_id.map(|id| format!("/statuses/{id}")),
                    replies: s.replies_count,
                    reposted_by: None,
                    favourited: v.favourited,
                    reblogged: v.reblogged,
                    bookmarked: v.bookmarked,
                    favourites: s.favourites_count,
                    reblogs: s.reblogs_count,
                    // A repost made elsewhere (say, of one's own private post) can
                    // still be undone here.
                    can_reblog: v.reblogged
                        || matches!(s.visibility.as_str(), "public" | "unlisted"),
                }
            }
        }
    }

    /// Cards for a page of views.
    pub fn all(views: &[StatusView], now_ms: i64) -> Vec<Self> {
        views.iter().map(|v| Self::of(v, now_ms)).collect()
    }
}

/// A notification ready to print.
#[derive(Debug, Clone)]
pub struct NoteCard {
    /// The notification's id.
    pub id: String,
    /// Who caused it.
    pub from: Person,
    /// What happened, after the name (`mentioned you`).
    pub what: &'static str,
    /// When.
    pub when: When,
    /// The post it is about.
    pub post: Option<PostCard>,
    /// The group it is about (join requests, invitations, approvals): its page and name.
    pub group: Option<(String, String)>,
}

impl NoteCard {
    /// A notification view as a card.
    pub fn of(n: &NotificationView, now_ms: i64) -> Self {
        let what = match n.notification.kind.as_str() {
            "mention" => "mentioned you",
            "status" => "posted",
            "reblog" => "reposted your post",
            "follow" => "followed you",
            "follow_request" => "asked to follow you",
            "favourite" => "liked your post",
            "update" => "edited a post",
            "group_request" => "asked to join a group",
            "group_invitation" => "invited you to a group",
            "group_approval" => "approved your request to join a group",
            _ => "did something",
        };
        Self {
            id: n.notification.id.to_string(),
            from: Person::of(&n.account),
            what,
            when: When::new(n.notification.created_at, now_ms),
            post: n.status.as_ref().map(|s| PostCard::of(s, now_ms)),
            group: n
                .group
                .as_ref()
                .map(|g| (format!("/groups/{}", g.id), g.name.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_well() {
        let t = 1_700_000_000_000;
        assert_eq!(When::new(t, t + 5_000).relative, "now");
        assert_eq!(When::new(t, t + 5 * 60_000).relative, "5m");
        assert_eq!(When::new(t, t + 3 * 3_600_000).relative, "3h");
        assert_eq!(When::new(t, t + 2 * 86_400_000).relative, "2d");
        assert_eq!(When::new(t, t + 30 * 86_400_000).relative, "14 Nov 2023");
        let w = When::new(t, t);
        assert_eq!(w.iso, "2023-11-14T22:13:20Z");
        assert_eq!(w.exact, "2023-11-14 22:13 UTC");
    }
}

/// The post it answers, as the composer shows it.
#[derive(Debug, Clone)]
pub struct ReplyTo {
    /// The post's id.
    pub id: String,
    /// Its thread page.
    pub url: String,
    /// Its author's username.
    pub username: String,
}

/// The composer's state.
#[derive(Debug, Clone)]
pub struct Composer {
    /// Where to go after posting.
    pub return_to: String,
    /// The post being answered.
    pub reply: Option<ReplyTo>,
    /// Text to start with (kept after a refused post).
    pub text: String,
    /// The audience preselected.
    pub visibility: String,
    /// Why the last attempt was refused.
    pub error: String,
    /// An audience fixed by the page (a group, a conversation) instead of the choice.
    pub fixed: Option<FixedAudience>,
}

/// An audience the composer does not let the writer change: the group the page is
/// about, or the people of a conversation.
#[derive(Debug, Clone)]
pub struct FixedAudience {
    /// The visibility sent (`direct` for a conversation; a group decides its own).
    pub visibility: String,
    /// The group posted to, if any.
    pub group_id: Option<String>,
    /// Who will see the post, in words.
    pub label: String,
}

/// How far a visibility reaches; a reply never reaches further than its parent by default.
fn reach(visibility: &str) -> u8 {
    match visibility {
        "public" => 3,
        "unlisted" => 2,
        "private" => 1,
        _ => 0,
    }
}

impl Composer {
    /// An empty composer for a new post by `me`, returning to `return_to`.
    pub fn new(me: &AccountRecord, return_to: impl Into<String>) -> Self {
        Self {
            return_to: return_to.into(),
            reply: None,
            text: String::new(),
            visibility: me.default_privacy.clone(),
            error: String::new(),
            fixed: None,
        }
    }

    /// A composer answering `parent`: it mentions the author (unless it is `me`) and
    /// keeps the narrower of the parent's audience and `me`'s default.
    pub fn reply(me: &AccountRecord, parent: &StatusView, return_to: impl Into<String>) -> Self {
        let original = parent.reblog.as_deref().unwrap_or(parent);
        let author = &original.account.username;
        let text = if author.eq_ignore_ascii_case(&me.username) {
            String::new()
        } else {
            format!("@{author} ")
        };
        let visibility = if reach(&original.status.visibility) < reach(&me.default_privacy) {
            original.status.visibility.clone()
        } else {
            me.default_privacy.clone()
        };
        Self {
            return_to: return_to.into(),
            reply: Some(ReplyTo {
                id: original.status.id.to_string(),
                url: format!("/@{author}/{}", original.status.id),
                username: author.clone(),
            }),
            text,
            visibility,
            error: String::new(),
            fixed: None,
        }
    }
}

// --- Post fragments (live updates, infinite scroll) ---

/// What `_post.html` needs of the page frame when a post is rendered on its own (a live
/// update, a page of infinite scroll): whether someone is signed in, and their
/// anti-forgery token for the post's action forms. Named `layout` in fragment templates,
/// so that the same `_post.html` reads `layout.me` and `layout.csrf` in both.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    /// The signed-in account's username, if any.
    pub me: Option<String>,
    /// The anti-forgery token for the post's forms.
    pub csrf: String,
}

impl Viewer {
    /// The viewer of `session` (or a signed-out one).
    pub fn of(session: Option<&Session>) -> Self {
        Self {
            me: session.map(|s| s.account.username.clone()),
            csrf: session.map(|s| s.csrf.clone()).unwrap_or_default(),
        }
    }
}

// ---- Settings, the OAuth consent page, and people lists (added with the settings pages) ----

/// What an OAuth scope lets an app do, in words (for the consent page and the apps list).
pub fn scope_words(scope: &str) -> String {
    let area = |s: &str| s.replace('_', " ");
    match scope {
        "read" => {
            "read everything your account can see: posts, notifications, lists and your profile"
                .to_owned()
        }
        "write" => {
            "post, edit and delete posts, like and repost, and change your profile and settings"
                .to_owned()
        }
        "follow" => "follow and unfollow people, block and mute them".to_owned(),
        "push" => "receive your notifications as push messages".to_owned(),
        "profile" => "see your name and username".to_owned(),
        s => match s.split_once(':') {
            Some(("read", what)) => format!("read your {}", area(what)),
            Some(("write", what)) => format!("change your {}", area(what)),
            Some(("admin", what)) => format!("administer the network ({})", area(what)),
            _ => s.to_owned(),
        },
    }
}

/// Each scope of a space-separated list in words, without repeats: reading first, then
/// writing, following, push and administration (the order people weigh them in).
pub fn scopes_in_words(scopes: &str) -> Vec<String> {
    let rank = |s: &str| match s.split(':').next() {
        Some("profile") => 0,
        Some("read") => 1,
        Some("write") => 2,
        Some("follow") => 3,
        Some("push") => 4,
        _ => 5,
    };
    let mut sorted: Vec<&str> = scopes.split_whitespace().collect();
    sorted.sort_by_key(|s| (rank(s), s.contains(':')));
    let mut out: Vec<String> = Vec::new();
    for s in sorted {
        let w = scope_words(s);
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// An account in a list of people (followers, following).
#[derive(Debug, Clone)]
pub struct PersonRow {
    /// Name, username and link.
    pub person: Person,
    /// The first line of the bio, if any.
    pub note: String,
}

impl PersonRow {
    /// From an account record.
    pub fn of(a: &AccountRecord) -> Self {
        Self {
            person: Person::of(a),
            note: a.note.lines().next().unwrap_or_default().to_owned(),
        }
    }
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    #[test]
    fn scopes_read_as_words_without_repeats() {
        let w = scopes_in_words("push follow write read:statuses read");
        assert_eq!(w.len(), 5);
        assert!(w[0].starts_with("read everything"));
        assert_eq!(w[1], "read your statuses");
        assert!(w[2].starts_with("post, edit"));
        assert!(w[3].starts_with("follow and unfollow"));
        assert!(w[4].starts_with("receive"));
        assert_eq!(scope_words("write:follows"), "change your follows");
    }
}

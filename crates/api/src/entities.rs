//! The Mastodon JSON entities (Account, Status, Relationship, Notification, Token…)
//! and their conversions from service views. These shapes live only here.

use serde::Serialize;
use starling_service::auth::IssuedToken;
use starling_service::groups::GroupRecord;
use starling_service::push::PushSubscriptionRecord;
use starling_service::views::{NotificationView, StatusView};
use starling_service::{AccountRecord, AppRecord, RelationshipRecord, Settings};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// The last millisecond of year 9999, the latest time the formats below can write.
const LAST_MILLI: i64 = 253_402_300_799_999;

/// Formats Unix milliseconds as Mastodon does: `2024-01-01T12:00:00.000Z`.
///
/// Through `humantime`'s fixed-width writer: every post and account on a page has such
/// a time, and `time`'s general formatter cost ~3,000 instructions per call (6% of a home
/// page in callgrind). Times outside 1970–9999 (never stored) are clamped to that range.
pub fn iso_time(millis: i64) -> String {
    let millis = u64::try_from(millis.clamp(0, LAST_MILLI)).unwrap_or_default();
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(millis)).to_string()
}

/// An id as Mastodon sends it, a decimal string (through `itoa`: `to_string` goes through
/// the formatting machinery, and a page has a hundred ids).
fn id_str(id: i64) -> String {
    itoa::Buffer::new().format(id).to_owned()
}

/// `parts` joined into one string, allocated once: the URLs of every account and post on
/// a page are built this way (`format!` cost ~1,400 instructions each, 9% of a home page).
fn joined(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// Formats Unix milliseconds as a date: `2024-01-01`.
pub fn iso_date(millis: i64) -> String {
    let mut date = iso_time(millis);
    date.truncate("2024-01-01".len());
    date
}

/// Escapes plain text (a bio) into Mastodon's HTML `note`.
fn note_html(note: &str) -> String {
    if note.is_empty() {
        return String::new();
    }
    let escaped = html_escape::encode_text(note).replace('\n', "<br>");
    format!("<p>{escaped}</p>")
}

/// A field of a profile (unused for now, always empty).
#[derive(Debug, Serialize)]
pub struct Field {
    name: String,
    value: String,
    verified_at: Option<String>,
}

/// The `source` block of the signed-in account.
#[derive(Debug, Serialize)]
pub struct Source {
    privacy: String,
    sensitive: bool,
    language: Option<String>,
    note: String,
    fields: Vec<Field>,
    follow_requests_count: i64,
}

/// Mastodon's Account entity.
#[derive(Debug, Serialize)]
pub struct Account {
    id: String,
    username: String,
    acct: String,
    display_name: String,
    locked: bool,
    bot: bool,
    discoverable: bool,
    group: bool,
    noindex: bool,
    created_at: String,
    note: String,
    url: String,
    uri: String,
    avatar: String,
    avatar_static: String,
    header: String,
    header_static: String,
    followers_count: i64,
    following_count: i64,
    statuses_count: i64,
    last_status_at: Option<String>,
    emojis: Vec<()>,
    fields: Vec<Field>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<serde_json::Value>,
}

impl Account {
    /// The public view of an account.
    pub fn from_record(a: &AccountRecord, s: &Settings) -> Self {
        let base = s.base_url();
        let avatar = s.default_avatar_url();
        let header = joined(&[&base, "/headers/original/missing.png"]);
        Self {
            id: id_str(a.id),
            username: a.username.clone(),
            acct: a.username.clone(),
            display_name: a.display_name.clone(),
            locked: a.locked,
            bot: a.bot,
            discoverable: a.discoverable,
            group: false,
            noindex: false,
            created_at: iso_time(a.created_at),
            note: note_html(&a.note),
            uri: joined(&[&base, "/users/", &a.username]),
            url: joined(&[&base, "/@", &a.username]),
            avatar_static: avatar.clone(),
            avatar,
            header_static: header.clone(),
            header,
            followers_count: a.followers_count,
            following_count: a.following_count,
            statuses_count: a.statuses_count,
            last_status_at: a.last_status_at.map(iso_date),
            emojis: Vec::new(),
            fields: Vec::new(),
            source: None,
            role: None,
        }
    }

    /// The signed-in account's own view, with `source` and `role`.
    pub fn credential(a: &AccountRecord, s: &Settings) -> Self {
        let mut acc = Self::from_record(a, s);
        acc.source = Some(Source {
            privacy: a.default_privacy.clone(),
            sensitive: a.default_sensitive,
            language: a.default_language.clone(),
            note: a.note.clone(),
            fields: Vec::new(),
            follow_requests_count: 0,
        });
        acc.role = Some(serde_json::json!({
            "id": if a.is_admin() { "3" } else { "-99" },
            "name": if a.is_admin() { "Admin" } else { "" },
            "permissions": if a.is_admin() { "1" } else { "0" },
            "color": "",
            "highlighted": a.is_admin(),
        }));
        acc
    }
}

/// A mention inside a Status.
#[derive(Debug, Serialize)]
pub struct Mention {
    id: String,
    username: String,
    acct: String,
    url: String,
}

/// A hashtag inside a Status.
#[derive(Debug, Serialize)]
pub struct Tag {
    name: String,
    url: String,
}

/// Mastodon's Status entity.
#[derive(Debug, Serialize)]
pub struct Status {
    id: String,
    created_at: String,
    in_reply_to_id: Option<String>,
    in_reply_to_account_id: Option<String>,
    sensitive: bool,
    spoiler_text: String,
    visibility: String,
    language: Option<String>,
    uri: String,
    url: String,
    replies_count: i64,
    reblogs_count: i64,
    favourites_count: i64,
    edited_at: Option<String>,
    favourited: bool,
    reblogged: bool,
    muted: bool,
    bookmarked: bool,
    pinned: bool,
    content: String,
    text: String,
    filtered: Vec<()>,
    reblog: Option<Box<Status>>,
    application: Option<serde_json::Value>,
    account: Arc<Account>,
    media_attachments: Vec<()>,
    mentions: Vec<Mention>,
    tags: Vec<Tag>,
    emojis: Vec<()>,
    card: Option<()>,
    poll: Option<()>,
    /// Starling: the group the post was written in.
    group: Option<GroupRef>,
}

/// Starling: a group as named inside a status or a notification.
#[derive(Debug, Serialize)]
pub struct GroupRef {
    id: String,
    name: String,
    visibility: String,
    url: String,
}

impl GroupRef {
    /// Converts a stored group.
    pub fn from_record(g: &GroupRecord, s: &Settings) -> Self {
        Self {
            id: id_str(g.id),
            name: g.name.clone(),
            visibility: g.visibility.clone(),
            url: joined(&[&s.base_url(), "/groups/", &id_str(g.id)]),
        }
    }
}

/// The Account entities of one response's authors, each built once however many of the
/// response's posts it wrote (a home page often has several by one author).
struct Authors<'s> {
    settings: &'s Settings,
    built: HashMap<i64, Arc<Account>>,
}

impl<'s> Authors<'s> {
    fn new(settings: &'s Settings) -> Self {
        Self {
            settings,
            built: HashMap::new(),
        }
    }

    fn get(&mut self, a: &AccountRecord) -> Arc<Account> {
        let settings = self.settings;
        Arc::clone(
            self.built
                .entry(a.id)
                .or_insert_with(|| Arc::new(Account::from_record(a, settings))),
        )
    }
}

impl Status {
    /// Converts a post view.
    pub fn from_view(v: &StatusView, s: &Settings) -> Self {
        Self::render(v, &mut Authors::new(s))
    }

    fn render(v: &StatusView, authors: &mut Authors<'_>) -> Self {
        let s = authors.settings;
        let base = s.base_url();
        let st = &v.status;
        let id = id_str(st.id);
        let username = &v.account.username;
        Self {
            created_at: iso_time(st.created_at),
            in_reply_to_id: st.in_reply_to_id.map(id_str),
            in_reply_to_account_id: st.in_reply_to_account_id.map(id_str),
            sensitive: st.sensitive,
            spoiler_text: st.spoiler_text.clone(),
            visibility: st.visibility.clone(),
            language: st.language.clone(),
            uri: joined(&[&base, "/users/", username, "/statuses/", &id]),
            url: joined(&[&base, "/@", username, "/", &id]),
            id,
            replies_count: st.replies_count,
            reblogs_count: st.reblogs_count,
            favourites_count: st.favourites_count,
            edited_at: st.edited_at.map(iso_time),
            favourited: v.favourited,
            // A reblog wrapper says whether the viewer reblogged the post it wraps.
            reblogged: v.reblog.as_ref().map_or(v.reblogged, |r| r.reblogged),
            muted: false,
            bookmarked: v.bookmarked,
            pinned: v.pinned,
            content: st.content.clone(),
            text: st.text.clone(),
            filtered: Vec::new(),
            reblog: v
                .reblog
                .as_ref()
                .map(|r| Box::new(Self::render(r, authors))),
            application: None,
            account: authors.get(&v.account),
            media_attachments: Vec::new(),
            mentions: v
                .mentions
                .iter()
                .map(|m| Mention {
                    id: id_str(m.id),
                    username: m.username.clone(),
                    acct: m.username.clone(),
                    url: joined(&[&base, "/@", &m.username]),
                })
                .collect(),
            tags: v
                .tags
                .iter()
                .map(|t| Tag {
                    name: t.clone(),
                    url: joined(&[&base, "/tags/", t]),
                })
                .collect(),
            emojis: Vec::new(),
            card: None,
            poll: None,
            group: v.group.as_ref().map(|g| GroupRef::from_record(g, s)),
        }
    }

    /// Converts many post views.
    pub fn many(vs: &[StatusView], s: &Settings) -> Vec<Self> {
        let mut authors = Authors::new(s);
        vs.iter().map(|v| Self::render(v, &mut authors)).collect()
    }
}

/// Mastodon's Relationship entity.
#[derive(Debug, Serialize)]
pub struct Relationship {
    id: String,
    following: bool,
    showing_reblogs: bool,
    notifying: bool,
    languages: Option<Vec<String>>,
    followed_by: bool,
    blocking: bool,
    blocked_by: bool,
    muting: bool,
    muting_notifications: bool,
    requested: bool,
    requested_by: bool,
    domain_blocking: bool,
    endorsed: bool,
    note: String,
}

impl From<&RelationshipRecord> for Relationship {
    fn from(r: &RelationshipRecord) -> Self {
        Self {
            id: r.target_id.to_string(),
            following: r.following,
            showing_reblogs: r.following && r.showing_reblogs,
            notifying: r.notifying,
            languages: None,
            followed_by: r.followed_by,
            blocking: r.blocking,
            blocked_by: r.blocked_by,
            muting: r.muting,
            muting_notifications: r.muting && r.muting_notifications,
            requested: false,
            requested_by: false,
            domain_blocking: false,
            endorsed: false,
            note: String::new(),
        }
    }
}

/// Mastodon's Notification entity.
#[derive(Debug, Serialize)]
pub struct Notification {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created_at: String,
    group_key: String,
    account: Account,
    status: Option<Status>,
    /// Starling: the group a `group_request`, `group_invitation` or `group_approval` is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<GroupRef>,
}

impl Notification {
    /// Converts a notification view.
    pub fn from_view(n: &NotificationView, s: &Settings) -> Self {
        Self {
            id: n.notification.id.to_string(),
            kind: n.notification.kind.clone(),
            created_at: iso_time(n.notification.created_at),
            group_key: format!("ungrouped-{}", n.notification.id),
            account: Account::from_record(&n.account, s),
            status: n.status.as_ref().map(|v| Status::from_view(v, s)),
            group: n.group.as_ref().map(|g| GroupRef::from_record(g, s)),
        }
    }
}

/// Mastodon's Conversation entity: `accounts` are the other participants.
#[derive(Debug, Serialize)]
pub struct Conversation {
    id: String,
    unread: bool,
    accounts: Vec<Account>,
    last_status: Option<Status>,
}

impl Conversation {
    /// Converts a conversation view.
    pub fn from_view(c: &starling_service::conversations::ConversationView, s: &Settings) -> Self {
        Self {
            id: c.record.id.to_string(),
            unread: c.record.unread,
            accounts: c
                .accounts
                .iter()
                .map(|a| Account::from_record(a, s))
                .collect(),
            last_status: c.last_status.as_ref().map(|v| Status::from_view(v, s)),
        }
    }
}

/// Mastodon's Token entity.
#[derive(Debug, Serialize)]
pub struct Token {
    access_token: String,
    token_type: &'static str,
    scope: String,
    created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl From<IssuedToken> for Token {
    fn from(t: IssuedToken) -> Self {
        Self {
            access_token: t.access_token,
            token_type: "Bearer",
            scope: t.scope,
            created_at: t.created_at,
            refresh_token: t.refresh_token,
        }
    }
}

/// Mastodon's Application entity (with credentials when just registered).
#[derive(Debug, Serialize)]
pub struct Application {
    id: String,
    name: String,
    website: Option<String>,
    scopes: Vec<String>,
    redirect_uri: String,
    redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    vapid_key: String,
}

impl Application {
    /// The app's public view; with `credentials`, its client id and secret too.
    /// `vapid_key` is the server's Web Push key, which Mastodon repeats here.
    pub fn from_record(a: &AppRecord, credentials: bool, vapid_key: &str) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name.clone(),
            website: a.website.clone(),
            scopes: a.scopes.split_whitespace().map(str::to_owned).collect(),
            redirect_uri: a.redirect_uris.clone(),
            redirect_uris: a
                .redirect_uris
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            client_id: credentials.then(|| a.client_id.clone()),
            client_secret: credentials.then(|| a.client_secret.clone()),
            vapid_key: vapid_key.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_millis_with_z() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(1_704_110_400_123), "2024-01-01T12:00:00.123Z");
        assert_eq!(iso_date(1_704_110_400_123), "2024-01-01");
        assert_eq!(iso_time(951_782_400_007), "2000-02-29T00:00:00.007Z");
    }

    #[test]
    fn times_outside_the_writable_range_are_clamped_not_a_panic() {
        assert_eq!(iso_time(-1), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(i64::MAX), "9999-12-31T23:59:59.999Z");
    }
}

/// Mastodon's Tag entity as the tag endpoints return it.
#[derive(Debug, Serialize)]
pub struct TagInfo {
    name: String,
    url: String,
    history: Vec<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    following: Option<bool>,
}

impl TagInfo {
    /// Converts a hashtag view.
    pub fn from_view(t: &starling_service::tags::TagView, s: &Settings) -> Self {
        Self {
            url: format!("{}/tags/{}", s.base_url(), t.name),
            name: t.name.clone(),
            history: Vec::new(),
            following: t.following,
        }
    }
}

/// Mastodon's WebPushSubscription entity.
#[derive(Debug, Serialize)]
pub struct WebPushSubscription {
    id: String,
    endpoint: String,
    /// Always `true`: pushes are RFC 8291 `aes128gcm` (Mastodon's "standard" Web Push).
    standard: bool,
    alerts: std::collections::BTreeMap<&'static str, bool>,
    server_key: String,
    policy: String,
}

impl WebPushSubscription {
    /// The subscription as its client sees it; `server_key` is the VAPID public key.
    pub fn from_record(s: &PushSubscriptionRecord, server_key: &str) -> Self {
        Self {
            id: s.id.to_string(),
            endpoint: s.endpoint.clone(),
            standard: true,
            alerts: s.alerts.entries().collect(),
            server_key: server_key.to_owned(),
            policy: s.policy.clone(),
        }
    }
}

/// Starling's e-mail preferences entity (`/api/v1/email_preferences`; not in Mastodon).
#[derive(Debug, Serialize)]
pub struct EmailPreferences {
    /// E-mail when someone mentions the account.
    mention: bool,
    /// E-mail for a direct message.
    direct: bool,
    /// E-mail for a new follower or follow request.
    follow: bool,
    /// A daily digest of what the account missed.
    digest: bool,
    /// Whether this server sends e-mail at all (an SMTP server is configured); when not,
    /// the preferences are kept but nothing is sent.
    email_enabled: bool,
}

impl EmailPreferences {
    /// The preferences as their owner sees them.
    pub fn new(p: starling_service::email::EmailPreferences, email_enabled: bool) -> Self {
        Self {
            mention: p.mention,
            direct: p.direct,
            follow: p.follow,
            digest: p.digest,
            email_enabled,
        }
    }
}

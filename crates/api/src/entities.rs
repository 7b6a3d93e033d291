//! The Mastodon JSON entities (Account, Status, Relationship, Notification, Token…)
//! and their conversions from service views. These shapes live only here.

use crate::json::{Entity, Fields, serialize_entity, write_entity};
#[cfg(test)]
use crate::json::{URL_ON_STACK, Url};
use serde::Serialize;
use serde::ser::Serializer;
use starling_service::auth::IssuedToken;
use starling_service::groups::GroupRecord;
use starling_service::push::PushSubscriptionRecord;
use starling_service::views::{NotificationView, StatusView};
use starling_service::{AccountRecord, AppRecord, RelationshipRecord, Settings};
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
    rfc3339(millis).to_string()
}

/// Escapes plain text (a bio) into Mastodon's HTML `note`.
fn note_html(note: &str) -> String {
    if note.is_empty() {
        return String::new();
    }
    let escaped = html_escape::encode_text(note).replace('\n', "<br>");
    format!("<p>{escaped}</p>")
}

/// Text formatted on the stack (an id, a time) and handed to the serializer: a page
/// writes a hundred of them, and a `String` each was an allocation and a free.
struct StackText {
    buf: [u8; 40],
    len: usize,
}

impl StackText {
    /// `value` formatted, cut to at most `max` bytes (whole ASCII characters).
    fn of(value: &impl std::fmt::Display, max: usize) -> Self {
        use std::fmt::Write as _;
        let mut text = Self {
            buf: [0; 40],
            len: 0,
        };
        // Ids and times fit; anything longer is cut rather than a panic.
        let _ = write!(text, "{value}");
        text.len = text.len.min(max);
        text
    }

    fn as_str(&self) -> &str {
        self.buf
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// An id as Mastodon writes it: a decimal string.
struct Id(i64);

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(itoa::Buffer::new().format(self.0))
    }
}

/// Unix milliseconds written as [`iso_time`] writes them, without allocating.
struct Time(i64);

/// Unix milliseconds written as a date (`2024-01-01`), without allocating.
struct Date(i64);

fn rfc3339(millis: i64) -> humantime::Rfc3339Timestamp {
    let millis = u64::try_from(millis.clamp(0, LAST_MILLI)).unwrap_or_default();
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(millis))
}

impl Time {
    /// The time as text, on the stack.
    fn text(&self) -> StackText {
        StackText::of(&rfc3339(self.0), usize::MAX)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.text().as_str())
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(StackText::of(&rfc3339(self.0), "2024-01-01".len()).as_str())
    }
}

/// An always-empty list (`emojis`, `fields`, `media_attachments`…).
const NONE: [(); 0] = [];

/// The `source` block of the signed-in account.
#[derive(Debug, Serialize)]
pub struct Source {
    privacy: String,
    sensitive: bool,
    language: Option<String>,
    note: String,
    fields: Vec<()>,
    follow_requests_count: i64,
}

/// What only the signed-in account's own view has.
#[derive(Debug)]
struct Credential {
    source: Source,
    role: serde_json::Value,
}

/// Mastodon's Account entity, written from a borrowed record (see [`Account`] for one
/// that owns it).
struct AccountJson<'a> {
    a: &'a AccountRecord,
    base: &'a str,
    credential: Option<&'a Credential>,
}

impl Entity for AccountJson<'_> {
    const NAME: &'static str = "Account";

    fn fields<F: Fields>(&self, f: &mut F) -> Result<(), F::Error> {
        let (a, base) = (self.a, self.base);
        let avatar = [base, "/avatars/original/missing.png"];
        let header = [base, "/headers/original/missing.png"];
        f.text("id", itoa::Buffer::new().format(a.id))?;
        f.text("username", &a.username)?;
        f.text("acct", &a.username)?;
        f.text("display_name", &a.display_name)?;
        f.field("locked", &a.locked)?;
        f.field("bot", &a.bot)?;
        f.field("discoverable", &a.discoverable)?;
        f.field("group", &false)?;
        f.field("noindex", &false)?;
        f.text("created_at", Time(a.created_at).text().as_str())?;
        f.text("note", &note_html(&a.note))?;
        f.url("url", &[base, "/@", &a.username])?;
        f.url("uri", &[base, "/users/", &a.username])?;
        f.url("avatar", &avatar)?;
        f.url("avatar_static", &avatar)?;
        f.url("header", &header)?;
        f.url("header_static", &header)?;
        f.field("followers_count", &a.followers_count)?;
        f.field("following_count", &a.following_count)?;
        f.field("statuses_count", &a.statuses_count)?;
        f.field("last_status_at", &a.last_status_at.map(Date))?;
        f.field("emojis", &NONE)?;
        f.field("fields", &NONE)?;
        if let Some(c) = self.credential {
            f.field("source", &c.source)?;
            f.field("role", &c.role)?;
        }
        Ok(())
    }
}

/// Mastodon's Account entity.
#[derive(Debug)]
pub struct Account {
    record: Arc<AccountRecord>,
    base: Arc<str>,
    credential: Option<Box<Credential>>,
}

impl Serialize for Account {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_entity(
            &AccountJson {
                a: &self.record,
                base: &self.base,
                credential: self.credential.as_deref(),
            },
            s,
        )
    }
}

impl Account {
    /// The public view of an account.
    pub fn from_record(a: &AccountRecord, s: &Settings) -> Self {
        Self {
            record: Arc::new(a.clone()),
            base: Arc::from(&*s.base_url()),
            credential: None,
        }
    }

    /// The signed-in account's own view, with `source` and `role`.
    pub fn credential(a: &AccountRecord, s: &Settings) -> Self {
        let mut acc = Self::from_record(a, s);
        acc.credential = Some(Box::new(Credential {
            source: Source {
                privacy: a.default_privacy.clone(),
                sensitive: a.default_sensitive,
                language: a.default_language.clone(),
                note: a.note.clone(),
                fields: Vec::new(),
                follow_requests_count: 0,
            },
            role: serde_json::json!({
                "id": if a.is_admin() { "3" } else { "-99" },
                "name": if a.is_admin() { "Admin" } else { "" },
                "permissions": if a.is_admin() { "1" } else { "0" },
                "color": "",
                "highlighted": a.is_admin(),
            }),
        }));
        acc
    }
}

/// A mention inside a Status.
struct MentionJson<'a> {
    a: &'a AccountRecord,
    base: &'a str,
}

impl Entity for MentionJson<'_> {
    const NAME: &'static str = "Mention";

    fn fields<F: Fields>(&self, f: &mut F) -> Result<(), F::Error> {
        f.text("id", itoa::Buffer::new().format(self.a.id))?;
        f.text("username", &self.a.username)?;
        f.text("acct", &self.a.username)?;
        f.url("url", &[self.base, "/@", &self.a.username])?;
        Ok(())
    }
}

/// A hashtag inside a Status.
struct TagJson<'a> {
    name: &'a str,
    base: &'a str,
}

impl Entity for TagJson<'_> {
    const NAME: &'static str = "Tag";

    fn fields<F: Fields>(&self, f: &mut F) -> Result<(), F::Error> {
        f.text("name", self.name)?;
        f.url("url", &[self.base, "/tags/", self.name])?;
        Ok(())
    }
}

/// Starling: a group as named inside a status or a notification.
struct GroupJson<'a> {
    g: &'a GroupRecord,
    base: &'a str,
}

impl Entity for GroupJson<'_> {
    const NAME: &'static str = "Group";

    fn fields<F: Fields>(&self, f: &mut F) -> Result<(), F::Error> {
        let mut id = itoa::Buffer::new();
        let id = id.format(self.g.id);
        f.text("id", id)?;
        f.text("name", &self.g.name)?;
        f.text("visibility", &self.g.visibility)?;
        f.url("url", &[self.base, "/groups/", id])?;
        Ok(())
    }
}

/// Starling: a group as named inside a notification.
#[derive(Debug)]
pub struct GroupRef {
    record: GroupRecord,
    base: Arc<str>,
}

impl GroupRef {
    /// Converts a stored group.
    pub fn from_record(g: &GroupRecord, s: &Settings) -> Self {
        Self {
            record: g.clone(),
            base: Arc::from(&*s.base_url()),
        }
    }
}

impl Serialize for GroupRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_entity(
            &GroupJson {
                g: &self.record,
                base: &self.base,
            },
            s,
        )
    }
}

/// Mastodon's Status entity, written straight from a post view: the view's records are
/// borrowed, not copied into an entity first (on a home page those copies and their
/// frees were a third of the allocations).
struct StatusJson<'a> {
    v: &'a StatusView,
    base: &'a str,
}

impl Entity for StatusJson<'_> {
    const NAME: &'static str = "Status";

    fn fields<F: Fields>(&self, f: &mut F) -> Result<(), F::Error> {
        let (v, base) = (self.v, self.base);
        let st = &*v.status;
        let mut id = itoa::Buffer::new();
        let id = id.format(st.id);
        let username = &v.account.username;
        f.text("id", id)?;
        f.text("created_at", Time(st.created_at).text().as_str())?;
        f.field("in_reply_to_id", &st.in_reply_to_id.map(Id))?;
        f.field("in_reply_to_account_id", &st.in_reply_to_account_id.map(Id))?;
        f.field("sensitive", &st.sensitive)?;
        f.text("spoiler_text", &st.spoiler_text)?;
        f.text("visibility", &st.visibility)?;
        f.field("language", &st.language)?;
        f.url("uri", &[base, "/users/", username, "/statuses/", id])?;
        f.url("url", &[base, "/@", username, "/", id])?;
        f.field("replies_count", &st.replies_count)?;
        f.field("reblogs_count", &st.reblogs_count)?;
        f.field("favourites_count", &st.favourites_count)?;
        f.field("edited_at", &st.edited_at.map(Time))?;
        f.field("favourited", &v.favourited)?;
        // A reblog wrapper says whether the viewer reblogged the post it wraps.
        let reblogged = v.reblog.as_ref().map_or(v.reblogged, |r| r.reblogged);
        f.field("reblogged", &reblogged)?;
        f.field("muted", &false)?;
        f.field("bookmarked", &v.bookmarked)?;
        f.field("pinned", &v.pinned)?;
        f.text("content", &st.content)?;
        f.text("text", &st.text)?;
        f.field("filtered", &NONE)?;
        let reblog = v.reblog.as_deref().map(|r| StatusJson { v: r, base });
        f.entity("reblog", reblog.as_ref())?;
        f.field("application", &None::<()>)?;
        let account = AccountJson {
            a: &v.account,
            base,
            credential: None,
        };
        f.entity("account", Some(&account))?;
        f.field("media_attachments", &NONE)?;
        // No allocation for the usual post without mentions or hashtags.
        let mentions: Vec<_> = (v.mentions.iter())
            .map(|a| MentionJson { a, base })
            .collect();
        f.entities("mentions", &mentions)?;
        let tags: Vec<_> = v.tags.iter().map(|name| TagJson { name, base }).collect();
        f.entities("tags", &tags)?;
        f.field("emojis", &NONE)?;
        f.field("card", &None::<()>)?;
        f.field("poll", &None::<()>)?;
        let group = v.group.as_deref().map(|g| GroupJson { g, base });
        f.entity("group", group.as_ref())?;
        Ok(())
    }
}

/// Mastodon's Status entity.
#[derive(Debug)]
pub struct Status {
    view: StatusView,
    base: Arc<str>,
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_entity(
            &StatusJson {
                v: &self.view,
                base: &self.base,
            },
            s,
        )
    }
}

impl Status {
    /// Converts a post view.
    pub fn from_view(v: &StatusView, s: &Settings) -> Self {
        Self {
            view: v.clone(),
            base: Arc::from(&*s.base_url()),
        }
    }

    /// Converts many post views.
    pub fn many(vs: &[StatusView], s: &Settings) -> Vec<Self> {
        Self::from_views(vs.to_vec(), s)
    }

    /// Converts many post views, taking them.
    pub fn from_views(vs: Vec<StatusView>, s: &Settings) -> Vec<Self> {
        let base: Arc<str> = Arc::from(&*s.base_url());
        vs.into_iter()
            .map(|view| Self {
                view,
                base: Arc::clone(&base),
            })
            .collect()
    }

    /// Writes the entity as JSON at the end of `out`, its keys copied as they are (see
    /// [`crate::json`]): the pages of posts are written this way.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_entity(
            out,
            &StatusJson {
                v: &self.view,
                base: &self.base,
            },
        )
    }

    /// A post view written as JSON text (streaming events), without taking or copying it.
    pub fn json_of(v: &StatusView, s: &Settings) -> serde_json::Result<String> {
        let mut out = Vec::with_capacity(2_000);
        write_entity(
            &mut out,
            &StatusJson {
                v,
                base: &s.base_url(),
            },
        )?;
        // Written from `str`s and serde_json's own escaping: always UTF-8.
        String::from_utf8(out).map_err(serde::ser::Error::custom)
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
        let date = serde_json::to_string(&Date(1_704_110_400_123)).unwrap_or_default();
        assert_eq!(date, "\"2024-01-01\"");
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

#[cfg(test)]
mod entity_shape_tests {
    #![allow(clippy::unwrap_used)] // Tests fail by panicking.
    use super::*;
    use starling_service::StatusRecord;

    fn account(id: i64, name: &str, note: &str) -> AccountRecord {
        AccountRecord {
            id,
            username: name.to_owned(),
            email: format!("{name}@example.com"),
            display_name: format!("{name} <Display> \"quoted\""),
            note: note.to_owned(),
            role: "member".to_owned(),
            locked: false,
            bot: id % 2 == 0,
            discoverable: true,
            default_privacy: "public".to_owned(),
            default_sensitive: false,
            default_language: None,
            celebrity: false,
            deactivated_at: None,
            created_at: 1_704_110_400_123,
            followers_count: 3,
            following_count: 4,
            statuses_count: 5,
            last_status_at: Some(1_704_196_800_000),
        }
    }

    fn post(id: i64, author: i64, reblog_of: Option<i64>) -> StatusRecord {
        StatusRecord {
            id,
            account_id: author,
            text: "hi @bo #rust \u{1F600}\n\"x\"".to_owned(),
            content: "<p>hi <a href=\"x\">@bo</a></p>".to_owned(),
            spoiler_text: String::new(),
            sensitive: false,
            visibility: "public".to_owned(),
            language: Some("en".to_owned()),
            in_reply_to_id: Some(7),
            in_reply_to_account_id: Some(8),
            reblog_of_id: reblog_of,
            app_id: None,
            created_at: 1_704_110_400_123,
            edited_at: Some(1_704_110_500_000),
            replies_count: 1,
            reblogs_count: 2,
            favourites_count: 3,
            group_id: Some(9),
        }
    }

    fn settings() -> Settings {
        Settings {
            base_url: Some("https://x.example".to_owned()),
            ..Settings::default()
        }
    }

    fn view() -> StatusView {
        let original = StatusView {
            status: Arc::new(post(20, 2, None)),
            account: Arc::new(account(2, "bo", "line one\nline <two>")),
            mentions: vec![Arc::new(account(3, "cy", ""))],
            tags: vec!["rust".to_owned()],
            reblog: None,
            favourited: true,
            reblogged: true,
            bookmarked: false,
            pinned: false,
            group: Some(Arc::new(GroupRecord {
                id: 9,
                name: "Team \"A\"".to_owned(),
                description: String::new(),
                visibility: "private".to_owned(),
                created_at: 0,
                members_count: 2,
            })),
        };
        StatusView {
            status: Arc::new(post(21, 1, Some(20))),
            account: Arc::new(account(1, "ana", "")),
            mentions: Vec::new(),
            tags: Vec::new(),
            reblog: Some(Box::new(original)),
            favourited: false,
            reblogged: false,
            bookmarked: true,
            pinned: true,
            group: None,
        }
    }

    /// A reblog of a post with a mention, a hashtag, a group, markup, quotes and an
    /// emoji, and an administrator's own account, written exactly as before the entities
    /// were written straight from the records (and as Mastodon clients read them).
    #[test]
    fn statuses_and_accounts_keep_their_json() {
        let s = settings();
        let status = serde_json::to_string(&Status::from_view(&view(), &s)).unwrap();
        assert_eq!(status, STATUS_JSON);
        let streamed = Status::json_of(&view(), &s).unwrap();
        assert_eq!(streamed, STATUS_JSON);
        let mut paged = Vec::new();
        Status::from_view(&view(), &s)
            .write_json(&mut paged)
            .unwrap();
        assert_eq!(String::from_utf8(paged).unwrap(), STATUS_JSON);
        let mut a = account(4, "di", "bio");
        a.role = "admin".to_owned();
        let own = serde_json::to_string(&Account::credential(&a, &s)).unwrap();
        assert_eq!(own, CREDENTIAL_JSON);
    }

    /// URLs longer than the stack buffer (a long base URL) are written whole too.
    #[test]
    fn long_urls_are_written_whole() {
        let base = format!("https://{}.example", "x".repeat(URL_ON_STACK));
        let url = serde_json::to_string(&Url(&[&base, "/@", "ana"])).unwrap();
        assert_eq!(url, format!("\"{base}/@ana\""));
        let short = serde_json::to_string(&Url(&["https://x", "/tags/", "r\u{fc}st"])).unwrap();
        assert_eq!(short, "\"https://x/tags/r\u{fc}st\"");
    }

    const STATUS_JSON: &str = r#"{"id":"21","created_at":"2024-01-01T12:00:00.123Z","in_reply_to_id":"7","in_reply_to_account_id":"8","sensitive":false,"spoiler_text":"","visibility":"public","language":"en","uri":"https://x.example/users/ana/statuses/21","url":"https://x.example/@ana/21","replies_count":1,"reblogs_count":2,"favourites_count":3,"edited_at":"2024-01-01T12:01:40.000Z","favourited":false,"reblogged":true,"muted":false,"bookmarked":true,"pinned":true,"content":"<p>hi <a href=\"x\">@bo</a></p>","text":"hi @bo #rust 😀\n\"x\"","filtered":[],"reblog":{"id":"20","created_at":"2024-01-01T12:00:00.123Z","in_reply_to_id":"7","in_reply_to_account_id":"8","sensitive":false,"spoiler_text":"","visibility":"public","language":"en","uri":"https://x.example/users/bo/statuses/20","url":"https://x.example/@bo/20","replies_count":1,"reblogs_count":2,"favourites_count":3,"edited_at":"2024-01-01T12:01:40.000Z","favourited":true,"reblogged":true,"muted":false,"bookmarked":false,"pinned":false,"content":"<p>hi <a href=\"x\">@bo</a></p>","text":"hi @bo #rust 😀\n\"x\"","filtered":[],"reblog":null,"application":null,"account":{"id":"2","username":"bo","acct":"bo","display_name":"bo <Display> \"quoted\"","locked":false,"bot":true,"discoverable":true,"group":false,"noindex":false,"created_at":"2024-01-01T12:00:00.123Z","note":"<p>line one<br>line &lt;two&gt;</p>","url":"https://x.example/@bo","uri":"https://x.example/users/bo","avatar":"https://x.example/avatars/original/missing.png","avatar_static":"https://x.example/avatars/original/missing.png","header":"https://x.example/headers/original/missing.png","header_static":"https://x.example/headers/original/missing.png","followers_count":3,"following_count":4,"statuses_count":5,"last_status_at":"2024-01-02","emojis":[],"fields":[]},"media_attachments":[],"mentions":[{"id":"3","username":"cy","acct":"cy","url":"https://x.example/@cy"}],"tags":[{"name":"rust","url":"https://x.example/tags/rust"}],"emojis":[],"card":null,"poll":null,"group":{"id":"9","name":"Team \"A\"","visibility":"private","url":"https://x.example/groups/9"}},"application":null,"account":{"id":"1","username":"ana","acct":"ana","display_name":"ana <Display> \"quoted\"","locked":false,"bot":false,"discoverable":true,"group":false,"noindex":false,"created_at":"2024-01-01T12:00:00.123Z","note":"","url":"https://x.example/@ana","uri":"https://x.example/users/ana","avatar":"https://x.example/avatars/original/missing.png","avatar_static":"https://x.example/avatars/original/missing.png","header":"https://x.example/headers/original/missing.png","header_static":"https://x.example/headers/original/missing.png","followers_count":3,"following_count":4,"statuses_count":5,"last_status_at":"2024-01-02","emojis":[],"fields":[]},"media_attachments":[],"mentions":[],"tags":[],"emojis":[],"card":null,"poll":null,"group":null}"#;

    const CREDENTIAL_JSON: &str = r#"{"id":"4","username":"di","acct":"di","display_name":"di <Display> \"quoted\"","locked":false,"bot":true,"discoverable":true,"group":false,"noindex":false,"created_at":"2024-01-01T12:00:00.123Z","note":"<p>bio</p>","url":"https://x.example/@di","uri":"https://x.example/users/di","avatar":"https://x.example/avatars/original/missing.png","avatar_static":"https://x.example/avatars/original/missing.png","header":"https://x.example/headers/original/missing.png","header_static":"https://x.example/headers/original/missing.png","followers_count":3,"following_count":4,"statuses_count":5,"last_status_at":"2024-01-02","emojis":[],"fields":[],"source":{"privacy":"public","sensitive":false,"language":null,"note":"bio","fields":[],"follow_requests_count":0},"role":{"color":"","highlighted":true,"id":"3","name":"Admin","permissions":"1"}}"#;
}

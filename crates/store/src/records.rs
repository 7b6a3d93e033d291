//! Plain data read from and written to the database.

use crate::reads::Cols;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Columns selected for an [`AccountRecord`].
pub(crate) const ACCOUNT_COLUMNS: &str = "id, username, email, display_name, note, role, \
    locked, bot, discoverable, default_privacy, default_sensitive, default_language, celebrity, \
    deactivated_at, created_at, followers_count, following_count, statuses_count, last_status_at";

/// An account as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountRecord {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub note: String,
    pub role: String,
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
    pub default_privacy: String,
    pub default_sensitive: bool,
    pub default_language: Option<String>,
    pub celebrity: bool,
    pub deactivated_at: Option<i64>,
    pub created_at: i64,
    pub followers_count: i64,
    pub following_count: i64,
    pub statuses_count: i64,
    pub last_status_at: Option<i64>,
}

impl AccountRecord {
    pub(crate) fn from_row(r: &impl Cols) -> crate::Result<Self> {
        Ok(Self {
            id: r.int("id")?,
            username: r.text("username")?,
            email: r.text("email")?,
            display_name: r.text("display_name")?,
            note: r.text("note")?,
            role: r.text("role")?,
            locked: r.flag("locked")?,
            bot: r.flag("bot")?,
            discoverable: r.flag("discoverable")?,
            default_privacy: r.text("default_privacy")?,
            default_sensitive: r.flag("default_sensitive")?,
            default_language: r.opt_text("default_language")?,
            celebrity: r.flag("celebrity")?,
            deactivated_at: r.opt_int("deactivated_at")?,
            created_at: r.int("created_at")?,
            followers_count: r.int("followers_count")?,
            following_count: r.int("following_count")?,
            statuses_count: r.int("statuses_count")?,
            last_status_at: r.opt_int("last_status_at")?,
        })
    }

    /// Whether the account is an administrator.
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// A new account to insert.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    /// `None` lets the store decide: the first account of the network becomes admin.
    pub role: Option<String>,
    pub created_at: i64,
}

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub display_name: Option<String>,
    pub note: Option<String>,
    pub locked: Option<bool>,
    pub bot: Option<bool>,
    pub discoverable: Option<bool>,
    pub default_privacy: Option<String>,
    pub default_sensitive: Option<bool>,
    pub default_language: Option<String>,
}

/// A registered OAuth application.
#[derive(Debug, Clone, PartialEq)]
pub struct AppRecord {
    pub id: i64,
    pub name: String,
    pub website: Option<String>,
    pub redirect_uris: String,
    pub scopes: String,
    pub client_id: String,
    pub client_secret: String,
    pub created_at: i64,
}

impl AppRecord {
    pub(crate) fn from_row(r: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            website: r.try_get("website")?,
            redirect_uris: r.try_get("redirect_uris")?,
            scopes: r.try_get("scopes")?,
            client_id: r.try_get("client_id")?,
            client_secret: r.try_get("client_secret")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

/// An access token as stored (only hashes of the secrets are kept).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub id: i64,
    pub app_id: Option<i64>,
    pub account_id: Option<i64>,
    pub scopes: String,
    pub created_at: i64,
}

/// A new token to insert.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: i64,
    pub token_hash: String,
    pub refresh_hash: Option<String>,
    pub app_id: Option<i64>,
    pub account_id: Option<i64>,
    pub scopes: String,
    pub created_at: i64,
}

/// A pending authorization code.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeRecord {
    pub app_id: i64,
    pub account_id: i64,
    pub scopes: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub expires_at: i64,
}

/// Columns selected for a [`StatusRecord`] from `statuses s`.
pub(crate) const STATUS_COLUMNS: &str = "s.id, s.account_id, s.text, s.content, s.spoiler_text, s.sensitive, \
    s.visibility, s.language, s.in_reply_to_id, s.in_reply_to_account_id, s.reblog_of_id, s.app_id, \
    s.created_at, s.edited_at, s.replies_count, s.reblogs_count, s.favourites_count, s.group_id";

/// A post (or a reblog wrapper) as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusRecord {
    pub id: i64,
    pub account_id: i64,
    pub text: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: String,
    pub language: Option<String>,
    pub in_reply_to_id: Option<i64>,
    pub in_reply_to_account_id: Option<i64>,
    pub reblog_of_id: Option<i64>,
    pub app_id: Option<i64>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub replies_count: i64,
    pub reblogs_count: i64,
    pub favourites_count: i64,
    /// The group the post was written in, if any.
    pub group_id: Option<i64>,
}

impl StatusRecord {
    pub(crate) fn from_row(r: &impl Cols) -> crate::Result<Self> {
        Ok(Self {
            id: r.int("id")?,
            account_id: r.int("account_id")?,
            text: r.text("text")?,
            content: r.text("content")?,
            spoiler_text: r.text("spoiler_text")?,
            sensitive: r.flag("sensitive")?,
            visibility: r.text("visibility")?,
            language: r.opt_text("language")?,
            in_reply_to_id: r.opt_int("in_reply_to_id")?,
            in_reply_to_account_id: r.opt_int("in_reply_to_account_id")?,
            reblog_of_id: r.opt_int("reblog_of_id")?,
            app_id: r.opt_int("app_id")?,
            created_at: r.int("created_at")?,
            edited_at: r.opt_int("edited_at")?,
            replies_count: r.int("replies_count")?,
            reblogs_count: r.int("reblogs_count")?,
            favourites_count: r.int("favourites_count")?,
            group_id: r.opt_int("group_id")?,
        })
    }
}

/// A new post to insert, with everything derived from its text.
#[derive(Debug, Clone)]
pub struct NewStatus {
    pub id: i64,
    pub account_id: i64,
    pub text: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: String,
    pub language: Option<String>,
    pub in_reply_to_id: Option<i64>,
    pub in_reply_to_account_id: Option<i64>,
    pub app_id: Option<i64>,
    pub created_at: i64,
    /// The group the post is written in, if any.
    pub group_id: Option<i64>,
    /// Accounts mentioned (ids), in order.
    pub mentions: Vec<i64>,
    /// Hashtags, normalised.
    pub tags: Vec<String>,
    /// Followers get the post in their home feed (false for direct posts and celebrities).
    pub fan_out_to_followers: bool,
    /// Accounts that get the post in their home feed besides the followers (author, mentioned).
    pub feed_recipients: Vec<i64>,
    /// Notifications to create with the post.
    pub notifications: Vec<NewNotification>,
    /// Client-supplied key making a retried request return the first post.
    pub idempotency_key: Option<String>,
    /// For a direct post: its conversation and participants, whose conversation rows are
    /// updated in the same transaction.
    pub conversation: Option<crate::conversations::NewConversationUpdate>,
}

/// A new version of a post's text.
#[derive(Debug, Clone)]
pub struct StatusEdit {
    pub edit_id: i64,
    /// Id for the original version, recorded at the first edit.
    pub original_version_id: i64,
    pub status_id: i64,
    pub text: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub language: Option<String>,
    pub mentions: Vec<i64>,
    pub tags: Vec<String>,
    pub edited_at: i64,
}

/// One past version of a post.
#[derive(Debug, Clone, PartialEq)]
pub struct EditRecord {
    pub id: i64,
    pub text: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub created_at: i64,
}

/// A notification as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRecord {
    pub id: i64,
    pub account_id: i64,
    pub kind: String,
    pub from_account_id: i64,
    pub status_id: Option<i64>,
    /// The group it is about (join requests, invitations, approvals).
    pub group_id: Option<i64>,
    pub created_at: i64,
}

impl NotificationRecord {
    pub(crate) fn from_row(r: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: r.try_get("id")?,
            account_id: r.try_get("account_id")?,
            kind: r.try_get("kind")?,
            from_account_id: r.try_get("from_account_id")?,
            status_id: r.try_get("status_id")?,
            group_id: r.try_get("group_id")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

/// A notification to create.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub id: i64,
    pub account_id: i64,
    pub kind: String,
    pub from_account_id: i64,
    pub status_id: Option<i64>,
    /// The group it is about, if any.
    pub group_id: Option<i64>,
    pub created_at: i64,
}

/// How one account stands towards another.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelationshipRecord {
    pub target_id: i64,
    pub following: bool,
    pub showing_reblogs: bool,
    pub notifying: bool,
    pub followed_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    pub muting: bool,
    pub muting_notifications: bool,
}

/// A reading position saved by a client.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkerRecord {
    pub timeline: String,
    pub last_read_id: i64,
    pub version: i64,
    pub updated_at: i64,
}

/// An account listed with the id of the row that put it in a list (for pagination).
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    /// The id of the follow, favourite, block… row: the pagination cursor.
    pub cursor: i64,
    /// The item.
    pub item: T,
}

//! Posting: writing, editing, deleting and reading posts and threads.

use crate::auth::Principal;
use crate::realtime::{Event, PostRef};
use crate::views::StatusView;
use crate::{Result, ServiceError, Starling};
use starling_domain::group::{GroupRole, GroupVisibility};
use starling_domain::id::now_millis;
use starling_domain::text::{
    extract_hashtags, extract_local_mentions, render_html, validate_post_text,
};
use starling_domain::visibility::Visibility;
use starling_store::groups::GroupRecord;
use starling_store::{
    AccountRecord, EditRecord, NewNotification, NewStatus, StatusEdit, StatusRecord, StoreError,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Longest content warning, in characters.
const SPOILER_MAX: usize = 500;
/// Longest idempotency key accepted.
const IDEMPOTENCY_KEY_MAX: usize = 256;

/// A post as a client submits it.
#[derive(Debug, Clone, Default)]
pub struct NewPost {
    pub text: String,
    pub visibility: Option<String>,
    pub in_reply_to_id: Option<i64>,
    pub spoiler_text: Option<String>,
    pub sensitive: Option<bool>,
    pub language: Option<String>,
    pub idempotency_key: Option<String>,
    /// The group to post in; a reply always stays in the group of the post it answers.
    pub group_id: Option<i64>,
}

/// Changes to an existing post.
#[derive(Debug, Clone, Default)]
pub struct PostEdit {
    pub text: String,
    pub spoiler_text: Option<String>,
    pub sensitive: Option<bool>,
    pub language: Option<String>,
}

/// Text of a post checked and analysed: rendered HTML, mentioned accounts, tags.
struct Composed {
    content: String,
    mentions: Vec<AccountRecord>,
    tags: Vec<String>,
}

impl Starling {
    /// Checks the length rule and resolves mentions and tags.
    async fn compose(&self, author: &AccountRecord, text: &str, spoiler: &str) -> Result<Composed> {
        let limit = self.settings().max_post_chars;
        validate_post_text(text, limit)
            .map_err(|e| ServiceError::invalid(format!("Validation failed: status {e}")))?;
        if spoiler.chars().count() > SPOILER_MAX {
            return Err(ServiceError::invalid(format!(
                "Validation failed: spoiler_text must be at most {SPOILER_MAX} characters"
            )));
        }
        let names = extract_local_mentions(text, &self.settings().host());
        let found = self.db().accounts_by_usernames(&names).await?;
        let active: Vec<AccountRecord> = found
            .into_iter()
            .filter(|a| a.deactivated_at.is_none())
            .collect();
        let ids: Vec<i64> = active
            .iter()
            .map(|a| a.id)
            .filter(|id| *id != author.id)
            .collect();
        let blocked = self.db().blocked_among(author.id, &ids).await?;
        let mentions: Vec<AccountRecord> = names
            .iter()
            .filter_map(|n| active.iter().find(|a| a.username.eq_ignore_ascii_case(n)))
            .filter(|a| !blocked.contains(&a.id))
            .cloned()
            .collect();
        let known: HashSet<String> = mentions
            .iter()
            .map(|a| a.username.to_ascii_lowercase())
            .collect();
        let content = render_html(text, &self.settings().base_url(), &|n: &str| {
            known.contains(n)
        });
        Ok(Composed {
            content,
            mentions,
            tags: extract_hashtags(text),
        })
    }

    /// `POST /api/v1/statuses`: publishes a post, fans it out and notifies mentioned accounts.
    pub async fn post(&self, principal: &Principal, req: NewPost) -> Result<StatusView> {
        let me = principal.account()?;
        let requested = req
            .visibility
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(Visibility::parse)
            .transpose()
            .map_err(|e| ServiceError::invalid(format!("Validation failed: {e}")))?;
        if let Some(key) = &req.idempotency_key
            && key.len() > IDEMPOTENCY_KEY_MAX
        {
            return Err(ServiceError::BadRequest(format!(
                "Idempotency-Key must be at most {IDEMPOTENCY_KEY_MAX} bytes"
            )));
        }
        let parent = match req.in_reply_to_id {
            Some(id) => Some(
                self.visible_status(Some(me), id)
                    .await
                    .map_err(|e| match e {
                        ServiceError::NotFound => ServiceError::NotFound,
                        other => other,
                    })?,
            ),
            None => None,
        };
        let group = self
            .posting_group(me, req.group_id, parent.as_ref())
            .await?;
        let visibility = match (&group, requested) {
            (Some(_), Some(Visibility::Direct)) => {
                return Err(ServiceError::invalid(
                    "Validation failed: visibility cannot be direct for a post in a group",
                ));
            }
            // The group is the audience, whatever else was asked for.
            (Some(g), _) => GroupVisibility::parse(&g.visibility)
                .unwrap_or(GroupVisibility::Private)
                .post_visibility(),
            (None, Some(v)) => v,
            (None, None) => Visibility::parse(&me.default_privacy).unwrap_or(Visibility::Public),
        };
        let spoiler = req.spoiler_text.unwrap_or_default();
        let composed = self.compose(me, &req.text, &spoiler).await?;
        if visibility == Visibility::Direct {
            self.check_direct_audience(me, &req.text).await?;
        }
        // Group posts reach members' homes from the group's own index, not by copies.
        let fan_out = visibility != Visibility::Direct && !me.celebrity && group.is_none();
        if fan_out {
            // Before the id is taken: a post held back must not be stored with an id
            // (and time) older than posts already shown, which clients paging with
            // `since_id` would never see.
            self.wait_for_fan_out().await;
        }
        let id = self.next_id();
        let now = now_millis();
        let mentioned: Vec<i64> = composed.mentions.iter().map(|a| a.id).collect();
        // Followers who rang the bell (and group members who asked) hear of every post
        // that is not a reply to someone else.
        let own_thread = parent.as_ref().is_none_or(|p| p.account_id == me.id);
        let mut bells = Vec::new();
        if visibility != Visibility::Direct && own_thread {
            bells = self.db().notify_followers(me.id).await?;
            if let Some(g) = &group {
                bells.extend(self.db().group_notify_members(g.id).await?);
            }
            bells.sort_unstable();
            bells.dedup();
            bells.retain(|b| !mentioned.contains(b));
        }
        // Of a post in a private group, only members hear, whoever it mentions.
        let outsiders_excluded = match &group {
            Some(g) if g.visibility != GroupVisibility::Public.as_str() => {
                let candidates: Vec<i64> = mentioned.iter().chain(&bells).copied().collect();
                Some(self.db().group_members_among(g.id, &candidates).await?)
            }
            _ => None,
        };
        let hears = |id: i64| outsiders_excluded.as_ref().is_none_or(|m| m.contains(&id));
        let mut notifications = Vec::new();
        let recipients = mentioned
            .iter()
            .map(|m| (*m, "mention"))
            .chain(bells.iter().map(|b| (*b, "status")));
        for (account, kind) in recipients {
            if hears(account) && self.wants_notification(account, me.id).await? {
                notifications.push(NewNotification {
                    id: self.next_id(),
                    account_id: account,
                    kind: kind.into(),
                    from_account_id: me.id,
                    status_id: Some(id),
                    group_id: None,
                    created_at: now,
                });
            }
        }
        let mut feed_recipients = vec![me.id];
        if visibility == Visibility::Direct {
            feed_recipients.extend(mentioned.iter().copied().filter(|m| *m != me.id));
        }
        let conversation = match visibility {
            Visibility::Direct => Some(
                self.conversation_update(me.id, parent.as_ref(), id, &mentioned)
                    .await?,
            ),
            _ => None,
        };
        // What live streams learn once the post is stored.
        let note_refs = notification_refs(&notifications);
        let thread = conversation.as_ref().map(|c| Event::Conversation {
            conversation_id: c.conversation_id,
            status_id: id,
            participants: c.participants.iter().map(|(a, _)| *a).collect(),
        });
        let mentioned_ids = mentioned.clone();
        let status = self
            .db()
            .create_status(NewStatus {
                id,
                account_id: me.id,
                text: req.text,
                content: composed.content,
                spoiler_text: spoiler,
                sensitive: req.sensitive.unwrap_or(me.default_sensitive),
                visibility: visibility.as_str().to_owned(),
                language: req
                    .language
                    .filter(|l| !l.is_empty())
                    .or_else(|| me.default_language.clone()),
                in_reply_to_id: parent.as_ref().map(|p| p.id),
                in_reply_to_account_id: parent.as_ref().map(|p| p.account_id),
                app_id: principal.app_id,
                created_at: now,
                mentions: mentioned,
                tags: composed.tags.clone(),
                group_id: group.as_ref().map(|g| g.id),
                fan_out_to_followers: fan_out,
                feed_recipients,
                notifications,
                idempotency_key: req.idempotency_key,
                conversation,
            })
            .await?;
        if fan_out {
            self.fan_out_state().wake.notify_one();
        }
        if status.id != id {
            // An idempotent retry: the earlier post, as it is now.
            return self.one_view(Some(me), status).await;
        }
        self.publish(Event::Update(PostRef::new(
            &status,
            mentioned_ids,
            composed.tags.clone(),
        )));
        self.publish_notifications(&note_refs);
        if let Some(thread) = thread {
            self.publish(thread);
        }
        // A new post: everything to show is already at hand.
        let mut account = me.clone();
        account.statuses_count += 1;
        account.last_status_at = Some(now);
        Ok(StatusView {
            status: Arc::new(status),
            account: Arc::new(account),
            mentions: composed.mentions.into_iter().map(Arc::new).collect(),
            tags: composed.tags,
            reblog: None,
            favourited: false,
            reblogged: false,
            bookmarked: false,
            pinned: false,
            group: group.map(Arc::new),
        })
    }

    /// Whether `me` is an owner or admin of the group `status` was written in.
    async fn moderates_group_of(&self, me: &AccountRecord, status: &StatusRecord) -> Result<bool> {
        let Some(group) = status.group_id else {
            return Ok(false);
        };
        Ok(self
            .db()
            .group_roles(me.id, &[group])
            .await?
            .iter()
            .any(|(_, role)| GroupRole::parse(role).is_ok_and(GroupRole::moderates)))
    }

    /// The group a new post goes to, checked: a reply stays in the group of the post it
    /// answers, and only members post in a group.
    async fn posting_group(
        &self,
        me: &AccountRecord,
        requested: Option<i64>,
        parent: Option<&StatusRecord>,
    ) -> Result<Option<GroupRecord>> {
        let id = match (requested, parent.map(|p| p.group_id)) {
            (None, None | Some(None)) => return Ok(None),
            (None, Some(Some(g))) => g,
            (Some(g), None) => g,
            (Some(g), Some(Some(p))) if g == p => g,
            (Some(_), Some(_)) => {
                return Err(ServiceError::invalid(
                    "Validation failed: group_id must be the group of the post replied to \
                     (a reply stays where its thread is)",
                ));
            }
        };
        let group = match self.db().group(id).await {
            Ok(g) => g,
            Err(StoreError::NotFound) => {
                return Err(ServiceError::invalid(
                    "Validation failed: group_id does not name an existing group",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if self.db().group_roles(me.id, &[id]).await?.is_empty() {
            return Err(ServiceError::Forbidden(
                "group_id: only members of this group may post in it".into(),
            ));
        }
        Ok(Some(group))
    }

    /// Whether `recipient` should be notified of something `actor` did (not blocked, not muted).
    pub(crate) async fn wants_notification(&self, recipient: i64, actor: i64) -> Result<bool> {
        if recipient == actor {
            return Ok(false);
        }
        let blocked = self.db().blocked_among(recipient, &[actor]).await?;
        let rel = self.db().relationships(recipient, &[actor]).await?;
        let muted = rel
            .first()
            .is_some_and(|r| r.muting && r.muting_notifications);
        Ok(blocked.is_empty() && !muted)
    }

    /// `GET /api/v1/statuses/:id`.
    pub async fn status(&self, viewer: Option<&AccountRecord>, id: i64) -> Result<StatusView> {
        let status = self.db().status(id).await?;
        self.present(viewer, vec![status], false)
            .await?
            .into_iter()
            .next()
            .ok_or(ServiceError::NotFound)
    }

    /// `DELETE /api/v1/statuses/:id`: the author, or an owner or admin of the post's
    /// group (who moderate it); returns the post as it was.
    pub async fn delete_status(&self, me: &AccountRecord, id: i64) -> Result<StatusView> {
        // Ownership, not visibility, decides: a reblog of a post whose author has since
        // blocked the reblogger is no longer visible to them, but is still theirs to delete.
        let status = self.db().status(id).await?;
        if status.account_id != me.id && !self.moderates_group_of(me, &status).await? {
            return Err(ServiceError::NotFound);
        }
        let view = self.view_regardless(me, status).await?;
        let (_, reblogs) = self.db().delete_status(id).await?;
        self.publish(Event::Delete(PostRef::new(
            &view.status,
            view.mentions.iter().map(|a| a.id).collect(),
            view.tags.clone(),
        )));
        // Reblogs vanish with their original: their readers get a `delete` of their own.
        for reblog in &reblogs {
            self.publish(Event::Delete(PostRef::new(reblog, Vec::new(), Vec::new())));
        }
        Ok(view)
    }

    /// `PUT /api/v1/statuses/:id`: the author edits text, warning or sensitivity.
    pub async fn edit_status(
        &self,
        me: &AccountRecord,
        id: i64,
        edit: PostEdit,
    ) -> Result<StatusView> {
        let status = self.visible_status(Some(me), id).await?;
        if status.account_id != me.id || status.reblog_of_id.is_some() {
            return Err(ServiceError::NotFound);
        }
        let spoiler = edit
            .spoiler_text
            .unwrap_or_else(|| status.spoiler_text.clone());
        let composed = self.compose(me, &edit.text, &spoiler).await?;
        if status.visibility == Visibility::Direct.as_str() {
            // An edit must not widen a direct message past the rules its posting obeyed.
            self.check_direct_audience(me, &edit.text).await?;
        }
        let edited = self
            .db()
            .edit_status(StatusEdit {
                original_version_id: self.next_id(),
                edit_id: self.next_id(),
                status_id: id,
                text: edit.text,
                content: composed.content,
                spoiler_text: spoiler,
                sensitive: edit.sensitive.unwrap_or(status.sensitive),
                language: edit.language.or(status.language),
                mentions: composed.mentions.iter().map(|a| a.id).collect(),
                tags: composed.tags.clone(),
                edited_at: now_millis(),
            })
            .await?;
        self.publish(Event::StatusUpdate(PostRef::new(
            &edited,
            composed.mentions.iter().map(|a| a.id).collect(),
            composed.tags,
        )));
        let now = now_millis();
        let mut notes = Vec::new();
        for account in self.db().rebloggers(id).await? {
            if self.wants_notification(account, me.id).await? {
                notes.push(NewNotification {
                    id: self.next_id(),
                    account_id: account,
                    kind: "update".into(),
                    from_account_id: me.id,
                    status_id: Some(id),
                    group_id: None,
                    created_at: now,
                });
            }
        }
        self.db().create_notifications(&notes).await?;
        self.publish_notifications(&notification_refs(&notes));
        self.one_view(Some(me), edited).await
    }

    /// `GET /api/v1/statuses/:id/history`: the post's versions, oldest first.
    pub async fn status_history(
        &self,
        viewer: Option<&AccountRecord>,
        id: i64,
    ) -> Result<(StatusView, Vec<EditRecord>)> {
        let view = self.status(viewer, id).await?;
        let mut edits = self.db().status_edits(id).await?;
        if edits.is_empty() {
            let s = &view.status;
            edits.push(EditRecord {
                id: s.id,
                text: s.text.clone(),
                content: s.content.clone(),
                spoiler_text: s.spoiler_text.clone(),
                sensitive: s.sensitive,
                created_at: s.created_at,
            });
        }
        Ok((view, edits))
    }

    /// `GET /api/v1/statuses/:id/source`: the raw text, for the author.
    pub async fn status_source(&self, me: &AccountRecord, id: i64) -> Result<StatusRecord> {
        let status = self.visible_status(Some(me), id).await?;
        if status.account_id != me.id {
            return Err(ServiceError::NotFound);
        }
        Ok(status)
    }

    /// `GET /api/v1/statuses/:id/context`: visible ancestors (oldest first) and
    /// descendants (in thread order: each reply after its parent).
    pub async fn context(
        &self,
        viewer: Option<&AccountRecord>,
        id: i64,
    ) -> Result<(Vec<StatusView>, Vec<StatusView>)> {
        let status = self.visible_status(viewer, id).await?;
        let mut ancestors = self.db().ancestors(&status).await?;
        ancestors.reverse();
        let descendants = thread_order(id, self.db().descendants(id).await?);
        Ok((
            self.present(viewer, ancestors, false).await?,
            self.present(viewer, descendants, false).await?,
        ))
    }
}

/// `(id, recipient)` of stored notifications, as the streaming hub announces them.
pub(crate) fn notification_refs(notes: &[NewNotification]) -> Vec<(i64, i64)> {
    notes.iter().map(|n| (n.id, n.account_id)).collect()
}

/// Orders replies depth-first under `root`, oldest sibling first.
fn thread_order(root: i64, replies: Vec<StatusRecord>) -> Vec<StatusRecord> {
    let mut children: HashMap<i64, Vec<StatusRecord>> = HashMap::new();
    for r in replies {
        if let Some(parent) = r.in_reply_to_id {
            children.entry(parent).or_default().push(r);
        }
    }
    for list in children.values_mut() {
        // Newest first, so popping from the stack visits the oldest first.
        list.sort_by_key(|s| std::cmp::Reverse(s.id));
    }
    let mut out = Vec::new();
    let mut stack: Vec<StatusRecord> = children.remove(&root).unwrap_or_default();
    while let Some(next) = stack.pop() {
        if let Some(kids) = children.remove(&next.id) {
            stack.extend(kids);
        }
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(id: i64, parent: i64) -> StatusRecord {
        StatusRecord {
            id,
            account_id: 1,
            text: String::new(),
            content: String::new(),
            spoiler_text: String::new(),
            sensitive: false,
            visibility: "public".into(),
            language: None,
            in_reply_to_id: Some(parent),
            in_reply_to_account_id: None,
            reblog_of_id: None,
            app_id: None,
            created_at: 0,
            edited_at: None,
            replies_count: 0,
            reblogs_count: 0,
            favourites_count: 0,
            group_id: None,
        }
    }

    #[test]
    fn replies_come_depth_first() {
        // 1 <- 2 <- 4, 1 <- 3 <- 5
        let order = thread_order(1, vec![reply(5, 3), reply(2, 1), reply(4, 2), reply(3, 1)]);
        let ids: Vec<i64> = order.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![2, 4, 3, 5]);
    }
}

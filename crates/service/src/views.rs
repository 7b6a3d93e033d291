//! Read models handed to the front ends: posts and notifications with everything a
//! client displays (author, mentions, tags, the viewer's own marks), built from one
//! [`Batch`] of facts per page.

use crate::visibility::Batch;
use crate::{Result, Starling};
use starling_store::groups::GroupRecord;
use starling_store::interactions::ViewerMarks;
use starling_store::{AccountRecord, NotificationRecord, StatusRecord};
use std::collections::HashMap;
use std::sync::Arc;

/// A post ready to display to one viewer.
#[derive(Debug, Clone)]
pub struct StatusView {
    /// The stored post.
    pub status: Arc<StatusRecord>,
    /// Its author.
    pub account: Arc<AccountRecord>,
    /// Accounts it mentions.
    pub mentions: Vec<Arc<AccountRecord>>,
    /// Its hashtags, normalised.
    pub tags: Vec<String>,
    /// The reblogged post, for a reblog wrapper.
    pub reblog: Option<Box<StatusView>>,
    /// The viewer favourited it.
    pub favourited: bool,
    /// The viewer reblogged it.
    pub reblogged: bool,
    /// The viewer bookmarked it.
    pub bookmarked: bool,
    /// The viewer pinned it (own posts only).
    pub pinned: bool,
    /// The group it was written in, if any.
    pub group: Option<Arc<GroupRecord>>,
}

/// A notification ready to display.
#[derive(Debug, Clone)]
pub struct NotificationView {
    /// The stored notification.
    pub notification: NotificationRecord,
    /// Who caused it.
    pub account: AccountRecord,
    /// The post it is about, if any (and if still visible).
    pub status: Option<StatusView>,
    /// The group it is about (join requests, invitations, approvals).
    pub group: Option<GroupRecord>,
}

fn build(batch: &Batch, marks: &ViewerMarks, s: &Arc<StatusRecord>) -> Option<StatusView> {
    Some(StatusView {
        account: Arc::clone(batch.accounts.get(&s.account_id)?),
        mentions: batch
            .mentions
            .iter()
            .filter(|(sid, _)| *sid == s.id)
            .filter_map(|(_, a)| batch.accounts.get(a))
            .filter(|a| a.deactivated_at.is_none())
            .cloned()
            .collect(),
        tags: batch
            .tags
            .iter()
            .filter(|(sid, _)| *sid == s.id)
            .map(|(_, t)| t.clone())
            .collect(),
        reblog: None,
        favourited: marks.favourited.contains(&s.id),
        reblogged: marks.reblogged.contains(&s.id),
        bookmarked: marks.bookmarked.contains(&s.id),
        pinned: marks.pinned.contains(&s.id),
        group: s.group_id.and_then(|g| batch.groups.get(&g)).cloned(),
        status: Arc::clone(s),
    })
}

impl Starling {
    /// The posts of `statuses` that `viewer` may see, as views, in the same order. With
    /// `hide_muted`, posts by (or reblogging) accounts the viewer muted are left out too.
    pub(crate) async fn present(
        &self,
        viewer: Option<&AccountRecord>,
        statuses: Vec<StatusRecord>,
        hide_muted: bool,
    ) -> Result<Vec<StatusView>> {
        self.present_where(viewer, statuses, |b, s| b.sees(s, hide_muted))
            .await
    }

    /// Like [`Starling::present`] for a home (or list) timeline: also leaves out posts
    /// that no longer belong there — an author the viewer no longer follows (a feed row
    /// may outlive a follow for a moment) unless the post carries a followed hashtag.
    pub(crate) async fn present_home(
        &self,
        me: &AccountRecord,
        statuses: Vec<StatusRecord>,
        followed_tags: &[String],
    ) -> Result<Vec<StatusView>> {
        self.present_where(Some(me), statuses, |b, s| {
            b.sees(s, true) && b.belongs_in_home(s, me.id, followed_tags)
        })
        .await
    }

    async fn present_where(
        &self,
        viewer: Option<&AccountRecord>,
        statuses: Vec<StatusRecord>,
        keep: impl Fn(&Batch, &StatusRecord) -> bool,
    ) -> Result<Vec<StatusView>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let batch = self.batch(viewer, statuses).await?;
        Ok(views_of(&batch, keep))
    }

    /// One post as a view whatever its visibility: for the caller's own writes (a post
    /// being deleted by its author or its group's moderator stays theirs to see in the
    /// answer, even if a block hides it or its original now).
    pub(crate) async fn view_regardless(
        &self,
        viewer: &AccountRecord,
        status: StatusRecord,
    ) -> Result<StatusView> {
        self.present_where(Some(viewer), vec![status], |_, _| true)
            .await?
            .into_iter()
            .next()
            .ok_or(crate::ServiceError::NotFound)
    }

    /// One post the caller already checked, as a view.
    pub(crate) async fn one_view(
        &self,
        viewer: Option<&AccountRecord>,
        status: StatusRecord,
    ) -> Result<StatusView> {
        self.present(viewer, vec![status], false)
            .await?
            .into_iter()
            .next()
            .ok_or(crate::ServiceError::NotFound)
    }

    /// Builds notification views for `me`, dropping those whose post is no longer visible.
    pub(crate) async fn present_notifications(
        &self,
        me: &AccountRecord,
        notes: Vec<NotificationRecord>,
    ) -> Result<Vec<NotificationView>> {
        let mut from: Vec<i64> = notes.iter().map(|n| n.from_account_id).collect();
        from.sort_unstable();
        from.dedup();
        // Blocks hide each side from the other everywhere, notifications included (even
        // those that arrived before the block).
        let blocked = self.db().blocked_among(me.id, &from).await?;
        let accounts: HashMap<i64, AccountRecord> = self
            .db()
            .accounts(&from)
            .await?
            .into_iter()
            .filter(|a| a.deactivated_at.is_none() && !blocked.contains(&a.id))
            .map(|a| (a.id, a))
            .collect();
        let status_ids: Vec<i64> = notes.iter().filter_map(|n| n.status_id).collect();
        let statuses = self.db().statuses(&status_ids).await?;
        let views: HashMap<i64, StatusView> = self
            .present(Some(me), statuses, false)
            .await?
            .into_iter()
            .map(|v| (v.status.id, v))
            .collect();
        let mut group_ids: Vec<i64> = notes.iter().filter_map(|n| n.group_id).collect();
        group_ids.sort_unstable();
        group_ids.dedup();
        let groups: HashMap<i64, GroupRecord> = self
            .db()
            .groups(&group_ids)
            .await?
            .into_iter()
            .map(|g| (g.id, g))
            .collect();
        Ok(notes
            .into_iter()
            .filter_map(|n| {
                let account = accounts.get(&n.from_account_id)?.clone();
                let status = match n.status_id {
                    Some(id) => Some(views.get(&id)?.clone()),
                    None => None,
                };
                let group = match n.group_id {
                    Some(id) => Some(groups.get(&id)?.clone()),
                    None => None,
                };
                Some(NotificationView {
                    notification: n,
                    account,
                    status,
                    group,
                })
            })
            .collect())
    }
}

/// The posts of `batch` that `keep` keeps, as views, in order.
pub(crate) fn views_of(
    batch: &Batch,
    keep: impl Fn(&Batch, &StatusRecord) -> bool,
) -> Vec<StatusView> {
    let marks = &batch.marks;
    (batch.given.iter())
        .filter(|s| keep(batch, s))
        .filter_map(|s| {
            let mut view = build(batch, marks, s)?;
            if let Some(orig) = s.reblog_of_id {
                view.reblog = Some(Box::new(build(batch, marks, batch.posts.get(&orig)?)?));
            }
            Some(view)
        })
        .collect()
}

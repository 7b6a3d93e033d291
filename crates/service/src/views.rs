//! Read models handed to the front ends: posts and notifications with everything a
//! client displays (author, mentions, tags, the viewer's own marks), loaded in batches.

use crate::{Result, Starling};
use starling_store::interactions::Mark;
use starling_store::{AccountRecord, NotificationRecord, StatusRecord};
use std::collections::{HashMap, HashSet};

/// A post ready to display to one viewer.
#[derive(Debug, Clone)]
pub struct StatusView {
    /// The stored post.
    pub status: StatusRecord,
    /// Its author.
    pub account: AccountRecord,
    /// Accounts it mentions.
    pub mentions: Vec<AccountRecord>,
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
}

impl Starling {
    /// Builds views for already visibility-checked posts, in the same order.
    pub(crate) async fn hydrate(
        &self,
        viewer: Option<&AccountRecord>,
        statuses: Vec<StatusRecord>,
    ) -> Result<Vec<StatusView>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let have: HashSet<i64> = statuses.iter().map(|s| s.id).collect();
        let missing: Vec<i64> = statuses
            .iter()
            .filter_map(|s| s.reblog_of_id)
            .filter(|id| !have.contains(id))
            .collect();
        let originals = self.db().statuses(&missing).await?;
        let mut all: HashMap<i64, StatusRecord> = HashMap::new();
        for s in statuses.iter().chain(originals.iter()) {
            all.insert(s.id, s.clone());
        }
        let ids: Vec<i64> = all.keys().copied().collect();
        let mentions = self.db().mentions_of(&ids).await?;
        let tags = self.db().tags_of(&ids).await?;
        let mut account_ids: Vec<i64> = all.values().map(|s| s.account_id).collect();
        account_ids.extend(mentions.iter().map(|(_, a)| *a));
        account_ids.sort_unstable();
        account_ids.dedup();
        let accounts: HashMap<i64, AccountRecord> = self
            .db()
            .accounts(&account_ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let (fav, boost, book, pin) = match viewer {
            Some(v) => (
                self.db().marked_among(Mark::Favourite, v.id, &ids).await?,
                self.db().reblogged_among(v.id, &ids).await?,
                self.db().marked_among(Mark::Bookmark, v.id, &ids).await?,
                self.db().marked_among(Mark::Pin, v.id, &ids).await?,
            ),
            None => Default::default(),
        };
        let build = |s: &StatusRecord| -> Option<StatusView> {
            Some(StatusView {
                account: accounts.get(&s.account_id)?.clone(),
                mentions: mentions
                    .iter()
                    .filter(|(sid, _)| *sid == s.id)
                    .filter_map(|(_, a)| accounts.get(a).cloned())
                    .collect(),
                tags: tags
                    .iter()
                    .filter(|(sid, _)| *sid == s.id)
                    .map(|(_, t)| t.clone())
                    .collect(),
                reblog: None,
                favourited: fav.contains(&s.id),
                reblogged: boost.contains(&s.id),
                bookmarked: book.contains(&s.id),
                pinned: pin.contains(&s.id),
                status: s.clone(),
            })
        };
        Ok(statuses
            .iter()
            .filter_map(|s| {
                let mut view = build(s)?;
                if let Some(orig) = s.reblog_of_id {
                    view.reblog = Some(Box::new(build(all.get(&orig)?)?));
                }
                Some(view)
            })
            .collect())
    }

    /// Filters by visibility, then builds views.
    pub(crate) async fn present(
        &self,
        viewer: Option<&AccountRecord>,
        statuses: Vec<StatusRecord>,
        hide_muted: bool,
    ) -> Result<Vec<StatusView>> {
        let visible = self.visible(viewer, statuses, hide_muted).await?;
        self.hydrate(viewer, visible).await
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
        let accounts: HashMap<i64, AccountRecord> = self
            .db()
            .accounts(&from)
            .await?
            .into_iter()
            .filter(|a| a.deactivated_at.is_none())
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
        Ok(notes
            .into_iter()
            .filter_map(|n| {
                let account = accounts.get(&n.from_account_id)?.clone();
                let status = match n.status_id {
                    Some(id) => Some(views.get(&id)?.clone()),
                    None => None,
                };
                Some(NotificationView {
                    notification: n,
                    account,
                    status,
                })
            })
            .collect())
    }
}

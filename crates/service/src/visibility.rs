//! Applies the domain's one visibility rule to batches of posts. The facts it needs
//! (reblogged originals, authors, mentions, groups, the viewer's follows, blocks, mutes
//! and group memberships) are loaded once per batch into a [`Batch`], which then also
//! feeds the views.

use crate::{Result, ServiceError, Starling};
use starling_domain::group::{GroupRole, GroupVisibility};
use starling_domain::visibility::{PostFacts, ViewerFacts, Visibility, may_see};
use starling_store::facts::{PageFacts, PostKey};
use starling_store::groups::GroupRecord;
use starling_store::interactions::ViewerMarks;
use starling_store::social::ViewerRelations;
use starling_store::{AccountRecord, StatusRecord};
use std::collections::HashMap;
use std::sync::Arc;

/// Everything known about a batch of posts and one viewer. Records are shared (`Arc`)
/// with the views built from it: a page shows each author and post without copying them.
pub(crate) struct Batch {
    /// The posts the batch was made for, in their order.
    pub(crate) given: Vec<Arc<StatusRecord>>,
    /// The posts and the originals they reblog, by id.
    pub(crate) posts: HashMap<i64, Arc<StatusRecord>>,
    /// Authors and mentioned accounts, by id.
    pub(crate) accounts: HashMap<i64, Arc<AccountRecord>>,
    /// `(post, mentioned account)` pairs.
    pub(crate) mentions: Vec<(i64, i64)>,
    /// `(post, tag)` pairs.
    pub(crate) tags: Vec<(i64, String)>,
    /// The groups the posts were written in, by id.
    pub(crate) groups: HashMap<i64, Arc<GroupRecord>>,
    /// The viewer's roles in those groups.
    group_roles: HashMap<i64, GroupRole>,
    viewer_id: Option<i64>,
    relations: ViewerRelations,
    /// The viewer's favourites, reblogs, bookmarks and pins among the posts.
    pub(crate) marks: ViewerMarks,
}

impl Batch {
    /// The batch for `statuses` from the facts read about them.
    pub(crate) fn new(
        viewer: Option<&AccountRecord>,
        given: Vec<Arc<StatusRecord>>,
        facts: PageFacts,
    ) -> Self {
        let posts: HashMap<i64, Arc<StatusRecord>> = (given.iter().cloned())
            .chain(facts.originals.into_iter().map(Arc::new))
            .map(|s| (s.id, s))
            .collect();
        Batch {
            given,
            posts,
            accounts: (facts.accounts.into_iter()).map(|a| (a.id, a)).collect(),
            mentions: facts.mentions,
            tags: facts.tags,
            groups: (facts.groups.into_iter())
                .map(|g| (g.id, Arc::new(g)))
                .collect(),
            group_roles: facts
                .group_roles
                .into_iter()
                .filter_map(|(g, r)| Some((g, GroupRole::parse(&r).ok()?)))
                .collect(),
            viewer_id: viewer.map(|v| v.id),
            relations: facts.relations,
            marks: facts.marks,
        }
    }

    /// Whether the viewer may see this one post (not its reblogged original).
    fn sees_one(&self, s: &StatusRecord, hide_muted: bool) -> bool {
        let post = PostFacts {
            author_id: s.account_id,
            // An unreadable stored value is treated as the most restrictive audience.
            visibility: Visibility::parse(&s.visibility).unwrap_or(Visibility::Direct),
            author_deactivated: self
                .accounts
                .get(&s.account_id)
                .is_none_or(|a| a.deactivated_at.is_some()),
            // A group that cannot be read back (deleted meanwhile) counts as private.
            group: s.group_id.map(|g| {
                self.groups
                    .get(&g)
                    .and_then(|g| GroupVisibility::parse(&g.visibility).ok())
                    .unwrap_or(GroupVisibility::Private)
            }),
        };
        let viewer = ViewerFacts {
            viewer_id: self.viewer_id,
            follows_author: self.relations.followed.contains(&s.account_id),
            mentioned: self
                .viewer_id
                .is_some_and(|v| self.mentions.contains(&(s.id, v))),
            blocked: self.relations.blocked.contains(&s.account_id),
            group_member: s
                .group_id
                .is_some_and(|g| self.group_roles.contains_key(&g)),
        };
        may_see(&post, &viewer) && !(hide_muted && self.relations.muted.contains(&s.account_id))
    }

    /// Whether a post belongs in `me`'s home: their own, by an account they follow, a
    /// direct post to them, a post in one of their groups, or a public post with a
    /// hashtag they follow.
    pub(crate) fn belongs_in_home(
        &self,
        s: &StatusRecord,
        me: i64,
        followed_tags: &[String],
    ) -> bool {
        // Reblogs by an account followed with `reblogs=false` stay out, however they got
        // into the feed (backfill on follow, or before the setting changed).
        if s.reblog_of_id.is_some() && self.relations.reblogs_hidden.contains(&s.account_id) {
            return false;
        }
        s.account_id == me
            || self.relations.followed.contains(&s.account_id)
            || (s.visibility == Visibility::Direct.as_str() && self.mentions.contains(&(s.id, me)))
            || s.group_id
                .is_some_and(|g| self.group_roles.contains_key(&g))
            || (s.visibility == Visibility::Public.as_str()
                && self
                    .tags
                    .iter()
                    .any(|(id, tag)| *id == s.id && followed_tags.contains(tag)))
    }

    /// Whether the viewer may see a post; a reblog needs its original to be visible too.
    pub(crate) fn sees(&self, s: &StatusRecord, hide_muted: bool) -> bool {
        self.sees_one(s, hide_muted)
            && s.reblog_of_id.is_none_or(|o| {
                self.posts
                    .get(&o)
                    .is_some_and(|orig| self.sees_one(orig, hide_muted))
            })
    }
}

impl Starling {
    /// Loads the facts about `statuses` for `viewer` in a handful of set queries.
    pub(crate) async fn batch(
        &self,
        viewer: Option<&AccountRecord>,
        statuses: Vec<StatusRecord>,
    ) -> Result<Batch> {
        let keys = statuses.iter().map(PostKey::of).collect();
        let facts = self.db().post_facts(viewer.map(|v| v.id), keys).await?;
        let given = statuses.into_iter().map(Arc::new).collect();
        Ok(Batch::new(viewer, given, facts))
    }

    /// One post if `viewer` may see it; 404 otherwise, never revealing that it exists.
    pub(crate) async fn visible_status(
        &self,
        viewer: Option<&AccountRecord>,
        id: i64,
    ) -> Result<StatusRecord> {
        let status = self.db().status(id).await?;
        let batch = self.batch(viewer, vec![status]).await?;
        let seen = batch.given.first().filter(|s| batch.sees(s, false));
        seen.map(|s| StatusRecord::clone(s))
            .ok_or(ServiceError::NotFound)
    }
}

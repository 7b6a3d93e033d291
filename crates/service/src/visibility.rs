//! Applies the domain's one visibility rule to batches of posts, loading the facts it
//! needs (follows, mentions, blocks, deactivations) in a few set queries per batch.

use crate::{Result, Starling};
use starling_domain::visibility::{PostFacts, ViewerFacts, Visibility, may_see};
use starling_store::{AccountRecord, StatusRecord};
use std::collections::{HashMap, HashSet};

impl Starling {
    /// The posts of `statuses` that `viewer` may see, in the same order. A reblog is
    /// visible only when both the wrapper and the original are; with `hide_muted`, posts
    /// by (or reblogging) accounts the viewer muted are left out too.
    pub(crate) async fn visible(
        &self,
        viewer: Option<&AccountRecord>,
        statuses: Vec<StatusRecord>,
        hide_muted: bool,
    ) -> Result<Vec<StatusRecord>> {
        if statuses.is_empty() {
            return Ok(statuses);
        }
        let have: HashSet<i64> = statuses.iter().map(|s| s.id).collect();
        let missing: Vec<i64> = statuses
            .iter()
            .filter_map(|s| s.reblog_of_id)
            .filter(|id| !have.contains(id))
            .collect();
        let originals = self.db().statuses(&missing).await?;
        let by_id: HashMap<i64, StatusRecord> = statuses
            .iter()
            .chain(originals.iter())
            .map(|s| (s.id, s.clone()))
            .collect();
        let mut authors: Vec<i64> = by_id.values().map(|s| s.account_id).collect();
        authors.sort_unstable();
        authors.dedup();
        let deactivated: HashSet<i64> = self
            .db()
            .accounts(&authors)
            .await?
            .into_iter()
            .filter(|a| a.deactivated_at.is_some())
            .map(|a| a.id)
            .collect();
        let (followed, blocked, mentioned, muted) = match viewer {
            Some(v) => {
                let restricted: Vec<i64> = by_id
                    .values()
                    .filter(|s| matches!(s.visibility.as_str(), "private" | "direct"))
                    .map(|s| s.id)
                    .collect();
                let others: Vec<i64> = authors.iter().copied().filter(|a| *a != v.id).collect();
                (
                    self.db().followed_among(v.id, &others).await?,
                    self.db().blocked_among(v.id, &others).await?,
                    self.db().mentioning_among(v.id, &restricted).await?,
                    if hide_muted {
                        self.db().muted_among(v.id, &others).await?
                    } else {
                        HashSet::new()
                    },
                )
            }
            None => Default::default(),
        };
        let viewer_id = viewer.map(|v| v.id);
        let sees = |s: &StatusRecord| {
            let post = PostFacts {
                author_id: s.account_id,
                // An unreadable stored value is treated as the most restrictive audience.
                visibility: Visibility::parse(&s.visibility).unwrap_or(Visibility::Direct),
                author_deactivated: deactivated.contains(&s.account_id),
            };
            let facts = ViewerFacts {
                viewer_id,
                follows_author: followed.contains(&s.account_id),
                mentioned: mentioned.contains(&s.id),
                blocked: blocked.contains(&s.account_id),
            };
            may_see(&post, &facts) && !muted.contains(&s.account_id)
        };
        Ok(statuses
            .into_iter()
            .filter(|s| {
                sees(s)
                    && s.reblog_of_id
                        .is_none_or(|o| by_id.get(&o).is_some_and(&sees))
            })
            .collect())
    }

    /// One post if `viewer` may see it; 404 otherwise, never revealing that it exists.
    pub(crate) async fn visible_status(
        &self,
        viewer: Option<&AccountRecord>,
        id: i64,
    ) -> Result<StatusRecord> {
        let status = self.db().status(id).await?;
        self.visible(viewer, vec![status], false)
            .await?
            .into_iter()
            .next()
            .ok_or(crate::ServiceError::NotFound)
    }
}

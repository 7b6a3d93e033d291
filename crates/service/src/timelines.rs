//! Timelines: home, list, network, hashtag and account timelines, visibility-filtered
//! and paginated with cursors a client can follow.

use crate::lists::Sieve;
use crate::views::{StatusView, views_of};
use crate::visibility::Batch;
use crate::{Result, Starling};
use starling_store::tags::HomeContext;
use starling_store::timelines::AccountTimelineFilter;
use starling_store::{AccountRecord, Page, StatusRecord};
use std::sync::Arc;

/// Most rounds of fetching when visibility filtering leaves a page short.
const MAX_ROUNDS: usize = 5;
/// Most rounds of fetching while filtering has left the page empty.
const MAX_EMPTY_ROUNDS: usize = 25;
/// Posts of a newly followed account copied into the follower's home.
pub(crate) const FOLLOW_BACKFILL: i64 = 40;

/// A page of results with the cursors for the next (older) and previous (newer) pages.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// `max_id` for the next page, when there may be one.
    pub next_max_id: Option<i64>,
    /// `min_id` for the previous page.
    pub prev_min_id: Option<i64>,
}

impl<T> Paged<T> {
    /// A page whose cursors are the given items' own positions.
    pub(crate) fn from_cursors(items: Vec<(i64, T)>) -> Self {
        let next_max_id = items.last().map(|(c, _)| *c);
        let prev_min_id = items.first().map(|(c, _)| *c);
        Self {
            items: items.into_iter().map(|(_, i)| i).collect(),
            next_max_id,
            prev_min_id,
        }
    }
}

/// Which timeline to read.
#[derive(Debug, Clone)]
pub enum Timeline {
    /// The signed-in account's home.
    Home,
    /// The whole network's public posts.
    Public,
    /// Public posts with a hashtag (normalised, without `#`).
    Tag(String),
    /// One account's posts.
    Account(i64, AccountTimelineFilter),
    /// The signed-in account's home restricted to the members of one of its lists (by
    /// id), with the list's replies policy applied.
    List(i64),
    /// A group's posts (by group id); a private group's only for its members.
    Group(i64),
}

impl Starling {
    /// A raw page of any timeline but a signed-in home (see [`Starling::timeline`]).
    async fn fetch_raw(
        &self,
        viewer: Option<&AccountRecord>,
        tl: &Timeline,
        page: &Page,
    ) -> Result<Vec<StatusRecord>> {
        Ok(match tl {
            Timeline::Home => Vec::new(),
            Timeline::Public => self.db().public_timeline(page).await?,
            Timeline::Tag(tag) => self.db().tag_timeline(&tag.to_lowercase(), page).await?,
            Timeline::Account(id, filter) => self.db().account_timeline(*id, *filter, page).await?,
            Timeline::List(id) => match viewer {
                Some(v) => self.db().list_timeline(v.id, *id, page).await?,
                None => Vec::new(),
            },
            Timeline::Group(id) => self.db().group_timeline(*id, page).await?,
        })
    }

    /// Reads a page of a timeline as `viewer` may see it. When filtering leaves a page
    /// short, older posts are fetched (a few rounds at most) so pages stay full.
    pub async fn timeline(
        &self,
        viewer: Option<&AccountRecord>,
        tl: Timeline,
        page: Page,
    ) -> Result<Paged<StatusView>> {
        match &tl {
            // A deactivated account's profile is gone for everyone.
            Timeline::Account(id, _) => {
                self.account(*id).await?;
            }
            Timeline::Group(id) => {
                self.readable_group(viewer, *id).await?;
            }
            _ => {}
        }
        // Exclusive lists and the list itself (list timeline; 404 if not the viewer's)
        // are looked up once, not per round. A home read loads its context with its first
        // round instead (one read for both, see `Db::home_round`).
        let home_reader = match (&tl, viewer) {
            (Timeline::Home, Some(me)) => Some(me),
            _ => None,
        };
        let sieve = match home_reader {
            Some(_) => Sieve::Nothing,
            None => self.sieve(viewer, &tl).await?,
        };
        let mut home: Option<HomeContext> = None;
        let hide_muted = !matches!(tl, Timeline::Account(..));
        let want = page.limit.max(0) as usize;
        let mut cursor = page;
        let mut kept: Vec<StatusView> = Vec::new();
        for round in 0.. {
            // The raw page's size and last id (before filtering) decide whether to go on.
            let (len, last, views) = match home_reader {
                Some(me) => {
                    let (context, raw, facts) =
                        self.db().home_round(me.id, home.take(), &cursor).await?;
                    let (len, last) = (raw.len(), raw.last().map(|s| s.id));
                    let given = raw.into_iter().map(Arc::new).collect();
                    let batch = Batch::new(Some(me), given, facts);
                    let views = views_of(&batch, |b, s| {
                        !context.hidden_authors.contains(&s.account_id)
                            && b.sees(s, true)
                            && b.belongs_in_home(s, me.id, &context.followed_tags)
                    });
                    home = Some(context);
                    (len, last, views)
                }
                None => {
                    let raw = self.fetch_raw(viewer, &tl, &cursor).await?;
                    let (len, last) = (raw.len(), raw.last().map(|s| s.id));
                    let sifted = self.sift(&sieve, raw).await?;
                    let views = match (&tl, viewer) {
                        (Timeline::List(_), Some(me)) => self.present_home(me, sifted, &[]).await?,
                        _ => self.present(viewer, sifted, hide_muted).await?,
                    };
                    (len, last, views)
                }
            };
            let full = len >= cursor.limit.max(1) as usize;
            let Some(last) = last else {
                break;
            };
            kept.extend(views);
            // Only the backwards direction can be continued without skipping posts.
            // A page left empty by filtering keeps looking longer: an empty page would
            // end the client's pagination.
            let rounds = if kept.is_empty() {
                MAX_EMPTY_ROUNDS
            } else {
                MAX_ROUNDS
            };
            if kept.len() >= want
                || !full
                || page.min_id.is_some()
                || page.since_id.is_some()
                || round + 1 >= rounds
            {
                break;
            }
            cursor.max_id = Some(last);
        }
        kept.truncate(want);
        // Cursors are the ids of returned posts only: an id of a post the viewer may not
        // see would tell them it exists (and when it was written).
        let next_max_id = kept.last().map(|v| v.status.id);
        let prev_min_id = kept.first().map(|v| v.status.id);
        Ok(Paged {
            items: kept,
            next_max_id,
            prev_min_id,
        })
    }
}

//! The reads behind live streaming: which connected accounts a new post could concern, and
//! whether a streaming connection's token still stands.
//!
//! Both are asked often (once per event, once per connection and minute), so each is one
//! indexed query; the streaming hub in the service layer decides what to do with the
//! answers (and applies the visibility rule to every event itself).

use crate::db::{Arg, placeholders};
use crate::facts::PageFacts;
use crate::interactions::ViewerMarks;
use crate::records::StatusRecord;
use crate::social::ViewerRelations;
use crate::tags::HomeContext;
use crate::{Db, Result};
use std::collections::{HashMap, HashSet};

/// What one viewer adds to the shared facts about one post (see [`Db::viewer_parts`]).
#[derive(Debug, Clone, Default)]
pub struct ViewerPart {
    /// The viewer's `(group, role)` in the post's groups.
    pub group_roles: Vec<(i64, String)>,
    /// The viewer's follows, blocks and mutes of the post's authors.
    pub relations: ViewerRelations,
    /// The viewer's favourites, reblogs, bookmarks and pins of the post.
    pub marks: ViewerMarks,
    /// The part of the viewer's home context that decides about this post: the author
    /// if an exclusive list holds them, and the post's hashtags the viewer follows.
    pub context: HomeContext,
}

impl PageFacts {
    /// These (viewer-independent) facts completed with one viewer's part.
    pub fn with_viewer_part(mut self, part: &ViewerPart) -> Self {
        self.group_roles = part.group_roles.clone();
        self.relations = part.relations.clone();
        self.marks = part.marks.clone();
        self
    }
}

/// Candidates per query: keeps every `IN (…)` list far below the bind-parameter limits
/// of both engines, however many accounts are connected.
const CHUNK: usize = 500;

impl Db {
    /// Among `candidates`, the accounts that follow `author`, belong to `group`, or follow
    /// one of `tags`: everyone (besides the author and the mentioned accounts) in whose
    /// home timeline such a post could appear. A superset: the caller still applies the
    /// visibility rule and the home rule to each of them.
    pub async fn home_audience_among(
        &self,
        author: i64,
        group: Option<i64>,
        tags: &[String],
        candidates: &[i64],
    ) -> Result<HashSet<i64>> {
        let mut found = HashSet::new();
        for chunk in candidates.chunks(CHUNK) {
            let (tags, chunk) = (tags.to_vec(), chunk.to_vec());
            let part = self
                .read(move |c| {
                    let mut args = vec![Arg::I(author)];
                    args.extend(chunk.iter().map(|id| Arg::I(*id)));
                    let among = placeholders(2, chunk.len());
                    let mut sql = format!(
                        "SELECT account_id FROM follows WHERE target_id = $1 AND account_id IN ({among})"
                    );
                    if let Some(g) = group {
                        args.push(Arg::I(g));
                        sql.push_str(&format!(
                            " UNION SELECT account_id FROM group_members WHERE group_id = ${} \
                             AND account_id IN ({among})",
                            args.len()
                        ));
                    }
                    if !tags.is_empty() {
                        let first = args.len() + 1;
                        args.extend(tags.iter().map(|t| Arg::S(t.clone())));
                        sql.push_str(&format!(
                            " UNION SELECT account_id FROM tag_follows WHERE tag IN ({}) \
                             AND account_id IN ({among})",
                            placeholders(first, tags.len())
                        ));
                    }
                    c.rows(&sql, &args)?
                        .iter()
                        .map(|r| r.int_at(0))
                        .collect::<Result<Vec<i64>>>()
                })
                .await?;
            found.extend(part);
        }
        Ok(found)
    }

    /// Whether the token `token_id` still exists and its account (if any) is active.
    /// Revoking a token deletes it, and deactivation deletes the account's tokens, so
    /// this is one primary-key lookup.
    pub async fn token_live(&self, token_id: i64) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT t.id FROM oauth_tokens t LEFT JOIN accounts a ON a.id = t.account_id \
             WHERE t.id = $1 AND a.deactivated_at IS NULL",
        )
        .bind(token_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.is_some())
    }

    /// A post and the facts about it that are the same for every viewer (`None` once
    /// deleted): read once per event by the streaming router, for all its subscribers.
    pub async fn shared_post(&self, id: i64) -> Result<Option<(StatusRecord, PageFacts)>> {
        self.read(move |c| {
            let Some(status) = crate::facts::statuses(c, &[id])?.into_iter().next() else {
                return Ok(None);
            };
            let facts = crate::facts::post_facts(c, None, std::slice::from_ref(&status))?;
            Ok(Some((status, facts)))
        })
        .await
    }

    /// What each of `viewers` adds to a [`Db::shared_post`] (`status` with `facts`), read
    /// for all of them at once: a few set queries per chunk of viewers instead of a read
    /// per subscriber. Every viewer asked about gets an entry.
    pub async fn viewer_parts(
        &self,
        status: StatusRecord,
        facts: PageFacts,
        viewers: Vec<i64>,
    ) -> Result<HashMap<i64, ViewerPart>> {
        self.read(move |c| {
            let all: Vec<&StatusRecord> =
                std::iter::once(&status).chain(&facts.originals).collect();
            let mut ids: Vec<i64> = all.iter().map(|s| s.id).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut authors: Vec<i64> = all.iter().map(|s| s.account_id).collect();
            authors.sort_unstable();
            authors.dedup();
            let mut groups: Vec<i64> = all.iter().filter_map(|s| s.group_id).collect();
            groups.sort_unstable();
            groups.dedup();
            let tags: Vec<String> = facts
                .tags
                .iter()
                .filter(|(id, _)| *id == status.id)
                .map(|(_, t)| t.clone())
                .collect();
            let mut parts = HashMap::with_capacity(viewers.len());
            for chunk in viewers.chunks(CHUNK) {
                let mut roles = crate::facts::group_roles_of(c, chunk, &groups)?;
                let mut relations = crate::facts::relations_of(c, chunk, &authors)?;
                let mut marks = crate::facts::marks_of(c, chunk, &ids)?;
                let mut contexts =
                    crate::tags::contexts_for_post(c, chunk, status.account_id, &tags)?;
                for viewer in chunk {
                    parts.insert(
                        *viewer,
                        ViewerPart {
                            group_roles: roles.remove(viewer).unwrap_or_default(),
                            relations: relations.remove(viewer).unwrap_or_default(),
                            marks: marks.remove(viewer).unwrap_or_default(),
                            context: contexts.remove(viewer).unwrap_or_default(),
                        },
                    );
                }
            }
            Ok(parts)
        })
        .await
    }

    /// What one subscriber adds to a [`Db::shared_post`], in one read: the viewer's part
    /// of the facts (relations, group roles, marks) and, with `with_context`, their home
    /// context. Streaming asks this once per event and subscriber, so it reads only what
    /// depends on the viewer.
    pub async fn viewer_facts(
        &self,
        viewer: i64,
        status: StatusRecord,
        mut facts: PageFacts,
        with_context: bool,
    ) -> Result<(PageFacts, Option<HomeContext>)> {
        self.read(move |c| {
            facts.add_viewer_part(c, viewer, std::slice::from_ref(&status))?;
            let context = if with_context {
                Some(crate::tags::home_context(c, viewer)?)
            } else {
                None
            };
            Ok((facts, context))
        })
        .await
    }
}

//! The reads behind live streaming: which connected accounts a new post could concern, and
//! whether a streaming connection's token still stands.
//!
//! Both are asked often (once per event, once per connection and minute), so each is one
//! indexed query; the streaming hub in the service layer decides what to do with the
//! answers (and applies the visibility rule to every event itself).

use crate::db::{Arg, placeholders};
use crate::facts::PageFacts;
use crate::interactions::ViewerMarks;
use crate::reads::Place;
use crate::reads::ReadConn as _;
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

/// Authors, posts and groups one post can involve (itself and the original it reblogs).
const PACKED_SLOTS: usize = 2;

/// The viewer-dependent facts of one post for many viewers, packed into two words per
/// viewer. The streaming router keeps this with each event until every subscription has
/// read it, so with thousands of streams open its size matters: ~16 bytes a viewer
/// instead of ~600 for the unpacked sets.
#[derive(Debug, Clone)]
pub struct ViewerParts {
    /// The post's authors (it, and the original it reblogs), sorted.
    authors: Vec<i64>,
    /// The post's id and its original's, sorted.
    ids: Vec<i64>,
    /// The groups they were written in, sorted.
    groups: Vec<i64>,
    /// The post's hashtags.
    tags: Vec<String>,
    /// The post's own author (the one an exclusive list may hide).
    author: i64,
    /// Group role names met so far; a packed role is an index into it, plus one.
    roles: Vec<String>,
    /// Per viewer: flags (relations, marks, hidden author, roles) and followed-tag bits.
    packed: HashMap<i64, (u64, u64)>,
}

/// Bit layout of the flags word: four bits per author, four per post, one for the hidden
/// author, four (a role code) per group.
const AUTHOR_BITS: u32 = 0;
const POST_BITS: u32 = 8;
const HIDDEN_BIT: u32 = 16;
const ROLE_BITS: u32 = 20;

impl ViewerParts {
    /// Packs `part` for `viewer`; false if it does not fit (too many role names).
    fn pack(&mut self, viewer: i64, part: &ViewerPart) -> bool {
        let mut flags = 0u64;
        for (i, a) in self.authors.iter().enumerate() {
            let r = &part.relations;
            let bits = [&r.followed, &r.reblogs_hidden, &r.blocked, &r.muted];
            for (b, set) in bits.iter().enumerate() {
                if set.contains(a) {
                    flags |= 1 << (AUTHOR_BITS + 4 * i as u32 + b as u32);
                }
            }
        }
        for (i, id) in self.ids.iter().enumerate() {
            let m = &part.marks;
            let bits = [&m.favourited, &m.reblogged, &m.bookmarked, &m.pinned];
            for (b, set) in bits.iter().enumerate() {
                if set.contains(id) {
                    flags |= 1 << (POST_BITS + 4 * i as u32 + b as u32);
                }
            }
        }
        if part.context.hidden_authors.contains(&self.author) {
            flags |= 1 << HIDDEN_BIT;
        }
        for (i, g) in self.groups.iter().enumerate() {
            if let Some((_, role)) = part.group_roles.iter().find(|(id, _)| id == g) {
                let code = match self.roles.iter().position(|r| r == role) {
                    Some(p) => p + 1,
                    None => {
                        self.roles.push(role.clone());
                        self.roles.len()
                    }
                };
                if code > 15 {
                    return false;
                }
                flags |= (code as u64) << (ROLE_BITS + 4 * i as u32);
            }
        }
        let mut tags = 0u64;
        for (i, t) in self.tags.iter().enumerate() {
            if part.context.followed_tags.contains(t) {
                tags |= 1 << i;
            }
        }
        self.packed.insert(viewer, (flags, tags));
        true
    }

    /// `viewer`'s part, if it was read.
    pub fn part(&self, viewer: i64) -> Option<ViewerPart> {
        let (flags, tags) = *self.packed.get(&viewer)?;
        let on = |bit: u32| flags & (1 << bit) != 0;
        let mut part = ViewerPart::default();
        for (i, a) in self.authors.iter().enumerate() {
            let r = &mut part.relations;
            let at = AUTHOR_BITS + 4 * i as u32;
            for (b, set) in [
                &mut r.followed,
                &mut r.reblogs_hidden,
                &mut r.blocked,
                &mut r.muted,
            ]
            .into_iter()
            .enumerate()
            {
                if on(at + b as u32) {
                    set.insert(*a);
                }
            }
        }
        for (i, id) in self.ids.iter().enumerate() {
            let m = &mut part.marks;
            let at = POST_BITS + 4 * i as u32;
            for (b, set) in [
                &mut m.favourited,
                &mut m.reblogged,
                &mut m.bookmarked,
                &mut m.pinned,
            ]
            .into_iter()
            .enumerate()
            {
                if on(at + b as u32) {
                    set.insert(*id);
                }
            }
        }
        if on(HIDDEN_BIT) {
            part.context.hidden_authors.insert(self.author);
        }
        for (i, g) in self.groups.iter().enumerate() {
            let code = (flags >> (ROLE_BITS + 4 * i as u32)) & 0xf;
            if let Some(role) = (code as usize)
                .checked_sub(1)
                .and_then(|c| self.roles.get(c))
            {
                part.group_roles.push((*g, role.clone()));
            }
        }
        for (i, t) in self.tags.iter().enumerate() {
            if tags & (1 << i) != 0 {
                part.context.followed_tags.push(t.clone());
            }
        }
        Some(part)
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
                    let c = &mut crate::reads::FreshPlans(c);
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
        let cache = std::sync::Arc::clone(&self.accounts_cache);
        self.read(move |c| {
            // Before the read's first statement, so before its snapshot.
            let ticket = cache.ticket();
            let Some(status) = crate::facts::statuses(c, &[id])?.into_iter().next() else {
                return Ok(None);
            };
            let key = crate::facts::PostKey::of(&status);
            let facts = crate::facts::post_facts(c, (&cache, ticket), None, &[key])?;
            Ok(Some((status, facts)))
        })
        .await
    }

    /// What each of `viewers` adds to a [`Db::shared_post`] (`status` with `facts`), read
    /// for all of them at once: a few set queries per chunk of viewers instead of a read
    /// per subscriber. `None` for a post too unusual to pack (see [`ViewerParts`]): each
    /// subscriber then reads its own part.
    pub async fn viewer_parts(
        &self,
        status: StatusRecord,
        facts: PageFacts,
        viewers: Vec<i64>,
    ) -> Result<Option<ViewerParts>> {
        // The audience can be thousands of viewers: off the runtime's workers.
        self.read_in(Place::Blocking, move |c| {
            let c = &mut crate::reads::FreshPlans(c);
            let all: Vec<&StatusRecord> =
                std::iter::once(&status).chain(&facts.originals).collect();
            let sorted = |mut v: Vec<i64>| {
                v.sort_unstable();
                v.dedup();
                v
            };
            let mut parts = ViewerParts {
                authors: sorted(all.iter().map(|s| s.account_id).collect()),
                ids: sorted(all.iter().map(|s| s.id).collect()),
                groups: sorted(all.iter().filter_map(|s| s.group_id).collect()),
                tags: facts
                    .tags
                    .iter()
                    .filter(|(id, _)| *id == status.id)
                    .map(|(_, t)| t.clone())
                    .collect(),
                author: status.account_id,
                roles: Vec::new(),
                packed: HashMap::with_capacity(viewers.len()),
            };
            if parts.authors.len() > PACKED_SLOTS
                || parts.ids.len() > PACKED_SLOTS
                || parts.groups.len() > PACKED_SLOTS
                || parts.tags.len() > 64
            {
                return Ok(None);
            }
            for chunk in viewers.chunks(CHUNK) {
                let mut roles = crate::facts::group_roles_of(c, chunk, &parts.groups)?;
                let mut relations = crate::facts::relations_of(c, chunk, &parts.authors)?;
                let mut marks = crate::facts::marks_of(c, chunk, &parts.ids)?;
                let mut contexts =
                    crate::tags::contexts_for_post(c, chunk, parts.author, &parts.tags)?;
                for viewer in chunk {
                    let part = ViewerPart {
                        group_roles: roles.remove(viewer).unwrap_or_default(),
                        relations: relations.remove(viewer).unwrap_or_default(),
                        marks: marks.remove(viewer).unwrap_or_default(),
                        context: contexts.remove(viewer).unwrap_or_default(),
                    };
                    if !parts.pack(*viewer, &part) {
                        return Ok(None);
                    }
                }
            }
            Ok(Some(parts))
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
        post: crate::facts::PostKey,
        mut facts: PageFacts,
        with_context: bool,
    ) -> Result<(PageFacts, Option<HomeContext>)> {
        self.read(move |c| {
            facts.add_viewer_part(c, viewer, &[post])?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_parts_unpack_to_what_was_read() {
        let mut parts = ViewerParts {
            authors: vec![1, 2],
            ids: vec![10, 20],
            groups: vec![5],
            tags: vec!["rust".into(), "news".into()],
            author: 2,
            roles: Vec::new(),
            packed: HashMap::new(),
        };
        let mut full = ViewerPart::default();
        full.relations.followed.extend([1, 2]);
        full.relations.reblogs_hidden.insert(2);
        full.relations.muted.insert(1);
        full.marks.favourited.insert(10);
        full.marks.pinned.insert(20);
        full.group_roles.push((5, "admin".into()));
        full.context.hidden_authors.insert(2);
        full.context.followed_tags.push("news".into());
        let mut blocked = ViewerPart::default();
        blocked.relations.blocked.insert(2);
        blocked.group_roles.push((5, "member".into()));
        assert!(parts.pack(7, &full));
        assert!(parts.pack(8, &blocked));
        assert!(parts.pack(9, &ViewerPart::default()));

        let got = parts.part(7).unwrap();
        assert_eq!(got.relations.followed, full.relations.followed);
        assert_eq!(got.relations.reblogs_hidden, full.relations.reblogs_hidden);
        assert_eq!(got.relations.muted, full.relations.muted);
        assert!(got.relations.blocked.is_empty());
        assert_eq!(got.marks.favourited, full.marks.favourited);
        assert_eq!(got.marks.pinned, full.marks.pinned);
        assert!(got.marks.reblogged.is_empty() && got.marks.bookmarked.is_empty());
        assert_eq!(got.group_roles, full.group_roles);
        assert_eq!(got.context.hidden_authors, full.context.hidden_authors);
        assert_eq!(got.context.followed_tags, full.context.followed_tags);

        let got = parts.part(8).unwrap();
        assert_eq!(got.relations.blocked, blocked.relations.blocked);
        assert_eq!(got.group_roles, blocked.group_roles);
        assert!(got.relations.followed.is_empty() && got.context.hidden_authors.is_empty());

        let got = parts.part(9).unwrap();
        assert!(got.group_roles.is_empty() && got.relations.followed.is_empty());
        assert!(
            parts.part(10).is_none(),
            "not read: the subscriber reads its own"
        );
    }
}

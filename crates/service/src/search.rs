//! Search: accounts by username prefix (display names are not searched yet: at a
//! million accounts that needs an index of its own), hashtags by name prefix, and
//! a local post by its URL. Every result is one the searcher may see: blocked accounts
//! (either way) and deactivated ones never appear, and a post is found only when its
//! visibility lets the searcher read it.

use crate::tags::TagView;
use crate::views::StatusView;
use crate::{Result, ServiceError, Starling};
use starling_domain::id::parse_id;
use starling_store::AccountRecord;

/// Default number of results of each kind.
pub const SEARCH_LIMIT_DEFAULT: i64 = 40;
/// Most results of each kind one search returns; larger limits are capped, as in Mastodon.
pub const SEARCH_LIMIT_MAX: i64 = 80;

/// The kinds of result a search may be narrowed to (`type` in the Mastodon API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    /// People.
    Accounts,
    /// Hashtags.
    Hashtags,
    /// Posts.
    Statuses,
}

impl SearchKind {
    /// Parses `accounts`, `hashtags` or `statuses`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "accounts" => Ok(Self::Accounts),
            "hashtags" => Ok(Self::Hashtags),
            "statuses" => Ok(Self::Statuses),
            other => Err(ServiceError::invalid(format!(
                "type must be accounts, hashtags or statuses, not {other:?}"
            ))),
        }
    }
}

/// One search as asked for.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// What to look for.
    pub q: String,
    /// Only this kind of result (`None`: all kinds).
    pub kind: Option<SearchKind>,
    /// Results of each kind (1 or more; capped at [`SEARCH_LIMIT_MAX`]).
    pub limit: i64,
    /// Results of each kind to skip (0 or more).
    pub offset: i64,
    /// Only accounts the searcher follows.
    pub following: bool,
}

/// What a search found.
#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    /// Matching accounts, by username.
    pub accounts: Vec<AccountRecord>,
    /// Matching hashtags, by name.
    pub hashtags: Vec<TagView>,
    /// The post the query links to, if the searcher may see it.
    pub statuses: Vec<StatusView>,
}

/// The limit and offset after the rules: a limit below 1 or a negative offset is an
/// error naming the field; a limit above the maximum is capped.
fn checked_window(limit: i64, offset: i64) -> Result<(i64, i64)> {
    if limit < 1 {
        return Err(ServiceError::invalid(format!(
            "limit must be a number from 1 to {SEARCH_LIMIT_MAX}, not {limit}"
        )));
    }
    if offset < 0 {
        return Err(ServiceError::invalid(format!(
            "offset must be 0 or more, not {offset}"
        )));
    }
    Ok((limit.min(SEARCH_LIMIT_MAX), offset))
}

impl Starling {
    /// Accounts whose username starts with `query` (case-insensitively; a leading `@`
    /// and a trailing `@<this server>` are ignored), for `viewer`: active
    /// ones only, none that blocks `viewer` or that `viewer` blocks, and with
    /// `following` only those `viewer` follows. By username, `offset` skipped.
    pub async fn find_accounts(
        &self,
        viewer: &AccountRecord,
        query: &str,
        following: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AccountRecord>> {
        let (limit, offset) = checked_window(limit, offset)?;
        let query = query.trim().trim_start_matches('@');
        // `ana@our.host` is how remote-aware clients (toot) spell a local account.
        let prefix = match query.split_once('@') {
            Some((name, host)) if host.eq_ignore_ascii_case(&self.settings().host()) => name,
            Some(_) => return Ok(Vec::new()),
            None => query,
        };
        Ok(self
            .db()
            .search_accounts(viewer.id, prefix, following, limit, offset)
            .await?)
    }

    /// `GET /api/v2/search`: accounts as [`Starling::find_accounts`], hashtags by name
    /// prefix (from public posts), and the local post `q` links to
    /// (`<base>/@name/ID` or `<base>/api/v1/statuses/ID`) when `viewer` may see it.
    pub async fn search(&self, viewer: &AccountRecord, s: &SearchQuery) -> Result<SearchResults> {
        let (limit, offset) = checked_window(s.limit, s.offset)?;
        let wants = |k| s.kind.is_none_or(|kind| kind == k);
        let mut found = SearchResults::default();
        let q = s.q.trim();
        if q.is_empty() {
            return Ok(found);
        }
        if let Some(id) = self.linked_status_id(q) {
            if wants(SearchKind::Statuses) && offset == 0 {
                match self.status(Some(viewer), id.0).await {
                    Ok(view)
                        if id
                            .1
                            .is_none_or(|n| n.eq_ignore_ascii_case(&view.account.username)) =>
                    {
                        found.statuses.push(view)
                    }
                    Ok(_) | Err(ServiceError::NotFound) => {}
                    Err(e) => return Err(e),
                }
            }
            // A link is not a name: nothing else can match it.
            return Ok(found);
        }
        if wants(SearchKind::Accounts) && !q.starts_with('#') {
            found.accounts = self
                .find_accounts(viewer, q, s.following, limit, offset)
                .await?;
        }
        if wants(SearchKind::Hashtags) {
            let name = q.trim_start_matches('#').to_lowercase();
            found.hashtags = self
                .db()
                .search_tags(&name, limit, offset)
                .await?
                .into_iter()
                .map(|name| TagView {
                    name,
                    following: None,
                })
                .collect();
        }
        Ok(found)
    }

    /// The post id (and the author's name, for the `/@name/ID` form) a URL on this
    /// server points to; `None` for anything else.
    fn linked_status_id<'q>(&self, q: &'q str) -> Option<(i64, Option<&'q str>)> {
        let base = self.settings().base_url();
        let path = q.strip_prefix(&*base)?;
        if !path.starts_with('/') {
            return None;
        }
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match segments.as_slice() {
            ["api", "v1", "statuses", id] => parse_id(id).map(|id| (id, None)),
            [name, id] if name.starts_with('@') && name.len() > 1 => {
                parse_id(id).map(|id| (id, Some(&name[1..])))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_checked_and_capped() {
        assert_eq!(checked_window(5, 0).ok(), Some((5, 0)));
        assert_eq!(checked_window(500, 3).ok(), Some((80, 3)));
        assert!(checked_window(0, 0).is_err());
        assert!(checked_window(5, -1).is_err());
    }

    #[test]
    fn kinds_parse() {
        assert_eq!(
            SearchKind::parse("hashtags").ok(),
            Some(SearchKind::Hashtags)
        );
        assert!(SearchKind::parse("people").is_err());
    }
}

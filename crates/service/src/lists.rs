//! Lists: creating and managing an account's lists of followed accounts, and what list
//! timelines and exclusive lists leave out of a timeline page.
//!
//! Lists are private to their owner: every use case takes the owner and answers 404 for
//! another account's list, exactly as for a list that does not exist. Members must be
//! accounts the owner follows; unfollowing (or blocking) removes the account from the
//! owner's lists in the store.

use crate::timelines::{Paged, Timeline};
use crate::{Result, ServiceError, Starling};
use starling_domain::id::now_millis;
use starling_domain::list::{LISTS_MAX, ListError, ListTitle, RepliesPolicy, ReplyTo};
use starling_domain::visibility::Visibility;
use starling_store::lists::ListUpdate;
use starling_store::{AccountRecord, Page, StatusRecord};
use std::collections::HashSet;

pub use starling_store::lists::ListRecord;

/// Most accounts one request may add to or remove from a list; it keeps the id lists of
/// the queries bounded (clients add one account at a time).
pub const MEMBERS_PER_REQUEST_MAX: usize = 250;

fn invalid(e: ListError) -> ServiceError {
    ServiceError::Validation(e.to_string())
}

/// A list to create, as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct NewList {
    /// The title (required).
    pub title: String,
    /// `followed`, `list` (the default) or `none`.
    pub replies_policy: Option<String>,
    /// Leave the members' posts out of the home timeline (default false).
    pub exclusive: Option<bool>,
}

/// Changes to a list; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ListChanges {
    /// A new title.
    pub title: Option<String>,
    /// A new replies policy.
    pub replies_policy: Option<String>,
    /// Whether the list is exclusive.
    pub exclusive: Option<bool>,
}

fn parse_policy(s: &str) -> Result<RepliesPolicy> {
    RepliesPolicy::parse(s).map_err(invalid)
}

impl Starling {
    /// `POST /api/v1/lists`.
    pub async fn create_list(&self, me: &AccountRecord, new: NewList) -> Result<ListRecord> {
        let title = ListTitle::parse(&new.title).map_err(invalid)?;
        let policy = match &new.replies_policy {
            Some(p) => parse_policy(p)?,
            None => RepliesPolicy::default(),
        };
        let list = ListRecord {
            id: self.next_id(),
            account_id: me.id,
            title: title.as_str().to_owned(),
            replies_policy: policy.as_str().to_owned(),
            exclusive: new.exclusive.unwrap_or(false),
            created_at: now_millis(),
        };
        self.db()
            .create_list(&list, LISTS_MAX as i64)
            .await?
            .ok_or_else(|| {
                ServiceError::invalid(format!("You cannot have more than {LISTS_MAX} lists"))
            })
    }

    /// `GET /api/v1/lists`: all of the caller's lists.
    pub async fn lists(&self, me: &AccountRecord) -> Result<Vec<ListRecord>> {
        Ok(self.db().lists(me.id).await?)
    }

    /// `GET /api/v1/lists/:id`: one of the caller's lists (404 for anyone else's).
    pub async fn list(&self, me: &AccountRecord, id: i64) -> Result<ListRecord> {
        Ok(self.db().list(me.id, id).await?)
    }

    /// `PUT /api/v1/lists/:id`.
    pub async fn update_list(
        &self,
        me: &AccountRecord,
        id: i64,
        c: ListChanges,
    ) -> Result<ListRecord> {
        let title = c
            .title
            .as_deref()
            .map(ListTitle::parse)
            .transpose()
            .map_err(invalid)?;
        let policy = c.replies_policy.as_deref().map(parse_policy).transpose()?;
        Ok(self
            .db()
            .update_list(
                me.id,
                id,
                ListUpdate {
                    title: title.map(|t| t.as_str().to_owned()),
                    replies_policy: policy.map(|p| p.as_str().to_owned()),
                    exclusive: c.exclusive,
                },
            )
            .await?)
    }

    /// `DELETE /api/v1/lists/:id`.
    pub async fn delete_list(&self, me: &AccountRecord, id: i64) -> Result<()> {
        Ok(self.db().delete_list(me.id, id).await?)
    }

    /// `GET /api/v1/lists/:id/accounts`: a page of the members, or all of them when
    /// `page` is `None`.
    pub async fn list_members(
        &self,
        me: &AccountRecord,
        id: i64,
        page: Option<Page>,
    ) -> Result<Paged<AccountRecord>> {
        let list = self.list(me, id).await?;
        let rows = self.db().list_members(list.id, page.as_ref()).await?;
        let mut paged = Paged::from_cursors(
            rows.into_iter()
                .filter(|l| l.item.deactivated_at.is_none())
                .map(|l| (l.cursor, l.item))
                .collect(),
        );
        if page.is_none() {
            // Everything was returned: there is no next page to point to.
            paged.next_max_id = None;
        }
        Ok(paged)
    }

    /// Checks a request's account ids: at least one, at most [`MEMBERS_PER_REQUEST_MAX`],
    /// duplicates dropped.
    fn member_ids(ids: &[i64]) -> Result<Vec<i64>> {
        let mut out: Vec<i64> = Vec::with_capacity(ids.len());
        for id in ids {
            if !out.contains(id) {
                out.push(*id);
            }
        }
        if out.is_empty() {
            return Err(ServiceError::BadRequest(
                "account_ids must name at least one account".into(),
            ));
        }
        if out.len() > MEMBERS_PER_REQUEST_MAX {
            return Err(ServiceError::invalid(format!(
                "account_ids must name at most {MEMBERS_PER_REQUEST_MAX} accounts"
            )));
        }
        Ok(out)
    }

    /// `POST /api/v1/lists/:id/accounts`: adds accounts the caller follows. Unknown
    /// accounts are 404 and an account not followed is 422; either way nothing is added.
    /// Adding a member again is not an error.
    pub async fn add_to_list(&self, me: &AccountRecord, id: i64, ids: &[i64]) -> Result<()> {
        let list = self.list(me, id).await?;
        let ids = Self::member_ids(ids)?;
        let known = self.db().accounts(&ids).await?;
        let active = known.iter().filter(|a| a.deactivated_at.is_none()).count();
        if active != ids.len() {
            return Err(ServiceError::NotFound);
        }
        let followed = self.db().viewer_relations(me.id, &ids).await?.followed;
        if let Some(stranger) = known.iter().find(|a| !followed.contains(&a.id)) {
            return Err(ServiceError::invalid(format!(
                "account_ids: you can only add accounts you follow to a list, and you do not follow @{}",
                stranger.username
            )));
        }
        Ok(self.db().add_list_members(me.id, list.id, &ids).await?)
    }

    /// `DELETE /api/v1/lists/:id/accounts`: ids that are not members are ignored.
    pub async fn remove_from_list(&self, me: &AccountRecord, id: i64, ids: &[i64]) -> Result<()> {
        let list = self.list(me, id).await?;
        let ids = Self::member_ids(ids)?;
        Ok(self.db().remove_list_members(list.id, &ids).await?)
    }

    /// `GET /api/v1/accounts/:id/lists`: the caller's lists that have this account in them.
    pub async fn lists_with(&self, me: &AccountRecord, account_id: i64) -> Result<Vec<ListRecord>> {
        let account = self.account(account_id).await?;
        Ok(self.db().lists_containing(me.id, account.id).await?)
    }
}

/// What a list timeline leaves out besides what visibility hides, worked out once per
/// request before the page is fetched. (Home applies its `HomeContext` itself: see
/// `Db::home_round`.)
#[derive(Debug, Clone)]
pub(crate) enum Sieve {
    /// Nothing beyond visibility.
    Nothing,
    /// A list timeline: direct posts, and replies its policy does not show.
    List {
        list_id: i64,
        owner: i64,
        policy: RepliesPolicy,
    },
}

/// Whom `s` replies to, as a list of `owner` sees it.
fn reply_to(
    s: &StatusRecord,
    owner: i64,
    members: &HashSet<i64>,
    followed: &HashSet<i64>,
) -> ReplyTo {
    if s.in_reply_to_id.is_none() {
        return ReplyTo::Nobody;
    }
    match s.in_reply_to_account_id {
        Some(a) if a == s.account_id => ReplyTo::Author,
        Some(a) if a == owner => ReplyTo::Owner,
        Some(a) if members.contains(&a) => ReplyTo::Member,
        Some(a) if followed.contains(&a) => ReplyTo::Followed,
        _ => ReplyTo::Other,
    }
}

impl Starling {
    /// The [`Sieve`] for reading `tl` as `viewer`. A list timeline of someone else's list
    /// is 404.
    pub(crate) async fn sieve(
        &self,
        viewer: Option<&AccountRecord>,
        tl: &Timeline,
    ) -> Result<Sieve> {
        Ok(match (tl, viewer) {
            (Timeline::List(id), Some(me)) => {
                let list = self.list(me, *id).await?;
                Sieve::List {
                    list_id: list.id,
                    owner: me.id,
                    // A stored value is always valid; the default is the safe reading.
                    policy: RepliesPolicy::parse(&list.replies_policy).unwrap_or_default(),
                }
            }
            (Timeline::List(_), None) => return Err(ServiceError::NotFound),
            _ => Sieve::Nothing,
        })
    }

    /// Drops from one fetched page what `sieve` leaves out. Replies are classified with at
    /// most one query per page, and none when the page has no replies to others.
    pub(crate) async fn sift(
        &self,
        sieve: &Sieve,
        mut raw: Vec<StatusRecord>,
    ) -> Result<Vec<StatusRecord>> {
        match sieve {
            Sieve::Nothing => {}
            Sieve::List {
                list_id,
                owner,
                policy,
            } => {
                let mut targets: Vec<i64> = raw
                    .iter()
                    .filter(|s| s.in_reply_to_id.is_some())
                    .filter_map(|s| s.in_reply_to_account_id)
                    .filter(|a| a != owner)
                    .collect();
                targets.sort_unstable();
                targets.dedup();
                let (mut members, mut followed) = (HashSet::new(), HashSet::new());
                if !targets.is_empty() {
                    match policy {
                        RepliesPolicy::List => {
                            members = self.db().list_members_among(*list_id, &targets).await?;
                        }
                        RepliesPolicy::Followed => {
                            followed = self.db().viewer_relations(*owner, &targets).await?.followed;
                        }
                        RepliesPolicy::None => {}
                    }
                }
                // Direct posts stay out of lists, as in Mastodon (they are conversations).
                raw.retain(|s| {
                    s.visibility != Visibility::Direct.as_str()
                        && policy.shows(reply_to(s, *owner, &members, &followed))
                });
            }
        }
        Ok(raw)
    }
}

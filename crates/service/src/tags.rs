//! Following hashtags: their public posts join the follower's home timeline.

use crate::timelines::Paged;
use crate::{Result, ServiceError, Starling};
use starling_domain::tag::parse_tag;
use starling_store::{AccountRecord, Page};

/// Most hashtags one account may follow (each adds an index scan to its home reads).
const MAX_FOLLOWED_TAGS: i64 = 100;

/// A hashtag as one viewer sees it.
#[derive(Debug, Clone)]
pub struct TagView {
    /// Normalised name, without `#`.
    pub name: String,
    /// Whether the viewer follows it (`None` for anonymous readers).
    pub following: Option<bool>,
}

fn tag_name(name: &str) -> Result<String> {
    parse_tag(name).ok_or_else(|| {
        ServiceError::invalid(format!(
            "{name:?} is not a hashtag: use letters, digits and _ with at least one letter"
        ))
    })
}

impl Starling {
    /// `GET /api/v1/tags/:name`.
    pub async fn tag(&self, viewer: Option<&AccountRecord>, name: &str) -> Result<TagView> {
        let name = parse_tag(name).ok_or(ServiceError::NotFound)?;
        let following = match viewer {
            Some(v) => Some(self.db().follows_tag(v.id, &name).await?),
            None => None,
        };
        Ok(TagView { name, following })
    }

    /// `POST /api/v1/tags/:name/follow` (following twice is fine).
    pub async fn follow_tag(&self, me: &AccountRecord, name: &str) -> Result<TagView> {
        let name = tag_name(name)?;
        if !self.db().follows_tag(me.id, &name).await? {
            let followed = self
                .db()
                .followed_tags(me.id, &Page::first(MAX_FOLLOWED_TAGS))
                .await?;
            if followed.len() as i64 >= MAX_FOLLOWED_TAGS {
                return Err(ServiceError::invalid(format!(
                    "you can follow at most {MAX_FOLLOWED_TAGS} hashtags"
                )));
            }
            self.db().follow_tag(self.next_id(), me.id, &name).await?;
        }
        Ok(TagView {
            name,
            following: Some(true),
        })
    }

    /// `POST /api/v1/tags/:name/unfollow`.
    pub async fn unfollow_tag(&self, me: &AccountRecord, name: &str) -> Result<TagView> {
        let name = tag_name(name)?;
        self.db().unfollow_tag(me.id, &name).await?;
        Ok(TagView {
            name,
            following: Some(false),
        })
    }

    /// `GET /api/v1/followed_tags`, most recently followed first.
    pub async fn followed_tags(&self, me: &AccountRecord, page: Page) -> Result<Paged<TagView>> {
        let rows = self.db().followed_tags(me.id, &page).await?;
        Ok(Paged::from_cursors(
            rows.into_iter()
                .map(|l| {
                    (
                        l.cursor,
                        TagView {
                            name: l.item,
                            following: Some(true),
                        },
                    )
                })
                .collect(),
        ))
    }
}

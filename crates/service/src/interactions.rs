//! Favourites, reblogs, bookmarks and pins, and the lists they make.

use crate::realtime::{Event, PostRef};
use crate::timelines::Paged;
use crate::views::StatusView;
use crate::{Result, ServiceError, Starling};
use starling_domain::id::now_millis;
use starling_domain::visibility::Visibility;
use starling_store::interactions::Mark;
use starling_store::{AccountRecord, NewNotification, Page, StatusRecord};

/// Most posts an account may pin.
const MAX_PINS: i64 = 5;

impl Starling {
    fn new_notification(&self, to: i64, kind: &str, from: i64, status: i64) -> NewNotification {
        NewNotification {
            id: self.next_id(),
            account_id: to,
            kind: kind.into(),
            from_account_id: from,
            status_id: Some(status),
            group_id: None,
            created_at: now_millis(),
        }
    }

    /// The post a mark applies to: reblog wrappers stand for their original, as in Mastodon.
    async fn mark_target(&self, me: &AccountRecord, id: i64) -> Result<StatusRecord> {
        let status = self.visible_status(Some(me), id).await?;
        match status.reblog_of_id {
            Some(orig) => self.visible_status(Some(me), orig).await,
            None => Ok(status),
        }
    }

    /// `POST /api/v1/statuses/:id/favourite`.
    pub async fn favourite(&self, me: &AccountRecord, id: i64) -> Result<StatusView> {
        let status = self.mark_target(me, id).await?;
        let note = if self.wants_notification(status.account_id, me.id).await? {
            Some(self.new_notification(status.account_id, "favourite", me.id, status.id))
        } else {
            None
        };
        let note_ref = note.as_ref().map(|n| (n.id, n.account_id));
        let added = self
            .db()
            .add_mark(Mark::Favourite, self.next_id(), me.id, status.id, note)
            .await?;
        if added {
            self.publish_notifications(note_ref.as_slice());
        }
        self.status(Some(me), status.id).await
    }

    /// `POST /api/v1/statuses/:id/unfavourite`.
    pub async fn unfavourite(&self, me: &AccountRecord, id: i64) -> Result<StatusView> {
        let status = self.mark_target(me, id).await?;
        self.db()
            .remove_mark(Mark::Favourite, me.id, status.id)
            .await?;
        self.status(Some(me), status.id).await
    }

    /// `POST /api/v1/statuses/:id/bookmark`.
    pub async fn bookmark(&self, me: &AccountRecord, id: i64) -> Result<StatusView> {
        let status = self.mark_target(me, id).await?;
        self.db()
            .add_mark(Mark::Bookmark, self.next_id(), me.id, status.id, None)
            .await?;
        self.status(Some(me), status.id).await
    }

    /// `POST /api/v1/statuses/:id/unbookmark`.
    pub async fn unbookmark(&self, me: &AccountRecord, id: i64) -> Result<StatusView> {
        let status = self.mark_target(me, id).await?;
        self.db()
            .remove_mark(Mark::Bookmark, me.id, status.id)
            .await?;
        self.status(Some(me), status.id).await
    }

    /// `POST /api/v1/statuses/:id/pin`: own public, unlisted or private posts, at most five.
    pub async fn pin(&self, me: &AccountRecord, id: i64) -> Result<StatusView> {
        let status = self.visible_status(Some(me), id).await?;
        if status.account_id != me.id || status.reblog_of_id.is_some() {
            return Err(ServiceError::invalid(
                "Validation failed: you can only pin your own posts",
            ));
        }
        if status.visibility == Visibility::Direct.as_str() {
            return Err(ServiceError::invalid(
                "Validation failed: direct posts cannot be pinned",
            ));
        }
        if self.db().pin_count(me.id).await? >= MAX_PINS {
            return Err(ServiceError::invalid(format!(
                "Validation failed: you can pin at most {MAX_PINS} posts"
            )));
        }
        self.db()
            .add_mark(Mark::Pin, self.next_id(), me.id, status.id, None)
            .await?;
        self.status(Some(me), status.id).await
    }

    /// `POST /api/v1/statuses/:id/unpin`.
    pub async fn unpin(&self, me: &AccountRecord, id: i64) -> Result<StatusView> {
        let status = self.visible_status(Some(me), id).await?;
        self.db().remove_mark(Mark::Pin, me.id, status.id).await?;
        self.status(Some(me), status.id).await
    }

    /// `POST /api/v1/statuses/:id/reblog`: returns the wrapper (idempotent).
    pub async fn reblog(
        &self,
        me: &AccountRecord,
        id: i64,
        visibility: Option<&str>,
    ) -> Result<StatusView> {
        let original = self.mark_target(me, id).await?;
        let vis = Visibility::parse(&original.visibility).unwrap_or(Visibility::Direct);
        if !vis.is_reblogable() && original.account_id != me.id {
            return Err(ServiceError::Forbidden(
                "This post cannot be reblogged: it is not public".into(),
            ));
        }
        if vis == Visibility::Direct {
            return Err(ServiceError::Forbidden(
                "Direct posts cannot be reblogged".into(),
            ));
        }
        // Its author's followers are not its audience: the group is. (A public group's
        // posts are `unlisted`, so this is only ever a private group's.)
        if original.group_id.is_some() && !vis.is_reblogable() {
            return Err(ServiceError::Forbidden(
                "Posts in a private group cannot be reblogged".into(),
            ));
        }
        let wrapper_vis = match visibility.filter(|v| !v.is_empty()) {
            Some(v) => Visibility::parse(v)
                .map_err(|e| ServiceError::invalid(format!("Validation failed: {e}")))?,
            None => vis,
        };
        if wrapper_vis == Visibility::Direct {
            return Err(ServiceError::invalid(
                "Validation failed: a reblog cannot be direct",
            ));
        }
        if !me.celebrity {
            // Before the id is taken (see `post`).
            self.wait_for_fan_out().await;
        }
        let now = now_millis();
        let wrapper = StatusRecord {
            id: self.next_id(),
            account_id: me.id,
            text: String::new(),
            content: String::new(),
            spoiler_text: String::new(),
            sensitive: false,
            visibility: wrapper_vis.as_str().to_owned(),
            language: None,
            in_reply_to_id: None,
            in_reply_to_account_id: None,
            reblog_of_id: Some(original.id),
            app_id: None,
            created_at: now,
            edited_at: None,
            replies_count: 0,
            reblogs_count: 0,
            favourites_count: 0,
            group_id: None,
        };
        let note = if self.wants_notification(original.account_id, me.id).await? {
            Some(self.new_notification(original.account_id, "reblog", me.id, original.id))
        } else {
            None
        };
        let note_ref = note.as_ref().map(|n| (n.id, n.account_id));
        let wrapper_id = wrapper.id;
        let stored = self
            .db()
            .create_reblog(wrapper, !me.celebrity, note)
            .await?;
        self.fan_out_state().wake.notify_one();
        if stored.id == wrapper_id {
            // A new reblog (not the earlier one returned again).
            self.publish(Event::Update(PostRef::new(&stored, Vec::new(), Vec::new())));
            self.publish_notifications(note_ref.as_slice());
        }
        self.one_view(Some(me), stored).await
    }

    /// `POST /api/v1/statuses/:id/unreblog`: returns the original.
    pub async fn unreblog(&self, me: &AccountRecord, id: i64) -> Result<StatusView> {
        // Ownership, not visibility, decides: someone the original's author blocked after
        // the reblog must still be able to take their reblog back.
        let status = self.db().status(id).await?;
        let original = status.reblog_of_id.unwrap_or(status.id);
        if let Some(wrapper) = self.db().reblog_of(me.id, original).await? {
            self.db().delete_status(wrapper.id).await?;
            self.publish(Event::Delete(PostRef::new(
                &wrapper,
                Vec::new(),
                Vec::new(),
            )));
        }
        self.status(Some(me), original).await
    }

    /// `GET /api/v1/statuses/:id/favourited_by` or `reblogged_by`.
    pub async fn who_marked(
        &self,
        viewer: Option<&AccountRecord>,
        id: i64,
        reblogs: bool,
        page: Page,
    ) -> Result<Paged<AccountRecord>> {
        self.visible_status(viewer, id).await?;
        let rows = self.db().accounts_who(reblogs, id, &page).await?;
        let blocked = match viewer {
            Some(v) => {
                let ids: Vec<i64> = rows.iter().map(|l| l.item.id).collect();
                self.db().blocked_among(v.id, &ids).await?
            }
            None => Default::default(),
        };
        Ok(Paged::from_cursors(
            rows.into_iter()
                .filter(|l| l.item.deactivated_at.is_none() && !blocked.contains(&l.item.id))
                .map(|l| (l.cursor, l.item))
                .collect(),
        ))
    }

    /// `GET /api/v1/favourites` (`bookmarks` = false) or `/api/v1/bookmarks`.
    pub async fn marked(
        &self,
        me: &AccountRecord,
        bookmarks: bool,
        page: Page,
    ) -> Result<Paged<StatusView>> {
        let mark = if bookmarks {
            Mark::Bookmark
        } else {
            Mark::Favourite
        };
        let rows = self.db().marked_statuses(mark, me.id, &page).await?;
        // Cursors come from the marks read, before posts the viewer may no longer see
        // are left out: a page they thinned still leads on, and only a short read ends.
        let next_max_id = rows
            .last()
            .filter(|_| rows.len() as i64 >= page.limit)
            .map(|l| l.cursor);
        let prev_min_id = rows.first().map(|l| l.cursor);
        let statuses = rows.into_iter().map(|l| l.item).collect();
        Ok(Paged {
            items: self.present(Some(me), statuses, false).await?,
            next_max_id,
            prev_min_id,
        })
    }
}

//! Following, blocking and muting, and the account lists that come with them.

use crate::timelines::{FOLLOW_BACKFILL, Paged};
use crate::{Result, ServiceError, Starling};
use starling_domain::id::now_millis;
use starling_store::social::{AccountList, NewFollow};
use starling_store::{AccountRecord, NewNotification, Page, RelationshipRecord};

impl Starling {
    async fn relationship(&self, me: &AccountRecord, target: i64) -> Result<RelationshipRecord> {
        self.db()
            .relationships(me.id, &[target])
            .await?
            .into_iter()
            .next()
            .ok_or(ServiceError::NotFound)
    }

    async fn other_account(
        &self,
        me: &AccountRecord,
        id: i64,
        action: &str,
    ) -> Result<AccountRecord> {
        let target = self.account(id).await?;
        if target.id == me.id {
            return Err(ServiceError::invalid(format!(
                "You cannot {action} yourself"
            )));
        }
        Ok(target)
    }

    /// `POST /api/v1/accounts/:id/follow`; repeated calls update `reblogs`/`notify`.
    pub async fn follow(
        &self,
        me: &AccountRecord,
        id: i64,
        reblogs: Option<bool>,
        notify: Option<bool>,
    ) -> Result<RelationshipRecord> {
        let target = self.other_account(me, id, "follow").await?;
        if !self
            .db()
            .blocked_among(me.id, &[target.id])
            .await?
            .is_empty()
        {
            return Err(ServiceError::Forbidden(
                "This action is not allowed: one of you blocks the other".into(),
            ));
        }
        let current = self.relationship(me, target.id).await?;
        let notification = if self.wants_notification(target.id, me.id).await? {
            Some(NewNotification {
                id: self.next_id(),
                account_id: target.id,
                kind: "follow".into(),
                from_account_id: me.id,
                status_id: None,
                group_id: None,
                created_at: now_millis(),
            })
        } else {
            None
        };
        let note_ref = notification.as_ref().map(|n| (n.id, n.account_id));
        let created = self
            .db()
            .follow(NewFollow {
                id: self.next_id(),
                account_id: me.id,
                target_id: target.id,
                show_reblogs: reblogs.unwrap_or(if current.following {
                    current.showing_reblogs
                } else {
                    true
                }),
                notify: notify.unwrap_or(current.notifying),
                celebrity_threshold: self.settings().celebrity_threshold,
                notification,
            })
            .await?;
        if created {
            self.publish_notifications(note_ref.as_slice());
        }
        if created && !target.celebrity {
            self.db()
                .backfill_home(me.id, target.id, FOLLOW_BACKFILL)
                .await?;
        }
        self.relationship(me, target.id).await
    }

    /// `POST /api/v1/accounts/:id/unfollow`.
    pub async fn unfollow(&self, me: &AccountRecord, id: i64) -> Result<RelationshipRecord> {
        let target = self.other_account(me, id, "unfollow").await?;
        self.db().unfollow(me.id, target.id).await?;
        self.relationship(me, target.id).await
    }

    /// `POST /api/v1/accounts/:id/block`: also ends follows both ways.
    pub async fn block(&self, me: &AccountRecord, id: i64) -> Result<RelationshipRecord> {
        let target = self.other_account(me, id, "block").await?;
        self.db().block(self.next_id(), me.id, target.id).await?;
        self.relationship(me, target.id).await
    }

    /// `POST /api/v1/accounts/:id/unblock`.
    pub async fn unblock(&self, me: &AccountRecord, id: i64) -> Result<RelationshipRecord> {
        let target = self.other_account(me, id, "unblock").await?;
        self.db().unblock(me.id, target.id).await?;
        self.relationship(me, target.id).await
    }

    /// `POST /api/v1/accounts/:id/mute` (`notifications` defaults to true).
    pub async fn mute(
        &self,
        me: &AccountRecord,
        id: i64,
        notifications: Option<bool>,
    ) -> Result<RelationshipRecord> {
        let target = self.other_account(me, id, "mute").await?;
        self.db()
            .mute(
                self.next_id(),
                me.id,
                target.id,
                notifications.unwrap_or(true),
            )
            .await?;
        self.relationship(me, target.id).await
    }

    /// `POST /api/v1/accounts/:id/unmute`.
    pub async fn unmute(&self, me: &AccountRecord, id: i64) -> Result<RelationshipRecord> {
        let target = self.other_account(me, id, "unmute").await?;
        self.db().unmute(me.id, target.id).await?;
        self.relationship(me, target.id).await
    }

    /// `GET /api/v1/accounts/relationships?id[]=…`, in request order.
    pub async fn relationships(
        &self,
        me: &AccountRecord,
        ids: &[i64],
    ) -> Result<Vec<RelationshipRecord>> {
        // Unknown and deactivated accounts get no entry, so a relationship never reveals
        // what their profile (404) hides.
        let active: std::collections::HashSet<i64> = self
            .db()
            .accounts(ids)
            .await?
            .into_iter()
            .filter(|a| a.deactivated_at.is_none())
            .map(|a| a.id)
            .collect();
        let ids: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| active.contains(id))
            .collect();
        Ok(self.db().relationships(me.id, &ids).await?)
    }

    /// Followers or followees of an account (public lists), or the viewer's own blocks and mutes.
    pub async fn account_list(
        &self,
        list: AccountList,
        subject: i64,
        page: Page,
    ) -> Result<Paged<AccountRecord>> {
        if matches!(list, AccountList::Followers | AccountList::Following) {
            self.account(subject).await?;
        }
        let rows = self.db().account_list(list, subject, &page).await?;
        // The cursors come from the rows read, before deactivated accounts are left out:
        // a page they thinned still leads on, and only a short read ends the list.
        let next_max_id = rows
            .last()
            .filter(|_| rows.len() as i64 >= page.limit)
            .map(|l| l.cursor);
        let prev_min_id = rows.first().map(|l| l.cursor);
        Ok(Paged {
            items: rows
                .into_iter()
                .filter(|l| l.item.deactivated_at.is_none())
                .map(|l| l.item)
                .collect(),
            next_max_id,
            prev_min_id,
        })
    }
}

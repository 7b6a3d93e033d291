//! Notifications and reading-position markers.

use crate::timelines::Paged;
use crate::views::NotificationView;
use crate::{Result, ServiceError, Starling};
use starling_domain::id::now_millis;
use starling_store::{AccountRecord, MarkerRecord, Page};

/// Notification types Starling produces.
pub const NOTIFICATION_TYPES: &[&str] = &[
    "mention",
    "status",
    "reblog",
    "follow",
    "follow_request",
    "favourite",
    "poll",
    "update",
    "group_request",
    "group_invitation",
    "group_approval",
];

/// Timelines a marker can be saved for.
const MARKER_TIMELINES: &[&str] = &["home", "notifications"];

impl Starling {
    /// `GET /api/v1/notifications` with `types[]`, `exclude_types[]` and `account_id`.
    pub async fn notifications(
        &self,
        me: &AccountRecord,
        types: &[String],
        exclude_types: &[String],
        account_id: Option<i64>,
        page: Page,
    ) -> Result<Paged<NotificationView>> {
        let kinds: Vec<String> = if types.is_empty() && exclude_types.is_empty() {
            Vec::new()
        } else {
            NOTIFICATION_TYPES
                .iter()
                .map(|t| (*t).to_owned())
                .filter(|t| types.is_empty() || types.contains(t))
                .filter(|t| !exclude_types.contains(t))
                .collect()
        };
        if kinds.is_empty() && (!types.is_empty() || !exclude_types.is_empty()) {
            return Ok(Paged {
                items: Vec::new(),
                next_max_id: None,
                prev_min_id: None,
            });
        }
        let rows = self
            .db()
            .notifications(me.id, &kinds, account_id, &page)
            .await?;
        let next_max_id = rows.last().map(|n| n.id);
        let prev_min_id = rows.first().map(|n| n.id);
        Ok(Paged {
            items: self.present_notifications(me, rows).await?,
            next_max_id,
            prev_min_id,
        })
    }

    /// `GET /api/v1/notifications/:id`.
    pub async fn notification(&self, me: &AccountRecord, id: i64) -> Result<NotificationView> {
        let n = self.db().notification(me.id, id).await?;
        self.present_notifications(me, vec![n])
            .await?
            .into_iter()
            .next()
            .ok_or(ServiceError::NotFound)
    }

    /// `POST /api/v1/notifications/:id/dismiss`.
    pub async fn dismiss_notification(&self, me: &AccountRecord, id: i64) -> Result<()> {
        if self.db().dismiss_notifications(me.id, Some(id)).await? == 0 {
            return Err(ServiceError::NotFound);
        }
        Ok(())
    }

    /// `POST /api/v1/notifications/clear`.
    pub async fn clear_notifications(&self, me: &AccountRecord) -> Result<()> {
        self.db().dismiss_notifications(me.id, None).await?;
        Ok(())
    }

    /// `GET /api/v1/markers?timeline[]=…`.
    pub async fn markers(
        &self,
        me: &AccountRecord,
        timelines: &[String],
    ) -> Result<Vec<MarkerRecord>> {
        Ok(self.db().markers(me.id, timelines).await?)
    }

    /// `POST /api/v1/markers`: saves reading positions.
    pub async fn save_markers(
        &self,
        me: &AccountRecord,
        positions: &[(String, i64)],
    ) -> Result<Vec<MarkerRecord>> {
        if positions.is_empty() {
            return Err(ServiceError::invalid(
                "home[last_read_id] or notifications[last_read_id] is required",
            ));
        }
        for (timeline, _) in positions {
            if !MARKER_TIMELINES.contains(&timeline.as_str()) {
                return Err(ServiceError::invalid(format!(
                    "timeline must be home or notifications, not {timeline:?}"
                )));
            }
        }
        let now = now_millis();
        for (timeline, id) in positions {
            self.db().save_marker(me.id, timeline, *id, now).await?;
        }
        let names: Vec<String> = positions.iter().map(|(t, _)| t.clone()).collect();
        self.markers(me, &names).await
    }
}

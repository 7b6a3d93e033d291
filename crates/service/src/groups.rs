//! Groups: creating and running groups, joining and leaving, requests and invitations,
//! roles, and the group timeline.
//!
//! Every signed-in account may look a group up (name, description, size), so that it can
//! ask to join a private one; the directory lists public groups and the caller's own. A
//! private group's posts and members are for its members only (403 for others: the
//! group's existence is not a secret, its content is). Who may do what is decided by the
//! rules in [`starling_domain::group`].

use crate::timelines::Paged;
use crate::{Result, ServiceError, Starling};
use starling_domain::group::{
    self as rules, GroupError, GroupName, GroupRole, GroupVisibility, parse_description,
};
use starling_domain::id::now_millis;
use starling_store::groups::{GroupUpdate, MemberChange, NewMember};
use starling_store::{AccountRecord, NewNotification, Page};

pub use starling_store::groups::{GroupRecord, GroupStanding};

/// Most accounts one request may invite; keeps the work of one request bounded.
pub const INVITES_PER_REQUEST_MAX: usize = 50;

fn invalid(e: GroupError) -> ServiceError {
    match e {
        GroupError::InvalidName
        | GroupError::InvalidDescription
        | GroupError::InvalidVisibility
        | GroupError::InvalidRole => ServiceError::Validation(format!("Validation failed: {e}")),
        GroupError::LastOwner => ServiceError::Validation(e.to_string()),
        GroupError::NotModerator | GroupError::NotOwner | GroupError::AdminCannotTouchOwners => {
            ServiceError::Forbidden(e.to_string())
        }
    }
}

/// A group to create, as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    /// The name (required).
    pub name: String,
    /// What the group is about.
    pub description: Option<String>,
    /// `public` (the default) or `private`.
    pub visibility: Option<String>,
}

/// Changes to a group; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct GroupChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// `public` or `private`.
    pub visibility: Option<String>,
}

/// A group as one account sees it.
#[derive(Debug, Clone)]
pub struct GroupView {
    /// The group.
    pub group: GroupRecord,
    /// Where the viewer stands with it.
    pub standing: GroupStanding,
}

/// A member as listed.
#[derive(Debug, Clone)]
pub struct MemberView {
    /// The account.
    pub account: AccountRecord,
    /// Its role.
    pub role: String,
}

impl GroupView {
    fn role(&self) -> Option<GroupRole> {
        self.standing
            .member
            .as_ref()
            .and_then(|m| GroupRole::parse(&m.role).ok())
    }

    fn visibility(&self) -> GroupVisibility {
        // An unreadable stored value is treated as the more restrictive one.
        GroupVisibility::parse(&self.group.visibility).unwrap_or(GroupVisibility::Private)
    }
}

impl Starling {
    /// `POST /api/v1/groups`: the creator becomes its first owner.
    pub async fn create_group(&self, me: &AccountRecord, new: NewGroup) -> Result<GroupView> {
        let name = GroupName::parse(&new.name).map_err(invalid)?;
        let description =
            parse_description(new.description.as_deref().unwrap_or("")).map_err(invalid)?;
        let visibility = match new.visibility.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => GroupVisibility::parse(v).map_err(invalid)?,
            None => GroupVisibility::Public,
        };
        let now = now_millis();
        let group = GroupRecord {
            id: self.next_id(),
            name: name.as_str().to_owned(),
            description,
            visibility: visibility.as_str().to_owned(),
            created_at: now,
            members_count: 0,
        };
        let owner = NewMember {
            id: self.next_id(),
            group_id: group.id,
            account_id: me.id,
            role: GroupRole::Owner.as_str().to_owned(),
            notify: false,
            created_at: now,
        };
        self.db().create_group(&group, &owner).await?;
        self.group(me, group.id).await
    }

    /// `GET /api/v1/groups/:id`: any group, with where the caller stands.
    pub async fn group(&self, me: &AccountRecord, id: i64) -> Result<GroupView> {
        let group = self.db().group(id).await?;
        let standing = self.db().group_standing(id, me.id).await?;
        Ok(GroupView { group, standing })
    }

    /// `GET /api/v1/groups/:id` for a signed-in caller or an anonymous reader, who may
    /// look up public groups only (a private group is 404 to someone outside the network).
    pub async fn group_for(&self, viewer: Option<&AccountRecord>, id: i64) -> Result<GroupView> {
        match viewer {
            Some(me) => self.group(me, id).await,
            None => {
                let group = self.db().group(id).await?;
                if group.visibility != GroupVisibility::Public.as_str() {
                    return Err(ServiceError::NotFound);
                }
                Ok(GroupView {
                    group,
                    standing: GroupStanding::default(),
                })
            }
        }
    }

    /// `GET /api/v1/groups`: public groups and the caller's own (only the latter with
    /// `mine_only`), newest first.
    pub async fn groups(
        &self,
        me: &AccountRecord,
        mine_only: bool,
        page: Page,
    ) -> Result<Paged<GroupView>> {
        let groups = self.db().group_directory(me.id, mine_only, &page).await?;
        let ids: Vec<i64> = groups.iter().map(|g| g.id).collect();
        let mut standings = self.db().group_standings(me.id, &ids).await?;
        Ok(Paged::from_cursors(
            groups
                .into_iter()
                .map(|g| {
                    let standing = standings.remove(&g.id).unwrap_or_default();
                    (g.id, GroupView { group: g, standing })
                })
                .collect(),
        ))
    }

    /// `PUT /api/v1/groups/:id`: owners and admins change name, description, visibility.
    pub async fn update_group(
        &self,
        me: &AccountRecord,
        id: i64,
        c: GroupChanges,
    ) -> Result<GroupView> {
        let view = self.group(me, id).await?;
        rules::may_edit_group(view.role()).map_err(invalid)?;
        let name = c
            .name
            .as_deref()
            .map(GroupName::parse)
            .transpose()
            .map_err(invalid)?;
        let description = c
            .description
            .as_deref()
            .map(parse_description)
            .transpose()
            .map_err(invalid)?;
        // Only a real change of privacy rewrites the visibility of the group's posts.
        let visibility = c
            .visibility
            .as_deref()
            .map(GroupVisibility::parse)
            .transpose()
            .map_err(invalid)?
            .filter(|v| v.as_str() != view.group.visibility);
        let group = self
            .db()
            .update_group(
                id,
                &GroupUpdate {
                    name: name.map(|n| n.as_str().to_owned()),
                    description,
                    visibility: visibility.map(|v| v.as_str().to_owned()),
                },
                visibility.map(|v| v.post_visibility().as_str()),
            )
            .await?;
        Ok(GroupView {
            group,
            standing: view.standing,
        })
    }

    /// `DELETE /api/v1/groups/:id`: owners only; the group's posts go with it.
    pub async fn delete_group(&self, me: &AccountRecord, id: i64) -> Result<()> {
        let view = self.group(me, id).await?;
        rules::may_delete_group(view.role()).map_err(invalid)?;
        Ok(self.db().delete_group(id).await?)
    }

    /// `POST /api/v1/groups/:id/join`: joins a public group, or a private one the caller
    /// was invited to; for any other private group, asks its admins (the answer shows
    /// `requested`). A member may call it again to change `notify`.
    pub async fn join_group(
        &self,
        me: &AccountRecord,
        id: i64,
        notify: Option<bool>,
    ) -> Result<GroupView> {
        let view = self.group(me, id).await?;
        if view.standing.member.is_some() {
            if let Some(n) = notify {
                self.db().set_group_notify(id, me.id, n).await?;
            }
            return self.group(me, id).await;
        }
        if view.visibility() == GroupVisibility::Public || view.standing.invited {
            self.db()
                .add_group_member(&NewMember {
                    id: self.next_id(),
                    group_id: id,
                    account_id: me.id,
                    role: GroupRole::Member.as_str().to_owned(),
                    notify: notify.unwrap_or(false),
                    created_at: now_millis(),
                })
                .await?;
        } else if self
            .db()
            .request_group_join(self.next_id(), id, me.id, now_millis())
            .await?
        {
            let moderators = self.db().group_moderators(id).await?;
            self.notify_group(&moderators, "group_request", me.id, id)
                .await?;
        }
        self.group(me, id).await
    }

    /// `POST /api/v1/groups/:id/leave`: leaves the group, or withdraws a pending request
    /// or declines an invitation. The last owner cannot leave.
    pub async fn leave_group(&self, me: &AccountRecord, id: i64) -> Result<GroupView> {
        let view = self.group(me, id).await?;
        if let Some(role) = view.role() {
            let owners = self.db().group_owner_count(id).await?;
            rules::owner_remains(role, None, owners).map_err(invalid)?;
        }
        if self.db().remove_group_member(id, me.id).await? == MemberChange::LastOwner {
            return Err(invalid(GroupError::LastOwner));
        }
        self.group(me, id).await
    }

    /// The caller's group as a moderator (owner or admin), or why not.
    async fn moderated_group(&self, me: &AccountRecord, id: i64) -> Result<GroupView> {
        let view = self.group(me, id).await?;
        rules::may_moderate(view.role()).map_err(invalid)?;
        Ok(view)
    }

    /// The group if the caller may read its posts and members; 403 for a private group
    /// the caller is not in (404 for an anonymous reader).
    pub(crate) async fn readable_group(
        &self,
        me: Option<&AccountRecord>,
        id: i64,
    ) -> Result<GroupRecord> {
        let view = self.group_for(me, id).await?;
        if rules::may_read(view.visibility(), view.role()) {
            Ok(view.group)
        } else {
            Err(ServiceError::Forbidden(
                "This group is private: only its members may read it".into(),
            ))
        }
    }

    /// `GET /api/v1/groups/:id/members` (optionally only one `role`), newest first.
    pub async fn group_members(
        &self,
        me: &AccountRecord,
        id: i64,
        role: Option<&str>,
        page: Page,
    ) -> Result<Paged<MemberView>> {
        self.readable_group(Some(me), id).await?;
        let role = role
            .filter(|r| !r.is_empty())
            .map(GroupRole::parse)
            .transpose()
            .map_err(invalid)?;
        let rows = self
            .db()
            .group_members(id, role.map(GroupRole::as_str), &page)
            .await?;
        Ok(Paged::from_cursors(
            rows.into_iter()
                .map(|(l, role)| {
                    (
                        l.cursor,
                        MemberView {
                            account: l.item,
                            role,
                        },
                    )
                })
                .collect(),
        ))
    }

    /// `GET /api/v1/groups/:id/requests`: accounts waiting for approval (moderators only).
    pub async fn group_requests(
        &self,
        me: &AccountRecord,
        id: i64,
        page: Page,
    ) -> Result<Paged<AccountRecord>> {
        self.moderated_group(me, id).await?;
        let rows = self.db().group_requests(id, &page).await?;
        Ok(Paged::from_cursors(
            rows.into_iter().map(|l| (l.cursor, l.item)).collect(),
        ))
    }

    /// `POST /api/v1/groups/:id/requests/:account_id/authorize`: the requester becomes a
    /// member and is told so.
    pub async fn authorize_group_request(
        &self,
        me: &AccountRecord,
        id: i64,
        account_id: i64,
    ) -> Result<GroupView> {
        self.moderated_group(me, id).await?;
        let standing = self.db().group_standing(id, account_id).await?;
        if !standing.requested {
            return Err(ServiceError::NotFound);
        }
        self.db()
            .add_group_member(&NewMember {
                id: self.next_id(),
                group_id: id,
                account_id,
                role: GroupRole::Member.as_str().to_owned(),
                notify: false,
                created_at: now_millis(),
            })
            .await?;
        self.notify_group(&[account_id], "group_approval", me.id, id)
            .await?;
        self.group(me, id).await
    }

    /// `POST /api/v1/groups/:id/requests/:account_id/reject`.
    pub async fn reject_group_request(
        &self,
        me: &AccountRecord,
        id: i64,
        account_id: i64,
    ) -> Result<GroupView> {
        self.moderated_group(me, id).await?;
        if !self.db().delete_group_request(id, account_id).await? {
            return Err(ServiceError::NotFound);
        }
        self.group(me, id).await
    }

    /// `POST /api/v1/groups/:id/invitations`: invites accounts (moderators only); each
    /// invited account is notified and may then join without approval. Members and
    /// accounts already invited are skipped.
    pub async fn invite_to_group(
        &self,
        me: &AccountRecord,
        id: i64,
        account_ids: &[i64],
    ) -> Result<GroupView> {
        self.moderated_group(me, id).await?;
        if account_ids.is_empty() {
            return Err(ServiceError::invalid(
                "Validation failed: account_ids must name at least one account",
            ));
        }
        if account_ids.len() > INVITES_PER_REQUEST_MAX {
            return Err(ServiceError::invalid(format!(
                "Validation failed: account_ids may name at most {INVITES_PER_REQUEST_MAX} accounts"
            )));
        }
        let found = self.db().accounts(account_ids).await?;
        for wanted in account_ids {
            if !found
                .iter()
                .any(|a| a.id == *wanted && a.deactivated_at.is_none())
            {
                return Err(ServiceError::NotFound);
            }
        }
        let members = self.db().group_members_among(id, account_ids).await?;
        let mut invited = Vec::new();
        for account in account_ids.iter().filter(|a| !members.contains(a)) {
            if self
                .db()
                .invite_to_group(self.next_id(), id, *account, me.id, now_millis())
                .await?
            {
                invited.push(*account);
            }
        }
        self.notify_group(&invited, "group_invitation", me.id, id)
            .await?;
        self.group(me, id).await
    }

    /// `DELETE /api/v1/groups/:id/members/:account_id`: removes a member.
    pub async fn remove_group_member(
        &self,
        me: &AccountRecord,
        id: i64,
        account_id: i64,
    ) -> Result<GroupView> {
        self.change_member(me, id, account_id, None).await
    }

    /// `PUT /api/v1/groups/:id/members/:account_id` with `role`: promotes or demotes.
    pub async fn set_group_role(
        &self,
        me: &AccountRecord,
        id: i64,
        account_id: i64,
        role: &str,
    ) -> Result<GroupView> {
        let role = GroupRole::parse(role).map_err(invalid)?;
        self.change_member(me, id, account_id, Some(role)).await
    }

    async fn change_member(
        &self,
        me: &AccountRecord,
        id: i64,
        account_id: i64,
        to: Option<GroupRole>,
    ) -> Result<GroupView> {
        let view = self.group(me, id).await?;
        let target = self.db().group_standing(id, account_id).await?;
        let Some(from) = target
            .member
            .as_ref()
            .and_then(|m| GroupRole::parse(&m.role).ok())
        else {
            // Moderators learn that the account is not a member; others learn nothing more.
            rules::may_moderate(view.role()).map_err(invalid)?;
            return Err(ServiceError::NotFound);
        };
        let owners = self.db().group_owner_count(id).await?;
        rules::may_change_role(view.role(), from, to, owners).map_err(invalid)?;
        let change = match to {
            Some(role) => {
                self.db()
                    .set_group_role(id, account_id, role.as_str())
                    .await?
            }
            None => self.db().remove_group_member(id, account_id).await?,
        };
        match change {
            MemberChange::Done => self.group(me, id).await,
            MemberChange::NotMember => Err(ServiceError::NotFound),
            MemberChange::LastOwner => Err(invalid(GroupError::LastOwner)),
        }
    }

    /// Notifies `recipients` of a group event caused by `actor`.
    async fn notify_group(
        &self,
        recipients: &[i64],
        kind: &str,
        actor: i64,
        group_id: i64,
    ) -> Result<()> {
        let now = now_millis();
        let mut notes = Vec::new();
        for r in recipients {
            if self.wants_notification(*r, actor).await? {
                notes.push(NewNotification {
                    id: self.next_id(),
                    account_id: *r,
                    kind: kind.to_owned(),
                    from_account_id: actor,
                    status_id: None,
                    group_id: Some(group_id),
                    created_at: now,
                });
            }
        }
        self.db().create_notifications(&notes).await?;
        self.publish_notifications(&crate::statuses::notification_refs(&notes));
        Ok(())
    }
}

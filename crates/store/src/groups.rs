//! Groups: the groups themselves, their members and roles, join requests, invitations,
//! and the group timeline.
//!
//! Membership changes keep `groups.members_count` right in the same transaction. The rule
//! that a group keeps an owner is checked by the service, and again inside the statement
//! that removes or demotes an owner, so that two owners leaving at once on SQLite's single
//! writer cannot both succeed.

use crate::db::{Arg, bind_all, placeholders};
use crate::reads::Cols;
use crate::records::{ACCOUNT_COLUMNS, AccountRecord, Listed, StatusRecord};
use crate::{Db, Page, Result, StoreError};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// Columns selected for a [`GroupRecord`] from `groups g`.
pub(crate) const GROUP_COLUMNS: &str =
    "g.id, g.name, g.description, g.visibility, g.created_at, g.members_count";

/// A group as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    /// The group's id.
    pub id: i64,
    /// Its name, already validated.
    pub name: String,
    /// Its description, already validated.
    pub description: String,
    /// `public` or `private`.
    pub visibility: String,
    /// When it was created (Unix milliseconds).
    pub created_at: i64,
    /// How many members it has.
    pub members_count: i64,
}

impl GroupRecord {
    pub(crate) fn from_row(r: &impl Cols) -> Result<Self> {
        Ok(Self {
            id: r.int("id")?,
            name: r.text("name")?,
            description: r.text("description")?,
            visibility: r.text("visibility")?,
            created_at: r.int("created_at")?,
            members_count: r.int("members_count")?,
        })
    }
}

/// Changes to a group; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct GroupUpdate {
    /// A new name, already validated.
    pub name: Option<String>,
    /// A new description, already validated.
    pub description: Option<String>,
    /// `public` or `private`.
    pub visibility: Option<String>,
}

/// One account's membership of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRecord {
    /// The membership row's id: the member list's pagination cursor.
    pub id: i64,
    /// `owner`, `admin` or `member`.
    pub role: String,
    /// Notified of every new post in the group.
    pub notify: bool,
    /// When the account joined (Unix milliseconds).
    pub created_at: i64,
}

/// Where one account stands with one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupStanding {
    /// The membership, if a member.
    pub member: Option<MemberRecord>,
    /// A join request is pending.
    pub requested: bool,
    /// An invitation is pending.
    pub invited: bool,
}

/// A new member to add.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// Id of the membership row.
    pub id: i64,
    pub group_id: i64,
    pub account_id: i64,
    /// `owner`, `admin` or `member`.
    pub role: String,
    pub notify: bool,
    pub created_at: i64,
}

/// How a removal or role change ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// Done.
    Done,
    /// The account is not a member.
    NotMember,
    /// Refused: the group would be left without an owner.
    LastOwner,
}

/// The statement's guard: true when the row it touches is not the group's last owner.
const NOT_LAST_OWNER: &str = "(role <> 'owner' OR (SELECT COUNT(*) FROM group_members o \
     WHERE o.group_id = $1 AND o.role = 'owner') > 1)";

impl Db {
    /// Creates a group with its creator as the first owner.
    pub async fn create_group(
        &self,
        group: &GroupRecord,
        owner: &NewMember,
    ) -> Result<GroupRecord> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO groups (id, name, description, visibility, created_at, members_count) \
             VALUES ($1, $2, $3, $4, $5, 0)",
        )
        .bind(group.id)
        .bind(&group.name)
        .bind(&group.description)
        .bind(&group.visibility)
        .bind(group.created_at)
        .execute(&mut *tx)
        .await?;
        insert_member(&mut tx, owner).await?;
        tx.commit().await?;
        Ok(GroupRecord {
            members_count: 1,
            ..group.clone()
        })
    }

    /// One group.
    pub async fn group(&self, id: i64) -> Result<GroupRecord> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        GroupRecord::from_row(&row)
    }

    /// Several groups, in no particular order; unknown ids are skipped.
    pub async fn groups(&self, ids: &[i64]) -> Result<Vec<GroupRecord>> {
        let ids = ids.to_vec();
        self.read(move |c| crate::facts::groups(c, &ids)).await
    }

    /// Changes a group's name, description or visibility. With a new visibility, the
    /// group's posts take the Mastodon visibility that goes with it (`post_visibility`),
    /// in the same transaction, so apps keep showing their reach right.
    pub async fn update_group(
        &self,
        id: i64,
        u: &GroupUpdate,
        post_visibility: Option<&str>,
    ) -> Result<GroupRecord> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE groups SET name = COALESCE($2, name), description = COALESCE($3, description), \
             visibility = COALESCE($4, visibility) WHERE id = $1",
        )
        .bind(id)
        .bind(&u.name)
        .bind(&u.description)
        .bind(&u.visibility)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(v) = post_visibility {
            sqlx::query(
                "UPDATE statuses SET visibility = $2 WHERE group_id = $1 AND group_id IS NOT NULL",
            )
            .bind(id)
            .bind(v)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.group(id).await
    }

    /// Deletes a group with its posts (and reblogs of them), members, requests and
    /// invitations, and corrects the authors' post counts.
    pub async fn delete_group(&self, id: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        // Posts go by cascade; count them off their authors first (reblogs included).
        sqlx::query(
            "UPDATE accounts SET statuses_count = statuses_count - ( \
               SELECT COUNT(*) FROM statuses s WHERE s.account_id = accounts.id \
               AND (s.group_id = $1 OR s.reblog_of_id IN (SELECT id FROM statuses WHERE group_id = $1))) \
             WHERE id IN (SELECT account_id FROM statuses WHERE group_id = $1 \
               UNION SELECT account_id FROM statuses WHERE reblog_of_id IN \
               (SELECT id FROM statuses WHERE group_id = $1))",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        // Its posts were counted off their authors, who are not named here.
        self.accounts_cache.forget_all();
        Ok(())
    }

    /// A page of the directory: public groups and the groups `viewer` belongs to (only
    /// the latter with `mine_only`), newest first.
    pub async fn group_directory(
        &self,
        viewer: i64,
        mine_only: bool,
        page: &Page,
    ) -> Result<Vec<GroupRecord>> {
        let mine = "g.id IN (SELECT group_id FROM group_members WHERE account_id = $1)";
        let mut sql = if mine_only {
            format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE {mine}")
        } else {
            format!(
                "SELECT {GROUP_COLUMNS} FROM groups g WHERE (g.visibility = 'public' OR {mine})"
            )
        };
        let mut args = vec![Arg::I(viewer)];
        let order = page.apply(&mut sql, "g.id", &mut args);
        sql.push_str(&order);
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.reader)
            .await?;
        let groups = rows
            .iter()
            .map(GroupRecord::from_row)
            .collect::<Result<_>>()?;
        Ok(page.finish(groups))
    }

    /// Where `account_id` stands with a group: member (with role), requested, invited.
    pub async fn group_standing(&self, group_id: i64, account_id: i64) -> Result<GroupStanding> {
        Ok(self
            .group_standings(account_id, &[group_id])
            .await?
            .remove(&group_id)
            .unwrap_or_default())
    }

    /// Where `account_id` stands with each of `group_ids` (groups it has nothing to do
    /// with are left out), in one query.
    pub async fn group_standings(
        &self,
        account_id: i64,
        group_ids: &[i64],
    ) -> Result<HashMap<i64, GroupStanding>> {
        if group_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = placeholders(2, group_ids.len());
        let sql = format!(
            "SELECT 'm' AS kind, group_id, id, role, notify, created_at FROM group_members \
               WHERE account_id = $1 AND group_id IN ({ids}) \
             UNION ALL SELECT 'r', group_id, id, '', 0, created_at FROM group_requests \
               WHERE account_id = $1 AND group_id IN ({ids}) \
             UNION ALL SELECT 'i', group_id, id, '', 0, created_at FROM group_invitations \
               WHERE account_id = $1 AND group_id IN ({ids})"
        );
        let mut args = vec![Arg::I(account_id)];
        args.extend(group_ids.iter().map(|g| Arg::I(*g)));
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.reader)
            .await?;
        let mut out: HashMap<i64, GroupStanding> = HashMap::new();
        for r in rows {
            let standing = out.entry(r.try_get("group_id")?).or_default();
            match r.try_get::<String, _>("kind")?.as_str() {
                "m" => {
                    standing.member = Some(MemberRecord {
                        id: r.try_get("id")?,
                        role: r.try_get("role")?,
                        notify: r.try_get::<i64, _>("notify")? != 0,
                        created_at: r.try_get("created_at")?,
                    })
                }
                "r" => standing.requested = true,
                _ => standing.invited = true,
            }
        }
        Ok(out)
    }

    /// Those of `account_ids` that are members of a group.
    pub async fn group_members_among(
        &self,
        group_id: i64,
        account_ids: &[i64],
    ) -> Result<HashSet<i64>> {
        if account_ids.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!(
            "SELECT account_id FROM group_members WHERE group_id = $1 AND account_id IN ({})",
            placeholders(2, account_ids.len())
        );
        let mut q = sqlx::query_as::<_, (i64,)>(&sql).bind(group_id);
        for id in account_ids {
            q = q.bind(*id);
        }
        Ok(q.fetch_all(&self.reader)
            .await?
            .into_iter()
            .map(|(a,)| a)
            .collect())
    }

    /// `account_id`'s roles in those of `group_ids` it belongs to.
    pub async fn group_roles(
        &self,
        account_id: i64,
        group_ids: &[i64],
    ) -> Result<Vec<(i64, String)>> {
        let ids = group_ids.to_vec();
        self.read(move |c| crate::facts::group_roles(c, account_id, &ids))
            .await
    }

    /// Adds a member (a pending request or invitation is used up); false if already one.
    pub async fn add_group_member(&self, m: &NewMember) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let added = insert_member(&mut tx, m).await?;
        settle_request_and_invitation(&mut tx, m.group_id, m.account_id).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Removes a member unless they are the group's last owner; pending requests and
    /// invitations of the account go too.
    pub async fn remove_group_member(
        &self,
        group_id: i64,
        account_id: i64,
    ) -> Result<MemberChange> {
        let mut tx = self.writer.begin().await?;
        settle_request_and_invitation(&mut tx, group_id, account_id).await?;
        let removed = sqlx::query(&format!(
            "DELETE FROM group_members WHERE group_id = $1 AND account_id = $2 AND {NOT_LAST_OWNER}"
        ))
        .bind(group_id)
        .bind(account_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let change = if removed > 0 {
            sqlx::query("UPDATE groups SET members_count = members_count - 1 WHERE id = $1")
                .bind(group_id)
                .execute(&mut *tx)
                .await?;
            MemberChange::Done
        } else {
            member_change_refused(&mut tx, group_id, account_id).await?
        };
        tx.commit().await?;
        Ok(change)
    }

    /// Gives a member a new role, unless that leaves the group without an owner.
    pub async fn set_group_role(
        &self,
        group_id: i64,
        account_id: i64,
        role: &str,
    ) -> Result<MemberChange> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(&format!(
            "UPDATE group_members SET role = $3 WHERE group_id = $1 AND account_id = $2 \
             AND ($3 = 'owner' OR {NOT_LAST_OWNER})"
        ))
        .bind(group_id)
        .bind(account_id)
        .bind(role)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let change = if done > 0 {
            MemberChange::Done
        } else {
            member_change_refused(&mut tx, group_id, account_id).await?
        };
        tx.commit().await?;
        Ok(change)
    }

    /// Turns a member's notifications of new group posts on or off.
    pub async fn set_group_notify(
        &self,
        group_id: i64,
        account_id: i64,
        notify: bool,
    ) -> Result<()> {
        sqlx::query("UPDATE group_members SET notify = $3 WHERE group_id = $1 AND account_id = $2")
            .bind(group_id)
            .bind(account_id)
            .bind(i64::from(notify))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// How many owners a group has.
    pub async fn group_owner_count(&self, group_id: i64) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM group_members WHERE group_id = $1 AND role = 'owner'",
        )
        .bind(group_id)
        .fetch_one(&self.reader)
        .await?;
        Ok(n)
    }

    /// Records a join request; false if one is already pending.
    pub async fn request_group_join(
        &self,
        id: i64,
        group_id: i64,
        account_id: i64,
        created_at: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO group_requests (id, group_id, account_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (group_id, account_id) DO NOTHING",
        )
        .bind(id)
        .bind(group_id)
        .bind(account_id)
        .bind(created_at)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(done > 0)
    }

    /// Drops a pending join request (and the moderators' notifications of it); false if
    /// there was none.
    pub async fn delete_group_request(&self, group_id: i64, account_id: i64) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = settle_request_and_invitation(&mut tx, group_id, account_id).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Records an invitation; false if one is already pending.
    pub async fn invite_to_group(
        &self,
        id: i64,
        group_id: i64,
        account_id: i64,
        invited_by: i64,
        created_at: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO group_invitations (id, group_id, account_id, invited_by, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (group_id, account_id) DO NOTHING",
        )
        .bind(id)
        .bind(group_id)
        .bind(account_id)
        .bind(invited_by)
        .bind(created_at)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(done > 0)
    }

    /// A page of the accounts waiting for approval, newest request first.
    pub async fn group_requests(
        &self,
        group_id: i64,
        page: &Page,
    ) -> Result<Vec<Listed<AccountRecord>>> {
        self.accounts_in("group_requests", group_id, None, page)
            .await
            .map(|v| v.into_iter().map(|(l, _)| l).collect())
    }

    /// A page of members with their roles (optionally only one role), newest first.
    pub async fn group_members(
        &self,
        group_id: i64,
        role: Option<&str>,
        page: &Page,
    ) -> Result<Vec<(Listed<AccountRecord>, String)>> {
        self.accounts_in("group_members", group_id, role, page)
            .await
    }

    async fn accounts_in(
        &self,
        table: &str,
        group_id: i64,
        role: Option<&str>,
        page: &Page,
    ) -> Result<Vec<(Listed<AccountRecord>, String)>> {
        let cols = ACCOUNT_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let role_col = if table == "group_members" {
            "m.role"
        } else {
            "''"
        };
        let mut sql = format!(
            "SELECT {cols}, m.id AS cursor, {role_col} AS member_role FROM {table} m \
             JOIN accounts a ON a.id = m.account_id \
             WHERE m.group_id = $1 AND a.deactivated_at IS NULL"
        );
        let mut args = vec![Arg::I(group_id)];
        if let Some(r) = role {
            args.push(Arg::S(r.to_owned()));
            sql.push_str(&format!(" AND m.role = ${}", args.len()));
        }
        let order = page.apply(&mut sql, "m.id", &mut args);
        sql.push_str(&order);
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.reader)
            .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok((
                    Listed {
                        cursor: r.int("cursor")?,
                        item: AccountRecord::from_row(r)?,
                    },
                    r.text("member_role")?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(page.finish(items))
    }

    /// The owners and admins of a group (who hear of join requests).
    pub async fn group_moderators(&self, group_id: i64) -> Result<Vec<i64>> {
        self.members_where(group_id, "role IN ('owner', 'admin')")
            .await
    }

    /// Members who asked to hear of every new post in a group.
    pub async fn group_notify_members(&self, group_id: i64) -> Result<Vec<i64>> {
        self.members_where(group_id, "notify = 1").await
    }

    /// The members of a group that meet `condition` (a fixed SQL condition).
    async fn members_where(&self, group_id: i64, condition: &'static str) -> Result<Vec<i64>> {
        let sql =
            format!("SELECT account_id FROM group_members WHERE group_id = $1 AND {condition}");
        let rows: Vec<(i64,)> = sqlx::query_as(&sql)
            .bind(group_id)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.into_iter().map(|(a,)| a).collect())
    }

    /// A page of a group's posts (replies included), before visibility filtering.
    pub async fn group_timeline(&self, group_id: i64, page: &Page) -> Result<Vec<StatusRecord>> {
        let page = *page;
        self.read(move |c| crate::timelines::group_page(c, group_id, &page))
            .await
    }
}

/// Inserts a membership row and counts it; false if the account was already a member.
async fn insert_member(conn: &mut sqlx::AnyConnection, m: &NewMember) -> Result<bool> {
    let added = sqlx::query(
        "INSERT INTO group_members (id, group_id, account_id, role, notify, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (group_id, account_id) DO NOTHING",
    )
    .bind(m.id)
    .bind(m.group_id)
    .bind(m.account_id)
    .bind(&m.role)
    .bind(i64::from(m.notify))
    .bind(m.created_at)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    if added {
        sqlx::query("UPDATE groups SET members_count = members_count + 1 WHERE id = $1")
            .bind(m.group_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(added)
}

/// Removes a pending join request and invitation of `account_id`, with the
/// notifications they caused, once the request is answered or withdrawn (so that asking
/// and withdrawing again and again does not pile up notifications). Whether a request
/// was pending.
async fn settle_request_and_invitation(
    conn: &mut sqlx::AnyConnection,
    group_id: i64,
    account_id: i64,
) -> Result<bool> {
    let requested =
        sqlx::query("DELETE FROM group_requests WHERE group_id = $1 AND account_id = $2")
            .bind(group_id)
            .bind(account_id)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            > 0;
    sqlx::query("DELETE FROM group_invitations WHERE group_id = $1 AND account_id = $2")
        .bind(group_id)
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    if requested {
        sqlx::query(
            "DELETE FROM notifications WHERE group_id = $1 AND from_account_id = $2 \
             AND kind = 'group_request' AND group_id IS NOT NULL",
        )
        .bind(group_id)
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(requested)
}

/// Why a guarded removal or role change touched no row.
async fn member_change_refused(
    conn: &mut sqlx::AnyConnection,
    group_id: i64,
    account_id: i64,
) -> Result<MemberChange> {
    let member: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM group_members WHERE group_id = $1 AND account_id = $2")
            .bind(group_id)
            .bind(account_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(if member.is_some() {
        MemberChange::LastOwner
    } else {
        MemberChange::NotMember
    })
}

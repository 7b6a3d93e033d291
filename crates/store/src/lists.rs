//! Lists: an account's named subsets of the accounts it follows, their members, and
//! the list timeline (the owner's home restricted to the members).
//!
//! Every read and write names the owner, so another account's list behaves exactly like
//! a list that does not exist.

use crate::db::{Arg, bind_all, placeholders};
use crate::records::{ACCOUNT_COLUMNS, AccountRecord, Listed};
use crate::{Db, Page, Result, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::HashSet;

/// Columns selected for a [`ListRecord`].
const LIST_COLUMNS: &str = "id, account_id, title, replies_policy, exclusive, created_at";

/// A list as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRecord {
    /// The list's id.
    pub id: i64,
    /// The owner.
    pub account_id: i64,
    /// The title, already validated.
    pub title: String,
    /// `followed`, `list` or `none`.
    pub replies_policy: String,
    /// Members' posts are left out of the owner's home timeline.
    pub exclusive: bool,
    /// When the list was created (Unix milliseconds).
    pub created_at: i64,
}

impl ListRecord {
    fn from_row(r: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: r.try_get("id")?,
            account_id: r.try_get("account_id")?,
            title: r.try_get("title")?,
            replies_policy: r.try_get("replies_policy")?,
            exclusive: r.try_get::<i64, _>("exclusive")? != 0,
            created_at: r.try_get("created_at")?,
        })
    }
}

/// Changes to a list; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ListUpdate {
    /// A new title, already validated.
    pub title: Option<String>,
    /// A new replies policy, already validated.
    pub replies_policy: Option<String>,
    /// Whether the list becomes (or stops being) exclusive.
    pub exclusive: Option<bool>,
}

impl Db {
    /// Creates a list unless its owner already has `max_lists`; `None` then. The count
    /// and the insert are one statement, so two concurrent creations on SQLite's single
    /// writer cannot both slip under the limit.
    pub async fn create_list(
        &self,
        list: &ListRecord,
        max_lists: i64,
    ) -> Result<Option<ListRecord>> {
        let inserted = sqlx::query(
            "INSERT INTO lists (id, account_id, title, replies_policy, exclusive, created_at) \
             SELECT CAST($1 AS BIGINT), CAST($2 AS BIGINT), CAST($3 AS TEXT), CAST($4 AS TEXT), \
             CAST($5 AS BIGINT), CAST($6 AS BIGINT) \
             WHERE (SELECT COUNT(*) FROM lists WHERE account_id = $2) < $7",
        )
        .bind(list.id)
        .bind(list.account_id)
        .bind(&list.title)
        .bind(&list.replies_policy)
        .bind(i64::from(list.exclusive))
        .bind(list.created_at)
        .bind(max_lists)
        .execute(&self.writer)
        .await?
        .rows_affected()
            > 0;
        Ok(inserted.then(|| list.clone()))
    }

    /// One of `owner`'s lists; `NotFound` for an unknown id or another account's list.
    pub async fn list(&self, owner: i64, id: i64) -> Result<ListRecord> {
        let row = sqlx::query(&format!(
            "SELECT {LIST_COLUMNS} FROM lists WHERE id = $1 AND account_id = $2"
        ))
        .bind(id)
        .bind(owner)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| ListRecord::from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// All of `owner`'s lists, oldest first.
    pub async fn lists(&self, owner: i64) -> Result<Vec<ListRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {LIST_COLUMNS} FROM lists WHERE account_id = $1 ORDER BY id"
        ))
        .bind(owner)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| ListRecord::from_row(r).map_err(Into::into))
            .collect()
    }

    /// `owner`'s lists that have `member` in them, oldest first.
    pub async fn lists_containing(&self, owner: i64, member: i64) -> Result<Vec<ListRecord>> {
        let cols = LIST_COLUMNS
            .split(", ")
            .map(|c| format!("l.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {cols} FROM list_accounts la JOIN lists l ON l.id = la.list_id \
             WHERE la.account_id = $1 AND l.account_id = $2 ORDER BY l.id"
        ))
        .bind(member)
        .bind(owner)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| ListRecord::from_row(r).map_err(Into::into))
            .collect()
    }

    /// Changes one of `owner`'s lists and returns it; `NotFound` if it is not theirs.
    pub async fn update_list(&self, owner: i64, id: i64, u: ListUpdate) -> Result<ListRecord> {
        // COALESCE keeps the current value for fields left out, in one statement.
        let updated = sqlx::query(
            "UPDATE lists SET title = COALESCE($1, title), \
             replies_policy = COALESCE($2, replies_policy), exclusive = COALESCE($3, exclusive) \
             WHERE id = $4 AND account_id = $5",
        )
        .bind(u.title)
        .bind(u.replies_policy)
        .bind(u.exclusive.map(i64::from))
        .bind(id)
        .bind(owner)
        .execute(&self.writer)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query(&format!("SELECT {LIST_COLUMNS} FROM lists WHERE id = $1"))
            .bind(id)
            .fetch_one(&self.writer)
            .await?;
        Ok(ListRecord::from_row(&row)?)
    }

    /// Deletes one of `owner`'s lists with its memberships; `NotFound` if it is not theirs.
    pub async fn delete_list(&self, owner: i64, id: i64) -> Result<()> {
        let deleted = sqlx::query("DELETE FROM lists WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(owner)
            .execute(&self.writer)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Adds `members` to list `list_id` of `owner`, each only while `owner` follows it:
    /// the follow is checked in the insert itself, so an unfollow committed in between
    /// cannot leave a non-followed member behind. Adding a member twice changes nothing.
    pub async fn add_list_members(&self, owner: i64, list_id: i64, members: &[i64]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for member in members {
            sqlx::query(
                "INSERT INTO list_accounts (list_id, account_id) \
                 SELECT l.id, f.target_id FROM lists l \
                 JOIN follows f ON f.account_id = l.account_id AND f.target_id = $3 \
                 WHERE l.id = $1 AND l.account_id = $2 \
                 ON CONFLICT DO NOTHING",
            )
            .bind(list_id)
            .bind(owner)
            .bind(*member)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes `members` from a list (ids that are not members are ignored).
    pub async fn remove_list_members(&self, list_id: i64, members: &[i64]) -> Result<()> {
        if members.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "DELETE FROM list_accounts WHERE list_id = $1 AND account_id IN ({})",
            placeholders(2, members.len())
        );
        let mut q = sqlx::query(&sql).bind(list_id);
        for m in members {
            q = q.bind(*m);
        }
        q.execute(&self.writer).await?;
        Ok(())
    }

    /// A page of a list's members, newest account first (the cursor is the account id);
    /// every member when `page` is `None`.
    pub async fn list_members(
        &self,
        list_id: i64,
        page: Option<&Page>,
    ) -> Result<Vec<Listed<AccountRecord>>> {
        let cols = ACCOUNT_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!(
            "SELECT {cols} FROM list_accounts la JOIN accounts a ON a.id = la.account_id \
             WHERE la.list_id = $1"
        );
        let mut args = vec![Arg::I(list_id)];
        match page {
            Some(p) => {
                let order = p.apply(&mut sql, "la.account_id", &mut args);
                sql.push_str(&order);
            }
            None => sql.push_str(" ORDER BY la.account_id DESC"),
        }
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.reader)
            .await?;
        let items = rows
            .iter()
            .map(|r| {
                let item = AccountRecord::from_row(r)?;
                Ok(Listed {
                    cursor: item.id,
                    item,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(match page {
            Some(p) => p.finish(items),
            None => items,
        })
    }

    /// Which of `ids` are members of a list.
    pub async fn list_members_among(&self, list_id: i64, ids: &[i64]) -> Result<HashSet<i64>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!(
            "SELECT account_id FROM list_accounts WHERE list_id = $1 AND account_id IN ({})",
            placeholders(2, ids.len())
        );
        let mut q = sqlx::query_as::<_, (i64,)>(&sql).bind(list_id);
        for id in ids {
            q = q.bind(*id);
        }
        Ok(q.fetch_all(&self.reader)
            .await?
            .into_iter()
            .map(|(id,)| id)
            .collect())
    }
}

//! Direct-message conversations: one row per participant and conversation, kept up to
//! date inside the transaction that stores each direct post (so a message and its
//! conversation rows are written together or not at all), then listed, marked read and
//! removed per participant.

use crate::db::args;
use crate::db::{Arg, bind_all};
use crate::records::{STATUS_COLUMNS, StatusRecord};
use crate::statuses::rows_to_statuses;
use crate::writes::WriteConn;
use crate::{Db, Page, Result, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

const CONVERSATION_COLUMNS: &str =
    "id, account_id, conversation_id, participant_ids, last_status_id, unread";

/// A direct post's place in its conversation, stored with the post (see
/// [`crate::NewStatus::conversation`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewConversationUpdate {
    /// The conversation: the id of its first direct post.
    pub conversation_id: i64,
    /// Everyone taking part in this message, the author included, as
    /// `(account_id, row_id)`: `row_id` is a fresh id used only by a participant who has
    /// no row for this conversation yet (or deleted theirs).
    pub participants: Vec<(i64, i64)>,
}

/// One participant's view of a conversation, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRecord {
    /// The row's id: what clients read, mark and delete.
    pub id: i64,
    /// The participant this row belongs to.
    pub account_id: i64,
    /// The conversation (id of its first direct post).
    pub conversation_id: i64,
    /// The other participants of the latest message, sorted.
    pub participant_ids: Vec<i64>,
    /// The newest message this participant took part in; the list's order and cursor.
    pub last_status_id: i64,
    /// Whether a message arrived since the participant last read the conversation.
    pub unread: bool,
}

impl ConversationRecord {
    fn from_row(r: &AnyRow) -> sqlx::Result<Self> {
        let ids: String = r.try_get("participant_ids")?;
        Ok(Self {
            id: r.try_get("id")?,
            account_id: r.try_get("account_id")?,
            conversation_id: r.try_get("conversation_id")?,
            participant_ids: parse_ids(&ids),
            last_status_id: r.try_get("last_status_id")?,
            unread: r.try_get::<i64, _>("unread")? != 0,
        })
    }
}

/// Reads a comma-separated id list; anything unreadable is skipped rather than failing
/// the whole list (the column is only ever written by [`join_ids`]).
fn parse_ids(s: &str) -> Vec<i64> {
    s.split(',').filter_map(|p| p.trim().parse().ok()).collect()
}

/// Writes ids as the sorted, comma-separated list `participant_ids` holds.
fn join_ids(ids: &[i64]) -> String {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Files the direct post `status_id` by `author_id` under its conversation and brings
/// every participant's row up to date: the author's is read, the recipients' unread.
/// Runs inside [`Db::create_status`]'s transaction.
pub(crate) fn record_message(
    c: &mut dyn WriteConn,
    status_id: i64,
    author_id: i64,
    update: &NewConversationUpdate,
) -> Result<()> {
    c.execute(
        "INSERT INTO conversation_statuses (status_id, conversation_id) VALUES ($1, $2)",
        &args![status_id, update.conversation_id],
    )?;
    let everyone: Vec<i64> = update.participants.iter().map(|(a, _)| *a).collect();
    for (account_id, row_id) in &update.participants {
        let others: Vec<i64> = everyone
            .iter()
            .copied()
            .filter(|a| a != account_id)
            .collect();
        // Two messages of one conversation committing out of order must not move the
        // row back to the older one, hence the CASEs; the unread flag follows the latest
        // write either way (a message did arrive).
        c.execute(
            "INSERT INTO account_conversations \
               (id, account_id, conversation_id, participant_ids, last_status_id, unread) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (account_id, conversation_id) DO UPDATE SET \
               participant_ids = CASE WHEN excluded.last_status_id > account_conversations.last_status_id \
                 THEN excluded.participant_ids ELSE account_conversations.participant_ids END, \
               last_status_id = CASE WHEN excluded.last_status_id > account_conversations.last_status_id \
                 THEN excluded.last_status_id ELSE account_conversations.last_status_id END, \
               unread = excluded.unread",
            &args![
                *row_id,
                *account_id,
                update.conversation_id,
                join_ids(&others).as_str(),
                status_id,
                *account_id != author_id
            ],
        )?;
    }
    Ok(())
}

impl Db {
    /// The conversation a direct post belongs to, if it was filed under one.
    pub async fn conversation_of(&self, status_id: i64) -> Result<Option<i64>> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT conversation_id FROM conversation_statuses WHERE status_id = $1",
        )
        .bind(status_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|(c,)| c))
    }

    /// A page of an account's conversations, most recently active first; the page's
    /// cursors are [`ConversationRecord::last_status_id`]s.
    pub async fn conversations(
        &self,
        account_id: i64,
        page: &Page,
    ) -> Result<Vec<ConversationRecord>> {
        let mut sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM account_conversations WHERE account_id = $1"
        );
        let mut args = vec![Arg::I(account_id)];
        let order = page.apply(&mut sql, "last_status_id", &mut args);
        sql.push_str(&order);
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.reader)
            .await?;
        let items = rows
            .iter()
            .map(|r| ConversationRecord::from_row(r).map_err(Into::into))
            .collect::<Result<Vec<_>>>()?;
        Ok(page.finish(items))
    }

    /// One of an account's conversations, by row id.
    pub async fn conversation(&self, account_id: i64, id: i64) -> Result<ConversationRecord> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM account_conversations WHERE id = $1 AND account_id = $2"
        ))
        .bind(id)
        .bind(account_id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| ConversationRecord::from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// An account's row of the conversation `conversation_id` (the id of its first direct
    /// post), as the streaming hub needs it when a message arrives.
    pub async fn conversation_by_thread(
        &self,
        account_id: i64,
        conversation_id: i64,
    ) -> Result<ConversationRecord> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM account_conversations \
             WHERE account_id = $1 AND conversation_id = $2"
        ))
        .bind(account_id)
        .bind(conversation_id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| ConversationRecord::from_row(&r))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Marks one of an account's conversations read.
    pub async fn mark_conversation_read(&self, account_id: i64, id: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE account_conversations SET unread = 0 WHERE id = $1 AND account_id = $2",
        )
        .bind(id)
        .bind(account_id)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Removes a conversation from an account's list (the messages stay; a new one
    /// brings the conversation back).
    pub async fn delete_conversation(&self, account_id: i64, id: i64) -> Result<()> {
        let done =
            sqlx::query("DELETE FROM account_conversations WHERE id = $1 AND account_id = $2")
                .bind(id)
                .bind(account_id)
                .execute(&self.writer)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The newest messages of a conversation that `account_id` wrote or was addressed
    /// in, newest first, at most `limit`: the candidates for its last visible message.
    pub async fn conversation_messages(
        &self,
        conversation_id: i64,
        account_id: i64,
        limit: i64,
    ) -> Result<Vec<StatusRecord>> {
        let sql = format!(
            "SELECT {STATUS_COLUMNS} FROM statuses s \
             JOIN conversation_statuses c ON c.status_id = s.id \
             WHERE c.conversation_id = $1 AND (s.account_id = $2 OR EXISTS ( \
               SELECT 1 FROM status_mentions m WHERE m.status_id = s.id AND m.account_id = $2)) \
             ORDER BY s.id DESC LIMIT {}",
            limit.max(0)
        );
        let rows = sqlx::query(&sql)
            .bind(conversation_id)
            .bind(account_id)
            .fetch_all(&self.reader)
            .await?;
        rows_to_statuses(&rows)
    }
}

impl Db {
    /// A page of the messages of a conversation that `account_id` wrote or was addressed
    /// in, newest first (keyset on the post id): what a participant's thread shows.
    pub async fn conversation_page(
        &self,
        conversation_id: i64,
        account_id: i64,
        page: &Page,
    ) -> Result<Vec<StatusRecord>> {
        let mut sql = format!(
            "SELECT {STATUS_COLUMNS} FROM statuses s \
             JOIN conversation_statuses c ON c.status_id = s.id \
             WHERE c.conversation_id = $1 AND (s.account_id = $2 OR EXISTS ( \
               SELECT 1 FROM status_mentions m WHERE m.status_id = s.id AND m.account_id = $2))"
        );
        let mut args = vec![Arg::I(conversation_id), Arg::I(account_id)];
        let order = page.apply(&mut sql, "s.id", &mut args);
        sql.push_str(&order);
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&self.reader)
            .await?;
        Ok(page.finish(rows_to_statuses(&rows)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participant_lists_round_trip_sorted() {
        assert_eq!(join_ids(&[30, 10, 20, 10]), "10,20,30");
        assert_eq!(parse_ids("10,20,30"), vec![10, 20, 30]);
        assert_eq!(parse_ids(""), Vec::<i64>::new());
        assert_eq!(parse_ids("7,x,9"), vec![7, 9]);
    }
}

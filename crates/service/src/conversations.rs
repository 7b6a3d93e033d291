//! Direct-message conversations: who a direct post may address (existing accounts, at
//! most [`Settings::max_direct_participants`](crate::Settings) people in all), which
//! conversation it joins, and each participant's list of conversations with its unread
//! flag, other participants and latest message they may still see.
//!
//! A conversation is a thread of direct posts: a direct reply to a direct post joins the
//! parent's conversation, any other direct post starts one named by its own id. Every
//! participant of a message (author and mentioned accounts that neither block nor are
//! blocked by the author: [`Starling::post`] drops those from the mentions) gets their
//! row updated in the transaction that stores the post.

use crate::timelines::Paged;
use crate::views::StatusView;
use crate::{Result, ServiceError, Starling};
use starling_domain::text::{extract_local_mentions, extract_mentions};
use starling_domain::visibility::Visibility;
use starling_store::conversations::{ConversationRecord, NewConversationUpdate};
use starling_store::{AccountRecord, Page, StatusRecord};
use std::collections::{HashMap, HashSet};

/// Most rounds of fetching when conversations without a visible message leave a page short.
const MAX_ROUNDS: usize = 5;
/// Messages looked at when a conversation's recorded last message is gone or hidden.
const FALLBACK_CANDIDATES: i64 = 20;

/// One participant's conversation, ready to display.
#[derive(Debug, Clone)]
pub struct ConversationView {
    /// The stored row (its `id` is the conversation's id for this participant).
    pub record: ConversationRecord,
    /// The other participants, deactivated accounts left out.
    pub accounts: Vec<AccountRecord>,
    /// The newest message the participant may see; `None` when none is left.
    pub last_status: Option<StatusView>,
}

impl Starling {
    /// Refuses a direct post whose audience is wrong, before anything is stored: it must
    /// mention someone besides the author, every mentioned name must be an existing,
    /// active account (a direct message silently reaching fewer people than addressed
    /// would be worse than an error), and author plus mentioned accounts must not exceed
    /// `max_direct_participants`. Accounts that block the author (or that the author
    /// blocks) pass this check and are dropped later, so the error never reveals a block.
    pub(crate) async fn check_direct_audience(
        &self,
        author: &AccountRecord,
        text: &str,
    ) -> Result<()> {
        let local = extract_local_mentions(text, &self.settings().host());
        if local.len() < extract_mentions(text).len() {
            return Err(ServiceError::invalid(
                "Validation failed: a direct post can only mention accounts of this network",
            ));
        }
        let names: Vec<String> = local
            .into_iter()
            .filter(|n| !n.eq_ignore_ascii_case(&author.username))
            .collect();
        if names.is_empty() {
            return Err(ServiceError::invalid(
                "Validation failed: a direct post must mention at least one existing account",
            ));
        }
        let limit = self.settings().max_direct_participants;
        let participants = names.len() + 1;
        if participants > limit {
            return Err(ServiceError::invalid(format!(
                "Validation failed: a direct post may have at most {limit} participants \
                 (the author and {} mentioned accounts); this one has {participants}",
                limit.saturating_sub(1)
            )));
        }
        let found: HashSet<String> = self
            .db()
            .accounts_by_usernames(&names)
            .await?
            .into_iter()
            .filter(|a| a.deactivated_at.is_none())
            .map(|a| a.username.to_ascii_lowercase())
            .collect();
        let unknown: Vec<String> = names
            .iter()
            .filter(|n| !found.contains(n.as_str()))
            .map(|n| format!("@{n}"))
            .collect();
        if !unknown.is_empty() {
            return Err(ServiceError::invalid(format!(
                "Validation failed: a direct post reaches only existing accounts; no account is named {}",
                unknown.join(", ")
            )));
        }
        Ok(())
    }

    /// The conversation a new direct post `status_id` joins and its participants (the
    /// author and the `mentioned` accounts left after blocks), each with a fresh row id.
    pub(crate) async fn conversation_update(
        &self,
        author_id: i64,
        parent: Option<&StatusRecord>,
        status_id: i64,
        mentioned: &[i64],
    ) -> Result<NewConversationUpdate> {
        let conversation_id = match parent {
            Some(p) if p.visibility == Visibility::Direct.as_str() => {
                // A direct post from before conversations were recorded starts its own.
                self.db().conversation_of(p.id).await?.unwrap_or(p.id)
            }
            _ => status_id,
        };
        let mut participants = vec![(author_id, self.next_id())];
        for account in mentioned {
            if participants.iter().all(|(a, _)| a != account) {
                participants.push((*account, self.next_id()));
            }
        }
        Ok(NewConversationUpdate {
            conversation_id,
            participants,
        })
    }

    /// `GET /api/v1/conversations`: `me`'s conversations, most recently active first,
    /// paginated by their last message. Conversations with no message left that `me`
    /// may see are left out; when that leaves a page short, older ones are fetched (a few
    /// rounds at most) so pages stay full.
    pub async fn conversations(
        &self,
        me: &AccountRecord,
        page: Page,
    ) -> Result<Paged<ConversationView>> {
        let want = page.limit.max(0) as usize;
        let mut cursor = page;
        let mut kept: Vec<ConversationView> = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let rows = self.db().conversations(me.id, &cursor).await?;
            let full = rows.len() >= cursor.limit.max(1) as usize;
            let Some(last) = rows.last().map(|r| r.last_status_id) else {
                break;
            };
            kept.extend(
                self.present_conversations(me, rows)
                    .await?
                    .into_iter()
                    .filter(|c| c.last_status.is_some()),
            );
            // Only the backwards direction can be continued without skipping any.
            if kept.len() >= want || !full || page.min_id.is_some() || page.since_id.is_some() {
                break;
            }
            cursor.max_id = Some(last);
        }
        kept.truncate(want);
        // Cursors name only messages the reader sees: the id of a hidden one would tell
        // them it exists.
        let next_max_id = kept.last().map(|c| c.record.last_status_id);
        let prev_min_id = kept.first().map(|c| c.record.last_status_id);
        Ok(Paged {
            items: kept,
            next_max_id,
            prev_min_id,
        })
    }

    /// `POST /api/v1/conversations/:id/read`: marks one of `me`'s conversations read.
    pub async fn mark_conversation_read(
        &self,
        me: &AccountRecord,
        id: i64,
    ) -> Result<ConversationView> {
        self.db().mark_conversation_read(me.id, id).await?;
        let record = self.db().conversation(me.id, id).await?;
        self.present_conversations(me, vec![record])
            .await?
            .into_iter()
            .next()
            .ok_or(ServiceError::NotFound)
    }

    /// `DELETE /api/v1/conversations/:id`: removes the conversation from `me`'s list only;
    /// the messages stay, and the next one brings the conversation back.
    pub async fn delete_conversation(&self, me: &AccountRecord, id: i64) -> Result<()> {
        self.db().delete_conversation(me.id, id).await?;
        Ok(())
    }

    /// One of `me`'s conversations (by the row id the list gives) with a page of its
    /// messages that `me` took part in and may still see, newest first. Another
    /// account's conversation is 404, whoever asks: its existence is nobody else's
    /// business.
    pub async fn conversation_thread(
        &self,
        me: &AccountRecord,
        id: i64,
        page: Page,
    ) -> Result<(ConversationView, Paged<StatusView>)> {
        let record = self.db().conversation(me.id, id).await?;
        let raw = self
            .db()
            .conversation_page(record.conversation_id, me.id, &page)
            .await?;
        let full = raw.len() >= page.limit.max(1) as usize;
        let items = self.present(Some(me), raw, false).await?;
        // As for the list, cursors name only messages the reader sees.
        let next_max_id = items.last().map(|v| v.status.id).filter(|_| full);
        let prev_min_id = items.first().map(|v| v.status.id);
        let view = self
            .present_conversations(me, vec![record])
            .await?
            .into_iter()
            .next()
            .ok_or(ServiceError::NotFound)?;
        Ok((
            view,
            Paged {
                items,
                next_max_id,
                prev_min_id,
            },
        ))
    }

    /// `me`'s conversation row for the direct post `status_id` (which `me` wrote or was
    /// addressed in): where a front end goes after sending a message.
    pub async fn conversation_of_message(
        &self,
        me: &AccountRecord,
        status_id: i64,
    ) -> Result<ConversationRecord> {
        let conversation = self
            .db()
            .conversation_of(status_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok(self
            .db()
            .conversation_by_thread(me.id, conversation)
            .await?)
    }

    /// Builds views of `me`'s conversation rows, in the same order. The last message goes
    /// through [`Starling::present`] like every read; when the recorded one was deleted
    /// or is hidden now (a block since), the newest message `me` may still see stands in.
    pub(crate) async fn present_conversations(
        &self,
        me: &AccountRecord,
        rows: Vec<ConversationRecord>,
    ) -> Result<Vec<ConversationView>> {
        let mut account_ids: Vec<i64> = rows
            .iter()
            .flat_map(|r| r.participant_ids.iter().copied())
            .collect();
        account_ids.sort_unstable();
        account_ids.dedup();
        let accounts: HashMap<i64, AccountRecord> = self
            .db()
            .accounts(&account_ids)
            .await?
            .into_iter()
            .filter(|a| a.deactivated_at.is_none())
            .map(|a| (a.id, a))
            .collect();
        let last_ids: Vec<i64> = rows.iter().map(|r| r.last_status_id).collect();
        let statuses = self.db().statuses(&last_ids).await?;
        let mut last: HashMap<i64, StatusView> = self
            .present(Some(me), statuses, false)
            .await?
            .into_iter()
            .map(|v| (v.status.id, v))
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for record in rows {
            let last_status = match last.remove(&record.last_status_id) {
                Some(v) => Some(v),
                None => {
                    let candidates = self
                        .db()
                        .conversation_messages(record.conversation_id, me.id, FALLBACK_CANDIDATES)
                        .await?;
                    self.present(Some(me), candidates, false)
                        .await?
                        .into_iter()
                        .next()
                }
            };
            out.push(ConversationView {
                accounts: record
                    .participant_ids
                    .iter()
                    .filter_map(|id| accounts.get(id).cloned())
                    .collect(),
                last_status,
                record,
            });
        }
        Ok(out)
    }
}

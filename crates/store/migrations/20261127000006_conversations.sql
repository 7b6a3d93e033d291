-- Direct-message conversations. A conversation is named by the id of its first direct
-- post (a direct reply to a direct post joins the parent's conversation); each
-- participant has their own row, so reading, deleting and unread flags are per person.

-- Which conversation each direct post belongs to. A table of its own rather than a
-- column on `statuses`: only direct posts have a row, the status record stays as it is,
-- and the row goes with its post.
CREATE TABLE conversation_statuses (
    status_id BIGINT PRIMARY KEY REFERENCES statuses (id) ON DELETE CASCADE,
    conversation_id BIGINT NOT NULL
);
-- The messages of a conversation, newest first (the fallback when the last one is gone).
CREATE INDEX conversation_statuses_conversation ON conversation_statuses (conversation_id, status_id);

-- One row per participant and conversation. `id` is stable (what clients read, mark and
-- delete); `last_status_id` is the newest message this participant took part in, which
-- orders the list by recency and is the pagination cursor, as in Mastodon. The last
-- status is not a foreign key: when it is deleted the service falls back to the newest
-- message still visible.
CREATE TABLE account_conversations (
    id BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    conversation_id BIGINT NOT NULL,
    -- The other participants of the latest message, sorted, comma-separated.
    participant_ids TEXT NOT NULL,
    last_status_id BIGINT NOT NULL,
    unread BIGINT NOT NULL DEFAULT 0,
    UNIQUE (account_id, conversation_id)
);
CREATE INDEX account_conversations_recent ON account_conversations (account_id, last_status_id);

-- Live delivery across nodes (docs/decisions/0011-node-relay.md): an event reference too
-- large for a PostgreSQL NOTIFY payload (8000 bytes) is stored here and the notification
-- names its row, so a receiving node re-reads it instead of losing it. Rows are only
-- needed for the moment it takes the other nodes to read them; the sender deletes old
-- ones. Unused on SQLite (one node), where the table stays empty.
CREATE TABLE relay_spill (
    id BIGINT PRIMARY KEY,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX relay_spill_created_at ON relay_spill (created_at);

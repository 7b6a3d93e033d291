-- Home reads look up which followed accounts are merged on read; celebrities are few,
-- so a partial index keeps that lookup to a handful of probes.
CREATE INDEX accounts_celebrities ON accounts (id) WHERE celebrity = 1;

-- Posting looks up the followers who asked to be notified of each post; without this
-- the lookup would walk every follower (a million for a celebrity).
CREATE INDEX follows_notify ON follows (target_id, account_id) WHERE notify = 1;

-- A page's facts ask whether its reader follows each of the page's authors, and whether
-- with reblogs. Through the followers index (target first) each author was a probe into
-- a different part of the index: ~20 page reads from the file per home page on the
-- benchmark network, nearly half of them. Ordered by the follower, the reader's follows
-- sit together (one or two pages), and with `show_reblogs` in the index the table is never
-- visited. The unique index on (account_id, target_id) stays: it enforces one follow per
-- pair.
CREATE INDEX follows_account_reblogs ON follows (account_id, target_id, show_reblogs);

-- Hashtags an account follows: their public posts join the account's home timeline,
-- merged on read from the hashtag's own index (as celebrities' posts are).
CREATE TABLE tag_follows (
    id BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    UNIQUE (account_id, tag)
);

-- Lists: an account's named subsets of the accounts it follows. A list's timeline is
-- the owner's home restricted to the members, read from the same feed (no copies).
CREATE TABLE lists (
    id BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    -- 'followed' | 'list' | 'none': which replies by members the list timeline shows.
    replies_policy TEXT NOT NULL DEFAULT 'list',
    -- 1: members' posts are left out of the owner's home timeline.
    exclusive BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
-- Every home read asks for the owner's exclusive lists; most accounts have none, so this
-- is one probe that finds nothing.
CREATE INDEX lists_account ON lists (account_id, id);

CREATE TABLE list_accounts (
    list_id BIGINT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (list_id, account_id)
);
-- Unfollow and block remove the account from the follower's lists; "lists containing
-- this account" reads the same way.
CREATE INDEX list_accounts_account ON list_accounts (account_id, list_id);

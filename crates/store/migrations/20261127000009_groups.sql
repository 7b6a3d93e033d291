-- Groups: communities inside the network. A group's posts are read from the group's own
-- index (merged into members' homes on read, never copied per member), so joining and
-- leaving take effect at once and a 100,000-member group costs nothing extra to post to.
CREATE TABLE groups (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- 'public' | 'private'
    visibility TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    members_count BIGINT NOT NULL DEFAULT 0
);
-- The directory lists public groups newest first.
CREATE INDEX groups_visibility ON groups (visibility, id);

-- One row per member; `id` orders the member list and is its pagination cursor.
CREATE TABLE group_members (
    id BIGINT PRIMARY KEY,
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- 'owner' | 'admin' | 'member'
    role TEXT NOT NULL,
    -- 1: the member is notified of every new post in the group.
    notify BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (group_id, account_id)
);
-- Every home read asks for the reader's groups.
CREATE INDEX group_members_account ON group_members (account_id, group_id);
CREATE INDEX group_members_list ON group_members (group_id, id);

-- Pending requests to join a private group, answered by its owners and admins.
CREATE TABLE group_requests (
    id BIGINT PRIMARY KEY,
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    UNIQUE (group_id, account_id)
);
CREATE INDEX group_requests_list ON group_requests (group_id, id);

-- Invitations: the invited account becomes a member when it joins, without approval.
CREATE TABLE group_invitations (
    id BIGINT PRIMARY KEY,
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    invited_by BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    UNIQUE (group_id, account_id)
);

-- A post written in a group; deleting the group deletes its posts.
ALTER TABLE statuses ADD COLUMN group_id BIGINT REFERENCES groups (id) ON DELETE CASCADE;
-- Only group posts are indexed: every other post pays nothing for it.
CREATE INDEX statuses_group ON statuses (group_id, id) WHERE group_id IS NOT NULL;

-- The group a notification is about (join request, invitation, approval).
ALTER TABLE notifications ADD COLUMN group_id BIGINT REFERENCES groups (id) ON DELETE CASCADE;
-- An answered or withdrawn join request takes its notifications with it.
CREATE INDEX notifications_group ON notifications (group_id, from_account_id) WHERE group_id IS NOT NULL;

-- Web Push (docs/decisions/0008-web-push.md).

-- Secrets the server makes once and keeps, by name: the VAPID key pair that signs push
-- requests must outlive restarts, or every browser subscription made with the old public
-- key would stop working.
CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One subscription per access token (Mastodon's rule), gone with its token: revoking a
-- token or deactivating its account ends the pushes. `alerts` is a bit set of notification
-- types (starling_domain::push::Alerts); keys are base64url without padding.
CREATE TABLE push_subscriptions (
    id BIGINT PRIMARY KEY,
    token_id BIGINT NOT NULL UNIQUE REFERENCES oauth_tokens (id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    endpoint TEXT NOT NULL,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    alerts BIGINT NOT NULL,
    policy TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_account ON push_subscriptions (account_id);

-- Pushes still to deliver: queued in the transaction that stores the notification, so a
-- restart loses none. `run_at` is when the job is next due; a worker claims a job by moving
-- it into the future (a lease), so a worker that dies mid-delivery only delays it.
-- `attempts` counts claims.
CREATE TABLE push_jobs (
    subscription_id BIGINT NOT NULL REFERENCES push_subscriptions (id) ON DELETE CASCADE,
    notification_id BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempts BIGINT NOT NULL DEFAULT 0,
    run_at BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, notification_id)
);
CREATE INDEX push_jobs_due ON push_jobs (run_at);
-- Dismissing or clearing notifications cascades here.
CREATE INDEX push_jobs_notification ON push_jobs (notification_id);

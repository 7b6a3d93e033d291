-- E-mail notifications (docs/decisions/0009-email-notifications.md).

-- Per-account switches (0/1), one per kind of e-mail. An account without a row has the
-- defaults (starling_domain::email::EmailPreferences::default), so sign-up and the seed
-- need not write one. `last_digest_at` is when the account's latest digest was queued
-- (or when the digest was switched on): the next is due a day later, and claiming it moves
-- this forward in the same statement, so nodes and restarts never queue it twice.
CREATE TABLE email_preferences (
    account_id BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    mention BIGINT NOT NULL,
    direct BIGINT NOT NULL,
    follow BIGINT NOT NULL,
    digest BIGINT NOT NULL,
    last_digest_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX email_preferences_digest ON email_preferences (digest, last_digest_at);

-- E-mails still to send: queued in the transaction that stores the notification (only
-- when SMTP is configured and the recipient wants that kind), or by the digest schedule.
-- `id` is the notification's id for a notification's mail, a fresh id for a digest.
-- `run_at` is when the job is next due; a worker claims it by moving it into the future (a
-- lease), so a worker that dies mid-send only delays it. `attempts` counts claims.
CREATE TABLE email_jobs (
    id BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    notification_id BIGINT REFERENCES notifications (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    run_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX email_jobs_due ON email_jobs (run_at);
-- Dismissing or clearing notifications (and deleting their posts) cascades here.
CREATE INDEX email_jobs_notification ON email_jobs (notification_id);

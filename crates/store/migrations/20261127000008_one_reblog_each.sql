-- One reblog per account and post, enforced by the database so that two simultaneous
-- requests cannot both reblog (and count twice).
DROP INDEX statuses_reblog;
CREATE UNIQUE INDEX statuses_reblog ON statuses (reblog_of_id, account_id);

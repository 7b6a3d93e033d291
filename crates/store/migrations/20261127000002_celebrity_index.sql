-- Home reads look up which followed accounts are merged on read; celebrities are few,
-- so a partial index keeps that lookup to a handful of probes.
CREATE INDEX accounts_celebrities ON accounts (id) WHERE celebrity = 1;

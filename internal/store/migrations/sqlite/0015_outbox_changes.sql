-- The index of the Postgres migration.
CREATE INDEX outbox_changes ON outbox (app, channel, created_us) WHERE status = 'change';

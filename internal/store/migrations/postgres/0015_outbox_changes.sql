-- The change events of an app on a channel within a span, which
-- EnqueueChanges counts against the channel's cap (PAGERDUTY_CHANGE_CAP).
CREATE INDEX outbox_changes ON outbox (app, channel, created_us) WHERE status = 'change';

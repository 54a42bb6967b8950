-- The claim's check that no earlier row of the same alert is still pending
-- walked every pending row behind a backlog (256 ms a claim with 81,000
-- warnings pending) until an index held exactly the pending rows of each
-- alert (10.6 ms). What a channel heard of an alert reads all of its rows,
-- of any alert key, so outbox_alert loses its condition.
CREATE INDEX outbox_alert_pending ON outbox (alert_key, channel, id) WHERE sent_us = 0 AND gave_up_us = 0;
DROP INDEX outbox_alert;
CREATE INDEX outbox_alert ON outbox (alert_key, channel, id);

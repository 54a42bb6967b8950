-- Delivery order and who was told. Each row says which alert it is about
-- and what it says of it: a row of an alert waits for the earlier rows of the
-- same alert on its channel, and a reminder or resolved goes out only where
-- the alert's firing was heard. The most severe rows go first.
ALTER TABLE outbox ADD COLUMN alert_key text     NOT NULL DEFAULT ''; -- '' for a row of no alert (a test)
ALTER TABLE outbox ADD COLUMN status    text     NOT NULL DEFAULT ''; -- firing, flapping, reminder, resolved, test
ALTER TABLE outbox ADD COLUMN rank      smallint NOT NULL DEFAULT 0;  -- of severity: critical 3, warning 2, info 1
ALTER TABLE outbox ADD COLUMN heard     boolean  NOT NULL DEFAULT false; -- sent, not passed over for a channel that was not to hear it

-- Rows written before this kept the alert and status only in the payload
-- (one alert a row); those sent were heard.
UPDATE outbox SET alert_key = coalesce(payload->'alerts'->0->>'key', ''), status = coalesce(payload->>'status', ''),
	rank = CASE severity WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 WHEN 'info' THEN 1 ELSE 0 END,
	heard = sent_us > 0;

DROP INDEX outbox_pending;
CREATE INDEX outbox_due ON outbox (rank DESC, next_us, id) WHERE sent_us = 0 AND gave_up_us = 0;
CREATE INDEX outbox_alert ON outbox (alert_key, channel, id) WHERE alert_key <> '';

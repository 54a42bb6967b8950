-- Delivery order and who was told: see the Postgres migration.
ALTER TABLE outbox ADD COLUMN alert_key TEXT    NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN status    TEXT    NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN rank      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN heard     INTEGER NOT NULL DEFAULT 0;

UPDATE outbox SET alert_key = coalesce(json_extract(payload, '$.alerts[0].key'), ''), status = coalesce(json_extract(payload, '$.status'), ''),
	rank = CASE severity WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 WHEN 'info' THEN 1 ELSE 0 END,
	heard = sent_us > 0;

DROP INDEX outbox_pending;
CREATE INDEX outbox_due ON outbox (rank DESC, next_us, id) WHERE sent_us = 0 AND gave_up_us = 0;
CREATE INDEX outbox_alert ON outbox (alert_key, channel, id) WHERE alert_key <> '';

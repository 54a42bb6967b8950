-- The message a channel sent about an alert (Slack's channel and ts, a
-- Discord or Telegram message id), so that its reminders and resolution
-- edit that message instead of posting new ones, whichever worker sends
-- them and after a restart. grouped (0/1): the message tells of other
-- alerts too.
CREATE TABLE message_refs (
	channel    TEXT    NOT NULL,
	alert_key  TEXT    NOT NULL,
	ref        TEXT    NOT NULL,
	grouped    INTEGER NOT NULL,
	updated_us INTEGER NOT NULL,
	PRIMARY KEY (channel, alert_key)
);
CREATE INDEX message_refs_updated ON message_refs (updated_us);

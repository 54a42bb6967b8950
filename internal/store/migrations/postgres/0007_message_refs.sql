-- The message a channel sent about an alert (Slack's channel and ts, a
-- Discord or Telegram message id), so that its reminders and resolution
-- edit that message instead of posting new ones, whichever worker sends
-- them and after a restart. grouped: the message tells of other alerts too.
CREATE TABLE message_refs (
	channel    text    NOT NULL,
	alert_key  text    NOT NULL,
	ref        text    NOT NULL,
	grouped    boolean NOT NULL,
	updated_us bigint  NOT NULL,
	PRIMARY KEY (channel, alert_key)
);
CREATE INDEX message_refs_updated ON message_refs (updated_us);

-- Who did what from the dashboard or the API: silences created and ended,
-- apps deleted, alerts acknowledged. app, rule and alert_key say what an
-- action was about ('' for any), so that an incident's timeline finds the
-- silences that covered it. A few rows a day, pruned with the alert
-- history (store.Retention.Alerts).
CREATE TABLE audit_log (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at_us     bigint NOT NULL,
	actor     text   NOT NULL, -- the basic-auth user name
	action    text   NOT NULL, -- silence, unsilence, delete_app, ack
	app       text   NOT NULL,
	rule      text   NOT NULL,
	alert_key text   NOT NULL,
	reason    text   NOT NULL,
	detail    text   NOT NULL  -- e.g. the silence's id and end
);
CREATE INDEX audit_log_app ON audit_log (app, at_us);

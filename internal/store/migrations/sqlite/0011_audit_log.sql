-- Who did what from the dashboard or the API: the table of the Postgres
-- migration.
CREATE TABLE audit_log (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	at_us     INTEGER NOT NULL,
	actor     TEXT    NOT NULL,
	action    TEXT    NOT NULL,
	app       TEXT    NOT NULL,
	rule      TEXT    NOT NULL,
	alert_key TEXT    NOT NULL,
	reason    TEXT    NOT NULL,
	detail    TEXT    NOT NULL
);
CREATE INDEX audit_log_app ON audit_log (app, at_us);

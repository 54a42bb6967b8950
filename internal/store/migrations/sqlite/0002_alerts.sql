-- Alerting, embedded SQLite: the tables of the Postgres migration, with
-- booleans as 0/1.

CREATE TABLE alerts (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	key           TEXT    NOT NULL,
	latest        INTEGER NOT NULL,
	version       INTEGER NOT NULL,
	rule          TEXT    NOT NULL,
	app           TEXT    NOT NULL,
	dyno          TEXT    NOT NULL,
	code          TEXT    NOT NULL,
	severity      TEXT    NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
	state         TEXT    NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
	summary       TEXT    NOT NULL,
	evidence      TEXT    NOT NULL,
	started_us    INTEGER NOT NULL,
	fired_us      INTEGER NOT NULL,
	resolved_us   INTEGER NOT NULL,
	last_event_us INTEGER NOT NULL,
	notified_us   INTEGER NOT NULL,
	notified      INTEGER NOT NULL,
	flapping      INTEGER NOT NULL,
	transitions   TEXT    NOT NULL,
	counter       INTEGER NOT NULL
);
CREATE UNIQUE INDEX alerts_key ON alerts (key) WHERE latest;
CREATE INDEX alerts_app ON alerts (app, id);
CREATE INDEX alerts_active ON alerts (id) WHERE state <> 'resolved';
CREATE INDEX alerts_resolved ON alerts (resolved_us) WHERE state = 'resolved';

CREATE TABLE outbox (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	delivery_id    TEXT    NOT NULL,
	channel        TEXT    NOT NULL,
	app            TEXT    NOT NULL,
	severity       TEXT    NOT NULL,
	payload        TEXT    NOT NULL,
	created_us     INTEGER NOT NULL,
	next_us        INTEGER NOT NULL DEFAULT 0,
	attempts       INTEGER NOT NULL DEFAULT 0,
	claimed_by     TEXT    NOT NULL DEFAULT '',
	claim_until_us INTEGER NOT NULL DEFAULT 0,
	sent_us        INTEGER NOT NULL DEFAULT 0,
	gave_up_us     INTEGER NOT NULL DEFAULT 0,
	last_error     TEXT    NOT NULL DEFAULT '',
	UNIQUE (delivery_id, channel)
);
CREATE INDEX outbox_pending ON outbox (next_us, id) WHERE sent_us = 0 AND gave_up_us = 0;
CREATE INDEX outbox_app ON outbox (app, id);
CREATE INDEX outbox_created ON outbox (created_us);

CREATE TABLE outbox_channels (
	channel    TEXT    PRIMARY KEY,
	failures   INTEGER NOT NULL,
	last_error TEXT    NOT NULL,
	failed_us  INTEGER NOT NULL,
	sent_us    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE silences (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	app        TEXT    NOT NULL,
	rule       TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	until_us   INTEGER NOT NULL,
	reason     TEXT    NOT NULL,
	created_by TEXT    NOT NULL,
	created_us INTEGER NOT NULL,
	CHECK (app <> '' OR rule <> '' OR key <> '')
);
CREATE INDEX silences_until ON silences (until_us);

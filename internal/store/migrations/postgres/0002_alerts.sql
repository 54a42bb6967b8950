-- Alerting: alert state and history, the notification outbox, silences.
-- Times are Unix microseconds; 0 means never.

-- One row per episode of an alert (pending or firing until it resolves).
-- The latest episode of each key is its current state, which writers change
-- by compare-and-set on version; when a resolved alert starts again, its row
-- keeps the old episode (latest = false) and a new row takes over the key.
CREATE TABLE alerts (
	id            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key           text    NOT NULL,
	latest        boolean NOT NULL,
	version       bigint  NOT NULL,
	rule          text    NOT NULL,
	app           text    NOT NULL,
	dyno          text    NOT NULL,
	code          text    NOT NULL,
	severity      text    NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
	state         text    NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
	summary       text    NOT NULL,
	evidence      text    NOT NULL, -- JSON array of log lines
	started_us    bigint  NOT NULL,
	fired_us      bigint  NOT NULL,
	resolved_us   bigint  NOT NULL,
	last_event_us bigint  NOT NULL,
	notified_us   bigint  NOT NULL,
	notified      boolean NOT NULL,
	flapping      boolean NOT NULL,
	transitions   text    NOT NULL, -- JSON array of Unix microseconds
	counter       bigint  NOT NULL
);
CREATE UNIQUE INDEX alerts_key ON alerts (key) WHERE latest;
CREATE INDEX alerts_app ON alerts (app, id);
CREATE INDEX alerts_active ON alerts (id) WHERE state <> 'resolved';
CREATE INDEX alerts_resolved ON alerts (resolved_us) WHERE state = 'resolved';

-- One row per notification and channel. A row is pending until sent_us or
-- gave_up_us is set; a sender holds it while claim_until_us is in the future.
CREATE TABLE outbox (
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	delivery_id    text   NOT NULL,
	channel        text   NOT NULL,
	app            text   NOT NULL,
	severity       text   NOT NULL,
	payload        json   NOT NULL, -- json, not jsonb: the bytes come back as written
	created_us     bigint NOT NULL,
	next_us        bigint NOT NULL DEFAULT 0,
	attempts       int    NOT NULL DEFAULT 0,
	claimed_by     text   NOT NULL DEFAULT '',
	claim_until_us bigint NOT NULL DEFAULT 0,
	sent_us        bigint NOT NULL DEFAULT 0,
	gave_up_us     bigint NOT NULL DEFAULT 0,
	last_error     text   NOT NULL DEFAULT '',
	UNIQUE (delivery_id, channel)
);
CREATE INDEX outbox_pending ON outbox (next_us, id) WHERE sent_us = 0 AND gave_up_us = 0;
CREATE INDEX outbox_app ON outbox (app, id);
CREATE INDEX outbox_created ON outbox (created_us);

-- The health of each channel: failed attempts since its last success.
CREATE TABLE outbox_channels (
	channel    text   PRIMARY KEY,
	failures   bigint NOT NULL,
	last_error text   NOT NULL,
	failed_us  bigint NOT NULL,
	sent_us    bigint NOT NULL
);

-- Silences mute the alerts they match; an empty app, rule or key matches all.
CREATE TABLE silences (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	app        text   NOT NULL,
	rule       text   NOT NULL,
	key        text   NOT NULL,
	until_us   bigint NOT NULL,
	reason     text   NOT NULL,
	created_by text   NOT NULL,
	created_us bigint NOT NULL,
	CHECK (app <> '' OR rule <> '' OR key <> '')
);
CREATE INDEX silences_until ON silences (until_us);

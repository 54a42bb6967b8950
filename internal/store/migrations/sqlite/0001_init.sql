-- dynowatch schema, embedded SQLite: the tables of the Postgres schema, with
-- histograms as varint blobs and JSON as text (merged in Go: one process).

CREATE TABLE apps (
	name             TEXT    PRIMARY KEY,
	first_seen_us    INTEGER NOT NULL,
	last_message_us  INTEGER NOT NULL DEFAULT 0,
	drain_token      TEXT    NOT NULL DEFAULT '',
	messages         INTEGER NOT NULL DEFAULT 0,
	bad_frames       INTEGER NOT NULL DEFAULT 0,
	count_mismatches INTEGER NOT NULL DEFAULT 0,
	l10_dropped      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE dedupe_keys (
	app     TEXT    NOT NULL,
	key     TEXT    NOT NULL,
	seen_us INTEGER NOT NULL,
	PRIMARY KEY (app, key)
) WITHOUT ROWID;
CREATE INDEX dedupe_keys_seen ON dedupe_keys (seen_us);

CREATE TABLE events (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	app     TEXT    NOT NULL,
	time_us INTEGER NOT NULL,
	kind    TEXT    NOT NULL,
	code    TEXT    NOT NULL DEFAULT '',
	dyno    TEXT    NOT NULL DEFAULT '',
	line    TEXT    NOT NULL
);
CREATE INDEX events_app_id ON events (app, id);

CREATE TABLE rollups_minute (
	app      TEXT    NOT NULL,
	minute   INTEGER NOT NULL,
	dyno     TEXT    NOT NULL,
	requests INTEGER NOT NULL,
	s2xx     INTEGER NOT NULL,
	s3xx     INTEGER NOT NULL,
	s4xx     INTEGER NOT NULL,
	s5xx     INTEGER NOT NULL,
	bytes    INTEGER NOT NULL,
	codes    TEXT,
	PRIMARY KEY (app, minute, dyno)
) WITHOUT ROWID;

CREATE TABLE rollups_hourly (
	app      TEXT    NOT NULL,
	hour     INTEGER NOT NULL,
	dyno     TEXT    NOT NULL,
	requests INTEGER NOT NULL,
	s2xx     INTEGER NOT NULL,
	s3xx     INTEGER NOT NULL,
	s4xx     INTEGER NOT NULL,
	s5xx     INTEGER NOT NULL,
	bytes    INTEGER NOT NULL,
	codes    TEXT,
	PRIMARY KEY (app, hour, dyno)
) WITHOUT ROWID;

CREATE TABLE latency_minute (
	app     TEXT    NOT NULL,
	minute  INTEGER NOT NULL,
	service BLOB    NOT NULL,
	PRIMARY KEY (app, minute)
) WITHOUT ROWID;

CREATE TABLE latency_hourly (
	app     TEXT    NOT NULL,
	hour    INTEGER NOT NULL,
	service BLOB    NOT NULL,
	PRIMARY KEY (app, hour)
) WITHOUT ROWID;

CREATE TABLE samples_minute (
	app    TEXT    NOT NULL,
	kind   TEXT    NOT NULL,
	source TEXT    NOT NULL,
	minute INTEGER NOT NULL,
	vals   TEXT    NOT NULL,
	PRIMARY KEY (app, minute, kind, source)
) WITHOUT ROWID;

CREATE TABLE samples_hourly (
	app    TEXT    NOT NULL,
	kind   TEXT    NOT NULL,
	source TEXT    NOT NULL,
	hour   INTEGER NOT NULL,
	vals   TEXT    NOT NULL,
	PRIMARY KEY (app, hour, kind, source)
) WITHOUT ROWID;

CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE leases (
	name       TEXT    PRIMARY KEY,
	holder     TEXT    NOT NULL,
	expires_us INTEGER NOT NULL
) WITHOUT ROWID;

-- The OTLP intake's sightings (otlp.Sighted): per app, the names in the
-- Fir telemetry that every web dyno was sent in the last 24 h, which each
-- dyno merges in every few seconds. id orders an app's names by when they
-- were first seen in the window: past the caps the first ones are kept.
-- Bounded by the caps, otlp.MaxSightingApps (100) apps besides "no app" of
-- otlp.MaxSightingsPerApp (128) names: at most 12,928 rows. Booleans as 0/1.
CREATE TABLE otlp_sightings (
	id           INTEGER PRIMARY KEY,
	app          TEXT    NOT NULL,
	kind         TEXT    NOT NULL,
	name         TEXT    NOT NULL,
	unit         TEXT    NOT NULL,
	understood   INTEGER NOT NULL,
	requests     INTEGER NOT NULL,
	last_seen_us INTEGER NOT NULL,
	UNIQUE (app, kind, name, unit)
);
CREATE INDEX otlp_sightings_last_seen ON otlp_sightings (last_seen_us);
-- Names the caps left out, per hour (Unix seconds): the sightings' dropped.
-- At most 25 rows.
CREATE TABLE otlp_sightings_dropped (
	hour    INTEGER PRIMARY KEY,
	dropped INTEGER NOT NULL
);

-- The OTLP intake's sightings (otlp.Sighted): per app, the names in the
-- Fir telemetry that every web dyno was sent in the last 24 h, which each
-- dyno merges in every few seconds. id orders an app's names by when they
-- were first seen in the window: past the caps the first ones are kept.
-- Bounded by the caps, otlp.MaxSightingApps (100) apps besides "no app" of
-- otlp.MaxSightingsPerApp (128) names: at most 12,928 rows.
CREATE TABLE otlp_sightings (
	id           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	app          text    NOT NULL,
	kind         text    NOT NULL,
	name         text    NOT NULL,
	unit         text    NOT NULL,
	understood   boolean NOT NULL,
	requests     bigint  NOT NULL,
	last_seen_us bigint  NOT NULL,
	UNIQUE (app, kind, name, unit)
);
CREATE INDEX otlp_sightings_last_seen ON otlp_sightings (last_seen_us);
-- Names the caps left out, per hour (Unix seconds): the sightings' dropped.
-- At most 25 rows.
CREATE TABLE otlp_sightings_dropped (
	hour    bigint PRIMARY KEY,
	dropped bigint NOT NULL
);

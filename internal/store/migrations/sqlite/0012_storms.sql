-- A channel's storm cap (<PREFIX>_STORM_CAP): what it was told lately, so
-- that every worker counts the same storm, and across restarts. One row per
-- new incident the channel was told (summary '') or that collapsed into a
-- summary (summary: that summary's delivery id): a told incident is one
-- row whatever the alerts of its message, a collapsed one is one row per
-- alert, which the summary counts.
CREATE TABLE storm_log (
	channel     TEXT   NOT NULL,
	delivery_id TEXT   NOT NULL,
	app         TEXT   NOT NULL,
	severity    TEXT   NOT NULL,
	at_us       INTEGER NOT NULL,
	summary     TEXT   NOT NULL,
	PRIMARY KEY (channel, delivery_id)
);
CREATE INDEX storm_log_told ON storm_log (channel, at_us) WHERE summary = '';
CREATE INDEX storm_log_summary ON storm_log (channel, summary) WHERE summary <> '';
CREATE INDEX storm_log_at ON storm_log (at_us);
-- One row per capped channel: the summary still taking collapsed incidents
-- ('' when none), and the row a decision locks, so that two workers never
-- both tell the cap's last incident.
CREATE TABLE storm_channels (
	channel TEXT PRIMARY KEY,
	summary TEXT NOT NULL
);

-- A channel's storm cap (<PREFIX>_STORM_CAP): what it was told lately, so
-- that every worker counts the same storm, and across restarts. One row per
-- new incident the channel was told (summary '') or that collapsed into a
-- summary (summary: that summary's delivery id): a told incident is one
-- row whatever the alerts of its message, a collapsed one is one row per
-- alert, which the summary counts.
CREATE TABLE storm_log (
	channel     text   NOT NULL,
	delivery_id text   NOT NULL,
	app         text   NOT NULL,
	severity    text   NOT NULL,
	at_us       bigint NOT NULL,
	summary     text   NOT NULL,
	PRIMARY KEY (channel, delivery_id)
);
CREATE INDEX storm_log_told ON storm_log (channel, at_us) WHERE summary = '';
CREATE INDEX storm_log_summary ON storm_log (channel, summary) WHERE summary <> '';
CREATE INDEX storm_log_at ON storm_log (at_us);
-- One row per capped channel: the summary still taking collapsed incidents
-- ('' when none), and the row a decision locks, so that two workers never
-- both tell the cap's last incident.
CREATE TABLE storm_channels (
	channel text PRIMARY KEY,
	summary text NOT NULL
);

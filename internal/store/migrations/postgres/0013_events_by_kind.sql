-- The memory forecast looks up each dyno's latest start (state changes and
-- exits) every minute, and the release guard an app's releases: by kind and
-- time, not by scanning an app's 30 days of events.
CREATE INDEX events_app_kind_time ON events (app, kind, time_us);

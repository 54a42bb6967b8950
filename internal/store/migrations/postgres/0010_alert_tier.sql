-- The escalation tiers told of an alert's episode (0: none yet; an episode
-- notified before this column existed was told on every channel) and when
-- the first was (Unix microseconds): later tiers are due from then on.
ALTER TABLE alerts ADD COLUMN tier integer NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN told_us bigint NOT NULL DEFAULT 0;

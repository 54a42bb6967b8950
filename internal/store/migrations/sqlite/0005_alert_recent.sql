-- The events of a pending event alert within its rule's window, so that its
-- threshold counts over a sliding window rather than from its first event.
-- JSON array of [Unix microseconds, count].
ALTER TABLE alerts ADD COLUMN recent TEXT NOT NULL DEFAULT '[]';

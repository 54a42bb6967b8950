-- Who acknowledged an alert's episode, when (Unix microseconds; 0: nobody
-- yet) and why: an acknowledged alert is not reminded of, and a new
-- episode starts unacknowledged.
ALTER TABLE alerts ADD COLUMN acked_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN acked_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN ack_reason TEXT NOT NULL DEFAULT '';

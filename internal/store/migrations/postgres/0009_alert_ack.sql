-- Who acknowledged an alert's episode, when (Unix microseconds; 0: nobody
-- yet) and why: an acknowledged alert is not reminded of, and a new
-- episode starts unacknowledged.
ALTER TABLE alerts ADD COLUMN acked_by text NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN acked_us bigint NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN ack_reason text NOT NULL DEFAULT '';

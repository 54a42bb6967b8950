-- dynowatch schema, Postgres. Times are integers: rollup keys (minute, hour)
-- in Unix seconds, every other *_us column in Unix microseconds. See size.go
-- for what each table costs.

CREATE TABLE apps (
	name             text   PRIMARY KEY,
	first_seen_us    bigint NOT NULL,
	last_message_us  bigint NOT NULL DEFAULT 0,
	drain_token      text   NOT NULL DEFAULT '',
	messages         bigint NOT NULL DEFAULT 0,
	bad_frames       bigint NOT NULL DEFAULT 0,
	count_mismatches bigint NOT NULL DEFAULT 0,
	l10_dropped      bigint NOT NULL DEFAULT 0
);

-- Keys of stored drain batches, so a batch Logplex retries is stored once.
CREATE TABLE dedupe_keys (
	app     text   NOT NULL,
	key     text   NOT NULL,
	seen_us bigint NOT NULL,
	PRIMARY KEY (app, key)
);
CREATE INDEX dedupe_keys_seen ON dedupe_keys (seen_us);

CREATE TABLE events (
	id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	app     text   NOT NULL,
	time_us bigint NOT NULL,
	kind    text   NOT NULL,
	code    text   NOT NULL DEFAULT '',
	dyno    text   NOT NULL DEFAULT '',
	line    text   NOT NULL
);
CREATE INDEX events_app_id ON events (app, id);

-- Router rollups per router dyno; codes is {"H12": n, …}, NULL when none.
CREATE TABLE rollups_minute (
	app      text   NOT NULL,
	minute   bigint NOT NULL,
	dyno     text   NOT NULL,
	requests bigint NOT NULL,
	s2xx     bigint NOT NULL,
	s3xx     bigint NOT NULL,
	s4xx     bigint NOT NULL,
	s5xx     bigint NOT NULL,
	bytes    bigint NOT NULL,
	codes    jsonb,
	PRIMARY KEY (app, minute, dyno)
);

CREATE TABLE rollups_hourly (LIKE rollups_minute INCLUDING ALL);
ALTER TABLE rollups_hourly RENAME COLUMN minute TO hour;

-- Service times of all router dynos of an app together: a Histogram as the
-- index of its first non-empty bucket, then the bucket counts.
CREATE TABLE latency_minute (
	app     text   NOT NULL,
	minute  bigint NOT NULL,
	service int4[] NOT NULL,
	PRIMARY KEY (app, minute)
);

CREATE TABLE latency_hourly (LIKE latency_minute INCLUDING ALL);
ALTER TABLE latency_hourly RENAME COLUMN minute TO hour;

-- Runtime and add-on metrics: the max of each value within the minute (hour).
-- vals[i] is the value of the sample whose sample_names.id is i, NULL when
-- the line did not carry it (a NULL costs one bit of the array's bitmap).
CREATE TABLE samples_minute (
	app    text     NOT NULL,
	kind   text     NOT NULL,
	source text     NOT NULL,
	minute bigint   NOT NULL,
	vals   float8[] NOT NULL,
	PRIMARY KEY (app, minute, kind, source)
);

CREATE TABLE samples_hourly (LIKE samples_minute INCLUDING ALL);
ALTER TABLE samples_hourly RENAME COLUMN minute TO hour;

-- The names of sample values, numbered for samples_*.vals. Rows are never
-- updated or deleted, so every dyno may cache them.
CREATE TABLE sample_names (
	id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text    NOT NULL UNIQUE
);

CREATE TABLE settings (
	name  text PRIMARY KEY,
	value text NOT NULL
);

CREATE TABLE leases (
	name       text   PRIMARY KEY,
	holder     text   NOT NULL,
	expires_us bigint NOT NULL
);

-- dw_hist_merge adds two stored histograms (see latency_minute.service).
CREATE FUNCTION dw_hist_merge(a int4[], b int4[]) RETURNS int4[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE (
		SELECT array_prepend(min(r.lo), array_agg(
			coalesce(CASE WHEN i >= a[1] THEN a[i - a[1] + 2] END, 0) +
			coalesce(CASE WHEN i >= b[1] THEN b[i - b[1] + 2] END, 0) ORDER BY i))
		FROM (SELECT least(a[1], b[1]) AS lo,
		             greatest(a[1] + cardinality(a), b[1] + cardinality(b)) - 2 AS hi) r,
		     generate_series(r.lo, r.hi) i)
	END
$$;

-- dw_sum_merge adds two {"name": number} objects key by key.
CREATE FUNCTION dw_sum_merge(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE (
		SELECT jsonb_object_agg(key, v) FROM (
			SELECT key, sum(value::numeric) AS v
			FROM (SELECT * FROM jsonb_each(a) UNION ALL SELECT * FROM jsonb_each(b)) u
			GROUP BY key) g)
	END
$$;

-- dw_max_merge keeps the larger of each element of two arrays; NULLs are
-- ignored (see samples_minute.vals).
CREATE FUNCTION dw_max_merge(a float8[], b float8[]) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE ARRAY(
		SELECT greatest(a[i], b[i]) FROM generate_series(1, greatest(cardinality(a), cardinality(b))) i ORDER BY i)
	END
$$;

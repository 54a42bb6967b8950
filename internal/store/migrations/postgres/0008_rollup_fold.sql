-- Flushes used to upsert every hourly row along with its minute rows: the
-- same row updated every 5 s for an hour, half of a flush's work. Now the
-- hourly rows are folded from whole minutes once they are closed (see
-- store.FoldHourly): minutes before folded_to have been folded, and a late
-- flush of one of them writes its hourly rows itself. Folding starts with
-- this migration, or when rollups are stored already ten minutes after it:
-- the dynos of the previous release, which still write both, are gone by then.
CREATE TABLE rollup_fold (
	one       boolean PRIMARY KEY DEFAULT true CHECK (one),
	folded_to bigint  NOT NULL
);
INSERT INTO rollup_fold (folded_to) SELECT (extract(epoch FROM now())::int8 +
	CASE WHEN EXISTS (SELECT FROM rollups_minute) THEN 600 ELSE 0 END) / 60 * 60;

-- dw_sum_merge as before, but it only walks b (the few codes of a flush)
-- and adds integers: a flush of 10,000 rows spent most of its time in the
-- old one's union, group and numeric sums.
CREATE OR REPLACE FUNCTION dw_sum_merge(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE
		a || coalesce((SELECT jsonb_object_agg(key, value::int8 + coalesce((a ->> key)::int8, 0)) FROM jsonb_each_text(b)), '{}')
	END
$$;

-- The merges as aggregates, to build hourly rows from minute rows.
CREATE AGGREGATE dw_sum_agg(jsonb) (SFUNC = dw_sum_merge, STYPE = jsonb);
CREATE AGGREGATE dw_hist_agg(int4[]) (SFUNC = dw_hist_merge, STYPE = int4[]);
CREATE AGGREGATE dw_max_agg(float8[]) (SFUNC = dw_max_merge, STYPE = float8[]);

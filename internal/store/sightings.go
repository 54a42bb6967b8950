package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/otlp"
)

// The sightings of the OTLP intake: every web dyno merges what it gathered
// into otlp_sightings every few seconds (see otlp.Handler.Run), and reads
// them all back for the API and the Fir page.

// sightingsChunk is how many names one INSERT carries: 7 parameters each,
// well under both dialects' limits on parameters.
const sightingsChunk = 500

// MergeSightings adds seen and dropped, gathered by one web dyno, to the
// sightings kept at now: requests add up, the last seen wins, and a name
// reads as it did when it was last seen. Names last seen before the window
// go first; then, past otlp.MaxSightingApps apps (besides "no app") or
// otlp.MaxSightingsPerApp names of an app, the names seen first in the
// window (those of one merge in name order) are kept and the rest counted
// as dropped. One merge at a time,
// whichever dyno: on Postgres under an advisory lock (so the caps hold
// exactly), on the embedded store as its one writer.
func (s *Store) MergeSightings(ctx context.Context, seen []otlp.Sighted, dropped int64, now time.Time) error {
	switch {
	case now.IsZero():
		return errors.New("store: MergeSightings: now is zero")
	case dropped < 0:
		return fmt.Errorf("store: MergeSightings: dropped is %d, want 0 or more", dropped)
	}
	seen = slices.Clone(seen)
	slices.SortFunc(seen, func(a, b otlp.Sighted) int {
		return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Unit, b.Unit))
	})
	err := s.inTx(ctx, func(q querier) error {
		if s.pg != nil {
			const lock = `SELECT pg_advisory_xact_lock(hashtextextended('dynowatch.sightings.' || current_schema(), 0))`
			if _, err := q.exec(ctx, lock); err != nil {
				return err
			}
		}
		if _, err := q.exec(ctx, `DELETE FROM otlp_sightings WHERE last_seen_us < $1`, micros(now.Add(-otlp.SightingsWindow))); err != nil {
			return err
		}
		for c := range slices.Chunk(seen, sightingsChunk) {
			if err := upsertSightings(ctx, q, c); err != nil {
				return err
			}
		}
		// Apps first, so that the names of an app left out count once.
		overApps, err := q.exec(ctx, `DELETE FROM otlp_sightings WHERE app IN (
			SELECT app FROM (SELECT app, row_number() OVER (ORDER BY min(id)) AS n FROM otlp_sightings WHERE app <> '' GROUP BY app) AS t
			WHERE n > $1)`, otlp.MaxSightingApps)
		if err != nil {
			return err
		}
		overNames, err := q.exec(ctx, `DELETE FROM otlp_sightings WHERE id IN (
			SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY app ORDER BY id) AS n FROM otlp_sightings) AS t
			WHERE n > $1)`, otlp.MaxSightingsPerApp)
		if err != nil {
			return err
		}
		hour := now.Truncate(time.Hour).Unix()
		if _, err := q.exec(ctx, `DELETE FROM otlp_sightings_dropped WHERE hour <= $1`, droppedSince(now)); err != nil {
			return err
		}
		if n := dropped + overApps + overNames; n > 0 {
			_, err := q.exec(ctx, `INSERT INTO otlp_sightings_dropped (hour, dropped) VALUES ($1, $2)
				ON CONFLICT (hour) DO UPDATE SET dropped = otlp_sightings_dropped.dropped + excluded.dropped`, hour, n)
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: merging %d sightings at %s: %w", len(seen), now.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// droppedSince is the last hour (Unix seconds) whose dropped names are out
// of the window before now: the hours after it overlap the window.
func droppedSince(now time.Time) int64 {
	return now.Add(-otlp.SightingsWindow).Truncate(time.Hour).Unix() - int64(time.Hour/time.Second)
}

// upsertSightings inserts or adds to the names of one chunk, in one
// statement both dialects run.
func upsertSightings(ctx context.Context, q querier, seen []otlp.Sighted) error {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO otlp_sightings (app, kind, name, unit, understood, requests, last_seen_us) VALUES `)
	args := make([]any, 0, 7*len(seen))
	for i, x := range seen {
		if i > 0 {
			sb.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7)
		args = append(args, x.App, string(x.Kind), x.Name, x.Unit, x.Understood, x.Requests, micros(x.LastSeen))
	}
	sb.WriteString(` ON CONFLICT (app, kind, name, unit) DO UPDATE SET
		requests     = otlp_sightings.requests + excluded.requests,
		understood   = CASE WHEN excluded.last_seen_us >= otlp_sightings.last_seen_us THEN excluded.understood ELSE otlp_sightings.understood END,
		last_seen_us = CASE WHEN excluded.last_seen_us >= otlp_sightings.last_seen_us THEN excluded.last_seen_us ELSE otlp_sightings.last_seen_us END`)
	_, err := q.exec(ctx, sb.String(), args...)
	return err
}

// ReadSightings returns the names of every web dyno seen in the window
// before now, those of an app in the order they were first seen, and the
// names the caps left out in it (by the hour: those of the hour the window
// starts in count whole).
func (s *Store) ReadSightings(ctx context.Context, now time.Time) ([]otlp.Sighted, int64, error) {
	seen, err := queryAll(ctx, s.q, func(r row) (x otlp.Sighted, err error) {
		var kind string
		var last int64
		err = r.Scan(&x.App, &kind, &x.Name, &x.Unit, &x.Understood, &x.Requests, &last)
		x.Kind, x.LastSeen = otlp.SightingKind(kind), fromMicros(last)
		return x, err
	}, `SELECT app, kind, name, unit, understood, requests, last_seen_us FROM otlp_sightings WHERE last_seen_us >= $1 ORDER BY id`,
		micros(now.Add(-otlp.SightingsWindow)))
	if err != nil {
		return nil, 0, fmt.Errorf("store: reading the sightings at %s: %w", now.UTC().Format(time.RFC3339), err)
	}
	var dropped int64
	if err := s.q.queryRow(ctx, `SELECT CAST(coalesce(sum(dropped), 0) AS bigint) FROM otlp_sightings_dropped WHERE hour > $1`,
		droppedSince(now)).Scan(&dropped); err != nil {
		return nil, 0, fmt.Errorf("store: reading the sightings' dropped at %s: %w", now.UTC().Format(time.RFC3339), err)
	}
	return seen, dropped, nil
}

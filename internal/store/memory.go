package store

import (
	"context"
	"fmt"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// DynoMemory returns the memory of app's dynos (alert.MemorySource): per
// dyno, its minute samples of rss + swap since its latest state change or
// exit (a restart, a crash, the daily cycling), within
// alert.MemoryLookback before now, and its latest quota. Dynos are in name
// order.
func (s *Store) DynoMemory(ctx context.Context, app string, now time.Time) ([]alert.DynoMemory, error) {
	from := now.Add(-alert.MemoryLookback)
	type start struct {
		dyno string
		us   int64
	}
	startRows, err := queryAll(ctx, s.q, func(r row) (st start, err error) { return st, r.Scan(&st.dyno, &st.us) }, `SELECT dyno, max(time_us) FROM events WHERE app = $1 AND kind IN ($2, $3) AND time_us >= $4 AND time_us <= $5 GROUP BY dyno`,
		app, parse.KindStateChange.String(), parse.KindProcessExit.String(), micros(from), micros(now))
	if err != nil {
		return nil, fmt.Errorf("store: dyno memory of %s: starts: %w", app, err)
	}
	starts := map[string]time.Time{}
	for _, st := range startRows {
		starts[st.dyno] = fromMicros(st.us)
	}
	// Postgres keeps the values in an array indexed by the name's id (0,
	// not yet numbered, reads NULL), SQLite in a JSON object.
	val := func(n int) string { return fmt.Sprintf("CAST(vals ->> $%d AS DOUBLE PRECISION)", n) }
	names := []any{"memory_rss_mb", "memory_swap_mb", "memory_quota_mb"}
	if s.pg != nil {
		val = func(n int) string { return fmt.Sprintf("vals[$%d::int4]", n) }
		for i, n := range names {
			id, err := s.sampleID(ctx, n.(string))
			if err != nil {
				return nil, fmt.Errorf("store: dyno memory of %s: %w", app, err)
			}
			names[i] = id
		}
	}
	type sample struct {
		src              string
		minute           int64
		rss, swap, quota float64
	}
	samples, err := queryAll(ctx, s.q, func(r row) (m sample, err error) {
		return m, r.Scan(&m.src, &m.minute, &m.rss, &m.swap, &m.quota)
	}, fmt.Sprintf(`SELECT source, minute, %[1]s, COALESCE(%[2]s, 0), COALESCE(%[3]s, 0) FROM samples_minute
		WHERE app = $4 AND kind = $5 AND minute >= $6 AND minute <= $7 AND %[1]s IS NOT NULL
		ORDER BY source, minute`, val(1), val(2), val(3)),
		names[0], names[1], names[2], app, parse.KindRuntimeMetrics.String(), from.Unix(), now.Unix())
	if err != nil {
		return nil, fmt.Errorf("store: dyno memory of %s: samples: %w", app, err)
	}
	var out []alert.DynoMemory
	for _, m := range samples {
		at := time.Unix(m.minute, 0).UTC()
		// Before the restart is the dyno's previous life; so is the minute
		// of the restart, whose maximum may be the old process's.
		if at.Before(starts[m.src]) {
			continue
		}
		if len(out) == 0 || out[len(out)-1].Dyno != m.src {
			out = append(out, alert.DynoMemory{Dyno: m.src, Started: starts[m.src]})
		}
		d := &out[len(out)-1]
		d.Points = append(d.Points, alert.MemoryPoint{At: at, MB: m.rss + m.swap})
		d.RSSMB, d.SwapMB = m.rss, m.swap
		if m.quota > 0 {
			d.QuotaMB = m.quota
		}
	}
	return out, nil
}

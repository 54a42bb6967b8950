package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// coverageRecent is how far back the minute tables are read: the hourly
// rows hold the rest (the web dynos fold closed minutes into them every
// minute), to the hour.
const coverageRecent = time.Hour

// maxL10Lines bounds the L10 lines read for one coverage.
const maxL10Lines = 1000

// Coverage returns what the store keeps that says what dynowatch sees of
// app (see alert.AssessCoverage): the first and last minute of its router
// lines, runtime and add-on metrics, from the hourly rollups and the minutes
// of the last few hours (the index's range of one app, not a scan of the
// minutes), its L10 lines of the last 24 h and the drain's counters. It
// returns ErrNotFound for an app with no drain row.
func (s *Store) Coverage(ctx context.Context, app string, now time.Time) (alert.CoverageFacts, error) {
	var f alert.CoverageFacts
	var first, last int64
	err := s.q.queryRow(ctx, `SELECT first_seen_us, last_message_us, count_mismatches FROM apps WHERE name = $1`, app).
		Scan(&first, &last, &f.CountMismatches)
	if isNoRows(err) {
		return f, fmt.Errorf("%w: app %q", ErrNotFound, app)
	}
	if err != nil {
		return f, fmt.Errorf("store: coverage of %s: %w", app, err)
	}
	f.FirstSeen, f.LastMessage = fromMicros(first), fromMicros(last)
	recent := now.Add(-coverageRecent).Unix()
	span := func(first, last *time.Time, lo, hi int64) {
		if lo == 0 && hi == 0 {
			return
		}
		if l := time.Unix(lo, 0).UTC(); first.IsZero() || l.Before(*first) {
			*first = l
		}
		if h := time.Unix(hi, 0).UTC(); h.After(*last) {
			*last = h
		}
	}
	for _, t := range []struct{ table, col string }{{"rollups_hourly", "hour"}, {"rollups_minute", "minute"}} {
		var lo, hi sql.NullInt64
		if err := s.q.queryRow(ctx, fmt.Sprintf(`SELECT min(%[2]s), max(%[2]s) FROM %[1]s WHERE app = $1 AND %[2]s >= $2`, t.table, t.col),
			app, sinceFor(t.col, recent)).Scan(&lo, &hi); err != nil {
			return f, fmt.Errorf("store: coverage of %s: %s: %w", app, t.table, err)
		}
		span(&f.RouterFirst, &f.RouterLast, lo.Int64, hi.Int64)
	}
	type kindSpan struct {
		kind   string
		cedar  int64
		lo, hi int64
	}
	for _, t := range []struct{ table, col string }{{"samples_hourly", "hour"}, {"samples_minute", "minute"}} {
		// A Fir dyno has no dot in its name (web-1234abcde-123ab), a Cedar one has (web.1).
		rows, err := queryAll(ctx, s.q, func(r row) (k kindSpan, err error) { return k, r.Scan(&k.kind, &k.cedar, &k.lo, &k.hi) },
			fmt.Sprintf(`SELECT kind, CASE WHEN source LIKE '%%.%%' THEN 1 ELSE 0 END, min(%[2]s), max(%[2]s) FROM %[1]s
				WHERE app = $1 AND %[2]s >= $2 GROUP BY 1, 2`, t.table, t.col), app, sinceFor(t.col, recent))
		if err != nil {
			return f, fmt.Errorf("store: coverage of %s: %s: %w", app, t.table, err)
		}
		for _, k := range rows {
			switch {
			case k.kind == parse.KindRuntimeMetrics.String() && k.cedar == 1:
				span(&f.RuntimeFirst, &f.RuntimeLast, k.lo, k.hi)
			case k.kind == parse.KindRuntimeMetrics.String():
				var none time.Time
				span(&none, &f.FirLast, k.lo, k.hi)
			default:
				if f.Addons == nil {
					f.Addons = map[string]time.Time{}
				}
				if h := time.Unix(k.hi, 0).UTC(); h.After(f.Addons[k.kind]) {
					f.Addons[k.kind] = h
				}
			}
		}
	}
	// The hourly rows start on the hour: the minutes of that hour, while
	// they are kept, tell the minute.
	for _, r := range []struct {
		first *time.Time
		sql   string
	}{
		{&f.RouterFirst, `SELECT min(minute) FROM rollups_minute WHERE app = $1 AND minute >= $2 AND minute < $3`},
		{&f.RuntimeFirst, `SELECT min(minute) FROM samples_minute WHERE app = $1 AND minute >= $2 AND minute < $3 AND kind = 'runtime_metrics' AND source LIKE '%.%'`},
	} {
		if r.first.IsZero() {
			continue
		}
		var m sql.NullInt64
		if err := s.q.queryRow(ctx, r.sql, app, r.first.Unix(), r.first.Unix()+3600).Scan(&m); err != nil {
			return f, fmt.Errorf("store: coverage of %s: first minute: %w", app, err)
		}
		if m.Valid {
			*r.first = time.Unix(m.Int64, 0).UTC()
		}
	}
	lines, err := queryAll(ctx, s.q, func(r row) (l string, err error) { return l, r.Scan(&l) },
		`SELECT line FROM events WHERE app = $1 AND kind = 'logplex_error' AND time_us >= $2 AND code = 'L10' ORDER BY id DESC LIMIT $3`, // events_app_kind_time
		app, micros(now.Add(-alert.CoverageWindow)), maxL10Lines)
	if err != nil {
		return f, fmt.Errorf("store: coverage of %s: L10 lines: %w", app, err)
	}
	f.L10Lines = len(lines)
	if len(lines) > 0 {
		sc := parse.NewScanner(strings.NewReader(strings.Join(lines, "\n")+"\n"), parse.FormPlain)
		for sc.Scan() {
			if e, err := sc.Entry(); err == nil && e.Logplex.Code == "L10" {
				f.L10Dropped += int64(e.Logplex.Dropped)
			}
		}
	}
	return f, nil
}

// sinceFor is the lower bound of a coverage query on col: all of the hourly
// table, the recent minutes of the minute table.
func sinceFor(col string, recent int64) int64 {
	if col == "hour" {
		return 0
	}
	return recent
}

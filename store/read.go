package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ErrNotFound reports an app (or a silence) the store does not know.
var ErrNotFound = errors.New("store: not found")

// App is the drain state of one monitored app.
type App struct {
	Name            string
	FirstSeen       time.Time
	LastMessage     time.Time // zero when no message came yet
	DrainToken      string    // the last Logplex-Drain-Token seen
	Messages        int64
	BadFrames       int64
	CountMismatches int64
	L10Dropped      int64
}

// Apps returns every app, sorted by name.
func (s *Store) Apps(ctx context.Context) ([]App, error) {
	apps, err := queryAll(ctx, s.q, func(r row) (a App, err error) {
		var first, last int64
		err = r.Scan(&a.Name, &first, &last, &a.DrainToken, &a.Messages, &a.BadFrames, &a.CountMismatches, &a.L10Dropped)
		a.FirstSeen, a.LastMessage = fromMicros(first), fromMicros(last)
		return a, err
	}, `SELECT name, first_seen_us, last_message_us, drain_token, messages, bad_frames, count_mismatches, l10_dropped
		FROM apps ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: apps: %w", err)
	}
	return apps, nil
}

// appTables are the tables with rows per app, apps last.
var appTables = []string{
	"events", "dedupe_keys", "rollups_minute", "rollups_hourly", "latency_minute", "latency_hourly",
	"samples_minute", "samples_hourly", "alerts", "outbox", "silences", "check_results", "check_latest", "apps",
}

// DeleteApp forgets app and all its rows, its alerts (past and current),
// sent notifications, silences and check results included. Notifications
// still to go are kept until they are sent (then pruned as any), with the
// rows of their alerts' before them: the "resolved" the engine wrote as the
// app was forgotten goes to the channels that heard the alert fire. It
// returns ErrNotFound for an app the store has no row of. An app whose drain
// is still attached comes back with its next batch, and one a check names
// with the check's next run.
func (s *Store) DeleteApp(ctx context.Context, app string) error {
	if app == "" {
		// Check results without an app have app '': they belong to no app.
		return fmt.Errorf("%w: app %q", ErrNotFound, app)
	}
	err := s.inTx(ctx, func(q querier) error {
		// An app is known by any row, not only its drain's: a check may
		// name an app that sends no logs here.
		var deleted int64
		for _, t := range appTables {
			col := "app"
			if t == "apps" {
				col = "name"
			}
			sql := fmt.Sprintf(`DELETE FROM %s WHERE %s = $1`, t, col)
			if t == "outbox" {
				sql += ` AND (sent_us <> 0 OR gave_up_us <> 0) AND NOT (alert_key <> '' AND alert_key IN
					(SELECT alert_key FROM outbox WHERE app = $1 AND sent_us = 0 AND gave_up_us = 0))`
			}
			n, err := q.exec(ctx, sql, app)
			if err != nil {
				return err
			}
			deleted += n
		}
		if deleted == 0 {
			return ErrNotFound
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: app %q", ErrNotFound, app)
	}
	if err != nil {
		return fmt.Errorf("store: delete app %s: %w", app, err)
	}
	return nil
}

// Event query limits.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// EventQuery selects events of one app, newest first.
type EventQuery struct {
	App    string
	Since  time.Time // only events at or after Since; zero for all
	Before int64     // cursor: only events with ID < Before; 0 for the newest
	Kind   string    // only this kind; "" for all
	Code   string    // only this code; "" for all
	Limit  int       // 0 means DefaultEventLimit; at most MaxEventLimit
}

// Events returns the events q selects, newest (highest ID) first. To page,
// pass the ID of the last event returned as the next query's Before.
func (s *Store) Events(ctx context.Context, q EventQuery) ([]Event, error) {
	if q.App == "" {
		return nil, errors.New("store: EventQuery.App is empty")
	}
	limit, err := pageLimit("EventQuery.Limit", q.Limit, DefaultEventLimit, MaxEventLimit)
	if err != nil {
		return nil, err
	}
	f := newFilter(`SELECT id, time_us, kind, code, dyno, line FROM events WHERE app = $1`, q.App)
	f.and(!q.Since.IsZero(), "time_us >=", micros(q.Since))
	f.and(q.Before > 0, "id <", q.Before)
	f.and(q.Kind != "", "kind =", q.Kind)
	f.and(q.Code != "", "code =", q.Code)
	query, args := f.page(limit)

	evs, err := queryAll(ctx, s.q, func(r row) (Event, error) {
		e := Event{App: q.App}
		var t int64
		err := r.Scan(&e.ID, &t, &e.Kind, &e.Code, &e.Dyno, &e.Line)
		e.Time = fromMicros(t)
		return e, err
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	return evs, nil
}

// WindowStats sums the router rollups of one app over a window.
type WindowStats struct {
	Requests  int64
	Status2xx int64
	Status3xx int64
	Status4xx int64
	Status5xx int64
	Bytes     int64
	Codes     map[string]int64 // requests per H code; nil when none
	Service   Histogram        // service times of all dynos
}

// WindowStats returns the totals of app's minute rollups of the minutes
// that start at or after from and before to, all dynos together. A window
// of 5 minutes is 5 minute rollups, the one in progress included: starting
// at the minute of from would make it 6, counting requests up to 6 minutes old.
func (s *Store) WindowStats(ctx context.Context, app string, from, to time.Time) (WindowStats, error) {
	var sum Rollup
	lo, hi := floorTo(from.Unix()+59, 60), to.Unix()
	err := s.scanRollups(ctx, "rollups_minute", "minute", app, lo, hi, func(_ int64, r *Rollup) { sum.Merge(r) })
	if err == nil {
		err = s.scanLatency(ctx, "latency_minute", "minute", app, lo, hi, func(_ int64, h *Histogram) { sum.Service.Merge(h) })
	}
	if err != nil {
		return WindowStats{}, fmt.Errorf("store: window stats: %w", err)
	}
	return WindowStats{Requests: sum.Requests, Status2xx: sum.Status2xx, Status3xx: sum.Status3xx, Status4xx: sum.Status4xx,
		Status5xx: sum.Status5xx, Bytes: sum.Bytes, Codes: sum.Codes, Service: sum.Service}, nil
}

// scanRollups calls fn with every rollup row of app in [from, to) (Unix
// seconds) of table, in time order. The Rollup passed is reused between
// calls; its Service is empty (see scanLatency).
func (s *Store) scanRollups(ctx context.Context, table, col, app string, from, to int64, fn func(t int64, r *Rollup)) error {
	r, err := s.q.query(ctx, fmt.Sprintf(`SELECT %[2]s, dyno, requests, s2xx, s3xx, s4xx, s5xx, bytes, codes
		FROM %[1]s WHERE app = $1 AND %[2]s >= $2 AND %[2]s < $3 ORDER BY %[2]s`, table, col),
		app, from, to)
	if err != nil {
		return err
	}
	defer r.Close()
	var (
		ro    Rollup
		t     int64
		codes []byte
	)
	for r.Next() {
		codes = nil
		if err := r.Scan(&t, &ro.Dyno, &ro.Requests, &ro.Status2xx, &ro.Status3xx, &ro.Status4xx, &ro.Status5xx, &ro.Bytes, &codes); err != nil {
			return err
		}
		if err := decodeCodes(&ro, codes); err != nil {
			return err
		}
		fn(t, &ro)
	}
	return r.Err()
}

// scanLatency calls fn with the service-time histogram of app (all router
// dynos merged) for every minute or hour in [from, to), in time order. The
// Histogram passed is reused between calls.
func (s *Store) scanLatency(ctx context.Context, table, col, app string, from, to int64, fn func(t int64, h *Histogram)) error {
	r, err := s.q.query(ctx, fmt.Sprintf(`SELECT %[2]s, service FROM %[1]s
		WHERE app = $1 AND %[2]s >= $2 AND %[2]s < $3 ORDER BY %[2]s`, table, col), app, from, to)
	if err != nil {
		return err
	}
	defer r.Close()
	var (
		h       Histogram
		t       int64
		svcPG   []int32
		svcLite []byte
	)
	dest, svc := any(&svcLite), func() any { return svcLite }
	if s.pg != nil {
		dest, svc = &svcPG, func() any { return svcPG }
	}
	for r.Next() {
		svcPG, svcLite = nil, nil
		if err := r.Scan(&t, dest); err != nil {
			return err
		}
		if err := decodeService(&h, svc()); err != nil {
			return err
		}
		fn(t, &h)
	}
	return r.Err()
}

// floorTo rounds t (Unix seconds) down to a multiple of step.
func floorTo(t, step int64) int64 {
	m := t % step
	if m < 0 {
		m += step
	}
	return t - m
}

// SeriesQuery asks for one metric of one app over [From, To) in steps.
type SeriesQuery struct {
	App    string
	Metric string // see Series
	From   time.Time
	To     time.Time
	// Step is the width of each point, rounded down to whole minutes (0 means
	// one minute). From one hour up it is rounded down to whole hours and
	// the hourly rollups are read, which are kept longer.
	Step time.Duration
}

// MaxSeriesPoints caps the steps one SeriesQuery may span.
const MaxSeriesPoints = 10_000

// Series is one line of a chart.
type Series struct {
	Dyno   string // the router dyno, the dyno or add-on attachment of a sample; "" for a merged series
	Code   string // the H code, for the metric "codes"
	Points []Point
}

// Point is the value of one step; Time is the step's start.
type Point struct {
	Time  time.Time
	Value float64
}

// ErrUnknownMetric reports a metric name Series does not know.
var ErrUnknownMetric = errors.New("store: unknown metric")

// ErrTooManyPoints reports a SeriesQuery over more than MaxSeriesPoints steps.
var ErrTooManyPoints = errors.New("store: too many points")

// Router metrics, each merged over all router dynos into one series with
// Dyno "", except requests_by_dyno (one series per router dyno) and codes
// (one series per H code, named in Series.Code).
var routerMetrics = []string{
	"requests", "requests_2xx", "requests_3xx", "requests_4xx", "requests_5xx", "5xx_pct", "bytes",
	"p50", "p95", "p99", "codes", "requests_by_dyno",
}

// samplePrefixes maps the prefix of a sample metric to the kind it reads.
var samplePrefixes = map[string]string{
	"runtime":   "runtime_metrics",
	"postgres":  "postgres_metrics",
	"redis":     "redis_metrics",
	"pgbouncer": "pgbouncer_metrics",
}

// runtimeSamples are the samples of log-runtime-metrics, as parse names
// them; they need no prefix. Any other sample is asked for with its prefix.
var runtimeSamples = []string{
	"load_avg_1m", "load_avg_5m", "load_avg_15m",
	"memory_total_mb", "memory_rss_mb", "memory_cache_mb", "memory_swap_mb", "memory_quota_mb",
	"memory_pgpgin", "memory_pgpgout",
}

var sampleName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Series returns the points of a metric, never nil. Steps are aligned to
// multiples of Step since the Unix epoch (whole hours, days in UTC), and
// the first is the one From falls in; steps without data have no point.
//
// Router metrics, from the request rollups:
//
//	requests, requests_2xx … requests_5xx, bytes  sums per step
//	5xx_pct                                       100 × requests_5xx / requests
//	p50, p95, p99                                 service time in ms
//	codes                                         requests per H code, one series each (Series.Code)
//	requests_by_dyno                              requests, one series per router dyno
//
// All but the last two are one series (Dyno "") over all router dynos.
//
// Metric samples, the max within each step, one series per source (a dyno
// such as web.1, or an add-on attachment such as DATABASE):
//
//	load_avg_1m, load_avg_5m, load_avg_15m        log-runtime-metrics, per dyno
//	memory_total_mb, memory_rss_mb, memory_cache_mb, memory_swap_mb, memory_quota_mb
//	memory_pgpgin, memory_pgpgout                 (pages)
//	runtime:NAME                                  any other runtime sample
//	postgres:active_connections, postgres:db_size_bytes, postgres:NAME …
//	redis:hit_rate, redis:active_connections, redis:NAME …
//	pgbouncer:client_waiting, pgbouncer:NAME …
//
// NAME is a sample name as package parse writes it: snake_case with the
// unit folded in.
//
// A name that is neither returns an error wrapping ErrUnknownMetric.
func (s *Store) Series(ctx context.Context, q SeriesQuery) ([]Series, error) {
	table, col, step, err := q.plan()
	if err != nil {
		return nil, err
	}
	var out []Series
	if slices.Contains(routerMetrics, q.Metric) {
		out, err = s.routerSeries(ctx, table, col, step, q)
	} else {
		kind, name := sampleMetric(q.Metric)
		table = "samples_minute"
		if col == "hour" {
			table = "samples_hourly"
		}
		out, err = s.sampleSeries(ctx, table, col, step, kind, name, q)
	}
	if err != nil {
		return nil, fmt.Errorf("store: series %s: %w", q.Metric, err)
	}
	if out == nil {
		out = []Series{} // JSON: "series": [], not null
	}
	return out, nil
}

// plan validates q and picks the table, its time column and the step in
// seconds.
func (q *SeriesQuery) plan() (table, col string, step int64, err error) {
	if q.App == "" {
		return "", "", 0, errors.New("store: SeriesQuery.App is empty")
	}
	if _, name := sampleMetric(q.Metric); !slices.Contains(routerMetrics, q.Metric) && name == "" {
		return "", "", 0, fmt.Errorf("%w %q: want one of %s, %s, or a sample as runtime:NAME, postgres:NAME, redis:NAME or pgbouncer:NAME",
			ErrUnknownMetric, q.Metric, strings.Join(routerMetrics, ", "), strings.Join(runtimeSamples, ", "))
	}
	if !q.To.After(q.From) {
		return "", "", 0, errors.New("store: SeriesQuery.To must be after From")
	}
	if q.Step < 0 {
		return "", "", 0, fmt.Errorf("store: SeriesQuery.Step is %v, want 0 (one minute) or more", q.Step)
	}
	table, col, unit := "rollups_minute", "minute", time.Minute
	if q.Step >= time.Hour {
		table, col, unit = "rollups_hourly", "hour", time.Hour
	}
	step = int64(max(q.Step.Truncate(unit), unit) / time.Second)
	if n := (q.To.Unix() - q.From.Unix()) / step; n > MaxSeriesPoints {
		span := q.To.Sub(q.From)
		least := (span/MaxSeriesPoints + time.Minute - 1).Truncate(time.Minute)
		return "", "", 0, fmt.Errorf("%w: %v in steps of %v are %d points, more than %d: use a step of at least %v or a shorter range",
			ErrTooManyPoints, span, time.Duration(step)*time.Second, n, MaxSeriesPoints, least)
	}
	return table, col, step, nil
}

// sampleMetric splits a sample metric into the kind and sample name; name
// is "" when the metric is not a valid sample metric.
func sampleMetric(m string) (kind, name string) {
	prefix, name, ok := strings.Cut(m, ":")
	if !ok {
		if !slices.Contains(runtimeSamples, m) {
			return "", ""
		}
		prefix, name = "runtime", m
	}
	kind, known := samplePrefixes[prefix]
	if !known || !sampleName.MatchString(name) {
		return "", ""
	}
	return kind, name
}

func (s *Store) routerSeries(ctx context.Context, table, col string, step int64, q SeriesQuery) ([]Series, error) {
	type key struct {
		t    int64
		dyno string
	}
	var (
		order []key // in time order, as the rows come
		steps = map[key]*Rollup{}
	)
	at := func(k key) *Rollup {
		agg := steps[k]
		if agg == nil {
			agg = &Rollup{Dyno: k.dyno}
			steps[k] = agg
			order = append(order, k)
		}
		return agg
	}
	from, to := floorTo(q.From.Unix(), step), q.To.Unix()
	var err error
	switch q.Metric {
	case "p50", "p95", "p99":
		latency := strings.Replace(table, "rollups_", "latency_", 1)
		err = s.scanLatency(ctx, latency, col, q.App, from, to, func(t int64, h *Histogram) {
			at(key{floorTo(t, step), ""}).Service.Merge(h)
		})
	default:
		byDyno := q.Metric == "requests_by_dyno"
		err = s.scanRollups(ctx, table, col, q.App, from, to, func(t int64, r *Rollup) {
			k := key{floorTo(t, step), ""}
			if byDyno {
				k.dyno = r.Dyno
			}
			at(k).Merge(r)
		})
	}
	if err != nil {
		return nil, err
	}
	series := map[string]*Series{}
	var names []string
	point := func(name string, s Series, t int64, v float64) {
		if math.IsNaN(v) {
			return
		}
		sp := series[name]
		if sp == nil {
			sp = &s
			series[name] = sp
			names = append(names, name)
		}
		sp.Points = append(sp.Points, Point{Time: time.Unix(t, 0).UTC(), Value: v})
	}
	for _, k := range order {
		r := steps[k]
		switch q.Metric {
		case "codes":
			for code, n := range r.Codes {
				point(code, Series{Code: code}, k.t, float64(n))
			}
		case "requests_by_dyno":
			point(k.dyno, Series{Dyno: k.dyno}, k.t, float64(r.Requests))
		default:
			point("", Series{}, k.t, routerValue(q.Metric, r))
		}
	}
	slices.Sort(names)
	out := make([]Series, 0, len(names))
	for _, n := range names {
		out = append(out, *series[n])
	}
	return out, nil
}

// routerValue is the value of a single-series router metric for one step.
func routerValue(metric string, r *Rollup) float64 {
	switch metric {
	case "requests":
		return float64(r.Requests)
	case "requests_2xx":
		return float64(r.Status2xx)
	case "requests_3xx":
		return float64(r.Status3xx)
	case "requests_4xx":
		return float64(r.Status4xx)
	case "requests_5xx":
		return float64(r.Status5xx)
	case "bytes":
		return float64(r.Bytes)
	case "5xx_pct":
		if r.Requests == 0 {
			return math.NaN()
		}
		return 100 * float64(r.Status5xx) / float64(r.Requests)
	case "p50":
		return r.Service.Quantile(0.50)
	case "p95":
		return r.Service.Quantile(0.95)
	case "p99":
		return r.Service.Quantile(0.99)
	}
	return math.NaN()
}

func (s *Store) sampleSeries(ctx context.Context, table, col string, step int64, kind, name string, q SeriesQuery) ([]Series, error) {
	// Postgres keeps the values in an array indexed by the name's id,
	// SQLite in a JSON object.
	value, arg := "CAST(vals ->> $5 AS DOUBLE PRECISION)", any(name)
	if s.pg != nil {
		id, err := s.sampleID(ctx, name)
		if err != nil || id == 0 {
			return nil, err
		}
		value, arg = "vals[$5::int4]", id
	}
	r, err := s.q.query(ctx, fmt.Sprintf(`SELECT source, %[2]s - (%[2]s %% $6) AS t, max(%[3]s)
		FROM %[1]s
		WHERE app = $1 AND kind = $2 AND %[2]s >= $3 AND %[2]s < $4 AND %[3]s IS NOT NULL
		GROUP BY source, t ORDER BY source, t`, table, col, value),
		q.App, kind, floorTo(q.From.Unix(), step), q.To.Unix(), arg, step)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []Series
	for r.Next() {
		var src string
		var t int64
		var v float64
		if err := r.Scan(&src, &t, &v); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Dyno != src {
			out = append(out, Series{Dyno: src})
		}
		sp := &out[len(out)-1]
		sp.Points = append(sp.Points, Point{Time: time.Unix(t, 0).UTC(), Value: v})
	}
	return out, r.Err()
}

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
// them, and a Fir dyno's CPU from its telemetry drain; they need no prefix.
// Any other sample is asked for with its prefix.
var runtimeSamples = []string{
	"load_avg_1m", "load_avg_5m", "load_avg_15m", "cpu_percent",
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
//	cpu_percent                                   a Fir dyno's CPU, from its telemetry drain
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

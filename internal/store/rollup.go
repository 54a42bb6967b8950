package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dynowatch/dynowatch/internal/parse"
)

// Rollup aggregates the router lines of one app, router dyno and minute.
type Rollup struct {
	App, Dyno string    // Dyno is "" when no dyno was reached (H10 and the like)
	Minute    time.Time // truncated to the minute, UTC
	Requests  int64
	Status2xx int64
	Status3xx int64
	Status4xx int64
	Status5xx int64
	Bytes     int64
	Codes     map[string]int64 // requests per H code
	Service   Histogram        // service times in ms; stored merged over the app's router dynos (see size.go)
}

// Merge adds o's counts and histogram to r; the keys are not compared.
func (r *Rollup) Merge(o *Rollup) {
	r.Requests += o.Requests
	r.Status2xx += o.Status2xx
	r.Status3xx += o.Status3xx
	r.Status4xx += o.Status4xx
	r.Status5xx += o.Status5xx
	r.Bytes += o.Bytes
	for c, n := range o.Codes {
		if r.Codes == nil {
			r.Codes = make(map[string]int64, len(o.Codes))
		}
		r.Codes[c] += n
	}
	r.Service.Merge(&o.Service)
}

// SampleRollup keeps runtime and add-on metrics of one app, kind, source and
// minute.
type SampleRollup struct {
	App    string
	Kind   string // runtime_metrics, postgres_metrics, redis_metrics or pgbouncer_metrics
	Source string // the dyno (web.1) or the add-on attachment (DATABASE)
	Minute time.Time
	Values map[string]float64 // the max of each value within the minute: memory_rss_mb, load_avg_1m, active_connections, …
}

// Merge keeps the larger of each value of r and o.
func (r *SampleRollup) Merge(o *SampleRollup) {
	for k, v := range o.Values {
		if r.Values == nil {
			r.Values = make(map[string]float64, len(o.Values))
		}
		if old, ok := r.Values[k]; !ok || v > old {
			r.Values[k] = v
		}
	}
}

type rollupKey struct {
	app, dyno string
	t         int64 // Unix seconds of the minute or hour
}

type sampleKey struct {
	app, kind, source string
	t                 int64
}

// MergeRollups adds rollups and samples to the stored ones (creating rows
// as needed), in one transaction. SQLite keeps the hourly rollups in step;
// Postgres leaves those of minutes not folded yet to FoldHourly. Several web
// dynos flush the same keys at once: on Postgres the upsert itself adds the
// counts and merges the histograms and values, and rows are written in key
// order so concurrent flushes cannot deadlock.
func (s *Store) MergeRollups(ctx context.Context, r []Rollup, sr []SampleRollup) error {
	if len(r) == 0 && len(sr) == 0 {
		return nil
	}
	var m mergeSet
	var err error
	if m.minute, m.hourly, err = groupRollups(r); err != nil {
		return err
	}
	if m.sMinute, m.sHourly, err = groupSamples(sr); err != nil {
		return err
	}
	s.capCustomSamples(m.sMinute, m.sHourly)
	m.latMinute, m.latHourly = latencyRows(m.minute), latencyRows(m.hourly)
	m.apps = rollupApps(m.minute, m.sMinute)
	if s.pg != nil {
		// Postgres builds the hourly rows from the minute rows (see
		// FoldHourly and mergeBatch).
		m.hourly, m.latHourly, m.sHourly = nil, nil, nil
		err = retryPG(ctx, func() error { return s.mergePG(ctx, &m) })
		if isRefused(err) {
			// One row Postgres refuses must not keep every app's counts out
			// (and have them put back and retried forever): store the rest.
			err = retryPG(ctx, func() error { return s.mergeIsolatedPG(ctx, &m) })
		}
	} else {
		err = s.inTx(ctx, func(q querier) error { return mergeLite(ctx, q, &m) })
	}
	if err != nil {
		return fmt.Errorf("store: merge rollups: %w", err)
	}
	return nil
}

// mergeSet is what MergeRollups writes, grouped and sorted by key.
type mergeSet struct {
	apps                 []string
	minute, hourly       []Rollup // per router dyno; their Service goes to the latency rows
	latMinute, latHourly []Rollup // per app and time: only App, Minute and Service are set
	sMinute, sHourly     []SampleRollup
	// hourly, latHourly and sHourly are nil on Postgres, which builds them
	// from the minute rows.
}

// latencyRows merges the histograms of rollups (sorted by app, time and
// dyno) per app and time, leaving out empty ones. Service times are stored
// per app, not per router dyno: no reader asks for one dyno's percentiles,
// and the histogram is most of a row's size (see size.go).
func latencyRows(rs []Rollup) []Rollup {
	var out []Rollup
	for i := range rs {
		r := &rs[i]
		if r.Service.Count() == 0 {
			continue
		}
		if n := len(out); n == 0 || out[n-1].App != r.App || !out[n-1].Minute.Equal(r.Minute) {
			out = append(out, Rollup{App: r.App, Minute: r.Minute})
		}
		out[len(out)-1].Service.Merge(&r.Service)
	}
	return out
}

// groupRollups merges rollups with the same key, per minute and per hour,
// and sorts them by key.
func groupRollups(rs []Rollup) (minute, hourly []Rollup, err error) {
	byMinute := make(map[rollupKey]int, len(rs))
	byHour := make(map[rollupKey]int, len(rs))
	for i := range rs {
		r := &rs[i]
		if r.App == "" || r.Minute.IsZero() {
			return nil, nil, fmt.Errorf("store: Rollup %d has no App or Minute", i)
		}
		m := r.Minute.Unix() / 60 * 60
		minute = addRollup(minute, byMinute, rollupKey{r.App, r.Dyno, m}, r)
		hourly = addRollup(hourly, byHour, rollupKey{r.App, r.Dyno, m / 3600 * 3600}, r)
	}
	sortRollups(minute)
	sortRollups(hourly)
	return minute, hourly, nil
}

func addRollup(out []Rollup, idx map[rollupKey]int, k rollupKey, r *Rollup) []Rollup {
	i, ok := idx[k]
	if !ok {
		idx[k] = len(out)
		out = append(out, Rollup{App: k.app, Dyno: k.dyno, Minute: time.Unix(k.t, 0).UTC()})
		i = len(out) - 1
	}
	out[i].Merge(r)
	return out
}

func sortRollups(rs []Rollup) {
	slices.SortFunc(rs, func(a, b Rollup) int {
		return cmp.Or(strings.Compare(a.App, b.App), a.Minute.Compare(b.Minute), strings.Compare(a.Dyno, b.Dyno))
	})
}

func groupSamples(ss []SampleRollup) (minute, hourly []SampleRollup, err error) {
	byMinute := make(map[sampleKey]int, len(ss))
	byHour := make(map[sampleKey]int, len(ss))
	for i := range ss {
		s := &ss[i]
		if s.App == "" || s.Kind == "" || s.Minute.IsZero() {
			return nil, nil, fmt.Errorf("store: SampleRollup %d has no App, Kind or Minute", i)
		}
		for name, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, fmt.Errorf("store: SampleRollup %d: %s is %v", i, name, v)
			}
		}
		m := s.Minute.Unix() / 60 * 60
		minute = addSample(minute, byMinute, sampleKey{s.App, s.Kind, s.Source, m}, s)
		hourly = addSample(hourly, byHour, sampleKey{s.App, s.Kind, s.Source, m / 3600 * 3600}, s)
	}
	sortSamples(minute)
	sortSamples(hourly)
	return minute, hourly, nil
}

func addSample(out []SampleRollup, idx map[sampleKey]int, k sampleKey, s *SampleRollup) []SampleRollup {
	i, ok := idx[k]
	if !ok {
		idx[k] = len(out)
		out = append(out, SampleRollup{App: k.app, Kind: k.kind, Source: k.source, Minute: time.Unix(k.t, 0).UTC()})
		i = len(out) - 1
	}
	out[i].Merge(s)
	return out
}

func sortSamples(ss []SampleRollup) {
	slices.SortFunc(ss, func(a, b SampleRollup) int {
		return cmp.Or(strings.Compare(a.App, b.App), a.Minute.Compare(b.Minute),
			strings.Compare(a.Kind, b.Kind), strings.Compare(a.Source, b.Source))
	})
}

// rollupApps returns the apps of the rollups, sorted: every stored row
// belongs to a row of apps, which DeleteApp and Prune rely on.
func rollupApps(r []Rollup, sr []SampleRollup) []string {
	var apps []string
	for i := range r {
		apps = append(apps, r[i].App)
	}
	for i := range sr {
		apps = append(apps, sr[i].App)
	}
	slices.Sort(apps)
	return slices.Compact(apps)
}

// jsonCounts encodes codes as a JSON object; "" for none (stored as NULL).
func jsonCounts(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // a map of strings to numbers always marshals
	return string(b)
}

func jsonValues(m map[string]float64) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // NaN and Inf were rejected before
	return string(b)
}

// The Postgres merges. A flush upserts minute rows, passed as parallel
// arrays (codes as JSON text, ” meaning none); hourly rows are built from
// minute rows: from those of a flush when their minute is folded already
// (a late flush), or by FoldHourly from the stored ones of closed minutes.
const (
	rollupsFromArgs = `SELECT app, t, dyno, requests, s2xx, s3xx, s4xx, s5xx, bytes, nullif(codes, '')::jsonb AS codes
	FROM unnest($1::text[], $2::int8[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int8[],
	            $9::int8[], $10::text[]) AS u(app, t, dyno, requests, s2xx, s3xx, s4xx, s5xx, bytes, codes)`
	// A fold reads the minute rows through each app's primary key: every
	// row belongs to an app (see rollupApps), and no index on minute alone
	// costs room in every row.
	rollupsFromMinutes = `SELECT r.app, r.minute AS t, r.dyno, r.requests, r.s2xx, r.s3xx, r.s4xx, r.s5xx, r.bytes, r.codes
	FROM apps a JOIN rollups_minute r ON r.app = a.name AND r.minute >= $1 AND r.minute < $2`
	rollupsConflict = `DO UPDATE SET
	requests = r.requests + excluded.requests,
	s2xx     = r.s2xx + excluded.s2xx,
	s3xx     = r.s3xx + excluded.s3xx,
	s4xx     = r.s4xx + excluded.s4xx,
	s5xx     = r.s5xx + excluded.s5xx,
	bytes    = r.bytes + excluded.bytes,
	codes    = dw_sum_merge(r.codes, excluded.codes)`
	// %s is one of the sources above.
	mergeRollupsPG = `INSERT INTO rollups_minute AS r (app, minute, dyno, requests, s2xx, s3xx, s4xx, s5xx, bytes, codes)
SELECT * FROM (` + rollupsFromArgs + `) m ORDER BY app, t, dyno
ON CONFLICT (app, minute, dyno) ` + rollupsConflict
	// %[1]s is a source, %[2]s a condition on its rows.
	hourlyRollupsPG = `INSERT INTO rollups_hourly AS r (app, hour, dyno, requests, s2xx, s3xx, s4xx, s5xx, bytes, codes)
SELECT app, t / 3600 * 3600, dyno, sum(requests), sum(s2xx), sum(s3xx), sum(s4xx), sum(s5xx), sum(bytes), dw_sum_agg(codes)
FROM (%[1]s) m WHERE %[2]s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
ON CONFLICT (app, hour, dyno) ` + rollupsConflict

	// Histograms travel as int4[] literals.
	latencyFromArgs    = `SELECT app, t, service::int4[] AS service FROM unnest($1::text[], $2::int8[], $3::text[]) AS u(app, t, service)`
	latencyFromMinutes = `SELECT l.app, l.minute AS t, l.service
	FROM apps a JOIN latency_minute l ON l.app = a.name AND l.minute >= $1 AND l.minute < $2`
	mergeLatencyPG = `INSERT INTO latency_minute AS l (app, minute, service)
SELECT * FROM (` + latencyFromArgs + `) m ORDER BY app, t
ON CONFLICT (app, minute) DO UPDATE SET service = dw_hist_merge(l.service, excluded.service)`
	hourlyLatencyPG = `INSERT INTO latency_hourly AS l (app, hour, service)
SELECT app, t / 3600 * 3600, dw_hist_agg(service) FROM (%[1]s) m WHERE %[2]s GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT (app, hour) DO UPDATE SET service = dw_hist_merge(l.service, excluded.service)`

	samplesFromArgs = `SELECT app, kind, source, t, vals::float8[] AS vals
	FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[]) AS u(app, kind, source, t, vals)`
	samplesFromMinutes = `SELECT s.app, s.kind, s.source, s.minute AS t, s.vals
	FROM apps a JOIN samples_minute s ON s.app = a.name AND s.minute >= $1 AND s.minute < $2`
	mergeSamplesPG = `INSERT INTO samples_minute AS s (app, kind, source, minute, vals)
SELECT * FROM (` + samplesFromArgs + `) m ORDER BY app, t, kind, source
ON CONFLICT (app, minute, kind, source) DO UPDATE SET vals = dw_max_merge(s.vals, excluded.vals)`
	hourlySamplesPG = `INSERT INTO samples_hourly AS s (app, kind, source, hour, vals)
SELECT app, kind, source, t / 3600 * 3600, dw_max_agg(vals) FROM (%[1]s) m WHERE %[2]s GROUP BY 1, 2, 3, 4 ORDER BY 1, 4, 2, 3
ON CONFLICT (app, hour, kind, source) DO UPDATE SET vals = dw_max_merge(s.vals, excluded.vals)`

	// lateMinute keeps the rows of a flush whose minute FoldHourly has
	// folded already; the flush holds rollup_fold FOR SHARE (see mergeBatch).
	lateMinute = `t < (SELECT folded_to FROM rollup_fold)`
)

// mergePG sends the upserts as one pgx batch: one round trip, run by the
// server as one implicit transaction. Every dyno writes the tables in the
// same order and the rows of each in key order.
func (s *Store) mergePG(ctx context.Context, m *mergeSet) error {
	ids, err := s.sampleIDs(ctx, m.sMinute)
	if err != nil {
		return err
	}
	return s.pg.SendBatch(ctx, mergeBatch(m, ids)).Close()
}

// FoldHourly adds the minute rows of the minutes before upTo that are not
// folded yet to the hourly rows, on Postgres (SQLite writes both at once,
// being one writer). Web dynos call it every minute or so for the minutes
// that closed a minute ago: an hourly row is then updated once a minute,
// not by every flush. It is exactly once, whichever dynos fold at once, and
// whatever flushes run meanwhile: a fold holds rollup_fold FOR UPDATE, and
// a flush FOR SHARE until it commits, writing the hourly rows of a minute
// folded already itself.
func (s *Store) FoldHourly(ctx context.Context, upTo time.Time) error {
	if s.pg == nil {
		return nil
	}
	to := upTo.Unix() / 60 * 60
	err := retryPG(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pg, func(tx pgx.Tx) error {
			var from int64
			if err := tx.QueryRow(ctx, `SELECT folded_to FROM rollup_fold FOR UPDATE`).Scan(&from); err != nil {
				return err
			}
			if to <= from {
				return nil
			}
			b := &pgx.Batch{}
			b.Queue(fmt.Sprintf(hourlyRollupsPG, rollupsFromMinutes, "true"), from, to)
			b.Queue(fmt.Sprintf(hourlyLatencyPG, latencyFromMinutes, "true"), from, to)
			b.Queue(fmt.Sprintf(hourlySamplesPG, samplesFromMinutes, "true"), from, to)
			b.Queue(`UPDATE rollup_fold SET folded_to = $1`, to)
			return tx.SendBatch(ctx, b).Close()
		})
	})
	if err != nil {
		return fmt.Errorf("store: fold hourly rollups up to %v: %w", upTo, err)
	}
	return nil
}

// isRefused reports whether Postgres refused the data itself (a data
// exception, or a program limit such as an index row over 2.7 kB), which
// writing it again cannot cure.
func isRefused(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "54"))
}

// mergeIsolatedPG writes m as mergePG does, but in one transaction with a
// savepoint per app and, within an app whose rows are refused, per row. Rows
// Postgres refuses are dropped, counted in DroppedRows and logged; all the
// others are stored, and still atomically, so a retry after a lost
// connection counts nothing twice.
func (s *Store) mergeIsolatedPG(ctx context.Context, m *mergeSet) error {
	ids, err := s.sampleIDs(ctx, m.sMinute)
	if err != nil {
		return err
	}
	var dropped []string
	var first error
	err = pgx.BeginFunc(ctx, s.pg, func(tx pgx.Tx) error {
		dropped, first = dropped[:0], nil
		for _, app := range m.split(false) {
			err := savepoint(ctx, tx, mergeBatch(&app, ids))
			if !isRefused(err) {
				if err != nil {
					return err
				}
				continue
			}
			for _, row := range app.split(true) {
				err := savepoint(ctx, tx, mergeBatch(&row, ids))
				switch {
				case isRefused(err):
					dropped = append(dropped, row.describe())
					first = cmp.Or(first, err)
				case err != nil:
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(dropped) == 0 {
		return nil
	}
	s.droppedRows.Add(int64(len(dropped)))
	s.log.Error("rollup rows refused by the database were dropped; the others are stored",
		"dropped", len(dropped), "rows", dropped[:min(len(dropped), 5)], "err", first)
	return nil
}

// savepoint sends b inside a savepoint of tx, rolled back if b fails.
func savepoint(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	if err := sp.SendBatch(ctx, b).Close(); err != nil {
		if rerr := sp.Rollback(ctx); rerr != nil {
			return rerr
		}
		return err
	}
	return sp.Commit(ctx)
}

// split cuts m into one set per app or, with perRow, one set per row, each
// still sorted by key.
func (m *mergeSet) split(perRow bool) []mergeSet {
	var out []mergeSet
	idx := map[string]int{}
	at := func(app string) *mergeSet {
		i, ok := idx[app]
		if perRow || !ok {
			out = append(out, mergeSet{apps: []string{app}})
			i = len(out) - 1
			idx[app] = i
		}
		return &out[i]
	}
	for _, r := range m.minute {
		set := at(r.App)
		set.minute = append(set.minute, r)
	}
	for _, r := range m.hourly {
		set := at(r.App)
		set.hourly = append(set.hourly, r)
	}
	for _, r := range m.latMinute {
		set := at(r.App)
		set.latMinute = append(set.latMinute, r)
	}
	for _, r := range m.latHourly {
		set := at(r.App)
		set.latHourly = append(set.latHourly, r)
	}
	for _, r := range m.sMinute {
		set := at(r.App)
		set.sMinute = append(set.sMinute, r)
	}
	for _, r := range m.sHourly {
		set := at(r.App)
		set.sHourly = append(set.sHourly, r)
	}
	return out
}

// describe names the one row of a set made by split(true), for the log.
func (m *mergeSet) describe() string {
	clip := func(s string) string { return s[:min(len(s), 40)] }
	for _, rs := range [][]Rollup{m.minute, m.hourly} {
		if len(rs) > 0 {
			return fmt.Sprintf("rollup app=%s dyno=%q", rs[0].App, clip(rs[0].Dyno))
		}
	}
	for _, ss := range [][]SampleRollup{m.sMinute, m.sHourly} {
		if len(ss) > 0 {
			return fmt.Sprintf("samples app=%s kind=%s source=%q", ss[0].App, ss[0].Kind, clip(ss[0].Source))
		}
	}
	return "latency app=" + m.apps[0]
}

// DroppedRows is the number of rollup rows the database refused since Open
// (see MergeRollups); they are logged and left out, never retried.
func (s *Store) DroppedRows() int64 { return s.droppedRows.Load() }

// mergeBatch queues the upserts of m: its minute rows, and the hourly rows
// of those whose minute is folded already.
func mergeBatch(m *mergeSet, ids map[string]int32) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(`SELECT FROM rollup_fold FOR SHARE`)
	b.Queue(`INSERT INTO apps (name, first_seen_us) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING`,
		m.apps, time.Now().UnixMicro())
	// Each list on its own: a set made by split holds one row of one list.
	if len(m.minute) > 0 {
		args := rollupArgs(m.minute)
		b.Queue(mergeRollupsPG, args...)
		b.Queue(fmt.Sprintf(hourlyRollupsPG, rollupsFromArgs, lateMinute), args...)
	}
	if len(m.latMinute) > 0 {
		args := latencyArgs(m.latMinute)
		b.Queue(mergeLatencyPG, args...)
		b.Queue(fmt.Sprintf(hourlyLatencyPG, latencyFromArgs, lateMinute), args...)
	}
	if len(m.sMinute) > 0 {
		args := sampleArgs(m.sMinute, ids)
		b.Queue(mergeSamplesPG, args...)
		b.Queue(fmt.Sprintf(hourlySamplesPG, samplesFromArgs, lateMinute), args...)
	}
	return b
}

func rollupArgs(rs []Rollup) []any {
	n := len(rs)
	app, dyno, codes := make([]string, n), make([]string, n), make([]string, n)
	t, req, s2, s3, s4, s5, by := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i := range rs {
		r := &rs[i]
		app[i], t[i], dyno[i] = r.App, r.Minute.Unix(), r.Dyno
		req[i], s2[i], s3[i], s4[i], s5[i], by[i] = r.Requests, r.Status2xx, r.Status3xx, r.Status4xx, r.Status5xx, r.Bytes
		codes[i] = jsonCounts(r.Codes)
	}
	return []any{app, t, dyno, req, s2, s3, s4, s5, by, codes}
}

func latencyArgs(rs []Rollup) []any {
	n := len(rs)
	app, service, t := make([]string, n), make([]string, n), make([]int64, n)
	for i := range rs {
		app[i], t[i], service[i] = rs[i].App, rs[i].Minute.Unix(), rs[i].Service.pgArray()
	}
	return []any{app, t, service}
}

func sampleArgs(ss []SampleRollup, ids map[string]int32) []any {
	n := len(ss)
	app, kind, source, vals := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	t := make([]int64, n)
	for i := range ss {
		s := &ss[i]
		app[i], kind[i], source[i], t[i], vals[i] = s.App, s.Kind, s.Source, s.Minute.Unix(), valuesArray(s.Values, ids)
	}
	return []any{app, kind, source, t, vals}
}

// valuesArray encodes values as the float8[] literal stored in
// samples_*.vals: element i is the value named by sample_names.id i.
func valuesArray(values map[string]float64, ids map[string]int32) string {
	arr := make([]string, 0, len(ids))
	for name, v := range values {
		id := ids[name]
		if id <= 0 {
			continue // not numbered: sample_names is full
		}
		for len(arr) < int(id) {
			arr = append(arr, "NULL")
		}
		arr[id-1] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return "{" + strings.Join(arr, ",") + "}"
}

// maxSampleNames caps sample_names: names come from log lines, and a
// misbehaving source must not grow every row's array without bound. The
// names of Heroku's own samples (parse.HerokuSample) are numbered whatever
// the count, so no one can use up the room of load_avg_1m or hit_rate.
const maxSampleNames = 1000

// maxCustomSamples caps the distinct names other than Heroku's that one app
// may bring in one flush; values of more names are dropped and counted.
const maxCustomSamples = 50

// capCustomSamples drops the values of custom (not Heroku's) sample names
// beyond maxCustomSamples per app from the grouped rows, and counts those of
// the minute rows in DroppedSamples.
func (s *Store) capCustomSamples(minute, hourly []SampleRollup) {
	kept := map[string]map[string]bool{} // app → custom names kept
	var dropped int64
	for pass, rows := range [][]SampleRollup{minute, hourly} {
		for i := range rows {
			r := &rows[i]
			for name := range r.Values {
				if parse.HerokuSample(name) {
					continue
				}
				names := kept[r.App]
				if names == nil {
					names = map[string]bool{}
					kept[r.App] = names
				}
				if names[name] || len(names) < maxCustomSamples {
					names[name] = true
					continue
				}
				delete(r.Values, name)
				if pass == 0 { // the hourly rows hold the same values again
					dropped++
				}
			}
		}
	}
	s.dropSamples(dropped, "over the custom sample names of one app")
}

// dropSamples counts sample values dropped for why, and logs the first
// such drop of the process: later ones are only counted.
func (s *Store) dropSamples(n int64, why string) {
	if n == 0 {
		return
	}
	s.droppedSamples.Add(n)
	if s.droppedLogged.CompareAndSwap(false, true) {
		s.log.Warn("sample values dropped "+why+"; later drops are only counted in dynowatch_store_dropped_samples_total",
			"values", n, "max_custom_names_per_app", maxCustomSamples, "max_names", maxSampleNames)
	}
}

// DroppedSamples is the number of sample values left out since Open: custom
// names over the per-app or overall cap (see MergeRollups).
func (s *Store) DroppedSamples() int64 { return s.droppedSamples.Load() }

// sampleIDs returns the sample_names ids of every value name in ss,
// numbering new names. The ids never change, so they are cached; names that
// could not be numbered are remembered apart, in a set that is emptied when
// it reaches maxSampleNames, so that neither grows with what a source sends.
func (s *Store) sampleIDs(ctx context.Context, ss []SampleRollup) (map[string]int32, error) {
	s.namesMu.Lock()
	defer s.namesMu.Unlock()
	var dropped int64
	for i := range ss {
		for name := range ss[i].Values {
			if _, ok := s.names[name]; ok {
				continue
			}
			if s.refusedNames[name] {
				dropped++
				continue
			}
			id, err := s.numberSampleName(ctx, name)
			if err != nil {
				return nil, err
			}
			if id > 0 {
				s.names[name] = id
				continue
			}
			dropped++
			if len(s.refusedNames) >= maxSampleNames {
				clear(s.refusedNames)
			}
			s.refusedNames[name] = true
		}
	}
	s.dropSamples(dropped, "because sample_names is full")
	return s.names, nil
}

// numberSampleName returns the id of name, numbering it if there is room;
// 0 when there is none.
func (s *Store) numberSampleName(ctx context.Context, name string) (int32, error) {
	limit := maxSampleNames
	if parse.HerokuSample(name) {
		limit = math.MaxInt32
	}
	_, err := s.pg.Exec(ctx, `INSERT INTO sample_names (name) SELECT $1
		WHERE (SELECT count(*) FROM sample_names) < $2 ON CONFLICT DO NOTHING`, name, limit)
	if isRefused(err) {
		return 0, nil // a name Postgres cannot index: never numbered
	}
	if err != nil {
		return 0, err
	}
	var id int32
	err = s.pg.QueryRow(ctx, `SELECT id FROM sample_names WHERE name = $1`, name).Scan(&id)
	if isNoRows(err) {
		return 0, nil
	}
	return id, err
}

// sampleID returns the id of a sample name, or 0 when it has none (no
// value of that name was ever stored).
func (s *Store) sampleID(ctx context.Context, name string) (int32, error) {
	s.namesMu.Lock()
	defer s.namesMu.Unlock()
	if id, ok := s.names[name]; ok {
		return id, nil
	}
	var id int32
	err := s.pg.QueryRow(ctx, `SELECT id FROM sample_names WHERE name = $1`, name).Scan(&id)
	switch {
	case isNoRows(err):
		return 0, nil // not cached: it may be numbered later
	case err != nil:
		return 0, err
	}
	s.names[name] = id
	return id, nil
}

// mergeLite reads, merges and writes each row inside the caller's IMMEDIATE
// transaction, which no other writer can interleave with. Unlike Postgres,
// SQLite refuses no row for its data (any bytes are text, no index row
// limit, no CHECK): an error is the database's, and the flush is retried
// whole (TestRefusedRowDoesNotKeepOtherAppsCountsOut).
func mergeLite(ctx context.Context, q querier, m *mergeSet) error {
	now := time.Now().UnixMicro()
	for _, a := range m.apps {
		if _, err := q.exec(ctx, `INSERT INTO apps (name, first_seen_us) VALUES ($1, $2) ON CONFLICT DO NOTHING`, a, now); err != nil {
			return err
		}
	}
	for _, t := range []struct {
		table, col string
		rs         []Rollup
		merge      func(ctx context.Context, q querier, table, col string, r *Rollup) error
	}{
		{"rollups_minute", "minute", m.minute, mergeRollupLite},
		{"rollups_hourly", "hour", m.hourly, mergeRollupLite},
		{"latency_minute", "minute", m.latMinute, mergeLatencyLite},
		{"latency_hourly", "hour", m.latHourly, mergeLatencyLite},
	} {
		for i := range t.rs {
			if err := t.merge(ctx, q, t.table, t.col, &t.rs[i]); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		table, col string
		ss         []SampleRollup
	}{{"samples_minute", "minute", m.sMinute}, {"samples_hourly", "hour", m.sHourly}} {
		for i := range t.ss {
			if err := mergeSampleLite(ctx, q, t.table, t.col, &t.ss[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func mergeRollupLite(ctx context.Context, q querier, table, col string, r *Rollup) error {
	var old Rollup
	var codes []byte
	err := q.queryRow(ctx, fmt.Sprintf(`SELECT requests, s2xx, s3xx, s4xx, s5xx, bytes, codes
		FROM %s WHERE app = $1 AND %s = $2 AND dyno = $3`, table, col), r.App, r.Minute.Unix(), r.Dyno).
		Scan(&old.Requests, &old.Status2xx, &old.Status3xx, &old.Status4xx, &old.Status5xx, &old.Bytes, &codes)
	switch {
	case isNoRows(err):
	case err != nil:
		return err
	default:
		if err := decodeCodes(&old, codes); err != nil {
			return err
		}
	}
	old.Merge(r)
	var codesArg any
	if c := jsonCounts(old.Codes); c != "" {
		codesArg = c
	}
	_, err = q.exec(ctx, fmt.Sprintf(`INSERT OR REPLACE INTO %s (app, %s, dyno, requests, s2xx, s3xx, s4xx, s5xx, bytes, codes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, table, col),
		r.App, r.Minute.Unix(), r.Dyno, old.Requests, old.Status2xx, old.Status3xx, old.Status4xx, old.Status5xx, old.Bytes, codesArg)
	return err
}

func mergeLatencyLite(ctx context.Context, q querier, table, col string, r *Rollup) error {
	var h Histogram
	var service []byte
	err := q.queryRow(ctx, fmt.Sprintf(`SELECT service FROM %s WHERE app = $1 AND %s = $2`, table, col), r.App, r.Minute.Unix()).
		Scan(&service)
	switch {
	case isNoRows(err):
	case err != nil:
		return err
	default:
		if err := h.setBlob(service); err != nil {
			return err
		}
	}
	h.Merge(&r.Service)
	_, err = q.exec(ctx, fmt.Sprintf(`INSERT OR REPLACE INTO %s (app, %s, service) VALUES ($1, $2, $3)`, table, col),
		r.App, r.Minute.Unix(), h.blob())
	return err
}

func mergeSampleLite(ctx context.Context, q querier, table, col string, s *SampleRollup) error {
	var old SampleRollup
	var vals []byte
	err := q.queryRow(ctx, fmt.Sprintf(`SELECT vals FROM %s WHERE app = $1 AND %s = $2 AND kind = $3 AND source = $4`, table, col),
		s.App, s.Minute.Unix(), s.Kind, s.Source).Scan(&vals)
	switch {
	case isNoRows(err):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(vals, &old.Values); err != nil {
			return fmt.Errorf("stored sample values: %w", err)
		}
	}
	old.Merge(s)
	_, err = q.exec(ctx, fmt.Sprintf(`INSERT OR REPLACE INTO %s (app, kind, source, %s, vals) VALUES ($1, $2, $3, $4, $5)`, table, col),
		s.App, s.Kind, s.Source, s.Minute.Unix(), jsonValues(old.Values))
	return err
}

// decodeCodes sets r.Codes from its stored JSON (jsonb or text).
func decodeCodes(r *Rollup, codes []byte) error {
	r.Codes = nil
	if len(codes) > 0 {
		if err := json.Unmarshal(codes, &r.Codes); err != nil {
			return fmt.Errorf("stored codes: %w", err)
		}
	}
	return nil
}

// decodeService sets h from its stored form: int4[] on Postgres, a blob on
// SQLite.
func decodeService(h *Histogram, service any) error {
	switch v := service.(type) {
	case []int32:
		return h.setInt32s(v)
	case []byte:
		return h.setBlob(v)
	case nil:
		*h = Histogram{}
		return nil
	}
	return fmt.Errorf("%w: %T", errBadHistogram, service)
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/pgtest"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// The conformance suite: every test runs against both backends.

// eachBackend runs fn once per backend with a config of a fresh, empty
// database: a file in t.TempDir(), and a schema of its own on the test
// Postgres server.
func eachBackend(t *testing.T, fn func(t *testing.T, cfg store.Config)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, store.Config{Path: filepath.Join(t.TempDir(), "dynowatch.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, store.Config{DatabaseURL: pgtest.URL(t)})
	})
}

// eachStore runs fn once per backend with a fresh, migrated store.
func eachStore(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	eachBackend(t, func(t *testing.T, cfg store.Config) { fn(t, storetest.MustOpen(t, cfg)) })
}

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)
)

func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, cfg store.Config) {
		// Several dynos boot at once: each opens its own pool and migrates.
		stores := make([]*store.Store, 4)
		for i := range stores {
			stores[i] = storetest.MustOpenUnmigrated(t, cfg)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(stores))
		for i, s := range stores {
			wg.Go(func() { errs[i] = s.Migrate(ctx) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Migrate of dyno %d: %v", i, err)
			}
		}
		// Again, on a migrated database.
		if err := stores[0].Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if err := stores[1].Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if got, want := stores[0].Embedded(), cfg.DatabaseURL == ""; got != want {
			t.Fatalf("Embedded()=%v, want %v", got, want)
		}
		apps, err := stores[2].Apps(ctx)
		if err != nil || len(apps) != 0 {
			t.Fatalf("Apps on a new database = %v, %v; want none", apps, err)
		}
	})
}

func TestOpenValidates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		cfg  store.Config
		want string
	}{
		{"no logger", store.Config{Path: "x.db"}, "Config.Logger"},
		{"no path", store.Config{Logger: discard()}, "Config.Path"},
		{"negative conns", store.Config{Path: "x.db", MaxConns: -1, Logger: discard()}, "Config.MaxConns"},
		{"bad url", store.Config{DatabaseURL: "postgres://u:secret@h:notaport/db", Logger: discard()}, "Config.DatabaseURL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := store.Open(ctx, c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open: %v, want an error naming %s", err, c.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("Open error leaks the password: %v", err)
			}
		})
	}
}

func batch(app, key string, at time.Time, events ...store.Event) *store.Batch {
	return &store.Batch{
		App: app, Key: key, Received: at, Events: events,
		State: store.AppDelta{LastMessage: at, Messages: int64(len(events)) + 10, BadFrames: 1, CountMismatches: 1, L10Dropped: 2},
	}
}

func h12(at time.Time, dyno string) store.Event {
	return store.Event{Time: at, Kind: "router", Code: "H12", Dyno: dyno,
		Line: at.Format(time.RFC3339Nano) + ` heroku[router]: at=error code=H12 desc="Request timeout" dyno=` + dyno}
}

func mustApp(t *testing.T, s *store.Store, name string) store.App {
	t.Helper()
	apps, err := s.Apps(ctx)
	if err != nil {
		t.Fatalf("Apps: %v", err)
	}
	for _, a := range apps {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("Apps has no %s: %v", name, apps)
	return store.App{}
}

func mustEvents(t *testing.T, s *store.Store, q store.EventQuery) []store.Event {
	t.Helper()
	evs, err := s.Events(ctx, q)
	if err != nil {
		t.Fatalf("Events(%+v): %v", q, err)
	}
	return evs
}

func TestWriteBatchDedupe(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		b := batch("shop", "frame:abc", t0, h12(t0, "web.1"), h12(t0.Add(time.Second), "web.2"))
		b.State.DrainToken = "d.1234"
		for i, want := range []bool{false, true, true} {
			dup, err := s.WriteBatch(ctx, b)
			if err != nil {
				t.Fatalf("WriteBatch %d: %v", i, err)
			}
			if dup != want {
				t.Fatalf("WriteBatch %d: duplicate=%v, want %v", i, dup, want)
			}
		}
		if got := len(mustEvents(t, s, store.EventQuery{App: "shop"})); got != 2 {
			t.Fatalf("%d events stored, want 2", got)
		}
		got := mustApp(t, s, "shop")
		want := store.App{Name: "shop", FirstSeen: t0, LastMessage: t0, DrainToken: "d.1234",
			Messages: 12, BadFrames: 1, CountMismatches: 1, L10Dropped: 2}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("app after a duplicate (-want +got):\n%s", diff)
		}

		// The same key for another app is not a duplicate; no key never is.
		for _, b := range []*store.Batch{batch("other", "frame:abc", t0), batch("shop", "", t0), batch("shop", "", t0)} {
			if dup, err := s.WriteBatch(ctx, b); err != nil || dup {
				t.Fatalf("WriteBatch(%s, %q) = %v, %v; want stored", b.App, b.Key, dup, err)
			}
		}
		if got := mustApp(t, s, "shop").Messages; got != 32 {
			t.Fatalf("Messages=%d, want 32", got)
		}
	})
}

func TestWriteBatchesDuplicateInside(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		if _, err := s.WriteBatch(ctx, batch("shop", "frame:1", t0, h12(t0, "web.1"))); err != nil {
			t.Fatal(err)
		}
		later := t0.Add(time.Minute)
		tokened := batch("shop", "frame:3", later, h12(later, "web.3"))
		tokened.State.DrainToken = "d.new"
		bs := []*store.Batch{
			batch("shop", "frame:1", later, h12(later, "web.9")), // stored before
			batch("shop", "frame:2", later, h12(later, "web.2")),
			batch("shop", "frame:2", later, h12(later, "web.9")), // twice in this group
			batch("shop", "", later.Add(-time.Hour)),             // no key; older messages
			tokened,
			batch("blog", "frame:1", later, h12(later, "web.1")), // same key, other app
		}
		dup, err := s.WriteBatches(ctx, bs)
		if err != nil {
			t.Fatalf("WriteBatches: %v", err)
		}
		if diff := cmp.Diff([]bool{true, false, true, false, false, false}, dup); diff != "" {
			t.Fatalf("duplicates (-want +got):\n%s", diff)
		}
		var dynos []string
		for _, e := range mustEvents(t, s, store.EventQuery{App: "shop"}) {
			dynos = append(dynos, e.Dyno)
		}
		if diff := cmp.Diff([]string{"web.3", "web.2", "web.1"}, dynos); diff != "" {
			t.Fatalf("stored events' dynos, newest first (-want +got):\n%s", diff)
		}
		a := mustApp(t, s, "shop")
		if a.Messages != 11+11+10+11 || !a.LastMessage.Equal(later) || a.DrainToken != "d.new" || !a.FirstSeen.Equal(t0) {
			t.Fatalf("app = %+v", a)
		}
		if got := len(mustEvents(t, s, store.EventQuery{App: "blog"})); got != 1 {
			t.Fatalf("blog has %d events, want 1", got)
		}
		if dup, err := s.WriteBatches(ctx, nil); err != nil || len(dup) != 0 {
			t.Fatalf("WriteBatches(nil) = %v, %v", dup, err)
		}
		if _, err := s.WriteBatches(ctx, []*store.Batch{{Key: "k", Received: t0}}); err == nil {
			t.Fatal("WriteBatches of a batch without App succeeded")
		}
	})
}

// Logplex retried a batch to another web dyno while the first was still
// writing it: exactly one of them stores it.
func TestWriteBatchConcurrentRetry(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, cfg store.Config) {
		a := storetest.MustOpen(t, cfg)
		b := storetest.MustOpenUnmigrated(t, cfg)
		const n = 30
		var wg sync.WaitGroup
		stored := make([][2]bool, n)
		errs := make(chan error, 2*n)
		for i := range n {
			for j, s := range []*store.Store{a, b} {
				wg.Go(func() {
					dup, err := s.WriteBatch(ctx, batch("shop", fmt.Sprintf("frame:%d", i), t0, h12(t0, "web.1")))
					if err != nil {
						errs <- err
					}
					stored[i][j] = !dup
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i, st := range stored {
			if st[0] == st[1] {
				t.Fatalf("batch %d stored by both or neither: %v", i, st)
			}
		}
		if got := len(mustEvents(t, a, store.EventQuery{App: "shop", Limit: 1000})); got != n {
			t.Fatalf("%d events, want %d", got, n)
		}
		if got := mustApp(t, a, "shop").Messages; got != n*11 {
			t.Fatalf("Messages=%d, want %d", got, n*11)
		}
	})
}

func rollup(app, dyno string, minute time.Time, service ...int) store.Rollup {
	r := store.Rollup{App: app, Dyno: dyno, Minute: minute, Codes: map[string]int64{}}
	for _, ms := range service {
		r.Requests++
		r.Bytes += 100
		switch {
		case ms >= 30000:
			r.Status5xx++
			r.Codes["H12"]++
		case ms >= 1000:
			r.Status4xx++
		default:
			r.Status2xx++
		}
		r.Service.Observe(ms)
	}
	return r
}

func TestMergeRollupsConcurrent(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, cfg store.Config) {
		// Two web dynos flush the same keys at the same time, many times.
		dynos := []*store.Store{storetest.MustOpen(t, cfg), storetest.MustOpenUnmigrated(t, cfg)}
		const flushes = 20
		var want store.Rollup
		var wantSample float64
		per := make([][]store.Rollup, len(dynos))
		for d := range dynos {
			for f := range flushes {
				ms := []int{5 + f, 50 * (d + 1), 30000, 1500 + f*d}
				rs := []store.Rollup{
					rollup("shop", "web.1", t0, ms...),
					rollup("shop", "web.1", t0.Add(30*time.Second), ms[:1]...), // same minute
					rollup("shop", "web.2", t0.Add(time.Minute), ms...),
					rollup("shop", "", t0.Add(2*time.Hour), 30000),
				}
				per[d] = append(per[d], rs...)
				for i := range rs {
					want.Merge(&rs[i])
				}
				wantSample = max(wantSample, float64(100*d+f))
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, len(dynos))
		for d, s := range dynos {
			wg.Go(func() {
				for f := range flushes {
					sr := []store.SampleRollup{{App: "shop", Kind: "runtime_metrics", Source: "web.1", Minute: t0,
						Values: map[string]float64{"memory_rss_mb": float64(100*d + f), "load_avg_1m": 0.5}}}
					if err := s.MergeRollups(ctx, per[d][4*f:4*f+4], sr); err != nil {
						errs[d] = err
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("MergeRollups: %v", err)
			}
		}
		s := dynos[0]
		for _, c := range []struct {
			name     string
			from, to time.Time
		}{
			{"minutes", t0, t0.Add(3 * time.Hour)},
			{"one minute", t0, t0.Add(time.Minute)},
			// A window starting mid-minute leaves that minute out: 5 minutes
			// of rollups are 5, not 6.
			{"from mid-minute", t0.Add(30 * time.Second), t0.Add(90 * time.Second)},
		} {
			got, err := s.WindowStats(ctx, "shop", c.from, c.to)
			if err != nil {
				t.Fatal(err)
			}
			var w store.Rollup
			for d := range per {
				for _, r := range per[d] {
					if minute := r.Minute.Truncate(time.Minute); !minute.Before(c.from) && minute.Before(c.to) {
						w.Merge(&r)
					}
				}
			}
			wantStats := store.WindowStats{Requests: w.Requests, Status2xx: w.Status2xx, Status4xx: w.Status4xx, Status5xx: w.Status5xx,
				Bytes: w.Bytes, Codes: w.Codes, Service: w.Service}
			if diff := cmp.Diff(wantStats, got, cmp.Comparer(histEqual)); diff != "" {
				t.Fatalf("%s: WindowStats (-want +got):\n%s", c.name, diff)
			}
		}
		// The hourly rollups hold the same totals.
		series, err := s.Series(ctx, store.SeriesQuery{App: "shop", Metric: "requests", From: t0, To: t0.Add(3 * time.Hour), Step: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		var total float64
		for _, p := range series[0].Points {
			total += p.Value
		}
		if total != float64(want.Requests) || len(series[0].Points) != 2 {
			t.Fatalf("hourly requests = %v (sum %v), want 2 hours summing to %d", series, total, want.Requests)
		}
		p99, err := s.Series(ctx, store.SeriesQuery{App: "shop", Metric: "p99", From: t0, To: t0.Add(3 * time.Hour), Step: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p99[0].Points[0].Value, want.Service.Quantile(0.99); got != want {
			t.Fatalf("hourly p99 = %v, want %v", got, want)
		}
		rss, err := s.Series(ctx, store.SeriesQuery{App: "shop", Metric: "memory_rss_mb", From: t0, To: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if want := []store.Series{{Dyno: "web.1", Points: []store.Point{{Time: t0, Value: wantSample}}}}; !cmp.Equal(want, rss) {
			t.Fatalf("memory_rss_mb = %+v, want %+v", rss, want)
		}
	})
}

func quantile(q float64, ms ...int) float64 {
	var h store.Histogram
	for _, v := range ms {
		h.Observe(v)
	}
	return h.Quantile(q)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func histEqual(a, b store.Histogram) bool {
	if a.Count() != b.Count() {
		return false
	}
	for q := 0.0; q <= 1; q += 0.01 {
		x, y := a.Quantile(q), b.Quantile(q)
		if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
			return false
		}
	}
	return true
}

func TestSeries(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		m := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
		rs := []store.Rollup{
			rollup("shop", "web.1", m(0), 10, 20, 30, 30000),
			rollup("shop", "web.2", m(0), 40),
			rollup("shop", "web.1", m(1), 100, 200),
			rollup("shop", "", m(1)),
			rollup("shop", "web.1", m(61), 7), // the next hour
			rollup("blog", "web.1", m(0), 1, 2, 3),
		}
		rs[3].Requests, rs[3].Status5xx, rs[3].Codes = 2, 2, map[string]int64{"H10": 2}
		sr := []store.SampleRollup{
			{App: "shop", Kind: "runtime_metrics", Source: "web.1", Minute: m(0), Values: map[string]float64{"memory_rss_mb": 200, "memory_quota_mb": 512}},
			{App: "shop", Kind: "runtime_metrics", Source: "web.1", Minute: m(1), Values: map[string]float64{"memory_rss_mb": 210}},
			{App: "shop", Kind: "runtime_metrics", Source: "web.2", Minute: m(1), Values: map[string]float64{"memory_rss_mb": 300}},
			{App: "shop", Kind: "postgres_metrics", Source: "DATABASE", Minute: m(0), Values: map[string]float64{"active_connections": 7}},
			{App: "shop", Kind: "postgres_metrics", Source: "DATABASE", Minute: m(1), Values: map[string]float64{"active_connections": 9}},
		}
		if err := s.MergeRollups(ctx, rs, sr); err != nil {
			t.Fatalf("MergeRollups: %v", err)
		}
		single := func(pts ...store.Point) []store.Series { return []store.Series{{Points: pts}} }
		pt := func(i int, v float64) store.Point { return store.Point{Time: m(i), Value: v} }
		for _, c := range []struct {
			metric   string
			from, to time.Time
			step     time.Duration
			want     []store.Series
		}{
			{"requests", m(0), m(2), 0, single(pt(0, 5), pt(1, 4))},
			{"requests", m(0), m(120), 2 * time.Minute, single(pt(0, 9), pt(60, 1))},
			{"requests", m(0), m(120), time.Hour, single(pt(0, 9), pt(60, 1))},
			{"requests", m(0).Add(30 * time.Minute), m(120), 90 * time.Minute, single(pt(0, 9), pt(60, 1))}, // hourly, steps of 1h from 14:00
			{"requests_2xx", m(0), m(2), 0, single(pt(0, 4), pt(1, 2))},
			{"requests_5xx", m(0), m(2), 0, single(pt(0, 1), pt(1, 2))},
			{"5xx_pct", m(0), m(2), 0, single(pt(0, 20), pt(1, 50))},
			{"bytes", m(1), m(2), 0, single(pt(1, 200))},
			{"p50", m(0), m(1), 0, single(pt(0, quantile(0.5, 10, 20, 30, 30000, 40)))},
			{"p99", m(0), m(2), time.Hour, single(pt(0, quantile(0.99, 10, 20, 30, 30000, 40, 100, 200)))},
			{"codes", m(0), m(2), 0, []store.Series{{Code: "H10", Points: []store.Point{pt(1, 2)}}, {Code: "H12", Points: []store.Point{pt(0, 1)}}}},
			{"requests_by_dyno", m(0), m(2), 0, []store.Series{
				{Dyno: "", Points: []store.Point{pt(1, 2)}},
				{Dyno: "web.1", Points: []store.Point{pt(0, 4), pt(1, 2)}},
				{Dyno: "web.2", Points: []store.Point{pt(0, 1)}}}},
			{"memory_rss_mb", m(0), m(2), 0, []store.Series{
				{Dyno: "web.1", Points: []store.Point{pt(0, 200), pt(1, 210)}},
				{Dyno: "web.2", Points: []store.Point{pt(1, 300)}}}},
			{"memory_rss_mb", m(0), m(2), time.Hour, []store.Series{
				{Dyno: "web.1", Points: []store.Point{pt(0, 210)}},
				{Dyno: "web.2", Points: []store.Point{pt(0, 300)}}}},
			{"memory_quota_mb", m(0), m(2), 0, []store.Series{{Dyno: "web.1", Points: []store.Point{pt(0, 512)}}}},
			{"postgres:active_connections", m(0), m(2), 2 * time.Minute, []store.Series{{Dyno: "DATABASE", Points: []store.Point{pt(0, 9)}}}},
			{"redis:hit_rate", m(0), m(2), 0, nil},
			{"requests", m(200), m(300), 0, nil},
		} {
			t.Run(fmt.Sprintf("%s/%v", c.metric, c.step), func(t *testing.T) {
				got, err := s.Series(ctx, store.SeriesQuery{App: "shop", Metric: c.metric, From: c.from, To: c.to, Step: c.step})
				if err != nil {
					t.Fatalf("Series: %v", err)
				}
				if diff := cmp.Diff(c.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("(-want +got):\n%s", diff)
				}
			})
		}
		for _, bad := range []store.SeriesQuery{
			{App: "shop", Metric: "latency", From: m(0), To: m(1)},
			{App: "shop", Metric: "mysql:connections", From: m(0), To: m(1)},
			{App: "shop", Metric: "Memory RSS", From: m(0), To: m(1)},
		} {
			_, err := s.Series(ctx, bad)
			if !errors.Is(err, store.ErrUnknownMetric) || !strings.Contains(err.Error(), "requests_5xx") {
				t.Errorf("Series(%q) = %v, want ErrUnknownMetric listing the metrics", bad.Metric, err)
			}
		}
		for _, bad := range []store.SeriesQuery{
			{App: "shop", Metric: "requests", From: m(1), To: m(1)},
			{App: "", Metric: "requests", From: m(0), To: m(1)},
			{App: "shop", Metric: "requests", From: m(0), To: m(0).AddDate(1, 0, 0)}, // too many minutes
		} {
			if _, err := s.Series(ctx, bad); err == nil {
				t.Errorf("Series(%+v) succeeded", bad)
			}
		}
	})
}

func TestEventsPagingAndFilters(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		var evs []store.Event
		for i := range 25 {
			at := t0.Add(time.Duration(i) * time.Second)
			e := h12(at, fmt.Sprintf("web.%d", i))
			if i%5 == 0 {
				e = store.Event{Time: at, Kind: "dyno_error", Code: "R14", Dyno: "web.1", Line: "R14 \x00line"}
			}
			evs = append(evs, e)
		}
		// Two batches, so ids cross a batch boundary.
		if _, err := s.WriteBatches(ctx, []*store.Batch{batch("shop", "a", t0, evs[:10]...), batch("shop", "b", t0, evs[10:]...)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WriteBatch(ctx, batch("blog", "", t0, h12(t0, "web.1"))); err != nil {
			t.Fatal(err)
		}
		// Page through all of shop's, 7 at a time.
		var got []store.Event
		for before := int64(0); ; {
			page := mustEvents(t, s, store.EventQuery{App: "shop", Before: before, Limit: 7})
			got = append(got, page...)
			if len(page) < 7 {
				break
			}
			before = page[len(page)-1].ID
		}
		if len(got) != 25 {
			t.Fatalf("paged %d events, want 25", len(got))
		}
		for i, e := range got {
			want := evs[24-i]
			want.ID, want.App = e.ID, "shop"
			if want.Line == "R14 \x00line" {
				want.Line = "R14 line" // NUL bytes are dropped: Postgres text cannot hold them
			}
			if diff := cmp.Diff(want, e); diff != "" {
				t.Fatalf("event %d (-want +got):\n%s", i, diff)
			}
			if i > 0 && e.ID >= got[i-1].ID {
				t.Fatalf("events not newest first: id %d after %d", e.ID, got[i-1].ID)
			}
		}
		for _, c := range []struct {
			name string
			q    store.EventQuery
			want int
		}{
			{"kind", store.EventQuery{App: "shop", Kind: "dyno_error"}, 5},
			{"code", store.EventQuery{App: "shop", Code: "H12"}, 20},
			{"kind and code", store.EventQuery{App: "shop", Kind: "router", Code: "R14"}, 0},
			{"since", store.EventQuery{App: "shop", Since: t0.Add(20 * time.Second)}, 5},
			{"since and code", store.EventQuery{App: "shop", Since: t0.Add(20 * time.Second), Code: "R14"}, 1},
			{"before", store.EventQuery{App: "shop", Before: got[20].ID}, 4},
			{"limit", store.EventQuery{App: "shop", Limit: 3}, 3},
			{"other app", store.EventQuery{App: "blog"}, 1},
			{"unknown app", store.EventQuery{App: "nope"}, 0},
		} {
			if n := len(mustEvents(t, s, c.q)); n != c.want {
				t.Errorf("%s: %d events, want %d", c.name, n, c.want)
			}
		}
		for _, bad := range []store.EventQuery{{}, {App: "shop", Limit: -1}, {App: "shop", Limit: store.MaxEventLimit + 1}} {
			if _, err := s.Events(ctx, bad); err == nil {
				t.Errorf("Events(%+v) succeeded", bad)
			}
		}
	})
}

func TestDeleteApp(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		for _, app := range []string{"shop", "blog"} {
			if _, err := s.WriteBatch(ctx, batch(app, "k", t0, h12(t0, "web.1"))); err != nil {
				t.Fatal(err)
			}
			err := s.MergeRollups(ctx, []store.Rollup{rollup(app, "web.1", t0, 5)},
				[]store.SampleRollup{{App: app, Kind: "runtime_metrics", Source: "web.1", Minute: t0, Values: map[string]float64{"load_avg_1m": 1}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteApp(ctx, "shop"); err != nil {
			t.Fatalf("DeleteApp: %v", err)
		}
		if err := s.DeleteApp(ctx, "shop"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("DeleteApp of a deleted app = %v, want ErrNotFound", err)
		}
		apps, err := s.Apps(ctx)
		if err != nil || len(apps) != 1 || apps[0].Name != "blog" {
			t.Fatalf("Apps = %v, %v; want blog only", apps, err)
		}
		if n := len(mustEvents(t, s, store.EventQuery{App: "shop"})); n != 0 {
			t.Fatalf("%d events left", n)
		}
		for _, metric := range []string{"requests", "load_avg_1m"} {
			for _, step := range []time.Duration{time.Minute, time.Hour} {
				for app, want := range map[string]int{"shop": 0, "blog": 1} {
					got, err := s.Series(ctx, store.SeriesQuery{App: app, Metric: metric, From: t0, To: t0.Add(time.Hour), Step: step})
					if err != nil || len(got) != want {
						t.Fatalf("%s %s/%v after delete: %v, %v; want %d series", app, metric, step, got, err, want)
					}
				}
			}
		}
		// Its dedupe keys are gone too: a drain still attached starts afresh.
		if dup, err := s.WriteBatch(ctx, batch("shop", "k", t0)); err != nil || dup {
			t.Fatalf("WriteBatch after delete = %v, %v", dup, err)
		}
	})
}

func TestPrune(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		const day = 24 * time.Hour
		now := t0
		ret := store.DefaultRetention()
		// Rows at these ages; with 30d/365d retention only the older go.
		for _, age := range []time.Duration{400 * day, 40 * day, 29 * day, time.Hour} {
			at := now.Add(-age)
			if _, err := s.WriteBatch(ctx, batch("shop", fmt.Sprintf("frame:%v", age), at, h12(at, "web.1"), h12(at, "web.2"))); err != nil {
				t.Fatal(err)
			}
			err := s.MergeRollups(ctx, []store.Rollup{rollup("shop", "web.1", at, 5), rollup("shop", "web.2", at, 5)},
				[]store.SampleRollup{{App: "shop", Kind: "runtime_metrics", Source: "web.1", Minute: at, Values: map[string]float64{"load_avg_1m": 1}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		res, err := s.Prune(ctx, now, ret)
		if err != nil {
			t.Fatalf("Prune: %v", err)
		}
		// Minute and Hourly count a latency row per app and time too.
		want := store.PruneResult{Events: 4, Minute: 4 + 2, Samples: 2, Hourly: 2 + 1, HourlySamples: 1, DedupeKeys: 3}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Fatalf("Prune (-want +got):\n%s", diff)
		}
		if n := len(mustEvents(t, s, store.EventQuery{App: "shop"})); n != 4 {
			t.Fatalf("%d events left, want 4", n)
		}
		again, err := s.Prune(ctx, now, ret)
		if err != nil || again != (store.PruneResult{}) {
			t.Fatalf("second Prune = %+v, %v; want nothing deleted", again, err)
		}
		// Zero keeps forever.
		keep := store.Retention{DedupeKeys: store.MinDedupeRetention}
		if res, err := s.Prune(ctx, now.Add(1000*day), keep); err != nil || res.Events+res.Minute+res.Hourly != 0 || res.DedupeKeys != 1 {
			t.Fatalf("Prune keeping all = %+v, %v", res, err)
		}
		for _, bad := range []store.Retention{{Events: -1, DedupeKeys: time.Hour}, {DedupeKeys: time.Minute}} {
			if _, err := s.Prune(ctx, now, bad); err == nil {
				t.Errorf("Prune(%+v) succeeded", bad)
			}
		}
	})
}

// More rows than one chunk: Prune loops until all old rows are gone.
func TestPruneChunks(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		old := t0.Add(-100 * 24 * time.Hour)
		evs := make([]store.Event, 6_000) // more than one chunk of 5,000
		for i := range evs {
			evs[i] = h12(old.Add(time.Duration(i)*time.Millisecond), "web.1")
		}
		if _, err := s.WriteBatch(ctx, batch("shop", "", old, evs...)); err != nil {
			t.Fatal(err)
		}
		res, err := s.Prune(ctx, t0, store.DefaultRetention())
		if err != nil || res.Events != int64(len(evs)) {
			t.Fatalf("Prune = %+v, %v; want %d events", res, err, len(evs))
		}
	})
}

func TestLeases(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		const ttl = time.Minute
		steps := []struct {
			name, holder string
			at           time.Duration
			want         bool
		}{
			{"free: a takes it", "a", 0, true},
			{"held: b cannot", "b", 10 * time.Second, false},
			{"a extends", "a", 50 * time.Second, true},
			{"still held after the first ttl", "b", 70 * time.Second, false},
			{"expired: b takes over", "b", 111 * time.Second, true},
			{"a lost it", "a", 112 * time.Second, false},
		}
		for _, st := range steps {
			got, err := s.AcquireLease(ctx, "prune", st.holder, ttl, t0.Add(st.at))
			if err != nil || got != st.want {
				t.Fatalf("%s: AcquireLease = %v, %v; want %v", st.name, got, err, st.want)
			}
		}
		if ok, _ := s.AcquireLease(ctx, "other", "a", ttl, t0); !ok {
			t.Fatal("another lease name is independent")
		}
		if _, err := s.AcquireLease(ctx, "prune", "a", 0, t0); err == nil {
			t.Fatal("AcquireLease with ttl 0 succeeded")
		}

		// Many holders at once: exactly one wins.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		for i := range 8 {
			wg.Go(func() {
				h := fmt.Sprintf("worker.%d", i)
				ok, err := s.AcquireLease(ctx, "race", h, ttl, t0)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					winners = append(winners, h)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("winners = %v, want exactly one", winners)
		}
	})
}

func TestSettingsFirstWriterWins(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, cfg store.Config) {
		a := storetest.MustOpen(t, cfg)
		b := storetest.MustOpenUnmigrated(t, cfg)
		if _, ok, err := a.Setting(ctx, "drain_secret"); err != nil || ok {
			t.Fatalf("Setting before any = %v, %v", ok, err)
		}
		var wg sync.WaitGroup
		got := make([]string, 10)
		for i := range got {
			s := []*store.Store{a, b}[i%2]
			wg.Go(func() {
				v, err := s.SetSettingIfAbsent(ctx, "drain_secret", fmt.Sprintf("secret-%d", i))
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			})
		}
		wg.Wait()
		slices.Sort(got)
		if len(slices.Compact(got)) != 1 || !strings.HasPrefix(got[0], "secret-") {
			t.Fatalf("racing writers saw %v, want one value", got)
		}
		v, ok, err := b.Setting(ctx, "drain_secret")
		if err != nil || !ok || v != got[0] {
			t.Fatalf("Setting = %q, %v, %v; want %q", v, ok, err, got[0])
		}
		if v, _ := a.SetSettingIfAbsent(ctx, "drain_secret", "later"); v != got[0] {
			t.Fatalf("a later writer replaced the value with %q", v)
		}
	})
}

// The embedded store keeps its data across a restart.
func TestEmbeddedSurvivesReopen(t *testing.T) {
	t.Parallel()
	cfg := store.Config{Path: filepath.Join(t.TempDir(), "dw.db")}
	s := storetest.MustOpen(t, cfg)
	if _, err := s.SetSettingIfAbsent(ctx, "drain_secret", "abc"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = storetest.MustOpen(t, cfg)
	if v, ok, err := s.Setting(ctx, "drain_secret"); v != "abc" || !ok || err != nil {
		t.Fatalf("after reopen: %q, %v, %v", v, ok, err)
	}
}

// TestLongDedupeKeyFailsNoOtherBatch: a hand-made Frame-Id of any length or
// bytes is stored (hashed) and deduplicated, and the other apps' batches of
// the same group commit are stored with it.
func TestLongDedupeKeyFailsNoOtherBatch(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		long := make([]byte, 3000) // incompressible: Postgres compresses index entries
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range long {
			long[i] = "0123456789ABCDEF"[rng.IntN(16)]
		}
		for _, key := range []string{"frame:" + string(long), "frame:\xff\xfe", "frame:a\x00b"} {
			attacker := batch("attacker", key, t0, h12(t0, "web.1"))
			victim := batch("victim", "frame:"+fmt.Sprint(len(key)), t0, h12(t0, "web.1"))
			dup, err := s.WriteBatches(ctx, []*store.Batch{attacker, victim})
			if err != nil || dup[0] || dup[1] {
				t.Fatalf("key of %d bytes: WriteBatches = %v, %v; want both stored", len(key), dup, err)
			}
			if dup, err := s.WriteBatch(ctx, attacker); err != nil || !dup {
				t.Fatalf("key of %d bytes: retry = %v, %v; want a duplicate", len(key), dup, err)
			}
		}
		if got := len(mustEvents(t, s, store.EventQuery{App: "victim"})); got != 3 {
			t.Fatalf("%d victim events stored, want 3", got)
		}
	})
}

// incompressible returns n bytes Postgres cannot compress below its index
// row limit.
func incompressible(n int) string {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[rng.IntN(36)]
	}
	return string(b)
}

// seriesSum returns the sum of the points of every series of a metric.
func seriesSum(t *testing.T, s *store.Store, app, metric string) float64 {
	t.Helper()
	ss, err := s.Series(ctx, store.SeriesQuery{App: app, Metric: metric, From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatalf("Series(%s, %s): %v", app, metric, err)
	}
	var sum float64
	for _, sr := range ss {
		for _, p := range sr.Points {
			sum += p.Value
		}
	}
	return sum
}

// TestRefusedRowDoesNotKeepOtherAppsCountsOut: a rollup row the database
// refuses is dropped and counted; the other rows of the flush, of its own
// app and of the others, are stored, and the flush succeeds instead of
// being retried forever. Postgres refuses a dyno name over its index row
// limit, a NUL byte and bytes that are not UTF-8. SQLite refuses none of
// them: its text is any bytes, it has no index row limit (a row may reach
// SQLITE_MAX_LENGTH, 1 GB) and these tables have no CHECK; its errors are
// the database's own (a full disk, a lost file), the same for every row.
// So its flush needs no per-row isolation, and stores every row.
func TestRefusedRowDoesNotKeepOtherAppsCountsOut(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, dyno string }{
		{"over the index row limit", incompressible(3000)},
		{"a NUL byte", "web.1\x00"},
		{"not UTF-8", "web.\xff"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, s *store.Store) {
				rs := []store.Rollup{
					rollup("attacker", tt.dyno, t0, 10),
					rollup("attacker", "web.1", t0, 10, 20),
					rollup("victim", "web.1", t0, 10, 20, 30),
				}
				sr := []store.SampleRollup{
					{App: "attacker", Kind: "runtime_metrics", Source: tt.dyno, Minute: t0, Values: map[string]float64{"load_avg_1m": 9}},
					{App: "victim", Kind: "runtime_metrics", Source: "web.1", Minute: t0, Values: map[string]float64{"load_avg_1m": 0.5}},
				}
				if err := s.MergeRollups(ctx, rs, sr); err != nil {
					t.Fatalf("MergeRollups: %v", err)
				}
				if got := seriesSum(t, s, "victim", "requests"); got != 3 {
					t.Errorf("victim requests = %v, want 3", got)
				}
				if got := seriesSum(t, s, "victim", "load_avg_1m"); got != 0.5 {
					t.Errorf("victim load_avg_1m = %v, want 0.5", got)
				}
				if got := seriesSum(t, s, "attacker", "requests"); s.Embedded() && got != 3 || !s.Embedded() && got != 2 {
					t.Errorf("attacker requests = %v, want 2 (3 on SQLite, which stores any name)", got)
				}
				if got, want := s.DroppedRows(), map[bool]int64{true: 0, false: 2}[s.Embedded()]; got != want {
					t.Errorf("DroppedRows = %d, want %d (the rollup and sample rows, each with its hourly row)", got, want)
				}
			})
		})
	}
}

// TestHerokuSamplesAreStoredAfterCustomNamesFillTheTable: custom sample
// names, however many apps send them, can use up neither the room of
// Heroku's own metrics nor more than 50 names per app and flush; what is
// left out is counted.
func TestHerokuSamplesAreStoredAfterCustomNamesFillTheTable(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		var flood []store.SampleRollup
		for a := range 25 {
			r := store.SampleRollup{App: fmt.Sprintf("flood-%d", a), Kind: "redis_metrics", Source: "REDIS", Minute: t0, Values: map[string]float64{}}
			for n := range 60 {
				r.Values[fmt.Sprintf("x%d_%d", a, n)] = 1
			}
			flood = append(flood, r)
		}
		if err := s.MergeRollups(ctx, nil, flood); err != nil {
			t.Fatalf("MergeRollups(flood): %v", err)
		}
		// 10 names over the per-app cap for each app; on Postgres, 250 more
		// over the 1,000 names sample_names holds.
		if got, want := s.DroppedSamples(), map[bool]int64{true: 250, false: 500}[s.Embedded()]; got != want {
			t.Errorf("DroppedSamples = %d, want %d", got, want)
		}
		victim := []store.SampleRollup{
			{App: "victim", Kind: "runtime_metrics", Source: "web.1", Minute: t0, Values: map[string]float64{"load_avg_1m": 0.25, "memory_rss_mb": 100}},
			{App: "victim", Kind: "redis_metrics", Source: "REDIS", Minute: t0, Values: map[string]float64{"hit_rate": 0.75}},
		}
		if err := s.MergeRollups(ctx, nil, victim); err != nil {
			t.Fatalf("MergeRollups(victim): %v", err)
		}
		for metric, want := range map[string]float64{"load_avg_1m": 0.25, "memory_rss_mb": 100, "redis:hit_rate": 0.75} {
			if got := seriesSum(t, s, "victim", metric); got != want {
				t.Errorf("victim %s = %v, want %v", metric, got, want)
			}
		}
	})
}

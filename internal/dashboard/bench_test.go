package dashboard

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// benchApps and benchDays size the benchmark's store: the issue's "30 days
// of data for 20 apps".
const (
	benchApps = 20
	benchDays = 30
)

// mustFillMonth writes benchDays of minute rollups and metric samples for
// benchApps apps ending at now, through MergeRollups as the web dynos
// write them: one router rollup per app and minute with a daily cycle of
// traffic, runtime metrics of two web dynos, and Postgres and Redis
// metrics. A release and a crash a day, and some R14s, go in as events.
func mustFillMonth(tb testing.TB, st *store.Store, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	// Service-time histograms are built from a few templates: observing
	// every request of 864,000 minutes would take longer than the writes.
	var hists [16]store.Histogram
	for i := range hists {
		for range 300 {
			hists[i].Observe(int(math.Exp(4 + float64(i)/10 + 1.1*r.NormFloat64())))
		}
	}
	end := now.Truncate(time.Minute)
	start := end.Add(-benchDays * 24 * time.Hour)
	for a := range benchApps {
		app := fmt.Sprintf("app-%02d", a)
		base := 50 + r.Float64()*1000 // requests a minute at the daily peak
		for day := start; day.Before(end); day = day.Add(24 * time.Hour) {
			var rs []store.Rollup
			var ss []store.SampleRollup
			for m := day; m.Before(day.Add(24*time.Hour)) && m.Before(end); m = m.Add(time.Minute) {
				hour := float64(m.Hour()) + float64(m.Minute())/60
				n := int64(base * (0.55 + 0.45*math.Sin((hour-9)/24*2*math.Pi)) * (0.9 + 0.2*r.Float64()))
				ro := store.Rollup{App: app, Dyno: "web.1", Minute: m, Requests: n, Bytes: n * 2400,
					Status5xx: int64(float64(n) * 0.004 * r.Float64()), Status4xx: n / 40, Status3xx: n / 20}
				ro.Status2xx = n - ro.Status5xx - ro.Status4xx - ro.Status3xx
				if ro.Status5xx > 0 {
					ro.Codes = map[string]int64{"H12": ro.Status5xx}
				}
				ro.Service = hists[r.IntN(len(hists))]
				rs = append(rs, ro)
				for d := 1; d <= 2; d++ {
					ss = append(ss, store.SampleRollup{App: app, Kind: "runtime_metrics", Source: fmt.Sprintf("web.%d", d), Minute: m,
						Values: map[string]float64{"memory_rss_mb": 300 + 150*r.Float64(), "memory_quota_mb": 512, "load_avg_1m": 2 * r.Float64()}})
				}
				ss = append(ss,
					store.SampleRollup{App: app, Kind: "postgres_metrics", Source: "DATABASE", Minute: m,
						Values: map[string]float64{"active_connections": float64(10 + r.IntN(20)), "db_size_bytes": 1.2e10, "load_avg_1m": r.Float64()}},
					store.SampleRollup{App: app, Kind: "redis_metrics", Source: "REDIS", Minute: m,
						Values: map[string]float64{"memory_redis_bytes": 2e8 + 1e7*r.Float64(), "active_connections": float64(5 + r.IntN(10)), "hit_rate": 0.9 + 0.1*r.Float64()}})
			}
			if err := st.MergeRollups(ctx, rs, ss); err != nil {
				tb.Fatal(err)
			}
			b := &store.Batch{App: app, Received: day, State: store.AppDelta{LastMessage: end.Add(-30 * time.Second), Messages: 1}}
			line := func(at time.Time, s string) string { return at.Format(time.RFC3339) + " " + s }
			rel, crash := day.Add(14*time.Hour), day.Add(3*time.Hour)
			b.Events = append(b.Events,
				store.Event{Time: rel, Kind: "release", Line: line(rel, "app[api]: Release v1 created by dev@example.com")},
				store.Event{Time: crash, Kind: "state_change", Dyno: "web.2", Line: line(crash, "heroku[web.2]: State changed from up to crashed")})
			for i := range 20 {
				at := day.Add(time.Duration(i) * 71 * time.Minute)
				b.Events = append(b.Events, store.Event{Time: at, Kind: "dyno_error", Code: "R14", Dyno: "web.1", Line: line(at, "heroku[web.1]: Error R14 (Memory quota exceeded)")})
			}
			if _, err := st.WriteBatches(ctx, []*store.Batch{b}); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// mustFillChecks writes benchDays of runs of three checks, one every two
// minutes, with a failure now and then, and alert episodes: a firing one
// per app and 100 resolved ones.
func mustFillChecks(tb testing.TB, st *store.Store, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	for _, name := range []string{"api", "redis-queue", "db"} {
		for at := now.Add(-benchDays * 24 * time.Hour); at.Before(now); at = at.Add(2 * time.Minute) {
			c := checks.Result{Check: name, App: "app-01", Kind: "http", Time: at, OK: r.IntN(500) != 0,
				Latency: time.Duration(40+r.IntN(200)) * time.Millisecond, Worker: "worker.1"}
			if !c.OK {
				c.Error = "GET https://app-01.example.com/health: 503 Service Unavailable"
			}
			if err := st.RecordCheck(ctx, c); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for i := range 100 + benchApps {
		app := fmt.Sprintf("app-%02d", i%benchApps)
		at := now.Add(-time.Duration(100+benchApps-i) * 5 * time.Hour)
		a := &alert.State{Key: fmt.Sprintf("h12|%s|%d", app, i), Rule: "h12", App: app, Code: "H12", Severity: alert.Critical, Phase: alert.PhaseResolved,
			Summary: "requests time out", StartedAt: at, FiredAt: at, ResolvedAt: at.Add(20 * time.Minute),
			Evidence: []string{`at=error code=H12 desc="Request timeout" method=GET path="/reports" dyno=web.1 service=30000ms status=503`}}
		if i >= 100 {
			a.Phase, a.ResolvedAt = alert.PhaseFiring, time.Time{}
		}
		if ok, err := st.SaveAlert(ctx, a, 0, nil); err != nil || !ok {
			tb.Fatal(ok, err)
		}
	}
}

// BenchmarkPages measures the server time of the pages over 30 days of data
// for 20 apps in the embedded store:
//
//	go test -run '^$' -bench Pages -benchtime 20x ./dashboard/
func BenchmarkPages(b *testing.B) {
	now := time.Now().UTC()
	st := storetest.MustOpenEmbedded(b)
	began := time.Now()
	mustFillMonth(b, st, now)
	mustFillChecks(b, st, now)
	b.Logf("filled %d apps × %d days in %v", benchApps, benchDays, time.Since(began).Round(time.Millisecond))
	mux := http.NewServeMux()
	if err := Register(mux, Options{Store: st, Rules: alert.DefaultRules(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Auth: func(h http.Handler) http.Handler { return h }, DrainURL: "https://dw.example.com/drain/APP"}); err != nil {
		b.Fatal(err)
	}
	app := fmt.Sprintf("/apps/app-%02d", benchApps/3)
	for _, path := range []string{"/", app + "?range=30d", app + "?range=7d", app + "?range=24h", app + "?range=1h", "/checks", "/alerts"} {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
				if w.Code != 200 {
					b.Fatalf("%s: %d %s", path, w.Code, w.Body)
				}
			}
		})
	}
}

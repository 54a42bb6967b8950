package dashboard

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/duration"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// mustServe registers the dashboard over st with the password "pw" and
// returns a function that GETs a path with it, and the mux itself.
func mustServe(t *testing.T, st Store, now time.Time) (get func(path string) (int, string), mux *http.ServeMux) {
	t.Helper()
	mux = http.NewServeMux()
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, p, _ := r.BasicAuth(); p != "pw" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	if err := Register(mux, Options{Store: st, Rules: alert.DefaultRules(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: auth,
		DrainURL: "https://dynowatch:s3cret@dw.example.com/drain/APP", TelemetryURL: "https://dw.example.com/otlp/APP", TelemetryHeaders: `{"Authorization":"Bearer s3cret"}`, Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	return func(path string) (int, string) {
		req := httptest.NewRequest("GET", path, nil)
		req.SetBasicAuth("", "pw")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}, mux
}

func TestAppPage(t *testing.T) {
	now := time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)
	st := storetest.MustOpenEmbedded(t)
	mustSeedShop(t, st, now)
	get, _ := mustServe(t, st, now)

	code, page := get("/apps/shop") // 1h by default
	if code != 200 {
		t.Fatalf("app page: %d\n%s", code, page)
	}
	for _, want := range []string{
		`<h1>shop</h1>`, `<a href="?range=1h" class="on">1h</a>`, `<a href="?range=30d">30d</a>`,
		`Requests by status class <span class="muted">(per 1m)</span>`, `H and R codes <span class="muted">(per 1m)</span>`,
		`data-chart="requests"`, `data-chart="5xx"`, `data-chart="latency"`, `data-chart="codes"`, `data-chart="memory"`, `data-chart="load"`, `data-chart="cpu"`, `data-chart="pg-conn"`,
		`Release v42 created by me@example.com`, `&lt;script&gt;alert(1)&lt;/script&gt;`,
		`/static/uPlot.iife.min.js?v=`, `/static/charts.js?v=`,
		`<h2 id="coverage">Coverage: <span class="coverage full">full</span></h2>`, `✓ router lines present (since 2024-03-15 12:25:00 UTC)`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("app page lacks %s", want)
		}
	}
	for _, unwanted := range []string{`data-chart="redis-mem"`, `<script>alert(1)`} {
		if strings.Contains(page, unwanted) {
			t.Errorf("app page has %s", unwanted)
		}
	}
	// The chart data is JSON the script can parse.
	m := regexp.MustCompile(`(?s)<script type="application/json" id="chart-data">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no chart data")
	}
	var data struct {
		Charts []struct {
			ID     string
			Labels []string
			Dashed []bool
			Data   [][]*float64
		}
		Markers []marker
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &data); err != nil {
		t.Fatalf("chart data: %v\n%s", err, m[1])
	}
	charts := map[string][]string{}
	for _, c := range data.Charts {
		charts[c.ID] = c.Labels
		if len(c.Data) != len(c.Labels)+1 || len(c.Data[0]) != 60 {
			t.Errorf("chart %s: %d columns of %d points", c.ID, len(c.Data), len(c.Data[0]))
		}
	}
	for id, want := range map[string]string{"requests": "2xx 3xx 4xx 5xx", "latency": "p50 p95 p99", "codes": "H12 R14", "memory": "web.1 quota", "pg-conn": "DATABASE"} {
		if got := strings.Join(charts[id], " "); got != want {
			t.Errorf("chart %s: series %q, want %q", id, got, want)
		}
	}
	if len(data.Markers) != 2 || data.Markers[0].Kind != "release" || data.Markers[1].Kind != "crash" {
		t.Errorf("markers: %+v", data.Markers)
	}

	if code, _ := get("/apps/shop?range=2y"); code != http.StatusBadRequest {
		t.Errorf("bad range: %d", code)
	}
	if code, _ := get("/apps/nope"); code != http.StatusNotFound {
		t.Errorf("unknown app: %d", code)
	}
	for _, r := range []string{"6h", "24h", "7d", "30d"} {
		if code, page := get("/apps/shop?range=" + r); code != 200 {
			t.Errorf("range %s: %d %s", r, code, page)
		}
	}
}

// mustSeedShop writes five minutes of "shop" before now: requests, H12s,
// runtime and Postgres metrics, a release, a crash and an R14.
func mustSeedShop(t *testing.T, st *store.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	at := now.Add(-10 * time.Minute)
	b := &store.Batch{App: "shop", Received: now, State: store.AppDelta{LastMessage: now.Add(-time.Minute), Messages: 10},
		Events: []store.Event{
			{Time: at, Kind: "release", Line: "2024-03-15T12:20:00Z app[api]: Release v42 created by me@example.com"},
			{Time: at.Add(time.Minute), Kind: "state_change", Dyno: "web.1", Line: "2024-03-15T12:21:00Z heroku[web.1]: State changed from up to crashed"},
			{Time: at.Add(2 * time.Minute), Kind: "dyno_error", Code: "R14", Dyno: "web.1", Line: "2024-03-15T12:22:00Z heroku[web.1]: Error R14 (Memory quota exceeded) <script>alert(1)</script>"},
		}}
	if _, err := st.WriteBatches(ctx, []*store.Batch{b}); err != nil {
		t.Fatal(err)
	}
	var rs []store.Rollup
	var ss []store.SampleRollup
	for i := range 5 {
		m := now.Add(time.Duration(-5+i) * time.Minute)
		r := store.Rollup{App: "shop", Dyno: "web.1", Minute: m, Requests: 100, Status2xx: 90, Status5xx: 10, Codes: map[string]int64{"H12": 2}}
		for range 100 {
			r.Service.Observe(120)
		}
		rs = append(rs, r)
		ss = append(ss, store.SampleRollup{App: "shop", Kind: "runtime_metrics", Source: "web.1", Minute: m,
			Values: map[string]float64{"memory_rss_mb": 400 + float64(i), "memory_quota_mb": 512, "load_avg_1m": 0.5, "cpu_percent": 37.5}})
	}
	ss = append(ss, store.SampleRollup{App: "shop", Kind: "postgres_metrics", Source: "DATABASE", Minute: now.Add(-time.Minute),
		Values: map[string]float64{"active_connections": 12}})
	if err := st.MergeRollups(ctx, rs, ss); err != nil {
		t.Fatal(err)
	}
}

// TestStepNames: each range's step is said as people write it, "per 5m"
// or "per 1h" (not time.Duration's "1h0m0s").
func TestStepNames(t *testing.T) {
	want := []string{"1m", "2m", "5m", "1h", "3h"}
	for i, rg := range ranges {
		if got := duration.Format(rg.Step); got != want[i] {
			t.Errorf("range %s: step %q, want %q", rg.Name, got, want[i])
		}
	}
}

// TestAppPageForecastAndVerdict: the memory chart draws a leaking dyno's
// forecast on to its quota, past now, and the releases table says what a
// release did.
func TestAppPageForecastAndVerdict(t *testing.T) {
	now := time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)
	ctx := context.Background()
	st := storetest.MustOpenEmbedded(t)
	start, rel := now.Add(-70*time.Minute), now.Add(-40*time.Minute)
	b := &store.Batch{App: "shop", Received: now, State: store.AppDelta{LastMessage: now, Messages: 10},
		Events: []store.Event{
			{Time: start, Kind: "state_change", Dyno: "web.2", Line: start.Format(time.RFC3339) + " heroku[web.2]: State changed from starting to up"},
			{Time: rel, Kind: "release", Dyno: "api", Line: rel.Format(time.RFC3339) + " app[api]: Release v42 created by user kim@example.com"},
		}}
	if _, err := st.WriteBatches(ctx, []*store.Batch{b}); err != nil {
		t.Fatal(err)
	}
	var rs []store.Rollup
	var ss []store.SampleRollup
	for m := start.Add(time.Minute); m.Before(now); m = m.Add(time.Minute) {
		failed := int64(4)
		if !m.Before(rel) {
			failed = 16
		}
		r := store.Rollup{App: "shop", Dyno: "web.1", Minute: m, Requests: 200, Status2xx: 200 - failed, Status5xx: failed}
		r.Service.Observe(120)
		rs = append(rs, r)
		ss = append(ss, store.SampleRollup{App: "shop", Kind: "runtime_metrics", Source: "web.2", Minute: m,
			Values: map[string]float64{"memory_rss_mb": 300 + 120*m.Sub(start).Hours(), "memory_quota_mb": 512}})
	}
	if err := st.MergeRollups(ctx, rs, ss); err != nil {
		t.Fatal(err)
	}
	get, _ := mustServe(t, st, now)
	code, page := get("/apps/shop")
	if code != 200 {
		t.Fatalf("app page: %d", code)
	}
	for _, want := range []string{`<span class="verdict worse">worse</span>`, `5xx 2.0% → 8.0%`, `roll back: heroku rollback v41 -a shop`} {
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("app page lacks %s", want)
		}
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="chart-data">(.*?)</script>`).FindStringSubmatch(page)
	var data struct {
		Charts []struct {
			ID     string
			Labels []string
			Data   [][]*float64
			To     int64
		}
	}
	if m == nil || json.Unmarshal([]byte(html.UnescapeString(m[1])), &data) != nil {
		t.Fatal("no chart data")
	}
	for _, c := range data.Charts {
		if c.ID != "memory" {
			continue
		}
		// 440 MB now at 120 MB/h: the quota in 36 minutes.
		if strings.Join(c.Labels, " ") != "web.2 quota web.2 forecast" || c.To < now.Add(36*time.Minute).Unix() || c.To > now.Add(38*time.Minute).Unix() {
			t.Errorf("memory chart %v to %v", c.Labels, time.Unix(c.To, 0).UTC())
		}
		f := c.Data[3]
		if last := f[len(f)-1]; last == nil || *last < 511 || *last > 514 {
			t.Errorf("the forecast ends at %v, want the quota", last)
		}
	}
}

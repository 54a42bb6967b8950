package dashboard

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

func TestOverview(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)
	st := storetest.MustOpenEmbedded(t)
	for _, b := range []*store.Batch{
		{App: "shop", Received: now, State: store.AppDelta{LastMessage: now.Add(-time.Minute), Messages: 10}},
		{App: "quiet-app", Received: now, State: store.AppDelta{LastMessage: now.Add(-time.Hour), Messages: 1}},
	} {
		if _, err := st.WriteBatches(ctx, []*store.Batch{b}); err != nil {
			t.Fatal(err)
		}
	}
	r := store.Rollup{App: "shop", Dyno: "web.1", Minute: now.Add(-2 * time.Minute), Requests: 100, Status2xx: 90, Status5xx: 10}
	for i := 0; i < 100; i++ {
		r.Service.Observe(100)
	}
	if err := st.MergeRollups(ctx, []store.Rollup{r}, nil); err != nil {
		t.Fatal(err)
	}
	a := &alert.State{Key: "r14|shop|web.1", Rule: "r14", App: "shop", Severity: alert.Warning, Phase: alert.PhaseFiring, StartedAt: now, FiredAt: now}
	if ok, err := st.SaveAlert(ctx, a, 0, nil); err != nil || !ok {
		t.Fatal(err)
	}
	get, mux := mustServe(t, st, now)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("without the password: %d", w.Code)
	}
	_, page := get("/")

	for _, want := range []string{
		`<td><a href="/apps/shop">shop</a></td>`, `<td class="state alerting">alerting</td>`, `<td>1m ago</td>`, `<td class="num">20</td>`, `<td class="num">10.0</td>`,
		`<td><a href="/apps/quiet-app">quiet-app</a></td>`, `<td class="state silent">silent</td>`,
		`heroku drains:add https://dynowatch:s3cret@dw.example.com/drain/APP -a APP`,
		// shop sends router lines but no metrics; quiet-app nothing but its drain's first batch.
		`<td class="coverage partial"><a href="/apps/shop#coverage"`, `<td class="coverage blind"><a href="/apps/quiet-app#coverage"`,
		// What the browser shows, quotes unescaped, is what the user pastes.
		`heroku telemetry:add https://dw.example.com/otlp/APP --app APP --signals logs,metrics --transport http --headers '{"Authorization":"Bearer s3cret"}'`,
		`dynowatch add APP`,
	} {
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("overview lacks %s", want)
		}
	}
	// The app page says what to turn on, with the command to run.
	_, page = get("/apps/quiet-app")
	for _, want := range []string{
		`<h2 id="coverage">Coverage: <span class="coverage blind">blind</span></h2>`,
		`<code>heroku labs:enable log-runtime-metrics -a quiet-app &amp;&amp; heroku ps:restart -a quiet-app</code>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("quiet-app's page lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(page)
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{12 * time.Second: "12s ago", 3 * time.Minute: "3m ago", 5 * time.Hour: "5h ago", 72 * time.Hour: "2024-03-12"} {
		if got := ago(now, now.Add(-d)); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
	if ago(now, time.Time{}) != "never" {
		t.Error("zero time")
	}
}

func TestStatic(t *testing.T) {
	mux := http.NewServeMux()
	if err := Register(mux, Options{Store: storetest.MustOpenEmbedded(t), Rules: alert.DefaultRules(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Auth: func(http.Handler) http.Handler { return http.NotFoundHandler() }}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, ctype, has string }{
		{"/static/uPlot.iife.min.js", "text/javascript; charset=utf-8", "uPlot"},
		{"/static/uPlot.min.css", "text/css; charset=utf-8", ".uplot"},
		{"/static/uPlot.LICENSE", "text/plain; charset=utf-8", "MIT"},
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", c.path, nil))
		if w.Code != 200 || w.Header().Get("Content-Type") != c.ctype || !strings.Contains(w.Body.String(), c.has) {
			t.Errorf("%s: %d %q", c.path, w.Code, w.Header().Get("Content-Type"))
		}
		if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") {
			t.Errorf("%s: Cache-Control %q", c.path, cc)
		}
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/static/nope.js", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("unknown file: %d", w.Code)
	}
}

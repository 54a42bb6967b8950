package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
)

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs the app of both roles (`dynowatch all`) on port 0 with an
// embedded store, its config vars env over a few defaults and nothing else,
// and returns its base URL once /healthz answers 200.
func startServer(t testing.TB, env map[string]string) (base string, logs *syncBuffer, stop func() error) {
	t.Helper()
	vars := map[string]string{"PORT": "0", "DYNOWATCH_DB": filepath.Join(t.TempDir(), "e2e.db"), "ROLLUP_FLUSH_INTERVAL": "200ms"}
	maps.Copy(vars, env)
	logs = &syncBuffer{}
	a, stop := startApp(t, envOf(vars), roles{web: true, worker: true}, logs)
	base = a.URL()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, logs, stop
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server not ready; logs:\n%s", logs.String())
	return "", nil, nil
}

// startApp builds the app of roles r from the config vars environ, as run
// does, and runs it, logging to logs; stop ends it (and so does the test's
// cleanup).
func startApp(t testing.TB, environ []string, r roles, logs io.Writer) (a *app, stop func() error) {
	t.Helper()
	cfg, err := config.Load(environ)
	if err != nil {
		t.Fatal(err)
	}
	a, err = newApp(cfg, cfg.Rules, cfg.Checks, newLogger(logs, cfg.OnHeroku()), r)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(25 * time.Second):
				stopErr = fmt.Errorf("app did not stop within 25 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	return a, stop
}

// envOf is vars in os.Environ's form, as run and config.Load take them. The
// tests give each run its config vars this way, never through the process's
// environment, so that they can run in parallel; a var absent from vars is
// unset, one mapped to "" is set and empty.
func envOf(vars map[string]string) []string {
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}

func frame(msg string) string { return fmt.Sprintf("%d %s", len(msg), msg) }

func post(t testing.TB, url, pass, body string, headers map[string]string) int {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/logplex-1")
	req.SetBasicAuth("dynowatch", pass)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func getJSON(t testing.TB, url, pass string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.SetBasicAuth("anyone", pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// TestEndToEnd runs the server, posts real Logplex bodies with retries and
// garbage, and reads the result back through the API.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	base, logs, stop := startServer(t, map[string]string{"DRAIN_SECRET": "s3cret-one,s3cret-two", "DASHBOARD_PASSWORD": "dash-pw"})
	now := time.Now().UTC().Truncate(time.Second)
	ts := func(sec int) string { return now.Add(time.Duration(sec) * time.Second).Format(time.RFC3339) }
	var body strings.Builder
	for i := 0; i < 40; i++ {
		status := 200
		if i%10 == 0 {
			status = 500
		}
		body.WriteString(frame(fmt.Sprintf("<158>1 %s host heroku router - at=info method=GET path=\"/orders?token=abc\" host=shop.example.com request_id=r%d fwd=\"10.1.2.3\" dyno=web.1 connect=1ms service=%dms status=%d bytes=100 protocol=https\n", ts(-30), i, 10+i, status)))
	}
	body.WriteString(frame(fmt.Sprintf("<158>1 %s host heroku router - at=error code=H12 desc=\"Request timeout\" method=GET path=\"/slow?secret=1\" host=shop.example.com request_id=x fwd=\"10.9.9.9\" dyno=web.2 connect=1ms service=30001ms status=503 bytes=0 protocol=https\n", ts(-20))))
	body.WriteString(frame(fmt.Sprintf("<45>1 %s host heroku worker.1 - Error R14 (Memory quota exceeded)\n", ts(-10))))
	body.WriteString(frame(fmt.Sprintf("<45>1 %s host heroku web.1 - source=web.1 dyno=heroku.1.abc sample#memory_rss=400.5MB sample#memory_quota=512.00MB sample#load_avg_1m=0.5\n", ts(-5))))
	body.WriteString("GARBAGE FRAME")
	drainURL := base + "/drain/shop"
	headers := map[string]string{"Logplex-Frame-Id": "F00D", "Logplex-Msg-Count": "44", "Logplex-Drain-Token": "d.e2e"}

	if code := post(t, drainURL, "wrong", body.String(), headers); code != 401 {
		t.Fatalf("wrong secret: %d", code)
	}
	for attempt := 0; attempt < 3; attempt++ { // Logplex retrying the same batch
		if code := post(t, drainURL, "s3cret-two", body.String(), headers); code != 204 {
			t.Fatalf("attempt %d: status %d; logs:\n%s", attempt, code, logs.String())
		}
	}

	var apps struct {
		Apps []struct {
			Name       string `json:"name"`
			DrainToken string `json:"drain_token"`
			Messages   int64  `json:"messages"`
			BadFrames  int64  `json:"bad_frames"`
		} `json:"apps"`
	}
	waitFor(t, func() bool {
		getJSON(t, base+"/api/v1/apps", "dash-pw", &apps)
		return len(apps.Apps) == 1 && apps.Apps[0].Messages > 0
	})
	if a := apps.Apps[0]; a.Name != "shop" || a.DrainToken != "d.e2e" || a.Messages != 43 || a.BadFrames != 1 {
		t.Errorf("app = %+v, want shop with 43 messages (the retries not counted) and 1 bad frame", a)
	}

	var events struct {
		Events []struct {
			Kind, Code, Dyno, Line string
		} `json:"events"`
	}
	getJSON(t, base+"/api/v1/apps/shop/events", "dash-pw", &events)
	if len(events.Events) != 2 || events.Events[0].Code != "R14" || events.Events[1].Code != "H12" {
		t.Fatalf("events = %+v, want R14 then H12", events.Events)
	}
	if l := events.Events[1].Line; strings.Contains(l, "secret=1") || strings.Contains(l, "10.9.9.9") || !strings.Contains(l, `path="/slow"`) {
		t.Errorf("stored router line keeps a query string or client IP: %s", l)
	}

	var series struct {
		Metric string `json:"metric"`
		Series []struct {
			Dyno   string  `json:"dyno"`
			Points [][]any `json:"points"`
		} `json:"series"`
	}
	getJSON(t, base+"/api/v1/apps/shop/series?metric=requests&from=10m", "dash-pw", &series)
	total := 0.0
	for _, s := range series.Series {
		for _, p := range s.Points {
			total += p[1].(float64)
		}
	}
	if total != 41 {
		t.Errorf("requests series sums to %v, want 41: %+v", total, series)
	}
	getJSON(t, base+"/api/v1/apps/shop/series?metric=memory_rss_mb&from=10m", "dash-pw", &series)
	if len(series.Series) != 1 || series.Series[0].Dyno != "web.1" || len(series.Series[0].Points) != 1 || series.Series[0].Points[0][1].(float64) != 400.5 {
		t.Errorf("memory_rss_mb = %+v", series)
	}

	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if !strings.Contains(logs.String(), "msg=stopped") {
		t.Errorf("no clean stop in logs:\n%s", logs.String())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10 s")
}

// TestR14RaisesAnAlert posts an R14 through the drain and finds it firing
// through the API, with its line as evidence.
func TestR14RaisesAnAlert(t *testing.T) {
	t.Parallel()
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw"})
	ts := time.Now().UTC().Format(time.RFC3339)
	if code := post(t, base+"/drain/shop", "s", frame("<45>1 "+ts+" host heroku worker.1 - Error R14 (Memory quota exceeded)\n"), nil); code != 204 {
		t.Fatalf("status %d", code)
	}
	var alerts struct {
		Alerts []struct {
			Key, State, Severity, Code string
			Evidence                   []string
		} `json:"alerts"`
	}
	waitFor(t, func() bool {
		getJSON(t, base+"/api/v1/alerts?state=firing", "pw", &alerts)
		return len(alerts.Alerts) > 0
	})
	a := alerts.Alerts[0]
	if a.Key != (alert.Key{Rule: alert.RuleR14, App: "shop", Dyno: "worker.1"}).String() || a.Code != "R14" || a.Severity != "warning" || len(a.Evidence) != 1 || !strings.Contains(a.Evidence[0], "heroku[worker.1]: Error R14") {
		t.Errorf("alert = %+v; logs:\n%s", a, logs)
	}
}

// TestR14ReachesTheWebhook is the whole way of an alert: an R14 posted to the
// drain, the engine firing it, the worker delivering it to a webhook with its
// delivery id and signature.
func TestR14ReachesTheWebhook(t *testing.T) {
	t.Parallel()
	got := make(chan map[string]any, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte("hook-secret"))
		mac.Write(body)
		if r.Header.Get("X-Dynowatch-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) || r.Header.Get("X-Dynowatch-Delivery") == "" {
			t.Errorf("bad signature or delivery id: %v", r.Header)
		}
		var n map[string]any
		json.Unmarshal(body, &n)
		got <- n
	}))
	defer hook.Close()
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw",
		"ALERT_WEBHOOK_URL": hook.URL + "/dynowatch", "ALERT_WEBHOOK_SECRET": "hook-secret"})
	ts := time.Now().UTC().Format(time.RFC3339)
	if code := post(t, base+"/drain/shop", "s", frame("<45>1 "+ts+" host heroku worker.1 - Error R14 (Memory quota exceeded)\n"), nil); code != 204 {
		t.Fatalf("status %d", code)
	}
	select {
	case n := <-got:
		if n["status"] != "firing" || n["app"] != "shop" || n["code"] != "R14" || n["dyno"] != "worker.1" {
			t.Errorf("webhook got %v", n)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no webhook within 15 s; logs:\n%s", logs)
	}
}

// TestAlertsOfAnAppAreGrouped: an app's first alert (a critical R15) goes
// out at once, those firing within ALERT_GROUP_WAIT after it follow as one
// message.
func TestAlertsOfAnAppAreGrouped(t *testing.T) {
	t.Parallel()
	got := make(chan []any, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n struct{ Alerts []any }
		json.NewDecoder(r.Body).Decode(&n)
		got <- n.Alerts
	}))
	defer hook.Close()
	base, _, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw", "ALERT_WEBHOOK_URL": hook.URL, "ALERT_GROUP_WAIT": "2s"})
	ts := time.Now().UTC().Format(time.RFC3339)
	post(t, base+"/drain/shop", "s", frame("<45>1 "+ts+" host heroku worker.1 - Error R15 (Memory quota vastly exceeded)\n"), nil)
	first := <-got
	post(t, base+"/drain/shop", "s", frame("<45>1 "+ts+" host heroku worker.2 - Error R14 (Memory quota exceeded)\n")+
		frame("<158>1 "+ts+" host heroku router - at=error code=H12 desc=\"Request timeout\" method=GET path=\"/\" dyno=web.1 service=30001ms status=503\n"), nil)
	var second []any
	select {
	case second = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the group never went out")
	}
	if len(first) != 1 || len(second) != 2 {
		t.Fatalf("messages of %d and %d alerts, want 1 then a group of 2", len(first), len(second))
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	base, _, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw", "DASHBOARD_VIEW_PASSWORD": "view-pw"})
	ts := time.Now().UTC().Format(time.RFC3339)
	post(t, base+"/drain/shop", "s", frame("<45>1 "+ts+" host heroku worker.1 - Error R14 (Memory quota exceeded)\n")+"junk", nil)
	post(t, base+"/drain/shop", "wrong", "", nil)
	scrape := func(password string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		if password != "" {
			req.SetBasicAuth("prometheus", password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, pw := range []string{"", "s", "wrong"} { // the drain secret is no dashboard password
		if code, _ := scrape(pw); code != http.StatusUnauthorized {
			t.Fatalf("/metrics with the password %q: %d, want 401", pw, code)
		}
	}
	// The metrics are read-only: the view password reads them as the
	// dashboard password does.
	code, viewed := scrape("view-pw")
	if code != http.StatusOK || !strings.Contains(viewed, "dynowatch_drain_requests_total") {
		t.Fatalf("/metrics with DASHBOARD_VIEW_PASSWORD: %d %.200q, want 200 and the metrics", code, viewed)
	}
	code, body := scrape("pw")
	if code != http.StatusOK {
		t.Fatalf("/metrics with DASHBOARD_PASSWORD: %d", code)
	}
	for _, want := range []string{
		`dynowatch_drain_requests_total{result="ok"} 1`,
		`dynowatch_drain_requests_total{result="unauthorized"} 1`,
		`dynowatch_drain_messages_total{result="parsed"} 1`,
		`dynowatch_drain_messages_total{result="bad"} 1`,
		`dynowatch_store_commit_seconds_count{result="ok"}`,
		`dynowatch_alert_queue_depth`,
		`dynowatch_store_dropped_rows_total 0`,
		`dynowatch_store_dropped_samples_total 0`,
		`dynowatch_alert_observations_folded_total 0`,
		`dynowatch_rollup_folded_total{what="dyno"} 0`,
		`dynowatch_rollup_folded_total{what="sample_name"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestFailingCheckRaisesAnAlert runs `dynowatch all` with a CHECK_ var on a
// failing endpoint: after fail=2 runs the check's alert fires.
func TestFailingCheckRaisesAnAlert(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer down.Close()
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw",
		"CHECK_API": "http " + down.URL + "/health every=1s timeout=500ms fail=2 app=shop"})
	var alerts struct {
		Alerts []struct{ Key, State, Code, Summary string } `json:"alerts"`
	}
	waitFor(t, func() bool {
		getJSON(t, base+"/api/v1/alerts?state=firing", "pw", &alerts)
		return len(alerts.Alerts) > 0
	})
	if a := alerts.Alerts[0]; a.Key != (alert.Key{Rule: alert.RuleCheck, App: "shop", Code: "api"}).String() || a.Code != "api" || !strings.Contains(a.Summary, "500") {
		t.Errorf("alert = %+v; logs:\n%s", a, logs)
	}
	var checks struct {
		Checks []struct {
			Name string
			OK   bool
		} `json:"checks"`
	}
	getJSON(t, base+"/api/v1/checks", "pw", &checks)
	if len(checks.Checks) != 1 || checks.Checks[0].Name != "api" || checks.Checks[0].OK {
		t.Errorf("checks = %+v", checks)
	}
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.SetBasicAuth("prometheus", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `dynowatch_check_runs_total{check="api",result="failed"}`) {
		t.Error("/metrics does not count the check's runs")
	}
}

func TestUnknownPathIs404OnceReady(t *testing.T) {
	t.Parallel()
	base, _, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw"})
	resp, err := http.Get(base + "/no/such/page")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want 404", resp.StatusCode)
	}
}

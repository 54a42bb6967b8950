package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/pgtest"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

func TestRefusesToStartOnHerokuWithoutSecrets(t *testing.T) {
	t.Parallel()
	// DRAIN_SECRET and DASHBOARD_PASSWORD unset.
	env := envOf(map[string]string{"DATABASE_URL": pgtest.URL(t), "DYNO": "web.1", "PORT": "0",
		"DYNOWATCH_DB": filepath.Join(t.TempDir(), "h.db")})
	var out syncBuffer
	err := run(context.Background(), []string{"dynowatch", "web"}, env, strings.NewReader(""), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "config var DRAIN_SECRET is not set") || !strings.Contains(err.Error(), "heroku config:set DRAIN_SECRET=") {
		t.Fatalf("err %v, want one that says how to set DRAIN_SECRET", err)
	}
}

// TestGeneratedSecretSurvivesRestart runs the server twice on one embedded
// store: the drain URL it prints must not change.
func TestGeneratedSecretSurvivesRestart(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "keep.db")
	url := regexp.MustCompile(`drain_url=(\S+)`)
	var urls []string
	for i := 0; i < 2; i++ {
		_, logs, stop := startServer(t, map[string]string{"DYNOWATCH_DB": db})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		m := url.FindStringSubmatch(logs.String())
		if m == nil {
			t.Fatalf("no drain URL logged:\n%s", logs)
		}
		urls = append(urls, regexp.MustCompile(`:\d+/`).ReplaceAllString(m[1], ":PORT/"))
	}
	if urls[0] != urls[1] || !strings.Contains(urls[0], "dynowatch:") {
		t.Errorf("drain URLs %q and %q differ across a restart", urls[0], urls[1])
	}
}

// TestShutdownFlushesRollups posts a batch and stops the server long before
// its flush interval: the requests must be in the store after the restart.
func TestShutdownFlushesRollups(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "flush.db")
	env := map[string]string{"DYNOWATCH_DB": db, "DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw", "ROLLUP_FLUSH_INTERVAL": "1h"}
	base, _, stop := startServer(t, env)
	ts := time.Now().UTC().Format(time.RFC3339)
	body := frame("<158>1 "+ts+" host heroku router - at=info method=GET path=\"/\" host=h dyno=web.1 connect=1ms service=5ms status=200 bytes=10\n") +
		frame("<158>1 "+ts+" host heroku router - at=info method=GET path=\"/\" host=h dyno=web.1 connect=1ms service=7ms status=500 bytes=10\n")
	if code := post(t, base+"/drain/shop", "s", body, nil); code != 204 {
		t.Fatalf("status %d", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	base, _, _ = startServer(t, env)
	var series struct {
		Series []struct {
			Points [][]any `json:"points"`
		} `json:"series"`
	}
	getJSON(t, base+"/api/v1/apps/shop/series?metric=requests_5xx&from=10m", "pw", &series)
	if len(series.Series) != 1 || len(series.Series[0].Points) != 1 || series.Series[0].Points[0][1].(float64) != 1 {
		t.Fatalf("requests_5xx after restart = %+v, want the one 500 flushed at shutdown", series)
	}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "replay.db")
	env := envOf(map[string]string{"DYNOWATCH_DB": db}) // DATABASE_URL and DYNO unset
	for i := 0; i < 2; i++ {                            // the second replay of the same file stores nothing more
		if _, stderr, code := runMain(t, env, "", "replay", "--app", "demo", "testdata/samples.txt"); code != 0 {
			t.Fatalf("replay: exit %d: %s", code, stderr)
		}
	}
	if _, _, code := runMain(t, env, "", "replay", "testdata/samples.txt"); code != 2 {
		t.Errorf("replay without --app: exit %d, want 2", code)
	}
	st := storetest.MustOpen(t, store.Config{Path: db, MaxConns: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	apps, err := st.Apps(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].Name != "demo" || apps[0].Messages != 25 {
		t.Fatalf("apps = %+v, want demo with the file's 25 messages once", apps)
	}
	events, err := st.Events(context.Background(), store.EventQuery{App: "demo", Code: "R14"})
	if err != nil || len(events) != 1 || !strings.Contains(events[0].Line, "heroku[worker.1]: Error R14 (Memory quota exceeded)") {
		t.Fatalf("R14 events = %+v, %v", events, err)
	}
}

// TestBindsPortBeforeTheStoreAnswers starts the web role on a database that
// does not answer: the port must be bound at once, with /healthz saying 503
// (Heroku's R10 comes after 60 s).
func TestBindsPortBeforeTheStoreAnswers(t *testing.T) {
	t.Parallel()
	// DYNO and DYNOWATCH_URL unset.
	env := envOf(map[string]string{"PORT": "0", "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing?sslmode=disable&connect_timeout=1",
		"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw"})
	logs := &syncBuffer{}
	a, _ := startApp(t, env, roles{web: true}, logs) // the port is bound once the app is built
	resp, err := http.Get(a.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/healthz = %d while the store is down, want 503; logs:\n%s", resp.StatusCode, logs)
	}
	resp, err = http.Post(a.URL()+"/drain/shop", "application/logplex-1", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("drain = %d while starting, want 503 so that Logplex retries", resp.StatusCode)
	}
}

func TestAlertTestCommand(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 2 {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer hook.Close()
	// The webhook is the only channel: no DATABASE_URL, DYNO, SENDGRID_API_KEY,
	// SMTP_URL, INFOBIP_API_KEY or INFOBIP_BASE_URL.
	env := envOf(map[string]string{"ALERT_WEBHOOK_URL": hook.URL})
	stdout, _, code := runMain(t, env, "", "alert", "test")
	if code != 0 || !strings.Contains(stdout, "webhook") || !strings.Contains(stdout, "ok") {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	stdout, _, code = runMain(t, env, "", "alert", "test")
	if code != 1 || !strings.Contains(stdout, "FAILED") {
		t.Fatalf("failing channel: exit %d, stdout %q", code, stdout)
	}
	env = envOf(map[string]string{"ALERT_WEBHOOK_URL": ""})
	if _, _, code := runMain(t, env, "", "alert", "test"); code != 1 {
		t.Fatalf("no channel: exit %d, want 1", code)
	}
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	if err := heartbeat(context.Background(), srv.URL+"/ping/secret-uuid"); err != nil {
		t.Fatal(err)
	}
	status = http.StatusNotFound
	err := heartbeat(context.Background(), srv.URL+"/ping/secret-uuid")
	if err == nil || strings.Contains(err.Error(), "secret-uuid") {
		t.Fatalf("err = %v, want an error that does not show the URL's path", err)
	}
}

func TestConfigCommand(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"DRAIN_SECRET": "hunter2-secret", "ALERT_H_CODES_THRESHOLD": "7"} // DATABASE_URL and DYNO unset
	stdout, _, code := runMain(t, envOf(vars), "", "config")
	if code != 0 || strings.Contains(stdout, "hunter2") || !strings.Contains(stdout, "DRAIN_SECRET") || !strings.Contains(stdout, "| `H_CODES` |") || !strings.Contains(stdout, "| 7 (") {
		t.Fatalf("exit %d, output:\n%s", code, stdout)
	}
	vars["ALERT_H_CODE_THRESHOLD"] = "7"
	if _, _, code := runMain(t, envOf(vars), "", "config"); code == 0 {
		t.Fatal("a misspelt ALERT_ var passed")
	}
}

// TestConfigCommandShowsPerAppOverrides: `dynowatch config` shows the
// README's ALERT_H_CODES_THRESHOLD__MY_APP=50, and what it leaves alone.
func TestConfigCommandShowsPerAppOverrides(t *testing.T) {
	t.Parallel()
	// DATABASE_URL and DYNO unset.
	env := envOf(map[string]string{"ALERT_H_CODES_THRESHOLD": "5", "ALERT_H_CODES_THRESHOLD__MY_APP": "50", "ALERT_CHECK_ENABLED__MY_APP": "false"})
	stdout, _, code := runMain(t, env, "", "config")
	for _, want := range []string{
		"| `my-app` | `H_CODES` | 50 (errors of one code within the window) | 5m | — | critical | true |",
		"| `my-app` | `CHECK` | — | — | — | critical | false |",
	} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Fatalf("exit %d, output lacks %q:\n%s", code, want, stdout)
		}
	}
}

// TestBadCheckFailsEveryRole: a bad CHECK_ var must fail the release phase
// (migrate) and the web role, not only the worker later.
func TestBadCheckFailsEveryRole(t *testing.T) {
	t.Parallel()
	// DATABASE_URL and DYNO unset.
	env := envOf(map[string]string{"DYNOWATCH_DB": filepath.Join(t.TempDir(), "c.db"),
		"CHECK_QUEUE": "redis redis://localhost:6379 list=jobs max=lots"})
	for _, cmd := range []string{"migrate", "web", "worker", "config"} {
		var out syncBuffer
		err := run(context.Background(), []string{"dynowatch", cmd}, env, strings.NewReader(""), &out, &out)
		if err == nil || !strings.Contains(err.Error(), "CHECK_QUEUE") {
			t.Errorf("%s: err %v, want one naming CHECK_QUEUE", cmd, err)
		}
	}
}

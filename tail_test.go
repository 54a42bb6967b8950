package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// fakeHeroku is a Platform API, and the log servers behind it. Its apps
// are Cedar apps, except those named in fir. A Cedar app's log session
// streams lines as plain text and stays open, the way a tail session does.
// A Fir app's session streams from another host, as Heroku's do; its nth
// session carries lines[n] as a server-sent event and then ends, as Fir
// streams time out, so following a Fir app takes a new session per line.
type fakeHeroku struct {
	*httptest.Server
	fir map[string]bool

	mu       sync.Mutex
	sessions map[string][]string // each app's log-session request bodies
}

func newFakeHeroku(t *testing.T, fir []string, lines ...string) *fakeHeroku {
	t.Helper()
	f := &fakeHeroku{fir: map[string]bool{}, sessions: map[string][]string{}}
	for _, app := range fir {
		f.fir[app] = true
	}
	api := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if got := r.Header.Get("Accept"); got != "application/vnd.heroku+json; version=3" {
				t.Errorf("%s %s: Accept %q, want the Platform API's version=3", r.Method, r.URL.Path, got)
			}
			w.Header().Set("Content-Type", "application/json")
			if r.Header.Get("Authorization") != "Bearer test-key" {
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"id":"unauthorized","message":"Invalid credentials provided."}`)
				return
			}
			h(w, r)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apps/{app}", api(func(w http.ResponseWriter, r *http.Request) {
		gen, genID := "cedar", "b1c2d3e4-0000-4000-8000-0000000000c1"
		if f.fir[r.PathValue("app")] {
			gen, genID = "fir", "b1c2d3e4-0000-4000-8000-0000000000f1"
		}
		fmt.Fprintf(w, `{"id":"8d76ca49-b876-41af-8ace-915d300804a6","name":%q,"generation":{"id":%q,"name":%q}}`, r.PathValue("app"), genID, gen)
	}))
	firLogs := http.NewServeMux()
	firServer := httptest.NewServer(firLogs)
	t.Cleanup(firServer.Close)
	mux.HandleFunc("POST /apps/{app}/log-sessions", api(func(w http.ResponseWriter, r *http.Request) {
		app := r.PathValue("app")
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		n := len(f.sessions[app])
		f.sessions[app] = append(f.sessions[app], string(body))
		f.mu.Unlock()
		host := f.URL
		if f.fir[app] {
			host = firServer.URL
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"id": "01234567-89ab-cdef-0123-456789abcdef", "logplex_url": fmt.Sprintf("%s/streams/%s/%d?token=s3kr3t", host, app, n)})
	}))
	mux.HandleFunc("GET /streams/{app}/{n}", func(w http.ResponseWriter, r *http.Request) {
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done() // a tail session stays open
	})
	firLogs.HandleFunc("GET /streams/{app}/{n}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		if n, _ := strconv.Atoi(r.PathValue("n")); n < len(lines) {
			fmt.Fprintf(w, "id: %d\ndata: %s\n\n", n, lines[n])
		}
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// sessionsOf returns app's log-session request bodies so far.
func (f *fakeHeroku) sessionsOf(app string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sessions[app]...)
}

func TestTailCommand(t *testing.T) {
	t.Parallel()
	ts := time.Now().UTC().Format(time.RFC3339)
	api := newFakeHeroku(t, nil, ts+" heroku[worker.1]: Error R14 (Memory quota exceeded)", ts+" app[web.1]: hello")
	// DATABASE_URL, DYNO and TAIL_APPS unset.
	env := envOf(map[string]string{"HEROKU_API_URL": api.URL, "HEROKU_API_KEY": "test-key", "DYNOWATCH_DB": filepath.Join(t.TempDir(), "tail.db")})
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dynowatch", "tail", "--app", "shop"}, env, strings.NewReader(""), out, errOut)
	}()
	waitFor(t, func() bool { return strings.Count(out.String(), "\n") >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("tail: %v; stderr:\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.Contains(lines[0], `"kind":"dyno_error","code":"R14"`) || !strings.Contains(lines[1], `"message":"hello"`) {
		t.Errorf("output:\n%s", out)
	}
}

// TestTailAppsFollowsEveryListedApp runs `dynowatch all` with TAIL_APPS
// written the way people write lists, with a space after the comma and a
// trailing comma (the space used to be kept, so the second app was never
// found): the worker follows every app through a log session, and their
// R14s fire alerts as drained ones would.
func TestTailAppsFollowsEveryListedApp(t *testing.T) {
	t.Parallel()
	ts := time.Now().UTC().Format(time.RFC3339)
	api := newFakeHeroku(t, nil, ts+" heroku[worker.1]: Error R14 (Memory quota exceeded)")
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw",
		"HEROKU_API_URL": api.URL, "HEROKU_API_KEY": "test-key", "TAIL_APPS": "shop, cart,"})
	var alerts struct {
		Alerts []struct{ App, Key string } `json:"alerts"`
	}
	apps := map[string]bool{}
	waitFor(t, func() bool {
		getJSON(t, base+"/api/v1/alerts?state=firing", "pw", &alerts)
		for _, a := range alerts.Alerts {
			apps[a.App] = a.Key == (alert.Key{Rule: alert.RuleR14, App: a.App, Dyno: "worker.1"}).String()
		}
		return apps["shop"] && apps["cart"]
	})
	if len(apps) != 2 {
		t.Errorf("alerts of apps %v, want the R14 of worker.1 of shop and cart; logs:\n%s", apps, logs)
	}
}

// readmePullMode matches the README's pull-mode config:set and tail
// commands.
var (
	readmePullModeSet  = regexp.MustCompile(`\n    heroku config:set (HEROKU_API_KEY=\S+ TAIL_APPS=\S+) -a <your-dynowatch>\n`)
	readmePullModeTail = regexp.MustCompile("`dynowatch tail --app ([a-z-]+)`")
)

// TestREADMEPullModeFir runs the README's pull-mode example as a user
// writes it, for a Cedar app and a Fir app: the worker follows both, each
// asked for as its generation wants, and keeps following the Fir app
// across new sessions when its stream ends, as Fir streams do; then the
// README's `dynowatch tail` does the same for the Fir app from a terminal.
func TestREADMEPullModeFir(t *testing.T) {
	t.Parallel()
	set := readmePullModeSet.FindStringSubmatch(readme(t))
	tail := readmePullModeTail.FindStringSubmatch(readme(t))
	if set == nil || tail == nil {
		t.Fatalf("README.md's Pull mode section no longer shows `heroku config:set HEROKU_API_KEY=<token> TAIL_APPS=…` and `dynowatch tail --app …`; this test runs them")
	}
	vars := map[string]string{}
	for _, kv := range strings.Fields(set[1]) {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = strings.ReplaceAll(v, "<token>", "test-key") // the key the user made
	}
	if vars["TAIL_APPS"] != "my-app,my-fir-app" || tail[1] != "my-fir-app" {
		t.Fatalf("README's TAIL_APPS=%s and `dynowatch tail --app %s`, want a Cedar app my-app and a Fir app my-fir-app, which the fake knows", vars["TAIL_APPS"], tail[1])
	}
	ts := time.Now().UTC().Format(time.RFC3339)
	lines := []string{
		ts + " heroku[web-1234abcde-123ab]: Error R14 (Memory quota exceeded)",
		ts + " heroku[web-1234abcde-123ab]: Error R15 (Memory quota vastly exceeded)",
	}
	api := newFakeHeroku(t, []string{"my-fir-app"}, lines...)

	vars["HEROKU_API_URL"], vars["DRAIN_SECRET"], vars["DASHBOARD_PASSWORD"] = api.URL, "s", "pw"
	base, logs, _ := startServer(t, vars)
	codes := func(app string) string {
		var events struct {
			Events []struct{ Code string } `json:"events"`
		}
		getJSON(t, base+"/api/v1/apps/"+app+"/events?kind=dyno_error", "pw", &events)
		var c []string
		for _, e := range events.Events {
			c = append(c, e.Code)
		}
		slices.Sort(c)
		return strings.Join(c, ",")
	}
	// The Fir app's R15 comes through its second session.
	waitFor(t, func() bool { return codes("my-app") == "R14,R15" && codes("my-fir-app") == "R14,R15" })
	cedar, fir := api.sessionsOf("my-app"), api.sessionsOf("my-fir-app")
	if len(cedar) != 1 || cedar[0] != `{"tail":true}` {
		t.Errorf("my-app's log-session requests: %q, want one, {\"tail\":true}", cedar)
	}
	if len(fir) < 2 || slices.ContainsFunc(fir, func(b string) bool { return b != "{}" }) {
		t.Errorf("my-fir-app's log-session requests: %q, want one per stream, each {} (no lines: Fir has no history)", fir)
	}
	if strings.Contains(logs.String(), "s3kr3t") {
		t.Errorf("the logs show a session URL's token:\n%s", logs)
	}

	// dynowatch tail, with the same key, on a Heroku whose Fir app's log
	// starts over.
	api = newFakeHeroku(t, []string{"my-fir-app"}, lines...)
	env := envOf(map[string]string{"HEROKU_API_URL": api.URL, "HEROKU_API_KEY": vars["HEROKU_API_KEY"], "DYNOWATCH_DB": filepath.Join(t.TempDir(), "tail.db")})
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dynowatch", "tail", "--app", tail[1]}, env, strings.NewReader(""), out, errOut)
	}()
	waitFor(t, func() bool { return strings.Count(out.String(), "\n") >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("tail: %v; stderr:\n%s", err, errOut)
	}
	printed := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(printed) != 2 || !strings.Contains(printed[0], `"code":"R14"`) || !strings.Contains(printed[1], `"code":"R15"`) {
		t.Errorf("dynowatch tail --app %s printed\n%s\nwant its R14, then from the next session its R15", tail[1], out)
	}
}

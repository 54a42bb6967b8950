package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// fakeHeroku is a Platform API of Cedar apps whose log sessions stream
// lines, the way Heroku's do, then end.
func fakeHeroku(t *testing.T, lines ...string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apps/{app}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer test-key" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"id":"8d76ca49-b876-41af-8ace-915d300804a6","name":%q,"generation":{"id":"b1c2d3e4-0000-4000-8000-0000000000c1","name":"cedar"}}`, r.PathValue("app"))
	})
	mux.HandleFunc("POST /apps/{app}/log-sessions", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer test-key" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"id": "1", "logplex_url": srv.URL + "/stream/" + r.PathValue("app") + "?srv=1"})
	})
	mux.HandleFunc("/stream/{app}", func(w http.ResponseWriter, r *http.Request) {
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done() // a tail session stays open
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestTailCommand(t *testing.T) {
	t.Parallel()
	ts := time.Now().UTC().Format(time.RFC3339)
	api := fakeHeroku(t, ts+" heroku[worker.1]: Error R14 (Memory quota exceeded)", ts+" app[web.1]: hello")
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
	api := fakeHeroku(t, ts+" heroku[worker.1]: Error R14 (Memory quota exceeded)")
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

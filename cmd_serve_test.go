package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/api"
	"github.com/dynowatch/dynowatch/internal/auth"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// TestRemovedCheckIsNotShownDown: after `heroku config:unset CHECK_GONE`,
// the API (and the dashboard, which reads the same) lists the checks still
// configured, not the removed one as down; its results stay stored.
func TestRemovedCheckIsNotShownDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.MustOpenEmbedded(t)
	now := time.Now()
	for _, name := range []string{"api", "gone"} {
		if err := st.RecordCheck(ctx, checks.Result{Check: name, Kind: "http", Time: now, OK: name == "api", Error: "HTTP 503"}); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load([]string{`CHECK_API=http https://myapp.herokuapp.com/health every=30s timeout=5s status=200`})
	if err != nil {
		t.Fatal(err)
	}
	configured := cfg.Checks
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine, err := alert.NewEngine(alert.EngineOptions{Store: st, Rules: alert.DefaultRules(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	if err := api.Register(mux, api.Options{Store: configuredChecks(st, configured), Alerts: engine, Rules: alert.DefaultRules(), Guard: auth.NewDashboard([]string{"pw"}, nil, "dynowatch"),
		Logger: log}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/v1/checks", nil)
	req.SetBasicAuth("ops", "pw")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"api"`) || strings.Contains(w.Body.String(), `"gone"`) {
		t.Errorf("GET /api/v1/checks: %d %s; want api listed and gone not", w.Code, w.Body)
	}
	if res, err := st.CheckResults(ctx, "gone", now.Add(-time.Minute), 10); err != nil || len(res) != 1 {
		t.Errorf("the removed check's results: %d, %v; want them kept", len(res), err)
	}
}

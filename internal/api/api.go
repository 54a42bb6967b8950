// Package api serves dynowatch's JSON API under /api/v1: the monitored apps,
// their events and their metric series, for the dashboard and for scripts.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/auth"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/duration"
	"github.com/dynowatch/dynowatch/internal/store"
)

// Store is what the API reads.
type Store interface {
	Apps(ctx context.Context) ([]store.App, error)
	Events(ctx context.Context, q store.EventQuery) ([]store.Event, error)
	Series(ctx context.Context, q store.SeriesQuery) ([]store.Series, error)
	DeleteApp(ctx context.Context, app string) error
	Alerts(ctx context.Context, q store.AlertQuery) ([]alert.State, error)
	CreateSilence(ctx context.Context, s *alert.Silence) error
	ActiveSilences(ctx context.Context, now time.Time) ([]alert.Silence, error)
	DeleteSilence(ctx context.Context, id int64) (alert.Silence, error)
	AddAudit(ctx context.Context, e *store.AuditEntry) error
	Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error)
	LatestChecks(ctx context.Context) ([]checks.Result, error)
	CheckUptime(ctx context.Context, name string, from, to time.Time) (store.Uptime, error)
	DynoMemory(ctx context.Context, app string, now time.Time) ([]alert.DynoMemory, error)
	Coverage(ctx context.Context, app string, now time.Time) (alert.CoverageFacts, error)
	alert.ReleaseFigures
}

// Alerts is what the API asks of the alert engine.
type Alerts interface {
	// RetireApp ends the app's active alerts, resolving those firing, before
	// the app is forgotten.
	RetireApp(ctx context.Context, app string) error
	// Ack records who acknowledged the alert key's firing episode, and why.
	Ack(ctx context.Context, key, by, reason string) (alert.State, error)
}

// Options configures the API.
type Options struct {
	Store  Store
	Alerts Alerts
	Rules  *alert.Rules    // what memory forecasts and releases are judged by
	Guard  *auth.Dashboard // DASHBOARD_PASSWORD acts, DASHBOARD_VIEW_PASSWORD reads
	Logger *slog.Logger
	Now    func() time.Time // optional
}

// Register mounts the API's routes on mux, behind basic auth: what reads
// behind either password, what changes something behind the one that acts.
func Register(mux *http.ServeMux, o Options) error {
	switch {
	case o.Store == nil:
		return errors.New("api: Options.Store is required")
	case o.Alerts == nil:
		return errors.New("api: Options.Alerts is required")
	case o.Guard == nil:
		return errors.New("api: Options.Guard is required")
	case o.Rules == nil:
		return errors.New("api: Options.Rules is required")
	case o.Logger == nil:
		return errors.New("api: Options.Logger is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &server{Options: o}
	read := func(h http.HandlerFunc) http.Handler { return o.Guard.View(h) }
	act := func(h http.HandlerFunc) http.Handler { return o.Guard.Act(h) }
	mux.Handle("GET /api/v1/apps", read(s.handleApps))
	mux.Handle("GET /api/v1/apps/{app}/events", read(s.handleEvents))
	mux.Handle("GET /api/v1/apps/{app}/series", read(s.handleSeries))
	mux.Handle("GET /api/v1/apps/{app}/dynos", read(s.handleDynos))
	mux.Handle("GET /api/v1/apps/{app}/releases", read(s.handleReleases))
	mux.Handle("GET /api/v1/apps/{app}/coverage", read(s.handleCoverage))
	mux.Handle("DELETE /api/v1/apps/{app}", act(s.handleDeleteApp))
	mux.Handle("GET /api/v1/alerts", read(s.handleAlerts))
	mux.Handle("POST /api/v1/alerts/{key}/ack", act(s.handleAck))
	mux.Handle("GET /api/v1/checks", read(s.handleChecks))
	mux.Handle("GET /api/v1/silences", read(s.handleSilences))
	mux.Handle("POST /api/v1/silences", act(s.handleCreateSilence))
	mux.Handle("DELETE /api/v1/silences/{id}", act(s.handleDeleteSilence))
	mux.Handle("GET /api/v1/audit", read(s.handleAudit))
	return nil
}

type server struct {
	Options
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// page reads the paging parameters of a list: limit (1 to 1000, default
// 100) and before, the "next" of the previous page.
func page(r *http.Request) (limit int, before int64, err error) {
	limit = 100
	if v := r.FormValue("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return 0, 0, badRequest("limit", v, "a number from 1 to 1000", err)
		}
	}
	if v := r.FormValue("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			return 0, 0, badRequest("before", v, "the next value of a previous page", err)
		}
	}
	return limit, before, nil
}

// parseTime reads an RFC 3339 time, or a duration back from now ("1h", "7d").
func parseTime(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	d, err := duration.Parse(v)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(-d), nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

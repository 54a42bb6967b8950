// Package api serves dynowatch's JSON API under /api/v1: the monitored apps,
// their events and their metric series, for the dashboard and for scripts.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/dynowatch/dynowatch/alert"
	"github.com/dynowatch/dynowatch/auth"
	"github.com/dynowatch/dynowatch/checks"
	"github.com/dynowatch/dynowatch/duration"
	"github.com/dynowatch/dynowatch/heroku"
	"github.com/dynowatch/dynowatch/store"
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
	DeleteSilence(ctx context.Context, id int64) error
	LatestChecks(ctx context.Context) ([]checks.Result, error)
	CheckUptime(ctx context.Context, name string, from, to time.Time) (store.Uptime, error)
}

// Alerts is what the API asks of the alert engine.
type Alerts interface {
	// RetireApp ends the app's active alerts, resolving those firing, before
	// the app is forgotten.
	RetireApp(ctx context.Context, app string) error
}

// Options configures the API.
type Options struct {
	Store     Store
	Alerts    Alerts
	Passwords []string // DASHBOARD_PASSWORD; any user name
	Logger    *slog.Logger
	Now       func() time.Time // optional
}

// Register mounts the API's routes on mux, behind basic auth.
func Register(mux *http.ServeMux, o Options) error {
	switch {
	case o.Store == nil:
		return errors.New("api: Options.Store is required")
	case o.Alerts == nil:
		return errors.New("api: Options.Alerts is required")
	case len(o.Passwords) == 0:
		return errors.New("api: Options.Passwords is empty")
	case o.Logger == nil:
		return errors.New("api: Options.Logger is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &server{Options: o}
	guard := auth.Basic(o.Passwords, "dynowatch")
	mux.Handle("GET /api/v1/apps", guard(http.HandlerFunc(s.handleApps)))
	mux.Handle("GET /api/v1/apps/{app}/events", guard(http.HandlerFunc(s.handleEvents)))
	mux.Handle("GET /api/v1/apps/{app}/series", guard(http.HandlerFunc(s.handleSeries)))
	mux.Handle("DELETE /api/v1/apps/{app}", guard(http.HandlerFunc(s.handleDeleteApp)))
	mux.Handle("GET /api/v1/alerts", guard(http.HandlerFunc(s.handleAlerts)))
	mux.Handle("GET /api/v1/checks", guard(http.HandlerFunc(s.handleChecks)))
	mux.Handle("GET /api/v1/silences", guard(http.HandlerFunc(s.handleSilences)))
	mux.Handle("POST /api/v1/silences", guard(http.HandlerFunc(s.handleCreateSilence)))
	mux.Handle("DELETE /api/v1/silences/{id}", guard(http.HandlerFunc(s.handleDeleteSilence)))
	return nil
}

type server struct {
	Options
}

// app is an app in the API's JSON.
type app struct {
	Name            string     `json:"name"`
	FirstSeen       time.Time  `json:"first_seen"`
	LastMessage     *time.Time `json:"last_message,omitempty"`
	DrainToken      string     `json:"drain_token,omitempty"`
	Messages        int64      `json:"messages"`
	BadFrames       int64      `json:"bad_frames"`
	CountMismatches int64      `json:"count_mismatches"`
	L10Dropped      int64      `json:"l10_dropped"`
}

// handleApps handles "GET /api/v1/apps".
func (s *server) handleApps(w http.ResponseWriter, r *http.Request) {
	apps, err := s.Store.Apps(r.Context())
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	out := make([]app, 0, len(apps))
	for _, a := range apps {
		j := app{Name: a.Name, FirstSeen: a.FirstSeen.UTC(), DrainToken: a.DrainToken, Messages: a.Messages,
			BadFrames: a.BadFrames, CountMismatches: a.CountMismatches, L10Dropped: a.L10Dropped}
		if !a.LastMessage.IsZero() {
			t := a.LastMessage.UTC()
			j.LastMessage = &t
		}
		out = append(out, j)
	}
	writeJSON(w, map[string]any{"apps": out})
}

type event struct {
	ID   int64     `json:"id"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	Code string    `json:"code,omitempty"`
	Dyno string    `json:"dyno,omitempty"`
	Line string    `json:"line"`
}

// handleEvents handles "GET /api/v1/apps/{app}/events?since=&kind=&code=&limit=&before=".
// Events come newest first; "next" is the before= of the following page.
func (s *server) handleEvents(w http.ResponseWriter, r *http.Request) {
	q := store.EventQuery{App: r.PathValue("app"), Kind: r.FormValue("kind"), Code: r.FormValue("code")}
	var err error
	if v := r.FormValue("since"); v != "" {
		if q.Since, err = parseTime(v, s.Now()); err != nil {
			writeError(w, r, s.Logger, badRequest("since", v, "an RFC 3339 time or a duration back from now, like 2024-03-15T12:00:00Z or 1h", err))
			return
		}
	}
	if q.Limit, q.Before, err = page(r); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	events, err := s.Store.Events(r.Context(), q)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	out := make([]event, 0, len(events))
	for _, e := range events {
		out = append(out, event{ID: e.ID, Time: e.Time.UTC(), Kind: e.Kind, Code: e.Code, Dyno: e.Dyno, Line: e.Line})
	}
	resp := map[string]any{"events": out}
	if len(events) == q.Limit {
		resp["next"] = strconv.FormatInt(events[len(events)-1].ID, 10)
	}
	writeJSON(w, resp)
}

// handleSeries handles "GET /api/v1/apps/{app}/series?metric=&from=&to=&step=".
func (s *server) handleSeries(w http.ResponseWriter, r *http.Request) {
	now := s.Now()
	q := store.SeriesQuery{App: r.PathValue("app"), Metric: r.FormValue("metric"), To: now}
	if q.Metric == "" {
		writeError(w, r, s.Logger, badRequest("metric", "", "a metric name such as requests or p95 (see the README)", nil))
		return
	}
	var err error
	if v := r.FormValue("to"); v != "" {
		if q.To, err = parseTime(v, now); err != nil {
			writeError(w, r, s.Logger, badRequest("to", v, "an RFC 3339 time", err))
			return
		}
	}
	q.From = q.To.Add(-time.Hour)
	if v := r.FormValue("from"); v != "" {
		if q.From, err = parseTime(v, now); err != nil {
			writeError(w, r, s.Logger, badRequest("from", v, "an RFC 3339 time or a duration back from now, like 24h", err))
			return
		}
	}
	if !q.From.Before(q.To) {
		writeError(w, r, s.Logger, badRequest("from", r.FormValue("from"), "a time before to", nil))
		return
	}
	q.Step = defaultStep(q.To.Sub(q.From))
	if v := r.FormValue("step"); v != "" {
		if q.Step, err = duration.Parse(v); err != nil || q.Step < time.Minute {
			writeError(w, r, s.Logger, badRequest("step", v, "a duration of at least 1m, like 5m or 1h", err))
			return
		}
	}
	series, err := s.Store.Series(r.Context(), q)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	type jsonSeries struct {
		Dyno   string  `json:"dyno"`
		Code   string  `json:"code,omitempty"`
		Points [][]any `json:"points"`
	}
	out := make([]jsonSeries, 0, len(series))
	for _, sr := range series {
		js := jsonSeries{Dyno: sr.Dyno, Code: sr.Code, Points: make([][]any, 0, len(sr.Points))}
		for _, p := range sr.Points {
			js.Points = append(js.Points, []any{p.Time.UTC().Format(time.RFC3339), p.Value})
		}
		out = append(out, js)
	}
	writeJSON(w, map[string]any{"metric": q.Metric, "step": duration.Format(q.Step), "series": out})
}

// defaultStep keeps a chart near 60 to 360 points.
func defaultStep(span time.Duration) time.Duration {
	switch {
	case span <= 6*time.Hour:
		return time.Minute
	case span <= 24*time.Hour:
		return 5 * time.Minute
	case span <= 7*24*time.Hour:
		return time.Hour
	}
	return 6 * time.Hour
}

// handleDeleteApp handles "DELETE /api/v1/apps/{app}": forget an app and its
// data, after `heroku drains:remove`. Its firing alerts resolve first, so
// that whoever heard them fire hears them end; the store keeps those
// notifications until they are sent.
func (s *server) handleDeleteApp(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	if err := s.Alerts.RetireApp(r.Context(), app); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if err := s.Store.DeleteApp(r.Context(), app); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type alertJSON struct {
	ID          int64          `json:"id"`
	Key         string         `json:"key"`
	Rule        alert.RuleName `json:"rule"`
	App         string         `json:"app"`
	Dyno        string         `json:"dyno,omitempty"`
	Code        string         `json:"code,omitempty"`
	Severity    alert.Severity `json:"severity"`
	Phase       alert.Phase    `json:"state"`
	Summary     string         `json:"summary"`
	Evidence    []string       `json:"evidence"`
	StartedAt   time.Time      `json:"started_at"`
	FiredAt     *time.Time     `json:"fired_at,omitempty"`
	ResolvedAt  *time.Time     `json:"resolved_at,omitempty"`
	LastEventAt *time.Time     `json:"last_event_at,omitempty"`
	Notified    bool           `json:"notified"`
	Flapping    bool           `json:"flapping"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// handleAlerts handles "GET /api/v1/alerts?state=&app=&limit=&before=":
// alert episodes, current and past, newest first.
func (s *server) handleAlerts(w http.ResponseWriter, r *http.Request) {
	q := store.AlertQuery{App: r.FormValue("app")}
	var err error
	if v := r.FormValue("state"); v != "" {
		if q.Phase, err = alert.ParsePhase(v); err != nil {
			writeError(w, r, s.Logger, badRequest("state", v, "pending, firing or resolved", nil))
			return
		}
	}
	if q.Limit, q.Before, err = page(r); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	alerts, err := s.Store.Alerts(r.Context(), q)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	out := make([]alertJSON, 0, len(alerts))
	for _, a := range alerts {
		out = append(out, alertJSON{ID: a.ID, Key: a.Key, Rule: a.Rule, App: a.App, Dyno: a.Dyno, Code: a.Code, Severity: a.Severity,
			Phase: a.Phase, Summary: a.Summary, Evidence: a.Evidence, StartedAt: a.StartedAt.UTC(), FiredAt: optTime(a.FiredAt),
			ResolvedAt: optTime(a.ResolvedAt), LastEventAt: optTime(a.LastEventAt), Notified: a.Notified, Flapping: a.Flapping})
	}
	resp := map[string]any{"alerts": out}
	if len(alerts) == q.Limit {
		resp["next"] = strconv.FormatInt(alerts[len(alerts)-1].ID, 10)
	}
	writeJSON(w, resp)
}

type checkJSON struct {
	Name       string             `json:"name"`
	App        string             `json:"app,omitempty"`
	Kind       string             `json:"kind"`
	OK         bool               `json:"ok"`
	Time       time.Time          `json:"time"`
	LatencyMS  float64            `json:"latency_ms"`
	Value      *float64           `json:"value,omitempty"`
	Growth     *float64           `json:"growth_per_minute,omitempty"`
	CertExpiry *time.Time         `json:"cert_expiry,omitempty"`
	Warning    string             `json:"warning,omitempty"`
	Error      string             `json:"error,omitempty"`
	Uptime     map[string]float64 `json:"uptime"` // 24h, 7d, 30d: the share of runs that passed; absent without runs
}

// handleChecks handles "GET /api/v1/checks": each status check's latest run
// and its uptime over 24 hours, 7 and 30 days.
func (s *server) handleChecks(w http.ResponseWriter, r *http.Request) {
	latest, err := s.Store.LatestChecks(r.Context())
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	now := s.Now()
	out := make([]checkJSON, 0, len(latest))
	for _, c := range latest {
		j := checkJSON{Name: c.Check, App: c.App, Kind: c.Kind, OK: c.OK, Time: c.Time.UTC(), LatencyMS: float64(c.Latency.Microseconds()) / 1000,
			Value: c.Value, Growth: c.Growth, CertExpiry: optTime(c.CertExpiry), Warning: c.Warning, Error: c.Error, Uptime: map[string]float64{}}
		for _, win := range checks.UptimeWindows {
			u, err := s.Store.CheckUptime(r.Context(), c.Check, now.Add(-win.Span), now)
			if err != nil {
				writeError(w, r, s.Logger, err)
				return
			}
			if ratio, ok := u.Ratio(); ok {
				j.Uptime[win.Name] = ratio
			}
		}
		out = append(out, j)
	}
	writeJSON(w, map[string]any{"checks": out})
}

type silenceJSON struct {
	ID        int64          `json:"id"`
	App       string         `json:"app,omitempty"`
	Rule      alert.RuleName `json:"rule,omitempty"`
	Key       string         `json:"key,omitempty"`
	Until     time.Time      `json:"until"`
	Reason    string         `json:"reason,omitempty"`
	CreatedBy string         `json:"created_by,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
}

// handleSilences handles "GET /api/v1/silences": the silences in force.
func (s *server) handleSilences(w http.ResponseWriter, r *http.Request) {
	sl, err := s.Store.ActiveSilences(r.Context(), s.Now())
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	out := make([]silenceJSON, 0, len(sl))
	for _, x := range sl {
		out = append(out, silenceJSON{ID: x.ID, App: x.App, Rule: x.Rule, Key: x.Key, Until: x.Until.UTC(), Reason: x.Reason, CreatedBy: x.CreatedBy, CreatedAt: x.CreatedAt.UTC()})
	}
	writeJSON(w, map[string]any{"silences": out})
}

// handleCreateSilence handles "POST /api/v1/silences" with a JSON body
// {"app":…,"rule":…,"key":…,"duration":"2h","reason":…}: mute an app, a rule
// or one alert for a while, e.g. for planned maintenance. At least one of
// app, rule and key; "until" (RFC 3339) may replace "duration". The rule is
// read in any case, as the README spells it ("H_CODES") or as alerts show it
// ("h_codes"); an unknown rule or key is refused, as it would mute nothing.
func (s *server) handleCreateSilence(w http.ResponseWriter, r *http.Request) {
	var in struct {
		App, Rule, Key, Duration, Reason, CreatedBy string
		Until                                       time.Time
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, r, s.Logger, &requestError{"body: want JSON like {\"app\":\"my-app\",\"duration\":\"2h\",\"reason\":\"deploy\"}: " + err.Error()})
		return
	}
	now := s.Now()
	if in.Duration != "" && !in.Until.IsZero() {
		writeError(w, r, s.Logger, &requestError{"a silence takes a duration or an until, not both"})
		return
	}
	if in.App != "" && !heroku.ValidApp(in.App) {
		writeError(w, r, s.Logger, &requestError{fmt.Sprintf("app %q: want %s, as in the drain URL", in.App, heroku.AppNameRule)})
		return
	}
	if in.Duration != "" {
		d, err := duration.Parse(in.Duration)
		if err != nil || d <= 0 {
			writeError(w, r, s.Logger, &requestError{fmt.Sprintf("duration %q: want a duration such as 30m, 2h or 1d", in.Duration)})
			return
		}
		in.Until = now.Add(d)
	}
	switch {
	case in.App == "" && in.Rule == "" && in.Key == "":
		writeError(w, r, s.Logger, &requestError{"a silence needs app, rule or key"})
		return
	case !in.Until.After(now):
		writeError(w, r, s.Logger, &requestError{"a silence needs a duration, or an until in the future"})
		return
	}
	var rule alert.RuleName
	if in.Rule != "" {
		var err error
		if rule, err = alert.ParseRuleName(in.Rule); err != nil {
			writeError(w, r, s.Logger, &requestError{err.Error()})
			return
		}
	}
	if in.Key != "" {
		if _, err := alert.ParseKey(in.Key); err != nil {
			writeError(w, r, s.Logger, &requestError{err.Error() + " (copy it from GET /api/v1/alerts)"})
			return
		}
	}
	sl := &alert.Silence{App: in.App, Rule: rule, Key: in.Key, Until: in.Until, Reason: in.Reason, CreatedBy: in.CreatedBy, CreatedAt: now}
	if err := s.Store.CreateSilence(r.Context(), sl); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(silenceJSON{ID: sl.ID, App: sl.App, Rule: sl.Rule, Key: sl.Key, Until: sl.Until.UTC(), Reason: sl.Reason, CreatedBy: sl.CreatedBy, CreatedAt: sl.CreatedAt.UTC()})
}

// handleDeleteSilence handles "DELETE /api/v1/silences/{id}": end a silence early.
func (s *server) handleDeleteSilence(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, r, s.Logger, badRequest("id", r.PathValue("id"), "a silence id", err))
		return
	}
	if err := s.Store.DeleteSilence(r.Context(), id); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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

// requestError is a client's mistake, shown to it as it is.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(param, value, want string, err error) error {
	msg := fmt.Sprintf("query parameter %s=%q: want %s", param, value, want)
	if err != nil {
		msg += " (" + err.Error() + ")"
	}
	return &requestError{msg}
}

// writeError maps an error to a status: client mistakes are explained,
// internal errors are logged with the request and shown as a generic message.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var re *requestError
	status, msg := http.StatusInternalServerError, "internal error"
	switch {
	case errors.As(err, &re):
		status, msg = http.StatusBadRequest, re.msg
	case errors.Is(err, store.ErrUnknownMetric), errors.Is(err, store.ErrTooManyPoints):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, context.Canceled):
		return
	default:
		if log != nil {
			log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

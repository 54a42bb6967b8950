package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/dynowatch/dynowatch/internal/duration"
	"github.com/dynowatch/dynowatch/internal/store"
)

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
	s.audit(r, store.AuditEntry{Action: store.AuditDeleteApp, App: app})
	w.WriteHeader(http.StatusNoContent)
}

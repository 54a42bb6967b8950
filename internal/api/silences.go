package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/auth"
	"github.com/dynowatch/dynowatch/internal/duration"
	"github.com/dynowatch/dynowatch/internal/heroku"
	"github.com/dynowatch/dynowatch/internal/store"
)

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
// created_by defaults to the basic-auth user name; the audit log records
// the silence under that name.
func (s *server) handleCreateSilence(w http.ResponseWriter, r *http.Request) {
	// Tagged like silenceJSON: untagged, encoding/json would take
	// "createdby" (the Go name in any case) and refuse "created_by".
	var in struct {
		App       string    `json:"app"`
		Rule      string    `json:"rule"`
		Key       string    `json:"key"`
		Duration  string    `json:"duration"`
		Until     time.Time `json:"until"`
		Reason    string    `json:"reason"`
		CreatedBy string    `json:"created_by"`
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
	if in.CreatedBy == "" {
		in.CreatedBy = auth.Actor(r)
	}
	sl := &alert.Silence{App: in.App, Rule: rule, Key: in.Key, Until: in.Until, Reason: in.Reason, CreatedBy: in.CreatedBy, CreatedAt: now}
	if err := s.Store.CreateSilence(r.Context(), sl); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	s.audit(r, store.AuditEntry{Action: store.AuditSilence, App: sl.App, Rule: sl.Rule, Key: sl.Key, Reason: sl.Reason,
		Detail: fmt.Sprintf("silence %d until %s", sl.ID, sl.Until.UTC().Format(time.RFC3339))})
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
	sl, err := s.Store.DeleteSilence(r.Context(), id)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	s.audit(r, store.AuditEntry{Action: store.AuditUnsilence, App: sl.App, Rule: sl.Rule, Key: sl.Key,
		Detail: fmt.Sprintf("silence %d, which was to last until %s", sl.ID, sl.Until.UTC().Format(time.RFC3339))})
	w.WriteHeader(http.StatusNoContent)
}

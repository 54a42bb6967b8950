package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
)

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

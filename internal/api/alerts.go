package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
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
	Ack         *ackJSON       `json:"ack,omitempty"` // who took this episode on; absent until someone does
}

type ackJSON struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

func toAlertJSON(a *alert.State) alertJSON {
	j := alertJSON{ID: a.ID, Key: a.Key, Rule: a.Rule, App: a.App, Dyno: a.Dyno, Code: a.Code, Severity: a.Severity,
		Phase: a.Phase, Summary: a.Summary, Evidence: a.Evidence, StartedAt: a.StartedAt.UTC(), FiredAt: optTime(a.FiredAt),
		ResolvedAt: optTime(a.ResolvedAt), LastEventAt: optTime(a.LastEventAt), Notified: a.Notified, Flapping: a.Flapping}
	if a.Acked() {
		j.Ack = &ackJSON{By: a.Ack.By, At: a.Ack.At.UTC(), Reason: a.Ack.Reason}
	}
	return j
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
	for i := range alerts {
		out = append(out, toAlertJSON(&alerts[i]))
	}
	resp := map[string]any{"alerts": out}
	if len(alerts) == q.Limit {
		resp["next"] = strconv.FormatInt(alerts[len(alerts)-1].ID, 10)
	}
	writeJSON(w, resp)
}

// handleAck handles "POST /api/v1/alerts/{key}/ack" with a JSON body
// {"by":"Ana","reason":"restarting web.1"}: someone is on the firing alert
// key, so it is not reminded of until it resolves. It answers the alert,
// with the ack; 404 for an unknown key, 409 when the alert is not firing.
// Acknowledging again keeps the first ack, which the answer shows. The
// audit log records the ack under the basic-auth user name, with by.
func (s *server) handleAck(w http.ResponseWriter, r *http.Request) {
	var in struct{ By, Reason string }
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, r, s.Logger, &requestError{"body: want JSON like {\"by\":\"Ana\",\"reason\":\"restarting web.1\"}: " + err.Error()})
		return
	}
	a, err := s.Alerts.Ack(r.Context(), r.PathValue("key"), in.By, in.Reason)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	// An ack that finds the episode acknowledged already changes nothing
	// (the answer shows the first), and is not recorded as done.
	if a.Ack.By == strings.TrimSpace(in.By) && a.Ack.Reason == strings.TrimSpace(in.Reason) {
		s.audit(r, store.AuditEntry{Action: store.AuditAck, App: a.App, Rule: a.Rule, Key: a.Key, Reason: a.Ack.Reason, Detail: "as " + a.Ack.By})
	}
	writeJSON(w, toAlertJSON(&a))
}

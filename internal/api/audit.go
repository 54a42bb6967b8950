package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/auth"
	"github.com/dynowatch/dynowatch/internal/store"
)

type auditJSON struct {
	ID     int64             `json:"id"`
	At     time.Time         `json:"at"`
	Actor  string            `json:"actor"`
	Action store.AuditAction `json:"action"`
	App    string            `json:"app,omitempty"`
	Rule   alert.RuleName    `json:"rule,omitempty"`
	Key    string            `json:"key,omitempty"`
	Reason string            `json:"reason,omitempty"`
	Detail string            `json:"detail,omitempty"`
}

// handleAudit handles "GET /api/v1/audit?limit=&before=": who did what,
// newest first.
func (s *server) handleAudit(w http.ResponseWriter, r *http.Request) {
	var (
		q   store.AuditQuery
		err error
	)
	if q.Limit, q.Before, err = page(r); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	entries, err := s.Store.Audit(r.Context(), q)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	out := make([]auditJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, auditJSON{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, App: e.App, Rule: e.Rule, Key: e.Key, Reason: e.Reason, Detail: e.Detail})
	}
	resp := map[string]any{"entries": out}
	if len(entries) == q.Limit {
		resp["next"] = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	writeJSON(w, resp)
}

// audit records that r's sender did e, now. It runs after the action
// succeeded: a failure to record it is logged, and the action still
// answered as done, since a client told otherwise would do it again.
func (s *server) audit(r *http.Request, e store.AuditEntry) {
	e.At, e.Actor = s.Now(), auth.Actor(r)
	if err := s.Store.AddAudit(r.Context(), &e); err != nil {
		s.Logger.Error("recording an action in the audit log", "action", e.Action, "actor", e.Actor, "app", e.App, "err", err)
	}
}

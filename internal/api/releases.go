package api

import (
	"math"
	"net/http"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// maxReleases bounds the releases one answer judges (each reads its
// minutes before and after).
const maxReleases = 100

type figures struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Requests int64     `json:"requests"`
	Pct5xx   *float64  `json:"5xx_pct"` // null without requests
	P95      *float64  `json:"p95_ms"`
	P99      *float64  `json:"p99_ms"`
	HPerMin  float64   `json:"h_errors_per_min"`
	Crashes  int64     `json:"crashes"`
}

type change struct {
	What   string `json:"what"`
	Before string `json:"before"`
	After  string `json:"after"`
	Worse  bool   `json:"worse"`
}

type release struct {
	Version  string    `json:"version,omitempty"`
	At       time.Time `json:"at"`
	User     string    `json:"user,omitempty"`
	Commit   string    `json:"commit,omitempty"`
	Verdict  string    `json:"verdict"`
	Before   figures   `json:"before"`
	After    figures   `json:"after"`
	DayAgo   figures   `json:"day_before"` // the span after it, a day earlier
	Changes  []change  `json:"changes"`
	Rollback string    `json:"rollback,omitempty"` // the command, for a release that made things worse
	Summary  string    `json:"summary"`
}

// handleReleases handles "GET /api/v1/apps/{app}/releases?since=": the
// app's releases, newest first, each with its figures after it against as
// long before it and the RELEASE rule's verdict. Replayed history is judged
// the same (it never pages).
func (s *server) handleReleases(w http.ResponseWriter, r *http.Request) {
	app, now := r.PathValue("app"), s.Now()
	since := now.Add(-7 * 24 * time.Hour)
	if v := r.FormValue("since"); v != "" {
		var err error
		if since, err = parseTime(v, now); err != nil {
			writeError(w, r, s.Logger, badRequest("since", v, "an RFC 3339 time or a duration back from now, like 2024-03-15T12:00:00Z or 7d", err))
			return
		}
	}
	rels, err := s.Store.Releases(r.Context(), app, since, now)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if len(rels) > maxReleases {
		rels = rels[len(rels)-maxReleases:]
	}
	vs, err := s.Rules.Verdicts(r.Context(), s.Store, app, rels, now)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	out := make([]release, 0, len(vs))
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		var prev, next time.Time
		if i > 0 {
			prev = vs[i-1].At
		}
		if i+1 < len(vs) {
			next = vs[i+1].At
		}
		before, after := s.Rules.ReleaseSpans(app, v.Release, prev, next)
		j := release{Version: v.Version, At: v.At.UTC(), User: v.User, Commit: v.Commit, Verdict: v.Verdict,
			Before: s.figures(app, v.Before, before), After: s.figures(app, v.After, after),
			DayAgo: s.figures(app, v.DayBefore, [2]time.Time{after[0].Add(-24 * time.Hour), after[1].Add(-24 * time.Hour)}), Changes: []change{}, Summary: v.Summary(app)}
		for _, c := range v.Changes {
			j.Changes = append(j.Changes, change(c))
		}
		if v.Verdict == alert.VerdictWorse && v.Previous != "" {
			j.Rollback = "heroku rollback " + v.Previous + " -a " + app
		}
		out = append(out, j)
	}
	writeJSON(w, map[string]any{"app": app, "releases": out})
}

func (s *server) figures(app string, f alert.Figures, span [2]time.Time) figures {
	num := func(v float64) *float64 {
		if math.IsNaN(v) {
			return nil
		}
		v = math.Round(v*10) / 10
		return &v
	}
	return figures{From: span[0].UTC(), To: span[1].UTC(), Requests: f.Requests, Pct5xx: num(f.Share5xx()), P95: num(f.P95), P99: num(f.P99),
		HPerMin: *num(s.Rules.HPerMinute(f)), Crashes: f.Crashes}
}

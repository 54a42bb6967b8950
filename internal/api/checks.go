package api

import (
	"net/http"
	"time"

	"github.com/dynowatch/dynowatch/internal/checks"
)

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

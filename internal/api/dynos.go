package api

import (
	"net/http"
	"time"
)

// dyno is one dyno's memory and its forecast in the API's JSON.
type dyno struct {
	Dyno      string     `json:"dyno"`
	MemoryMB  float64    `json:"memory_mb"` // rss + swap, what the quota is compared with
	RSSMB     float64    `json:"rss_mb"`
	SwapMB    float64    `json:"swap_mb"`
	QuotaMB   *float64   `json:"quota_mb"` // null when no sample gave it
	StartedAt *time.Time `json:"started_at"`
	// The fit: growth per hour since the dyno started (the warm-up and
	// anything over alert.MemoryLookback back left out), over how many
	// minutes and how well the line fits.
	Since        *time.Time `json:"since"`
	Samples      int        `json:"samples"`
	GrowthMBPerH float64    `json:"growth_mb_per_hour"`
	R2           float64    `json:"r2"`
	Leak         bool       `json:"leak"`
	Why          string     `json:"why,omitempty"` // why it is no leak
	QuotaAt      *time.Time `json:"quota_at"`      // the forecast reaching of the quota (R14); null for none
	R15At        *time.Time `json:"r15_at"`        // and of twice it (R15)
	Summary      string     `json:"summary"`
}

// handleDynos handles "GET /api/v1/apps/{app}/dynos": each dyno with its
// latest memory, its quota, its growth since it started and when it
// reaches its quota at that pace, as the MEMORY_LEAK rule sees it.
func (s *server) handleDynos(w http.ResponseWriter, r *http.Request) {
	app, now := r.PathValue("app"), s.Now()
	ds, err := s.Store.DynoMemory(r.Context(), app, now)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	at := func(d time.Duration) *time.Time { return optTime(now.Add(d).Truncate(time.Minute)) }
	out := make([]dyno, 0, len(ds))
	for _, d := range ds {
		f := s.Rules.ForecastMemory(app, d, now)
		j := dyno{Dyno: d.Dyno, MemoryMB: f.LatestMB, RSSMB: d.RSSMB, SwapMB: d.SwapMB, StartedAt: optTime(d.Started), Since: optTime(f.Since),
			Samples: f.Samples, GrowthMBPerH: round1(f.GrowthMBPerHour), R2: round1(100*f.R2) / 100, Leak: f.Leak, Why: f.Why, Summary: f.Summary()}
		if d.QuotaMB > 0 {
			j.QuotaMB = &d.QuotaMB
		}
		if f.HasForecast {
			j.QuotaAt, j.R15At = at(f.ToQuota), at(f.ToR15)
		}
		out = append(out, j)
	}
	writeJSON(w, map[string]any{"app": app, "dynos": out})
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

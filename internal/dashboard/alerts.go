package dashboard

import (
	"net/http"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
)

type alertsPage struct {
	Active []alert.State // pending and firing
	Past   []alert.State // resolved, newest first
	Now    time.Time
}

// pastAlerts is how many resolved episodes the alerts page lists.
const pastAlerts = 100

// handleAlerts handles "GET /alerts": the firing and pending alerts, then
// the latest resolved ones, each with its evidence lines.
func (d *dashboard) handleAlerts(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	active, err := d.Store.ActiveAlerts(ctx)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	past, err := d.Store.Alerts(ctx, store.AlertQuery{Phase: alert.PhaseResolved, Limit: pastAlerts})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	// Newest first, firing before pending.
	page := alertsPage{Past: past, Now: d.Now()}
	for _, phase := range []alert.Phase{alert.PhaseFiring, alert.PhasePending} {
		for i := len(active) - 1; i >= 0; i-- {
			if active[i].Phase == phase {
				page.Active = append(page.Active, active[i])
			}
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := d.t.ExecuteTemplate(w, "alerts.html", page); err != nil {
		d.Logger.Error("rendering the alerts page", "err", err)
	}
}

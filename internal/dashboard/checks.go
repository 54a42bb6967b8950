package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/dynowatch/dynowatch/internal/checks"
)

// checkRow is one status check on the checks page.
type checkRow struct {
	checks.Result
	ChartID   string
	Uptime    [len(checks.UptimeWindows)]string // 24h, 7d, 30d: "99.95%", or "—" without runs
	LastError string                            // the newest failure among the recent runs
	ErrorAt   time.Time
}

type checksPage struct {
	Checks []checkRow
	Data   any
	Now    time.Time
}

// checkRuns is how many recent runs a check's latency chart draws.
const checkRuns = 500

// handleChecks handles "GET /checks": each check's state, uptime over 24 h,
// 7 d and 30 d, a chart of its recent latencies, and its last error.
func (d *dashboard) handleChecks(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), d.Now()
	latest, err := d.Store.LatestChecks(ctx)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	page := checksPage{Checks: make([]checkRow, len(latest)), Now: now}
	charts := make([]*chartData, len(latest))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for i, c := range latest {
		wg.Go(func() {
			row, chart, err := d.checkRow(ctx, c, now)
			if err != nil {
				mu.Lock()
				first = err
				mu.Unlock()
				return
			}
			row.ChartID = fmt.Sprintf("check-%d", i)
			if chart != nil {
				chart.ID = row.ChartID
			}
			page.Checks[i], charts[i] = row, chart
		})
	}
	wg.Wait()
	if first != nil {
		d.fail(w, r, first)
		return
	}
	cs := []chartData{} // JSON [], not null
	for _, c := range charts {
		if c != nil {
			cs = append(cs, *c)
		}
	}
	page.Data = map[string]any{"charts": cs, "markers": []marker{}}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := d.t.ExecuteTemplate(w, "checks.html", page); err != nil {
		d.Logger.Error("rendering the checks page", "err", err)
	}
}

func (d *dashboard) checkRow(ctx context.Context, c checks.Result, now time.Time) (checkRow, *chartData, error) {
	row := checkRow{Result: c}
	for i, win := range checks.UptimeWindows {
		u, err := d.Store.CheckUptime(ctx, c.Check, now.Add(-win.Span), now.Add(time.Second))
		if err != nil {
			return row, nil, err
		}
		row.Uptime[i] = "—"
		if ratio, ok := u.Ratio(); ok {
			row.Uptime[i] = fmt.Sprintf("%.2f%%", 100*ratio)
		}
	}
	runs, err := d.Store.CheckResults(ctx, c.Check, now.Add(-24*time.Hour), checkRuns)
	if err != nil {
		return row, nil, err
	}
	for _, r := range runs {
		if r.Error != "" {
			row.LastError, row.ErrorAt = r.Error, r.Time
			break
		}
	}
	if len(runs) == 0 {
		return row, nil, nil
	}
	// Oldest first, as uPlot wants x ascending.
	x, ok, failed := make([]*float64, len(runs)), make([]*float64, len(runs)), make([]*float64, len(runs))
	for i, r := range runs {
		j := len(runs) - 1 - i
		t, ms := float64(r.Time.Unix()), float64(r.Latency.Microseconds())/1000
		x[j] = &t
		if r.OK {
			ok[j] = &ms
		} else {
			failed[j] = &ms
		}
	}
	return row, &chartData{Title: c.Check, Unit: "ms", Labels: []string{"ok", "failed"}, Dashed: []bool{false, false},
		Data: [][]*float64{x, ok, failed}}, nil
}

// Package dashboard serves dynowatch's web pages: every monitored app at a
// glance, each app's charts and events, the checks and the alerts, rendered
// on the server from the store and drawn in the browser with uPlot.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/otlp"
	"github.com/dynowatch/dynowatch/internal/store"
)

//go:embed templates/*.html
var templates embed.FS

// Store is what the pages read.
type Store interface {
	Apps(ctx context.Context) ([]store.App, error)
	WindowStats(ctx context.Context, app string, from, to time.Time) (store.WindowStats, error)
	ActiveAlerts(ctx context.Context) ([]alert.State, error)
	LatestChecks(ctx context.Context) ([]checks.Result, error)
	Series(ctx context.Context, q store.SeriesQuery) ([]store.Series, error)
	Events(ctx context.Context, q store.EventQuery) ([]store.Event, error)
	CheckResults(ctx context.Context, name string, since time.Time, limit int) ([]checks.Result, error)
	CheckUptime(ctx context.Context, name string, from, to time.Time) (store.Uptime, error)
	Alerts(ctx context.Context, q store.AlertQuery) ([]alert.State, error)
	ActiveSilences(ctx context.Context, now time.Time) ([]alert.Silence, error)
	AlertDeliveries(ctx context.Context, key string, from, to time.Time) ([]notify.Delivery, error)
	Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error)
	DynoMemory(ctx context.Context, app string, now time.Time) ([]alert.DynoMemory, error)
	Coverage(ctx context.Context, app string, now time.Time) (alert.CoverageFacts, error)
	alert.ReleaseFigures
}

// Options configures the dashboard.
type Options struct {
	Store    Store
	Rules    *alert.Rules // what memory forecasts and releases are judged by
	Logger   *slog.Logger
	Auth     func(http.Handler) http.Handler // either dashboard password
	DrainURL string                          // the drain URL to paste, with APP for the app's name
	// TelemetryURL is a Fir app's telemetry drain endpoint, with APP for the
	// app's name, and TelemetryHeaders the JSON of its --headers, which
	// carry the drain secret (a Fir drain has no URL password).
	TelemetryURL     string
	TelemetryHeaders string
	Now              func() time.Time // optional
	// CanAct tells whether a request came with the password that may act:
	// only then do pages show buttons (optional: nil shows none). The
	// buttons call the API, which checks the password again.
	CanAct func(r *http.Request) bool
	// Sightings are what the OTLP intake has seen of Fir apps' telemetry,
	// for "/fir" (optional: nil shows none).
	Sightings Sightings
}

// Sightings tells what the OTLP intake has seen.
type Sightings interface {
	Sightings(ctx context.Context) (otlp.SightingsReport, error)
}

// silentAfter is how long without a message makes an app "silent" on the overview.
const silentAfter = 15 * time.Minute

// Register mounts the pages on mux, behind o.Auth: the overview at "/", an
// app's charts and events at "/apps/{app}", "/checks", "/alerts", an
// incident's timeline at "/alerts/{id}", "/audit" and what Fir apps' telemetry
// looked like at "/fir"; and, without it,
// uPlot and our scripts at "/static/{file}".
func Register(mux *http.ServeMux, o Options) error {
	switch {
	case o.Store == nil:
		return errors.New("dashboard: Options.Store is required")
	case o.Rules == nil:
		return errors.New("dashboard: Options.Rules is required")
	case o.Logger == nil:
		return errors.New("dashboard: Options.Logger is required")
	case o.Auth == nil:
		return errors.New("dashboard: Options.Auth is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a, err := loadAssets()
	if err != nil {
		return err
	}
	t, err := template.New("").Funcs(template.FuncMap{"ago": ago, "static": a.url, "ms": ms, "utc": utc}).ParseFS(templates, "templates/*.html")
	if err != nil {
		return err
	}
	d := &dashboard{Options: o, t: t}
	mux.Handle("GET /{$}", o.Auth(http.HandlerFunc(d.handleOverview)))
	mux.Handle("GET /apps/{app}", o.Auth(http.HandlerFunc(d.handleApp)))
	mux.Handle("GET /checks", o.Auth(http.HandlerFunc(d.handleChecks)))
	mux.Handle("GET /alerts", o.Auth(http.HandlerFunc(d.handleAlerts)))
	mux.Handle("GET /alerts/{id}", o.Auth(http.HandlerFunc(d.handleTimeline)))
	mux.Handle("GET /audit", o.Auth(http.HandlerFunc(d.handleAudit)))
	mux.Handle("GET /fir", o.Auth(http.HandlerFunc(d.handleFir)))
	// uPlot and our chart script hold nothing secret; serving them without
	// the password lets browsers and proxies cache them.
	mux.Handle("GET /static/{file}", a)
	return nil
}

type dashboard struct {
	Options
	t *template.Template
}

// appRow is one app on the overview.
type appRow struct {
	Name           string
	State          string // ok, alerting or silent
	LastMessage    time.Time
	RequestsPerMin float64
	FivexxPct      float64
	P95            float64 // ms; -1 without requests
	Firing         int
	Coverage       string // full, partial or blind: see alert.AssessCoverage
}

type overview struct {
	Apps       []appRow
	ChecksUp   int
	ChecksDown int
	DrainURL   string
	// TelemetryURL and TelemetryHeaders are Options'.
	TelemetryURL     string
	TelemetryHeaders string
	Now              time.Time
}

// handleOverview handles "GET /": every app with its state, last log, the
// last 5 minutes' requests per minute, 5xx share and p95, firing alerts, its
// coverage mark,
// and the checks up and down.
func (d *dashboard) handleOverview(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), d.Now()
	apps, err := d.Store.Apps(ctx)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	active, err := d.Store.ActiveAlerts(ctx)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	firing := map[string]int{}
	for _, a := range active {
		if a.Phase == alert.PhaseFiring {
			firing[a.App]++
		}
	}
	page := overview{DrainURL: d.DrainURL, TelemetryURL: d.TelemetryURL, TelemetryHeaders: d.TelemetryHeaders, Now: now}
	for _, a := range apps {
		ws, err := d.Store.WindowStats(ctx, a.Name, now.Add(-5*time.Minute), now)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		cf, err := d.Store.Coverage(ctx, a.Name, now)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		row := appRow{Name: a.Name, LastMessage: a.LastMessage, RequestsPerMin: float64(ws.Requests) / 5, Firing: firing[a.Name], P95: -1, State: "ok",
			Coverage: alert.AssessCoverage(a.Name, cf, now).Mark}
		if ws.Requests > 0 {
			row.FivexxPct = 100 * float64(ws.Status5xx) / float64(ws.Requests)
		}
		if ws.Service.Count() > 0 {
			row.P95 = ws.Service.Quantile(0.95)
		}
		switch {
		case row.Firing > 0:
			row.State = "alerting"
		case !a.LastMessage.IsZero() && now.Sub(a.LastMessage) > silentAfter:
			row.State = "silent"
		}
		page.Apps = append(page.Apps, row)
	}
	checks, err := d.Store.LatestChecks(ctx)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	for _, c := range checks {
		if c.OK {
			page.ChecksUp++
		} else {
			page.ChecksDown++
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := d.t.ExecuteTemplate(w, "overview.html", page); err != nil {
		d.Logger.Error("rendering the overview", "err", err)
	}
}

func (d *dashboard) canAct(r *http.Request) bool { return d.CanAct != nil && d.CanAct(r) }

// render writes the page of template name.
func (d *dashboard) render(w http.ResponseWriter, name string, page any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := d.t.ExecuteTemplate(w, name, page); err != nil {
		d.Logger.Error("rendering a page", "template", name, "err", err)
	}
}

func (d *dashboard) fail(w http.ResponseWriter, r *http.Request, err error) {
	d.Logger.Error("dashboard request failed", "path", r.URL.Path, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// ago writes how long before now t was, for people: "12s ago", "3m ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	switch d := now.Sub(t); {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.UTC().Format("2006-01-02")
}

// utc writes a time to the second, in UTC.
func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// ms writes a duration in milliseconds, with a decimal under 10 ms.
func ms(d time.Duration) string {
	v := float64(d.Microseconds()) / 1000
	if v < 10 {
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

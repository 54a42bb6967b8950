package dashboard

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/duration"
	"github.com/dynowatch/dynowatch/internal/store"
)

// timeRange is one choice of the app page's range picker.
type timeRange struct {
	Name string
	Span time.Duration
	Step time.Duration // a few hundred points at most
}

var ranges = []timeRange{
	{"1h", time.Hour, time.Minute},
	{"6h", 6 * time.Hour, 2 * time.Minute},
	{"24h", 24 * time.Hour, 5 * time.Minute},
	{"7d", 7 * 24 * time.Hour, time.Hour}, // from 1h up the hourly rollups are read
	{"30d", 30 * 24 * time.Hour, 3 * time.Hour},
}

// chartSpec is one chart of the app page and the metrics it draws.
type chartSpec struct {
	ID, Title, Unit string
	Metrics         []string // each a store.Series metric
	Stacked         bool     // draw the series stacked (the codes)
	Quota           string   // a metric drawn as one dashed limit line, the max over its series
}

var appCharts = []chartSpec{
	{ID: "requests", Title: "Requests by status class", Unit: "per step", Metrics: []string{"requests_2xx", "requests_3xx", "requests_4xx", "requests_5xx"}},
	{ID: "5xx", Title: "5xx share", Unit: "%", Metrics: []string{"5xx_pct"}},
	{ID: "latency", Title: "Service time", Unit: "ms", Metrics: []string{"p50", "p95", "p99"}},
	{ID: "codes", Title: "H and R codes", Unit: "per step", Metrics: []string{"codes"}, Stacked: true},
	{ID: "memory", Title: "Memory per dyno (RSS)", Unit: "MB", Metrics: []string{"memory_rss_mb"}, Quota: "memory_quota_mb"},
	{ID: "load", Title: "Load per dyno (1m)", Unit: "", Metrics: []string{"load_avg_1m"}},
	{ID: "cpu", Title: "CPU per dyno (Fir)", Unit: "%", Metrics: []string{"cpu_percent"}},
	{ID: "pg-conn", Title: "Postgres active connections", Metrics: []string{"postgres:active_connections"}},
	{ID: "pg-size", Title: "Postgres database size", Unit: "bytes", Metrics: []string{"postgres:db_size_bytes"}},
	{ID: "pg-load", Title: "Postgres load (1m)", Metrics: []string{"postgres:load_avg_1m"}},
	{ID: "pgb-wait", Title: "PgBouncer clients waiting", Metrics: []string{"pgbouncer:client_waiting"}},
	{ID: "redis-mem", Title: "Redis memory", Unit: "bytes", Metrics: []string{"redis:memory_redis_bytes"}},
	{ID: "redis-conn", Title: "Redis connections", Metrics: []string{"redis:active_connections"}},
	{ID: "redis-hit", Title: "Redis hit rate", Metrics: []string{"redis:hit_rate"}},
}

// chartData is one chart as the page's script reads it: uPlot's aligned
// columns, x in Unix seconds, null where a series has no point.
type chartData struct {
	ID      string       `json:"id"`
	Title   string       `json:"title"`
	Unit    string       `json:"unit"`
	Stacked bool         `json:"stacked"`
	Labels  []string     `json:"labels"`
	Dashed  []bool       `json:"dashed"`
	Data    [][]*float64 `json:"data"`         // Data[0] is x
	To      int64        `json:"to,omitempty"` // the x axis' end when past now: the memory forecast
}

// marker is a release or crash drawn across every chart.
type marker struct {
	Time    int64  `json:"t"`
	Kind    string `json:"kind"` // release or crash
	Label   string `json:"label"`
	Verdict string `json:"verdict,omitempty"` // a release's: no change, better, worse, …
	Summary string `json:"summary,omitempty"` // and what it changed
}

// maxVerdicts is how many of the latest releases in range the app page
// judges (each reads its minutes before and after).
const maxVerdicts = 50

type appPage struct {
	App     string
	Range   string
	Ranges  []timeRange
	Charts  []chartData
	Markers []marker
	Events  []store.Event
	Empty   []string // titles of charts left out for want of data
	Data    any      // the charts and markers, which html/template writes as JSON into the script block
	Now     time.Time
	// The state of its alerts, and what the silence buttons need.
	Alerts   []alertCard     // its latest episodes, newest first
	Silences []alert.Silence // the silences in force of the app
	CanAct   bool
	AppScope []scope // silence this app
	// What dynowatch sees of the app, and what to turn on for the rest.
	Coverage alert.Coverage
}

// appAlerts is how many of an app's latest alert episodes its page shows.
const appAlerts = 10

// maxEvents is how many log lines the app page's table shows.
const maxEvents = 200

// handleApp handles "GET /apps/{app}": the app's charts over ?range= (1h,
// 6h, 24h, 7d, 30d; 1h by default), releases and crashes as markers, and
// its latest events with their raw log lines.
func (d *dashboard) handleApp(w http.ResponseWriter, r *http.Request) {
	ctx, now := r.Context(), d.Now()
	app := r.PathValue("app")
	rg := ranges[0]
	if q := r.URL.Query().Get("range"); q != "" {
		i := slices.IndexFunc(ranges, func(x timeRange) bool { return x.Name == q })
		if i < 0 {
			http.Error(w, "range must be one of 1h, 6h, 24h, 7d, 30d", http.StatusBadRequest)
			return
		}
		rg = ranges[i]
	}
	apps, err := d.Store.Apps(ctx)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	if !slices.ContainsFunc(apps, func(a store.App) bool { return a.Name == app }) {
		http.Error(w, "no such app", http.StatusNotFound)
		return
	}
	from := now.Add(-rg.Span)
	// The charts' queries are independent: run them side by side.
	series := map[string][]store.Series{}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
	)
	for _, c := range appCharts {
		for _, m := range append(slices.Clip(c.Metrics), c.Quota) {
			if m == "" {
				continue
			}
			wg.Go(func() {
				s, err := d.Store.Series(ctx, store.SeriesQuery{App: app, Metric: m, From: from, To: now, Step: rg.Step})
				mu.Lock()
				defer mu.Unlock()
				if err != nil && first == nil {
					first = err
				}
				series[m] = s
			})
		}
	}
	var events, dynoErrors []store.Event
	var marks []marker
	var dynos []alert.DynoMemory
	var coverage alert.CoverageFacts
	wg.Go(func() {
		cf, err := d.Store.Coverage(ctx, app, now)
		mu.Lock()
		defer mu.Unlock()
		if err != nil && first == nil {
			first = err
		}
		coverage = cf
	})
	wg.Go(func() {
		ds, err := d.Store.DynoMemory(ctx, app, now)
		mu.Lock()
		defer mu.Unlock()
		if err != nil && first == nil {
			first = err
		}
		dynos = ds
	})
	wg.Go(func() {
		evs, ms, errs, err := d.events(ctx, app, from, now)
		mu.Lock()
		defer mu.Unlock()
		if err != nil && first == nil {
			first = err
		}
		events, marks, dynoErrors = evs, ms, errs
	})
	wg.Wait()
	if first != nil {
		d.fail(w, r, first)
		return
	}
	v := d.viewer(r)
	page := appPage{App: app, Range: rg.Name, Ranges: ranges, Charts: []chartData{}, Markers: marks, Events: events, Now: now, CanAct: v.CanAct,
		AppScope: []scope{appScope(app)}, Coverage: alert.AssessCoverage(app, coverage, now)}
	if err := d.appAlerts(ctx, app, v, &page); err != nil {
		d.fail(w, r, err)
		return
	}
	for _, c := range appCharts {
		cd, ok := buildChart(c, series, dynoErrors, from, now, rg.Step)
		if !ok {
			page.Empty = append(page.Empty, c.Title)
			continue
		}
		if c.ID == "memory" {
			d.addForecasts(&cd, app, dynos, now, rg)
		}
		page.Charts = append(page.Charts, cd)
	}
	// from and to fix the x axis to the whole range, so that a marker after
	// the start of the last step still shows.
	page.Data = map[string]any{"charts": page.Charts, "markers": page.Markers, "from": from.Unix(), "to": now.Unix()}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := d.t.ExecuteTemplate(w, "app.html", page); err != nil {
		d.Logger.Error("rendering the app page", "app", app, "err", err)
	}
}

// appAlerts fills in the app's latest alert episodes and its silences.
func (d *dashboard) appAlerts(ctx context.Context, app string, v viewer, page *appPage) error {
	as, err := d.Store.Alerts(ctx, store.AlertQuery{App: app, Limit: appAlerts})
	if err != nil {
		return err
	}
	silences, err := d.Store.ActiveSilences(ctx, page.Now)
	if err != nil {
		return err
	}
	for _, a := range as {
		page.Alerts = append(page.Alerts, d.card(a, silences, v, page.Now))
	}
	for _, s := range silences {
		if s.App == app {
			page.Silences = append(page.Silences, s)
		}
	}
	return nil
}

// events reads the app's latest events for the table, and the releases,
// crashes and dyno errors since from for the markers and the R codes.
func (d *dashboard) events(ctx context.Context, app string, from, now time.Time) (table []store.Event, marks []marker, dynoErrors []store.Event, err error) {
	if table, err = d.Store.Events(ctx, store.EventQuery{App: app, Since: from, Limit: maxEvents}); err != nil {
		return nil, nil, nil, err
	}
	// The store numbers a batch's events kind by kind, not in time order.
	slices.SortStableFunc(table, func(a, b store.Event) int { return b.Time.Compare(a.Time) })
	// Releases with the commit of their deploy line, the latest judged.
	rels, err := d.Store.Releases(ctx, app, from, now)
	if err != nil {
		return nil, nil, nil, err
	}
	judged := rels[max(0, len(rels)-maxVerdicts):]
	vs, err := d.Rules.Verdicts(ctx, d.Store, app, judged, now)
	if err != nil {
		return nil, nil, nil, err
	}
	for i, r := range rels {
		m := marker{Time: r.At.Unix(), Kind: "release", Label: eventText(store.Event{Line: r.Line})}
		if j := i - (len(rels) - len(judged)); j >= 0 {
			m.Verdict, m.Summary = vs[j].Verdict, vs[j].Summary(app)
		}
		marks = append(marks, m)
	}
	crashes, err := d.Store.Events(ctx, store.EventQuery{App: app, Since: from, Kind: "state_change", Limit: store.MaxEventLimit})
	if err != nil {
		return nil, nil, nil, err
	}
	for _, e := range crashes {
		if strings.Contains(e.Line, "to crashed") {
			marks = append(marks, marker{Time: e.Time.Unix(), Kind: "crash", Label: eventText(e)})
		}
	}
	if dynoErrors, err = d.Store.Events(ctx, store.EventQuery{App: app, Since: from, Kind: "dyno_error", Limit: store.MaxEventLimit}); err != nil {
		return nil, nil, nil, err
	}
	for _, e := range dynoErrors {
		if e.Code == "R10" { // boot timeout: the dyno crashes
			marks = append(marks, marker{Time: e.Time.Unix(), Kind: "crash", Label: eventText(e)})
		}
	}
	slices.SortFunc(marks, func(a, b marker) int { return int(a.Time - b.Time) })
	return table, marks, dynoErrors, nil
}

// addForecasts draws on the memory chart, for each dyno the MEMORY_LEAK
// rule sees leaking, its fitted line from now to its quota, when that is
// no further ahead than the range looks back; the x axis goes on to it.
func (d *dashboard) addForecasts(cd *chartData, app string, dynos []alert.DynoMemory, now time.Time, rg timeRange) {
	sec := int64(rg.Step / time.Second)
	xs := cd.Data[0]
	last := int64(*xs[len(xs)-1])
	for _, dm := range dynos {
		f := d.Rules.ForecastMemory(app, dm, now)
		if !f.HasForecast || f.ToQuota > rg.Span {
			continue
		}
		end := now.Add(f.ToQuota).Unix()
		for t := last + sec; t <= end+sec; t += sec {
			v := float64(t)
			cd.Data[0] = append(cd.Data[0], &v)
			for i := 1; i < len(cd.Data); i++ {
				cd.Data[i] = append(cd.Data[i], nil)
			}
			last = t
		}
		col := make([]*float64, len(cd.Data[0]))
		for i, x := range cd.Data[0] {
			t := int64(*x)
			if t < now.Unix()-now.Unix()%sec || t > end+sec {
				continue
			}
			v := f.QuotaMB - f.GrowthMBPerHour*time.Duration((end-t)*int64(time.Second)).Hours()
			col[i] = &v
		}
		cd.Labels = append(cd.Labels, dm.Dyno+" forecast")
		cd.Dashed = append(cd.Dashed, true)
		cd.Data = append(cd.Data, col)
		cd.To = max(cd.To, last)
	}
}

// eventText is an event's line without the timestamp the line starts with.
func eventText(e store.Event) string {
	if _, rest, ok := strings.Cut(e.Line, " "); ok {
		return rest
	}
	return e.Line
}

// buildChart aligns a chart's series on one time axis; ok is false when
// none has a point.
func buildChart(c chartSpec, series map[string][]store.Series, dynoErrors []store.Event, from, to time.Time, step time.Duration) (chartData, bool) {
	type line struct {
		label  string
		dashed bool
		pts    map[int64]float64
	}
	var lines []line
	add := func(label string, dashed bool, pts []store.Point) {
		m := make(map[int64]float64, len(pts))
		for _, p := range pts {
			m[p.Time.Unix()] = p.Value
		}
		lines = append(lines, line{label, dashed, m})
	}
	for _, m := range c.Metrics {
		for _, s := range series[m] {
			label := strings.TrimPrefix(m, "requests_")
			switch {
			case m == "5xx_pct":
				label = "5xx %"
			case s.Code != "":
				label = s.Code
			case s.Dyno != "":
				label = s.Dyno
			}
			add(label, false, s.Points)
		}
	}
	if c.ID == "codes" {
		// R codes come from the dyno errors, counted per step.
		byCode := map[string][]store.Point{}
		sec := int64(step / time.Second)
		for _, e := range dynoErrors {
			if e.Code == "" {
				continue
			}
			t := e.Time.Unix() - e.Time.Unix()%sec
			byCode[e.Code] = append(byCode[e.Code], store.Point{Time: time.Unix(t, 0), Value: 1})
		}
		for _, code := range slices.Sorted(maps.Keys(byCode)) {
			sum := map[int64]float64{}
			for _, p := range byCode[code] {
				sum[p.Time.Unix()]++
			}
			lines = append(lines, line{code, false, sum})
		}
	}
	if len(lines) == 0 {
		return chartData{}, false
	}
	if c.Quota != "" {
		quota := map[int64]float64{}
		for _, s := range series[c.Quota] {
			for _, p := range s.Points {
				quota[p.Time.Unix()] = max(quota[p.Time.Unix()], p.Value)
			}
		}
		if len(quota) > 0 {
			lines = append(lines, line{"quota", true, quota})
		}
	}
	// Every step of the range gets an x, so gaps show as gaps.
	sec := int64(step / time.Second)
	var xs []int64
	for t := from.Unix() - from.Unix()%sec; t < to.Unix(); t += sec {
		xs = append(xs, t)
	}
	unit := c.Unit
	if unit == "per step" {
		unit = "per " + duration.Format(step)
	}
	cd := chartData{ID: c.ID, Title: c.Title, Unit: unit, Stacked: c.Stacked, Data: make([][]*float64, 1, len(lines)+1)}
	x := make([]*float64, len(xs))
	for i, t := range xs {
		v := float64(t)
		x[i] = &v
	}
	cd.Data[0] = x
	for _, l := range lines {
		col := make([]*float64, len(xs))
		for i, t := range xs {
			if v, ok := l.pts[t]; ok {
				col[i] = &v
			} else if c.Stacked {
				zero := 0.0 // stacked counts: a step without any is none
				col[i] = &zero
			}
		}
		cd.Labels = append(cd.Labels, l.label)
		cd.Dashed = append(cd.Dashed, l.dashed)
		cd.Data = append(cd.Data, col)
	}
	return cd, true
}

package alert

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// DrainStoppedAfter is how long an app that used to send lines may stay
// silent before its drain is reported stopped: Heroku's router and
// log-runtime-metrics (every 20 s) keep even an idle app's drain talking,
// so an hour without a line means the drain, not the app, went quiet.
const DrainStoppedAfter = time.Hour

// CoverageWindow is the span the drops and gaps of a coverage are counted
// over.
const CoverageWindow = 24 * time.Hour

// CoverageFacts is what the store keeps that says what dynowatch sees of an
// app: the first and last time of each kind of line, and the losses.
type CoverageFacts struct {
	FirstSeen, LastMessage    time.Time            // LastMessage: zero when only replays filled the app
	RouterFirst, RouterLast   time.Time            // router lines (rolled-up requests)
	RuntimeFirst, RuntimeLast time.Time            // runtime metrics of a dyno
	FirLast                   time.Time            // runtime metrics from a Fir telemetry drain
	Addons                    map[string]time.Time // add-on metrics kind → last seen
	L10Lines                  int                  // L10 lines within CoverageWindow
	L10Dropped                int64                // messages they say were dropped
	CountMismatches           int64                // batches whose Logplex-Msg-Count disagreed, since FirstSeen
}

// CoverageItem is one thing dynowatch sees of an app, or should.
type CoverageItem struct {
	Name  string     `json:"name"` // router, runtime_metrics, addon_metrics, drops, drain, fir
	OK    bool       `json:"ok"`
	Since *time.Time `json:"since,omitempty"` // seen since
	Last  *time.Time `json:"last,omitempty"`  // last seen
	Say   string     `json:"say"`             // what it means, in a sentence
	Fix   string     `json:"fix,omitempty"`   // the command or step that turns it on
}

// Coverage is what dynowatch sees of an app: Mark is "full" when every item
// is OK, "partial" when some are, "blind" when it sees no line at all.
type Coverage struct {
	App   string         `json:"app"`
	Mark  string         `json:"mark"`
	Items []CoverageItem `json:"items"`
}

// AssessCoverage turns the facts of app into its checklist at now.
func AssessCoverage(app string, f CoverageFacts, now time.Time) Coverage {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	c := Coverage{App: app}
	add := func(it CoverageItem) { c.Items = append(c.Items, it) }
	fir := !f.FirLast.IsZero()

	switch {
	case f.LastMessage.IsZero():
		add(CoverageItem{Name: "drain", OK: false, Say: "no live drain: only replayed lines so far",
			Fix: fmt.Sprintf("dynowatch add %s   # prints the drain (Cedar) or telemetry drain (Fir) to add", app)})
	case now.Sub(f.LastMessage) > DrainStoppedAfter:
		add(CoverageItem{Name: "drain", OK: false, Since: opt(f.FirstSeen), Last: opt(f.LastMessage),
			Say: fmt.Sprintf("the drain stopped: no line for %s after it used to send", now.Sub(f.LastMessage).Truncate(time.Minute)),
			Fix: fmt.Sprintf("heroku drains -a %s   # is the drain still attached? add it again if not", app)})
	default:
		add(CoverageItem{Name: "drain", OK: true, Since: opt(f.FirstSeen), Last: opt(f.LastMessage), Say: "the drain sends lines"})
	}

	if f.RouterLast.IsZero() {
		add(CoverageItem{Name: "router", OK: false,
			Say: "no router lines: requests, H codes and service times are not seen (a worker-only app has none)"})
	} else {
		add(CoverageItem{Name: "router", OK: true, Since: opt(f.RouterFirst), Last: opt(f.RouterLast), Say: "router lines present"})
	}

	switch {
	case !f.RuntimeLast.IsZero():
		add(CoverageItem{Name: "runtime_metrics", OK: true, Since: opt(f.RuntimeFirst), Last: opt(f.RuntimeLast),
			Say: "runtime metrics present: memory and load of every dyno"})
	case fir:
	default:
		add(CoverageItem{Name: "runtime_metrics", OK: false,
			Say: "runtime metrics off: no memory or load per dyno, no R14 forecast; enabling takes effect at the dynos' next restart",
			Fix: fmt.Sprintf("heroku labs:enable log-runtime-metrics -a %s && heroku ps:restart -a %s", app, app)})
	}

	if len(f.Addons) == 0 {
		add(CoverageItem{Name: "addon_metrics", OK: false,
			Say: "no add-on metrics: Heroku Postgres and Key-Value Store send them to the drain by themselves, so this app has none attached or they are not logging"})
	} else {
		var last time.Time
		kinds := ""
		for _, k := range slices.Sorted(maps.Keys(f.Addons)) {
			if f.Addons[k].After(last) {
				last = f.Addons[k]
			}
			if kinds != "" {
				kinds += ", "
			}
			kinds += k
		}
		add(CoverageItem{Name: "addon_metrics", OK: true, Last: opt(last), Say: "add-on metrics present: " + kinds})
	}

	drops := CoverageItem{Name: "drops", OK: f.L10Lines == 0,
		Say: fmt.Sprintf("no L10 drops in 24 h; Logplex-Msg-Count gaps since first seen: %d", f.CountMismatches)}
	if f.L10Lines > 0 {
		drops.Say = fmt.Sprintf("Logplex dropped %d messages in 24 h (L10 notices: %d), as the drain could not keep up or a dyno logged in a burst; Logplex-Msg-Count gaps since first seen: %d",
			f.L10Dropped, f.L10Lines, f.CountMismatches)
		drops.Fix = "log less (or less at once) from the app, or run more web dynos of dynowatch"
	}
	add(drops)

	if fir {
		add(CoverageItem{Name: "fir", OK: true, Last: opt(f.FirLast), Say: "Fir telemetry present: dyno metrics through the telemetry drain"})
	}

	ok := 0
	for _, it := range c.Items {
		if it.OK {
			ok++
		}
	}
	switch {
	case ok == len(c.Items):
		c.Mark = "full"
	case f.RouterLast.IsZero() && f.RuntimeLast.IsZero() && len(f.Addons) == 0 && !fir:
		c.Mark = "blind"
	default:
		c.Mark = "partial"
	}
	return c
}

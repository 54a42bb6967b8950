package checks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/worker"
)

// Store is what a Runner needs from the store: the results, which all
// workers share (a check's previous runs may have been another worker's).
type Store interface {
	RecordCheck(ctx context.Context, r Result) error
	// CheckResults returns the runs of check name at or after since,
	// newest first, at most limit of them.
	CheckResults(ctx context.Context, name string, since time.Time, limit int) ([]Result, error)
}

// RunnerOptions configures a Runner.
type RunnerOptions struct {
	Checks  []Check
	Store   Store
	Observe func([]alert.Observation) // where the alert observations of each run go: the alert engine's Observe
	Logger  *slog.Logger
	Holder  string // this worker's name among those sharing the store, recorded with each result

	Now        func() time.Time            // optional: the clock of results
	HTTPClient *http.Client                // optional: see Prober
	LookupEnv  func(string) (string, bool) // required when a check reads env:VAR: see Prober
	Ran        func(name string, ok bool)  // optional: hears of every run, for /metrics
}

func (o *RunnerOptions) validate() error {
	switch {
	case o.Store == nil:
		return errors.New("checks: RunnerOptions.Store is required")
	case o.Observe == nil:
		return errors.New("checks: RunnerOptions.Observe is required")
	case o.Logger == nil:
		return errors.New("checks: RunnerOptions.Logger is required")
	case o.Holder == "":
		return errors.New("checks: RunnerOptions.Holder is required")
	}
	names := map[string]bool{}
	for i := range o.Checks {
		c := &o.Checks[i]
		var problem string
		switch {
		case c.Name == "":
			problem = "Name is empty"
		case names[c.Name]:
			problem = "Name is not unique"
		case c.Kind != HTTP && c.Kind != Redis && c.Kind != Postgres:
			problem = fmt.Sprintf("Kind %q is unknown", c.Kind)
		case c.Every < MinEvery:
			problem = fmt.Sprintf("Every is %v, want at least %v", c.Every, MinEvery)
		case c.Timeout <= 0 || c.Timeout >= c.Every:
			problem = fmt.Sprintf("Timeout is %v, want more than 0 and less than Every (%v)", c.Timeout, c.Every)
		case c.Fail < 1 || c.Pass < 1:
			problem = fmt.Sprintf("Fail and Pass are %d and %d, want at least 1", c.Fail, c.Pass)
		case c.URLVar != "" && o.LookupEnv == nil:
			problem = fmt.Sprintf("its target is env:%s, and RunnerOptions.LookupEnv is nil", c.URLVar)
		}
		if problem != "" {
			return fmt.Errorf("checks: RunnerOptions.Checks[%d] (%s): %s", i, c.Name, problem)
		}
		names[c.Name] = true
	}
	return nil
}

// Runner runs checks, stores their results and turns them into alert
// observations. Its Jobs put them on a worker's schedule.
type Runner struct {
	o      RunnerOptions
	prober Prober
}

// NewRunner returns a Runner of o.Checks.
func NewRunner(o RunnerOptions) (*Runner, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Runner{o: o, prober: Prober{HTTPClient: o.HTTPClient, LookupEnv: o.LookupEnv, Now: o.Now}}, nil
}

// Retired says whether an alert is of a check that is none of list: its
// CHECK_ var was removed, or its app= changed. The alert engine resolves
// such alerts (alert.EngineOptions.Retired), since no run will.
func Retired(list []Check) func(alert.Key) bool {
	return func(k alert.Key) bool {
		return k.Rule == alert.RuleCheck && !slices.ContainsFunc(list, func(c Check) bool { return c.Name == k.Code && c.App == k.App })
	}
}

// Causes names, for an app, the alerts of its Postgres and Redis checks:
// the causes its request timeouts and 5xx join (alert.EngineOptions.Causes,
// see alert's cause.go).
func Causes(list []Check) func(app string) []alert.Key {
	return func(app string) []alert.Key {
		var out []alert.Key
		for _, c := range list {
			if c.App == app && (c.Kind == Postgres || c.Kind == Redis) {
				out = append(out, alert.Key{Rule: alert.RuleCheck, App: app, Code: c.Name})
			}
		}
		return out
	}
}

// LeaseName is the store lease of check name, namespaced apart from the
// worker's other jobs.
func LeaseName(name string) string { return "check:" + name }

// Jobs are the worker jobs of the checks, one per check named by its lease:
// each check runs right away and then every Every, on one worker of those
// sharing the store, and a slow target never delays another check. The
// lease lasts at least the check's timeout, so that runs never overlap
// across workers. Runs cut short by shutdown record nothing.
func (r *Runner) Jobs() []worker.Job {
	jobs := make([]worker.Job, len(r.o.Checks))
	for i := range r.o.Checks {
		c := &r.o.Checks[i]
		jobs[i] = worker.Job{Name: LeaseName(c.Name), Every: c.Every, MinLease: c.Timeout, Immediately: true,
			Run: func(ctx context.Context, _ time.Time) error { r.run(ctx, c); return nil }}
	}
	return jobs
}

// run probes c, stores the result and hands on what it means for c's
// alerts.
func (r *Runner) run(ctx context.Context, c *Check) {
	res := r.prober.Probe(ctx, c)
	if r.o.Ran != nil {
		r.o.Ran(c.Name, res.OK)
	}
	if ctx.Err() != nil {
		return // stopping: the run says nothing about the target
	}
	res.Worker = r.o.Holder
	// The runs before, whichever worker ran them: enough to count fail= and
	// pass= and to see the list's growth. Older than a few intervals, they
	// are not the runs just before.
	n := max(c.Fail, c.Pass, 2) - 1
	prev, err := r.o.Store.CheckResults(ctx, c.Name, res.Time.Add(-time.Duration(n+1)*c.Every), n)
	if err != nil {
		r.o.Logger.Error("check history", "check", c.Name, "err", err)
		prev = nil // count this run alone rather than miss it
	}
	if c.Kind == Redis && c.List != "" && res.Value != nil && len(prev) > 0 && prev[0].Value != nil {
		if dt := res.Time.Sub(prev[0].Time); dt > 0 {
			g := (*res.Value - *prev[0].Value) / dt.Minutes()
			res.Growth = &g
		}
	}
	if err := r.o.Store.RecordCheck(ctx, res); err != nil {
		r.o.Logger.Error("storing a check result", "check", c.Name, "err", err)
	}
	if res.OK {
		r.o.Logger.Debug("check passed", "check", c.Name, "latency", res.Latency)
	} else {
		r.o.Logger.Warn("check failed", "check", c.Name, "app", c.App, "target", c.Target(), "err", res.Error)
	}
	if obs := observations(c, res, prev); len(obs) > 0 {
		r.o.Observe(obs)
	}
}

// observations are what the run cur, after the runs prev (newest first),
// says about c's alerts. The check rule counts one sample, so the counting
// of fail= and pass= happens here: Above once the last Fail runs all
// failed, Below once the last Pass all passed, nothing in between. A
// certificate near its end is an alert of its own (key …|cert), so that
// the check's availability and its certificate fire and resolve apart.
func observations(c *Check, cur Result, prev []Result) []alert.Observation {
	key := alert.Key{Rule: alert.RuleCheck, App: c.App, Code: c.Name}
	cert := key
	cert.Part = "cert"
	obs := func(key alert.Key, kind alert.ObsKind, summary, evidence string) alert.Observation {
		return alert.Observation{Key: key.String(), Rule: alert.RuleCheck, App: c.App, Code: c.Name, Kind: kind, At: cur.Time, Count: 1, Severity: c.Severity,
			Summary: summary, Evidence: evidence}
	}
	var out []alert.Observation
	runs := append([]Result{cur}, prev...)
	if n := streak(runs, false); n >= c.Fail {
		out = append(out, obs(key, alert.Above,
			fmt.Sprintf("%s check %s failing (%s): %s", c.Kind, c.Name, times(n), clipText(cur.Error, 160)), cur.Error))
	} else if n := streak(runs, true); n >= c.Pass {
		out = append(out, obs(key, alert.Below, fmt.Sprintf("%s check %s passing", c.Kind, c.Name), ""))
	}
	if !cur.CertExpiry.IsZero() {
		var o alert.Observation
		if cur.Warning != "" {
			o = obs(cert, alert.Above, fmt.Sprintf("check %s: %s", c.Name, cur.Warning), cur.Warning)
		} else {
			o = obs(cert, alert.Below, fmt.Sprintf("check %s: certificate valid until %s", c.Name, cur.CertExpiry.Format(time.DateOnly)), "")
		}
		// Days ahead of the end, and reminded of every hour until it is
		// renewed: a warning whatever the check's severity, or the default
		// channels would send an SMS an hour for two weeks.
		o.Severity = alert.Warning
		out = append(out, o)
	}
	return out
}

// streak counts the runs, newest first, that passed (ok) or failed (!ok)
// in a row.
func streak(runs []Result, ok bool) int {
	n := 0
	for n < len(runs) && runs[n].OK == ok {
		n++
	}
	return n
}

func times(n int) string {
	if n == 1 {
		return "1 run"
	}
	return fmt.Sprintf("%d runs in a row", n)
}

func clipText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

package checks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/dynowatch/dynowatch/internal/duration"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// Result is what one run of a check found, as the store keeps it.
type Result struct {
	ID         int64         // set by the store
	Check      string        // Check.Name
	App        string        // Check.App
	Kind       string        // http, redis or postgres
	Time       time.Time     // when the run started
	OK         bool          // the target was up and within its limits
	Latency    time.Duration // how long the run took
	Value      *float64      // http: the status; redis list: its length; nil: none
	Growth     *float64      // redis list: items a minute since the run before; nil: none
	CertExpiry time.Time     // https: when the certificate ends; zero: none
	Warning    string        // not a failure, but worth an alert: a certificate near its end
	Error      string        // why the run failed; "" when OK
	Worker     string        // the holder that ran it
}

// UptimeWindow is a span over which a check's uptime is shown.
type UptimeWindow struct {
	Name string // as the API names it: 24h, 7d, 30d
	Span time.Duration
}

// UptimeWindows are the spans over which the API and the dashboard show
// the share of a check's runs that passed.
var UptimeWindows = [3]UptimeWindow{{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}}

// Prober runs checks once. Its zero value is ready to use.
type Prober struct {
	// HTTPClient sends the requests of http checks; its Timeout and
	// CheckRedirect are replaced per check. nil means a client of the run's
	// own without keep-alives, so that every run dials, resolves and
	// shakes hands afresh, as a new visitor would.
	HTTPClient *http.Client
	// LookupEnv reads the config var of an env:VAR target at every run;
	// config.Config.LookupEnv in dynowatch. nil finds no var, so such a
	// check fails saying its var is not set.
	LookupEnv func(string) (string, bool)
	// Now is the clock of Result.Time and of certificate expiry; nil means
	// time.Now. Deadlines and latency use the real clock.
	Now func() time.Time
}

// outcome is what a probe found, before the Result is filled in.
type outcome struct {
	err        string
	value      *float64
	certExpiry time.Time
	warning    string
}

func fail(format string, args ...any) outcome { return outcome{err: fmt.Sprintf(format, args...)} }

// Probe runs c once, within c.Timeout, and says what it found. It never
// returns an error: a failure is a Result that is not OK, with the reason,
// and no reason contains a password of the target. When ctx ends before the
// run does, the Result fails with ctx's error.
func (p *Prober) Probe(ctx context.Context, c *Check) Result {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	r := Result{Check: c.Name, App: c.App, Kind: string(c.Kind), Time: now()}
	raw, err := c.ResolveURL(p.LookupEnv)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	runCtx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	start := time.Now()
	var o outcome
	switch c.Kind {
	case HTTP:
		o = p.probeHTTP(runCtx, c, raw, start, r.Time)
	case Redis:
		o = probeRedis(runCtx, c, raw)
	case Postgres:
		o = probePostgres(runCtx, c, raw)
	default:
		o = fail("unknown kind %q", c.Kind)
	}
	r.Latency = time.Since(start)
	if ctx.Err() != nil && o.err != "" {
		o.err = "stopped: " + ctx.Err().Error() // not the target's fault
	}
	r.OK = o.err == ""
	r.Value, r.CertExpiry = o.value, o.certExpiry
	scrub := redact.URLScrubber(raw)
	r.Error, r.Warning = scrub.Scrub(o.err), scrub.Scrub(o.warning)
	return r
}

// timedOut describes a failure of a run whose deadline passed, or returns
// "" when it did not.
func timedOut(ctx context.Context, c *Check, doing string) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("timed out after %s %s", duration.Format(c.Timeout), doing)
	}
	return ""
}

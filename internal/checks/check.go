// Package checks runs status checks of web endpoints, Redis queues and
// Postgres tables, each configured by a CHECK_<NAME> config var.
package checks

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/duration"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// Kind is what a check probes.
type Kind string

// Kinds of check.
const (
	HTTP     Kind = "http"     // a web endpoint: status, latency, body, certificate
	Redis    Kind = "redis"    // PING, and the length of a list (a queue)
	Postgres Kind = "postgres" // connect, SELECT 1, and that a table exists
)

// Defaults and limits of the options.
const (
	DefaultEvery    = time.Minute
	DefaultTimeout  = 10 * time.Second // or half of every, when every is under 20s
	DefaultFail     = 2
	DefaultPass     = 1
	DefaultCertDays = 14
	MinEvery        = time.Second
	MaxEvery        = 24 * time.Hour
	MaxRuns         = 100 // the most fail= and pass= may be
)

// Check is one status check, as its CHECK_<NAME> config var describes it.
// Parse makes them; the zero values of the options are not their defaults.
type Check struct {
	Name   string // the var's suffix, lower-cased: CHECK_API is "api"
	Var    string // the config var: CHECK_API
	Kind   Kind
	URL    string // the target, unless URLVar is set
	URLVar string // env:VAR: the config var holding the URL, read at every run so that rotated credentials are followed

	Every   time.Duration
	Timeout time.Duration // a hard deadline of each run; less than Every
	Fail    int           // consecutive failed runs that fire the alert
	Pass    int           // consecutive passed runs that resolve it
	App     string        // the monitored Heroku app the check belongs to; optional
	// Severity is severity= as given, "" without it: then the check rule's
	// (ALERT_CHECK_SEVERITY, or ALERT_CHECK_SEVERITY__<APP>) applies.
	Severity alert.Severity

	// http
	Status          Statuses      // accepted statuses
	Method          string        // GET unless set
	Contains        string        // text the body must contain; "" for any body
	MaxLatency      time.Duration // slower is a failure; 0: only the timeout
	Headers         []Header      // sent with the request
	FollowRedirects bool          // otherwise a 3xx is the answer
	CertDays        int           // https: warn when the certificate ends within this many days; 0: never

	// redis
	List      string // a list (a queue) whose length is measured; "" for PING only
	Max       *int64 // the most items List may hold; nil: no limit, only measured
	TLSVerify bool   // verify a rediss:// certificate; off by default, as Heroku's are self-signed

	// postgres
	Table string // a table (or view) that must exist, optionally schema-qualified; "" for SELECT 1
}

// Header is one request header of an http check.
type Header struct {
	Name, Value string
}

// Statuses are the HTTP statuses an http check accepts: codes ("200") and
// classes ("2xx").
type Statuses []string

// Match reports whether code is one of s.
func (s Statuses) Match(code int) bool {
	c := strconv.Itoa(code)
	for _, v := range s {
		if v == c || (len(c) == 3 && strings.HasSuffix(v, "xx") && v[0] == c[0]) {
			return true
		}
	}
	return false
}

// String is s as status= takes it: 200,2xx.
func (s Statuses) String() string { return strings.Join(s, ",") }

// Target is where the check's URL comes from, for people: the URL with its
// password redacted, or env:VAR.
func (c *Check) Target() string {
	if c.URLVar != "" {
		return "env:" + c.URLVar
	}
	return redact.URL(c.URL)
}

// ResolveURL returns the URL to probe now: c.URL, or the value of the config
// var c.URLVar as lookup (os.LookupEnv's shape; nil finds none) finds it. Its
// errors contain no password.
func (c *Check) ResolveURL(lookup func(string) (string, bool)) (string, error) {
	if c.URLVar == "" {
		return c.URL, nil
	}
	v, ok := lookupIn(lookup, c.URLVar)
	if p := resolveProblem(c, v, ok); p != "" {
		return "", fmt.Errorf("%s: %s", c.Var, p)
	}
	return v, nil
}

// String is c in the CHECK_ var grammar with every option spelled out, the
// password of its URL and the values of its headers redacted.
func (c *Check) String() string { return c.format(true) }

func (c *Check) format(hide bool) string {
	var b strings.Builder
	target := c.URL
	if c.URLVar != "" {
		target = "env:" + c.URLVar
	} else if hide {
		target = redact.URL(c.URL)
	}
	b.WriteString(string(c.Kind) + " " + quote(target))
	opt := func(k, v string) { b.WriteString(" " + k + "=" + quote(v)) }
	opt("every", duration.Format(c.Every))
	opt("timeout", duration.Format(c.Timeout))
	opt("fail", strconv.Itoa(c.Fail))
	opt("pass", strconv.Itoa(c.Pass))
	if c.App != "" {
		opt("app", c.App)
	}
	if c.Severity != "" {
		opt("severity", string(c.Severity))
	}
	switch c.Kind {
	case HTTP:
		opt("status", c.Status.String())
		opt("method", c.Method)
		if c.Contains != "" {
			opt("contains", c.Contains)
		}
		if c.MaxLatency > 0 {
			opt("max_latency", duration.Format(c.MaxLatency))
		}
		for _, h := range c.Headers {
			v := h.Value
			if hide {
				v = redact.Mask
			}
			opt("header", h.Name+": "+v)
		}
		opt("follow_redirects", strconv.FormatBool(c.FollowRedirects))
		opt("cert_days", strconv.Itoa(c.CertDays))
	case Redis:
		if c.List != "" {
			opt("list", c.List)
		}
		if c.Max != nil {
			opt("max", strconv.FormatInt(*c.Max, 10))
		}
		opt("tls_verify", strconv.FormatBool(c.TLSVerify))
	case Postgres:
		if c.Table != "" {
			opt("table", c.Table)
		}
	}
	return b.String()
}

// quote returns v as a logfmt value: bare when it can be, quoted otherwise.
func quote(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\r\n\"\\") && strconv.CanBackquote(v) {
		return v
	}
	return strconv.Quote(v)
}

// ConfigError is a bad CHECK_ var: which, what is wrong, and an example of
// a good one.
type ConfigError struct {
	Var     string
	Problem string
	Example string
}

// Error says which var, what is wrong, and shows a good one.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("config var %s: %s; for example %s", e.Var, e.Problem, e.Example)
}

// examples are good CHECK_ values of every kind.
var examples = map[Kind]string{
	HTTP:     `"http https://myapp.herokuapp.com/health every=30s timeout=5s status=200"`,
	Redis:    `"redis env:REDIS_URL list=jobs max=1000 every=1m timeout=3s"`,
	Postgres: `"postgres env:DATABASE_URL table=users every=1m timeout=5s"`,
}

func configError(name string, kind Kind, format string, args ...any) error {
	ex, ok := examples[kind]
	if !ok {
		ex = examples[HTTP]
	}
	return &ConfigError{Var: name, Problem: fmt.Sprintf(format, args...), Example: name + "=" + ex}
}

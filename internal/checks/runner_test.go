package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakeStore is a Store in memory.
type fakeStore struct {
	mu      sync.Mutex
	results []Result // newest last
}

func (f *fakeStore) RecordCheck(_ context.Context, r Result) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results = append(f.results, r)
	return nil
}

func (f *fakeStore) CheckResults(_ context.Context, name string, since time.Time, limit int) ([]Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Result
	for i := len(f.results) - 1; i >= 0 && len(out) < limit; i-- {
		if r := f.results[i]; r.Check == name && !r.Time.Before(since) {
			out = append(out, r)
		}
	}
	return out, nil
}

// observer collects observations.
type observer struct {
	mu  sync.Mutex
	obs []alert.Observation
}

func (o *observer) observe(obs []alert.Observation) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.obs = append(o.obs, obs...)
}

func (o *observer) take() []alert.Observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.obs
	o.obs = nil
	return out
}

// The alerting of one check as a story: runs one after another, and what
// each says about the alert.
func TestObservationsStory(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "http https://myapp.example.com/health fail=2 pass=2 app=shop")
	t0 := time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)
	var runs []Result // newest first
	step := func(name string, ok bool, want string) {
		t.Helper()
		r := Result{Check: c.Name, App: c.App, Kind: "http", Time: t0.Add(time.Duration(len(runs)) * time.Minute), OK: ok}
		if !ok {
			r.Error = "HTTP 503 Service Unavailable, want 2xx"
		}
		obs := observations(c, r, runs)
		runs = append([]Result{r}, runs...)
		var got []string
		for _, o := range obs {
			if o.Key != (alert.Key{Rule: alert.RuleCheck, App: "shop", Code: "t"}).String() || o.Rule != alert.RuleCheck || o.App != "shop" || o.Code != "t" || !o.At.Equal(r.Time) || o.Count != 1 {
				t.Fatalf("%s: observation %+v", name, o)
			}
			got = append(got, map[alert.ObsKind]string{alert.Above: "above", alert.Below: "below"}[o.Kind]+": "+o.Summary)
		}
		if g := strings.Join(got, "\n"); g != want {
			t.Fatalf("%s: observations\n%s\nwant\n%s", name, g, want)
		}
	}
	step("a first pass: the alert has nothing to resolve, but below says so", true, "")
	step("a second pass", true, "below: http check t passing")
	step("one failure: not yet", false, "")
	step("the second in a row fires", false, "above: http check t failing (2 runs in a row): HTTP 503 Service Unavailable, want 2xx")
	step("a third keeps it firing", false, "above: http check t failing (3 runs in a row): HTTP 503 Service Unavailable, want 2xx")
	step("one pass: not yet resolved", true, "")
	step("a failure again", false, "")
	step("and another: firing", false, "above: http check t failing (2 runs in a row): HTTP 503 Service Unavailable, want 2xx")
	step("pass", true, "")
	step("pass: resolved", true, "below: http check t passing")

	// fail=1 pass=1: every run decides, and the evidence is the error.
	c1 := mustParse(t, "redis redis://h:6379 fail=1 pass=1")
	obs := observations(c1, Result{Time: t0, Error: "PING: connection refused"}, nil)
	if len(obs) != 1 || obs[0].Kind != alert.Above || obs[0].Key != (alert.Key{Rule: alert.RuleCheck, Code: "t"}).String() || obs[0].Evidence != "PING: connection refused" ||
		obs[0].Summary != "redis check t failing (1 run): PING: connection refused" {
		t.Fatalf("fail=1: %+v", obs)
	}
}

func TestObservationsCertificate(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "http https://myapp.example.com fail=1")
	at := time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)
	end := at.Add(5 * 24 * time.Hour)
	for _, r := range []struct {
		name string
		res  Result
		want []string
	}{
		{"up, certificate ending", Result{Time: at, OK: true, CertExpiry: end, Warning: "the certificate expires in 5 days"},
			[]string{" below", "cert above check t: the certificate expires in 5 days"}},
		{"up, certificate fine", Result{Time: at, OK: true, CertExpiry: end.AddDate(1, 0, 0)},
			[]string{" below", "cert below check t: certificate valid until 2027-11-08"}},
		{"down: says nothing of the certificate", Result{Time: at, Error: "timed out"}, []string{" above"}},
	} {
		var got []string
		for _, o := range observations(c, r.res, nil) {
			k, err := alert.ParseKey(o.Key)
			if err != nil {
				t.Fatal(err)
			}
			s := k.Part + map[alert.ObsKind]string{alert.Above: " above", alert.Below: " below"}[o.Kind]
			if k.Part == "cert" {
				s += " " + o.Summary
			}
			got = append(got, s)
		}
		if strings.Join(got, "\n") != strings.Join(r.want, "\n") {
			t.Errorf("%s: %q, want %q", r.name, got, r.want)
		}
	}
}

func TestNewRunnerValidates(t *testing.T) {
	t.Parallel()
	good := func() RunnerOptions {
		return RunnerOptions{Checks: []Check{*mustParse(t, "http http://x.com")}, Store: &fakeStore{},
			Observe: func([]alert.Observation) {}, Logger: discard(), Holder: "w1"}
	}
	if _, err := NewRunner(good()); err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*RunnerOptions)
		want string
	}{
		{"store", func(o *RunnerOptions) { o.Store = nil }, "RunnerOptions.Store"},
		{"observe", func(o *RunnerOptions) { o.Observe = nil }, "RunnerOptions.Observe"},
		{"logger", func(o *RunnerOptions) { o.Logger = nil }, "RunnerOptions.Logger"},
		{"holder", func(o *RunnerOptions) { o.Holder = "" }, "RunnerOptions.Holder"},
		{"twice", func(o *RunnerOptions) { o.Checks = append(o.Checks, o.Checks[0]) }, "Checks[1] (t): Name is not unique"},
		{"timeout", func(o *RunnerOptions) { o.Checks[0].Timeout = o.Checks[0].Every }, "Checks[0] (t): Timeout"},
		{"zero check", func(o *RunnerOptions) { o.Checks = []Check{{Name: "z", Kind: HTTP}} }, "Checks[0] (z): Every"},
		{"env: target without a lookup", func(o *RunnerOptions) { o.Checks[0].URL, o.Checks[0].URLVar = "", "API_URL" }, "Checks[0] (t): its target is env:API_URL, and RunnerOptions.LookupEnv is nil"},
	} {
		o := good()
		c.edit(&o)
		if _, err := NewRunner(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: NewRunner = %v, want an error naming %s", c.name, err, c.want)
		}
	}
}

// One run: a queue's growth from the run before, and nothing recorded when the run is cut short by shutdown.
func TestRunnerRun(t *testing.T) {
	t.Parallel()
	raw, client, prefix := testRedis(t)
	key := prefix + "jobs"
	c := mustParse(t, `redis `+raw+` list="`+key+`" max=100 every=30s timeout=5s`)
	now := time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)
	fs := &fakeStore{}
	var ob observer
	r, err := NewRunner(RunnerOptions{Checks: []Check{*c}, Store: fs, Observe: ob.observe, Logger: discard(), Holder: "w1",
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i, items := range []int{10, 40} { // 30 more items in 30 s: 60 a minute
		for client.LLen(ctx, key).Val() < int64(items) {
			if err := client.RPush(ctx, key, "job").Err(); err != nil {
				t.Fatal(err)
			}
		}
		r.run(ctx, &r.o.Checks[0])
		last := fs.results[len(fs.results)-1]
		if !last.OK || value(last) != float64(items) || last.Worker != "w1" {
			t.Fatalf("run %d: %+v", i, last)
		}
		if i == 0 && last.Growth != nil {
			t.Fatalf("growth %v without a run before", *last.Growth)
		}
		if i == 1 && (last.Growth == nil || *last.Growth != 60) {
			t.Fatalf("growth %v, want 60 a minute", last.Growth)
		}
		now = now.Add(30 * time.Second)
	}
	if obs := ob.take(); len(obs) != 2 || obs[0].Kind != alert.Below || obs[1].Kind != alert.Below { // pass=1: each pass says so
		t.Fatalf("observations %+v, want one below a run", obs)
	}

	stopped, cancel := context.WithCancel(ctx)
	cancel()
	r.run(stopped, &r.o.Checks[0])
	if len(fs.results) != 2 {
		t.Fatalf("a run cut short by shutdown was recorded: %+v", fs.results[len(fs.results)-1])
	}
}

// TestCertificateEndingSoonIsAWarning: the alert of a certificate near its
// end is a warning, as the README says, whatever the check's own severity:
// with the default channels a critical one would send an SMS every hour.
func TestCertificateEndingSoonIsAWarning(t *testing.T) {
	t.Parallel()
	cert := selfSigned(t, time.Now().Add(5*24*time.Hour+time.Hour))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}

	rules := alert.DefaultRules()
	for _, value := range []string{"http " + srv.URL + " app=shop", "http " + srv.URL + " app=shop severity=critical"} {
		c, err := Parse("CHECK_SHOP", value)
		if err != nil {
			t.Fatal(err)
		}
		list := []Check{c}
		var seen observer
		r, err := NewRunner(RunnerOptions{Checks: list, Store: &fakeStore{}, Observe: seen.observe, Logger: discard(), Holder: "w", HTTPClient: trusting})
		if err != nil {
			t.Fatal(err)
		}
		r.run(context.Background(), &list[0])
		var severities []alert.Severity
		for _, o := range seen.take() {
			if k, err := alert.ParseKey(o.Key); err != nil || k.Part != "cert" || o.Kind != alert.Above {
				continue
			}
			s, _ := alert.Apply(alert.State{}, o, rules.For(o.App, o.Rule), rules.Policy, false)
			severities = append(severities, s.Severity)
		}
		if len(severities) != 1 || severities[0] != alert.Warning {
			t.Errorf("%s: certificate alerts of severity %v, want one warning", value, severities)
		}
	}
}

// TestRetired: an alert of a check whose CHECK_ var was removed, or whose
// app= changed, is retired; the alerts of the checks configured, and of
// other rules, are not.
func TestRetired(t *testing.T) {
	t.Parallel()
	retired := Retired([]Check{{Name: "api", App: "shop"}, {Name: "db"}})
	for _, tc := range []struct {
		key  alert.Key
		want bool
	}{
		{alert.Key{Rule: alert.RuleCheck, App: "shop", Code: "api"}, false},
		{alert.Key{Rule: alert.RuleCheck, App: "shop", Code: "api", Part: "cert"}, false},
		{alert.Key{Rule: alert.RuleCheck, Code: "db"}, false},
		{alert.Key{Rule: alert.RuleCheck, App: "cart", Code: "api"}, true}, // app= changed
		{alert.Key{Rule: alert.RuleCheck, App: "shop", Code: "gone"}, true},
		{alert.Key{Rule: alert.RuleR14, App: "shop", Code: "gone"}, false},
	} {
		if got := retired(tc.key); got != tc.want {
			t.Errorf("Retired(%v) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

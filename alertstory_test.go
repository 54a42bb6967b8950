package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/alert"
	"github.com/dynowatch/dynowatch/api"
	"github.com/dynowatch/dynowatch/checks"
	"github.com/dynowatch/dynowatch/config"
	"github.com/dynowatch/dynowatch/drain"
	"github.com/dynowatch/dynowatch/ingest"
	"github.com/dynowatch/dynowatch/notify"
	"github.com/dynowatch/dynowatch/parse"
	"github.com/dynowatch/dynowatch/store"
	"github.com/dynowatch/dynowatch/store/storetest"
)

// alertStory drives the alert path as a user meets it, on simulated time:
// config vars as the README writes them, read by the loaders every role
// uses; Heroku's own log lines through parse, ingest (rollups, events) and
// the detector; status checks through their runner; the worker's window
// rules and tick; the real store; the silences API; and a receiver on the
// one channel (ALERT_WEBHOOK_URL) that gets whatever the outbox lets out.
type alertStory struct {
	t      *testing.T
	ctx    context.Context
	now    time.Time
	st     *store.Store
	log    *slog.Logger
	al     *alerting
	checks []checks.Check
	api    http.Handler
	heard  []alert.Notification // what the receiver got, in order
	broken string               // a channel whose every send fails, as with a revoked key
	vars   []string             // the config vars configure set
}

// storyStart is the story's first moment; lines are stamped relative to it.
var storyStart = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func newAlertStory(t *testing.T, environ ...string) *alertStory {
	t.Helper()
	s := &alertStory{t: t, ctx: context.Background(), now: storyStart, st: storetest.MustOpenEmbedded(t),
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.configure(environ...)
	mux := http.NewServeMux()
	if err := api.Register(mux, api.Options{Store: s.st, Passwords: []string{"pw"}, Logger: s.log, Now: func() time.Time { return s.now }}); err != nil {
		t.Fatal(err)
	}
	s.api = mux
	return s
}

// configure starts alerting afresh with the ALERT_ and CHECK_ vars of
// environ ("NAME=value"), as a release with changed config vars restarts
// every dyno: the store and what it holds stay.
func (s *alertStory) configure(environ ...string) {
	s.t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "ALERT_") || strings.HasPrefix(name, "CHECK_") || slices.Contains(s.vars, name) {
			s.t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	s.vars = s.vars[:0]
	// The story's receiver reads the outbox itself: nothing is posted here.
	s.t.Setenv("ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		s.t.Setenv(name, value)
		s.vars = append(s.vars, name)
	}
	cfg, err := config.Load()
	if err != nil {
		s.t.Fatal(err)
	}
	rules, err := loadRules()
	if err != nil {
		s.t.Fatal(err)
	}
	if s.checks, err = loadChecks(); err != nil {
		s.t.Fatal(err)
	}
	if s.al, err = newAlerting(cfg, rules, s.checks, s.log, s.st, newMetrics(), func() time.Time { return s.now }); err != nil {
		s.t.Fatal(err)
	}
}

// runChecks runs the configured checks on their schedule (in real time)
// until done says so, failing after 10 s.
func (s *alertStory) runChecks(done func() bool) {
	s.t.Helper()
	stop, err := startChecks(s.ctx, s.checks, s.log, s.st, s.al, "story")
	if err != nil {
		s.t.Fatal(err)
	}
	defer stop()
	for deadline := time.Now().Add(10 * time.Second); !done(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatal("checks: not done within 10 s")
		}
	}
}

// firing says whether an alert of rule is firing.
func (s *alertStory) firing(rule alert.RuleName) bool {
	s.t.Helper()
	active, err := s.st.ActiveAlerts(s.ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	return slices.ContainsFunc(active, func(a store.AlertState) bool { return a.Rule == string(rule) && a.State == "firing" })
}

// at moves the story's clock to d after its start.
func (s *alertStory) at(d time.Duration) { s.now = storyStart.Add(d) }

// line stamps a Heroku log line (without its timestamp) with the story's now.
func (s *alertStory) line(rest string) string { return s.now.Format(time.RFC3339) + " " + rest }

// drain delivers lines of app as a drain request arriving now, through
// ingest, whose rollups are flushed before it returns.
func (s *alertStory) drain(app string, lines ...string) {
	s.t.Helper()
	var entries []parse.Entry
	sc := parse.NewScanner(strings.NewReader(strings.Join(lines, "\n")+"\n"), parse.FormPlain)
	for sc.Scan() {
		e, err := sc.Entry()
		if err != nil {
			s.t.Fatalf("parsing %q: %v", lines, err)
		}
		entries = append(entries, *e)
	}
	p, err := ingest.New(ingest.Options{Store: s.st, Logger: s.log, FlushEvery: time.Hour, Committers: 1, EventLinesPerMinute: 100,
		Now: func() time.Time { return s.now },
		Observe: func(app string, entries []parse.Entry) {
			if err := s.al.engine.Apply(s.ctx, s.al.detector.Observe(app, entries)); err != nil {
				s.t.Errorf("applying observations: %v", err)
			}
		}})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	if _, err := p.Ingest(s.ctx, &drain.Batch{App: app, Received: s.now, Entries: entries}); err != nil {
		s.t.Fatal(err)
	}
	cancel() // Run flushes the rollups as it stops
	if err := <-done; err != nil {
		s.t.Fatal(err)
	}
	s.deliver()
}

// tick is the worker's alert job at now: window rules and time.
func (s *alertStory) tick() {
	s.t.Helper()
	if err := s.al.evaluate(s.ctx, s.now); err != nil {
		s.t.Fatal(err)
	}
	s.deliver()
}

// deliver hands the receiver what the outbox lets out now.
func (s *alertStory) deliver() {
	s.t.Helper()
	items, err := s.st.ClaimOutbox(s.ctx, "story", s.now, time.Minute, 100)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, it := range items {
		if it.Channel == s.broken {
			if err := s.st.MarkFailed(s.ctx, it.ID, "story", s.now, s.now.Add(30*time.Second), "HTTP 401: invalid API key"); err != nil {
				s.t.Fatal(err)
			}
			continue
		}
		if it.Channel == "webhook" {
			var n alert.Notification
			if err := json.Unmarshal(it.Payload, &n); err != nil {
				s.t.Fatal(err)
			}
			s.heard = append(s.heard, n)
		}
		if err := s.st.MarkSent(s.ctx, it.ID, "story", s.now); err != nil {
			s.t.Fatal(err)
		}
	}
}

// told returns what the receiver got since the last call, one
// "status RULE code dyno" line per alert.
func (s *alertStory) told() []string {
	var out []string
	for _, n := range s.heard {
		for _, a := range n.Alerts {
			out = append(out, strings.Join(strings.Fields(string(n.Status)+" "+a.Rule.Var()+" "+a.Code+" "+a.Dyno), " "))
		}
	}
	s.heard = nil
	return out
}

// expect fails unless the receiver got exactly want since the last call.
func (s *alertStory) expect(why string, want ...string) {
	s.t.Helper()
	if got := s.told(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		s.t.Fatalf("%s: the receiver got %q, want %q", why, got, want)
	}
}

// expectAll is expect for notifications of different alerts, whose order
// among each other is no promise.
func (s *alertStory) expectAll(why string, want ...string) {
	s.t.Helper()
	got := s.told()
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		s.t.Fatalf("%s: the receiver got %q, want %q in any order", why, got, want)
	}
}

// call makes an API request with the dashboard password and returns the
// status and body.
func (s *alertStory) call(method, path, body string) (int, string) {
	s.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.SetBasicAuth("me", "pw")
	w := httptest.NewRecorder()
	s.api.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// TestSilenceByTheREADMEsRuleNameMutes: a silence for "R15" or "H_CODES",
// the README's spelling, mutes those alerts, as does the spelling of alerts
// ("slow_requests": the H12's 30 s makes the minute's p95).
func TestSilenceByTheREADMEsRuleNameMutes(t *testing.T) {
	s := newAlertStory(t)
	for _, rule := range []string{"R15", "H_CODES", "slow_requests"} {
		if code, body := s.call("POST", "/api/v1/silences", `{"rule":"`+rule+`","duration":"1h","reason":"known"}`); code != http.StatusCreated {
			t.Fatalf("silence of %s: %d %s", rule, code, body)
		}
	}
	s.drain("shop",
		s.line(`heroku[worker.1]: Process running mem=1029MB(201.0%)`),
		s.line(`heroku[worker.1]: Error R15 (Memory quota vastly exceeded)`),
		s.line(`heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno=web.1 connect=6ms service=30001ms status=503 bytes=0`))
	s.at(2 * time.Minute) // past ALERT_GROUP_WAIT: nothing is held back either
	s.tick()
	s.expect("R15 and H12 while silenced")
	s.drain("shop", s.line(`heroku[worker.2]: Error R14 (Memory quota exceeded)`))
	s.expect("an R14, which no silence covers", "firing R14 R14 worker.2")
}

// TestSilenceOfAnUnknownRuleIsRefused: a silence that would mute nothing is
// a 400 that lists the rules.
func TestSilenceOfAnUnknownRuleIsRefused(t *testing.T) {
	s := newAlertStory(t)
	code, body := s.call("POST", "/api/v1/silences", `{"rule":"H12","duration":"1h"}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "H_CODES") || !strings.Contains(body, "R15") {
		t.Errorf("silence of rule H12: %d %s, want 400 listing the rules", code, body)
	}
	code, body = s.call("POST", "/api/v1/silences", `{"key":"h12|shop","duration":"1h"}`)
	if code != http.StatusBadRequest {
		t.Errorf("silence of key h12|shop: %d %s, want 400", code, body)
	}
	if _, body := s.call("GET", "/api/v1/silences", ""); strings.Contains(body, "H12") || strings.Contains(body, "h12") {
		t.Errorf("refused silences were kept: %s", body)
	}
}

// requests are n router lines of app traffic at now: status 200 and 40 ms
// unless code says an H error (then as Heroku logs it).
func (s *alertStory) requests(n int, line string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s.line(line)
	}
	return out
}

const (
	okRequest   = `heroku[router]: at=info method=GET path="/" host=myapp.herokuapp.com request_id=0b27af66 fwd="115.96.38.61" dyno=web.1 connect=1ms service=40ms status=200 bytes=1811 protocol=https`
	serverError = `heroku[router]: at=info method=POST path="/orders" host=myapp.herokuapp.com request_id=9c1e2f00 fwd="115.96.38.61" dyno=web.2 connect=1ms service=120ms status=500 bytes=310 protocol=https`
	h80Request  = `heroku[router]: at=info code=H80 desc="Maintenance mode" method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno= connect= service= status=503 bytes=`
	h12Request  = `heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno=web.1 connect=6ms service=30001ms status=503 bytes=0`
)

// TestMaintenanceModeNeverPages: `heroku maintenance:on` turns every request
// into an H80 with status 503; nobody is paged while it lasts (not even for
// the errors that made someone turn it on), nor once it ends, and the first
// normal request ends it.
func TestMaintenanceModeNeverPages(t *testing.T) {
	s := newAlertStory(t)
	s.drain("shop", append(s.requests(37, okRequest), s.requests(3, serverError)...)...) // 7.5% 5xx
	for m := 1; m <= 6; m++ {                                                            // maintenance:on
		s.at(time.Duration(m) * time.Minute)
		s.drain("shop", s.requests(40, h80Request)...)
		s.tick()
	}
	s.expect("in maintenance mode")
	for m := 7; m <= 13; m++ { // maintenance:off, 5XX_RATE's window still holds the H80s
		s.at(time.Duration(m) * time.Minute)
		s.drain("shop", s.requests(40, okRequest)...)
		s.tick()
	}
	s.expect("after maintenance")
	s.drain("shop", s.line(h12Request))
	s.expect("an H12 once maintenance is over", "firing H_CODES H12 web.1")
}

// TestHCodesAlertNamesTheDynoOfItsLatestError: an H_CODES alert is one per
// app and code; it reports the dyno of the error that (re)fired it, not the
// first it ever saw.
func TestHCodesAlertNamesTheDynoOfItsLatestError(t *testing.T) {
	s := newAlertStory(t)
	s.drain("shop", append(s.requests(40, okRequest), s.line(h12Request))...)
	s.expect("an H12 on web.1", "firing H_CODES H12 web.1")
	s.at(10 * time.Minute)
	s.tick()
	s.expect("a window later", "resolved H_CODES H12 web.1")
	s.at(20 * time.Minute)
	s.drain("shop", append(s.requests(40, okRequest), s.line(strings.Replace(h12Request, "dyno=web.1", "dyno=web.3", 1)))...)
	s.expect("an H12 on web.3", "firing H_CODES H12 web.3")
}

// TestCrashLoopCountsCrashesWithinASlidingWindow: CRASH_LOOP fires on 3
// crashes of one dyno within 15 minutes, wherever the first crash it ever
// counted was: crashes at 0, 14, 16 and 17 minutes fire at 17.
func TestCrashLoopCountsCrashesWithinASlidingWindow(t *testing.T) {
	s := newAlertStory(t)
	crashes := map[int]bool{0: true, 14: true, 16: true, 17: true}
	for m := 0; m <= 17; m++ {
		s.at(time.Duration(m) * time.Minute)
		if crashes[m] {
			s.drain("shop", s.line(`heroku[web.1]: State changed from up to crashed`))
		}
		s.tick()
		if m < 17 {
			s.expect(fmt.Sprintf("minute %d", m))
		}
	}
	s.expect("the third crash within 15 minutes", "firing CRASH_LOOP web.1")
}

// TestAlertOfARemovedCheckResolves: removing a failing check's CHECK_ var
// resolves its alert at the worker's next tick, and nobody is reminded of it.
func TestAlertOfARemovedCheckResolves(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer down.Close()
	s := newAlertStory(t, "CHECK_API=http "+down.URL+"/health every=1s timeout=500ms fail=1 app=shop")
	s.runChecks(func() bool { return s.firing(alert.RuleCheck) })
	s.deliver()
	s.expect("the failing check", "firing CHECK api")
	s.configure() // heroku config:unset CHECK_API
	s.at(time.Minute)
	s.tick()
	s.expect("the check removed", "resolved CHECK api")
	s.at(3 * time.Hour)
	s.tick()
	s.expect("hours later")
}

// TestAlertOfARuleTurnedOffResolves: ALERT_<RULE>_ENABLED=false, for every
// app or for one, resolves the rule's firing alerts at the worker's next tick.
func TestAlertOfARuleTurnedOffResolves(t *testing.T) {
	s := newAlertStory(t)
	s.drain("shop", append(s.requests(40, okRequest), s.line(`heroku[worker.1]: Error R14 (Memory quota exceeded)`), s.line(h12Request))...)
	s.at(2 * time.Minute)
	s.tick()
	s.expectAll("an R14 and an H12", "firing R14 R14 worker.1", "firing H_CODES H12 web.1")
	s.configure("ALERT_R14_ENABLED=false", "ALERT_H_CODES_ENABLED__SHOP=false")
	s.drain("shop", s.line(`heroku[worker.1]: Error R14 (Memory quota exceeded)`), s.line(h12Request))
	s.tick()
	s.expectAll("both rules off", "resolved R14 R14 worker.1", "resolved H_CODES H12 web.1")
	s.at(3 * time.Hour)
	s.drain("shop", s.line(`heroku[worker.1]: Error R14 (Memory quota exceeded)`), s.line(okRequest))
	s.tick()
	s.expect("hours later")
}

// TestAlertOfARemovedChannelResolves: a channel failing again and again
// raises DELIVERY; removing the channel's config vars resolves it.
func TestAlertOfARemovedChannelResolves(t *testing.T) {
	sms := []string{"INFOBIP_BASE_URL=https://xxxxx.api.infobip.com", "INFOBIP_API_KEY=revoked", "ALERT_SMS_TO=41793026727"}
	s := newAlertStory(t, sms...)
	s.broken = "sms"
	s.drain("shop", s.line(`heroku[worker.1]: Error R15 (Memory quota vastly exceeded)`))
	for m := 1; m <= 3; m++ { // the SMS is retried, and fails, every 30 s
		s.at(time.Duration(m) * time.Minute)
		s.drain("shop", s.line(okRequest))
		s.tick()
	}
	s.expectAll("SMS failing 3 times in a row", "firing R15 R15 worker.1", "firing DELIVERY sms")
	s.configure() // heroku config:unset INFOBIP_API_KEY …
	s.at(4 * time.Minute)
	s.tick()
	s.expect("the SMS channel removed", "resolved DELIVERY sms")
}

// TestCheckAlertsTurnedOffNeverPage: ALERT_CHECK_ENABLED=false silences every
// check's alerts, ALERT_CHECK_ENABLED__<APP>=false those of one app's checks;
// the checks still run and record their results.
func TestCheckAlertsTurnedOffNeverPage(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer down.Close()
	ran := func(s *alertStory, name string) bool {
		rs, err := s.st.CheckResults(s.ctx, name, time.Time{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(rs) >= 2
	}

	s := newAlertStory(t, "CHECK_API=http "+down.URL+"/health every=1s timeout=500ms fail=1 app=shop",
		"CHECK_BILLING=http "+down.URL+"/billing every=1s timeout=500ms fail=1 app=my-billing",
		"ALERT_CHECK_ENABLED__MY_BILLING=false")
	s.runChecks(func() bool { return ran(s, "api") && ran(s, "billing") })
	s.tick()
	s.expect("checks of shop on, of my-billing off", "firing CHECK api")

	s = newAlertStory(t, "CHECK_API=http "+down.URL+"/health every=1s timeout=500ms fail=1 app=shop", "ALERT_CHECK_ENABLED=false")
	s.runChecks(func() bool { return ran(s, "api") })
	s.tick()
	s.expect("check alerts off")
}

// TestEmailSubjectNamesTheDynoOnce: the subject of an R14's email reads
// "… R14 memory quota exceeded on shop worker.1", not "… on worker.1 on shop
// worker.1".
func TestEmailSubjectNamesTheDynoOnce(t *testing.T) {
	s := newAlertStory(t)
	s.drain("shop", s.line(`heroku[worker.1]: Error R14 (Memory quota exceeded)`))
	if len(s.heard) != 1 {
		t.Fatalf("heard %d notifications, want the R14's", len(s.heard))
	}
	email, err := notify.RenderEmail(&s.heard[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(email.Subject, "worker.1") != 1 || !strings.HasSuffix(email.Subject, "R14 memory quota exceeded on shop worker.1") {
		t.Errorf("subject %q, want the dyno once, after the app", email.Subject)
	}
}

// TestSlowRequestsNeedsEnoughRequests: one slow request in a quiet window is
// not SLOW_REQUESTS; like 5XX_RATE, the rule judges a window only with at
// least ALERT_SLOW_REQUESTS_MIN_REQUESTS (20) requests.
func TestSlowRequestsNeedsEnoughRequests(t *testing.T) {
	slow := strings.Replace(okRequest, "service=40ms", "service=9000ms", 1)
	s := newAlertStory(t)
	s.drain("shop", s.line(slow))
	s.at(30 * time.Second)
	s.tick()
	s.expect("one slow request")
	s.at(time.Minute)
	s.drain("shop", s.requests(20, slow)...)
	s.at(90 * time.Second)
	s.tick()
	s.expect("21 slow requests", "firing SLOW_REQUESTS")

	s = newAlertStory(t, "ALERT_SLOW_REQUESTS_MIN_REQUESTS=1")
	s.drain("shop", s.line(slow))
	s.at(30 * time.Second)
	s.tick()
	s.expect("one slow request, with ALERT_SLOW_REQUESTS_MIN_REQUESTS=1", "firing SLOW_REQUESTS")
}

// TestWindowRulesSpanTheirConfiguredWindow: 5XX_RATE's 5 minutes are 5
// minutes, not the minute rollups from the start of the minute 5 minutes
// ago: errors 5 minutes and 20 seconds ago are out of the window.
func TestWindowRulesSpanTheirConfiguredWindow(t *testing.T) {
	for _, tt := range []struct {
		tickAt time.Duration
		want   []string
	}{
		{4*time.Minute + 50*time.Second, []string{"firing 5XX_RATE"}},
		{5*time.Minute + 30*time.Second, nil},
	} {
		s := newAlertStory(t)
		s.at(10 * time.Second)
		s.drain("shop", s.requests(20, serverError)...)
		s.at(tt.tickAt)
		s.drain("shop", s.line(okRequest)) // the app still talks
		s.tick()
		s.expect(fmt.Sprintf("errors at 0:10, worker at %v", tt.tickAt), tt.want...)
	}
}

package main

// Stories: the README's alerting promises driven through the real chain —
// a drain request, the parser, the pipeline, the detector and the window
// rules, the engine, the outbox, the sender and the webhook channel — on a
// simulated clock, asserting what a receiver gets and in what order. The
// configuration is the environment a user sets, and may change as a release
// does (configure); the silences API and the status checks are the real
// ones; stories that promise something of the store run on both databases
// (eachStoreOf).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/ack"
	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/api"
	"github.com/dynowatch/dynowatch/internal/auth"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/ingest"
	"github.com/dynowatch/dynowatch/internal/metrics"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/parse"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
	"github.com/dynowatch/dynowatch/internal/worker"
)

// story is one dynowatch on a simulated clock, with a webhook receiver and
// the API.
type story struct {
	t      *testing.T
	ctx    context.Context
	cfg    *config.Config
	clock  atomic.Int64 // unix nanoseconds
	st     *store.Store
	logger *slog.Logger
	hook   string // the receiver's URL
	checks []checks.Check
	al     *alerting
	links  *ack.Links // with DYNOWATCH_URL set: ack links signed with the password "pw"
	pipe   *ingest.Pipeline
	drain  http.Handler
	otlp   http.Handler // the telemetry drain's routes, made at the first telemetry
	api    http.Handler
	sender *notify.Sender
	mu     sync.Mutex
	got    []received
	frames int       // drain requests posted, for their Logplex-Frame-Id
	down   bool      // the receiver answers 503 and keeps nothing
	answer func()    // runs as the receiver answers, such as a slow one's delay
	memory time.Time // when the memory forecasts last ran
}

// received is one webhook delivery as the receiver read it.
type received struct {
	Status   string        `json:"status"`
	App      string        `json:"app"`
	Rule     string        `json:"rule"`
	Code     string        `json:"code"`
	Dyno     string        `json:"dyno"`
	Severity string        `json:"severity"` // the highest of its alerts
	Alerts   []alert.Alert `json:"alerts"`
	AckURL   string        `json:"ack_url"`
	AckedBy  string        `json:"acked_by"`
	ID       string        // X-Dynowatch-Delivery
	At       time.Time
}

// short is r as "status app rule code", as expect takes it.
func (r received) short() string {
	return strings.Join(strings.Fields(r.Status+" "+r.App+" "+r.Rule+" "+r.Code), " ")
}

// bySeverity is r as "status severity: severity code, …", each alert's.
func (r received) bySeverity() string {
	var codes []string
	for _, a := range r.Alerts {
		codes = append(codes, string(a.Severity)+" "+a.Code)
	}
	return r.Status + " " + r.Severity + ": " + strings.Join(codes, ", ")
}

// notification is r as the channels render it.
func (r received) notification() *alert.Notification {
	return &alert.Notification{ID: r.ID, Status: alert.Status(r.Status), Alerts: r.Alerts}
}

// storyBegin is when every story begins: a recent whole minute, so that
// minute rollups and windows line up as they do in production.
var storyBegin = time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)

// newStory starts dynowatch on an embedded store with env (config vars as a
// user sets them, "NAME=value") and a webhook channel pointing at the
// story's receiver.
func newStory(t *testing.T, env ...string) *story {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return newStoryOn(t, storetest.MustOpen(t, store.Config{Path: filepath.Join(t.TempDir(), "story.db"), MaxConns: 1, Logger: log}), env...)
}

// newStoryOn is newStory on st, such as each of eachStoreOf's.
func newStoryOn(t *testing.T, st *store.Store, env ...string) *story {
	t.Helper()
	s := &story{t: t, ctx: context.Background(), st: st, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.clock.Store(storyBegin.UnixNano())
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		down, answer := s.down, s.answer
		s.mu.Unlock()
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if answer != nil {
			answer()
		}
		n := received{ID: r.Header.Get("X-Dynowatch-Delivery"), At: s.now()}
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		s.mu.Lock()
		s.got = append(s.got, n)
		s.mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	s.hook = hook.URL
	s.configure(env...)
	// Observations are applied as each batch commits, rather than on the
	// engine's real-time tick: the story's clock is the only clock. s.al is
	// read at each batch, so that configure's new rules apply.
	var err error
	s.pipe, err = ingest.New(ingest.Options{Store: s.st, Logger: s.logger, FlushEvery: time.Hour, Committers: 1,
		EventLinesPerMinute: s.cfg.EventLinesPerMinute, Now: s.now,
		Observe: func(app string, entries []parse.Entry) {
			if err := s.al.engine.Apply(s.ctx, s.al.detector.Observe(app, entries)); err != nil {
				t.Errorf("applying observations: %v", err)
			}
			// Releases and deploys are written as the batch commits too,
			// rather than by the writer's goroutine.
			s.al.changes.add(app, entries)
			if w := s.al.changes; w != nil {
				for len(w.queue) > 0 {
					w.write(s.ctx, w.take(<-w.queue))
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(s.ctx)
	done := make(chan error, 1)
	go func() { done <- s.pipe.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
	})
	if s.drain, err = drain.NewHandler(drain.Options{Secrets: []string{"s"}, Sink: s.pipe, Logger: s.logger, Now: s.now}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	if err := api.Register(mux, api.Options{Store: s.st, Alerts: storyAlerts{s}, Rules: s.cfg.Rules, Guard: auth.NewDashboard([]string{"pw"}, nil, "dynowatch"), Logger: s.logger, Now: s.now}); err != nil {
		t.Fatal(err)
	}
	if s.links != nil {
		if err := ack.Register(mux, ack.Options{Links: s.links, Store: s.st, Acker: storyAlerts{s}, Logger: s.logger, Now: s.now}); err != nil {
			t.Fatal(err)
		}
	}
	s.api = mux
	return s
}

// storyAlerts is the alert engine of the story's latest configure, as the
// API asks it.
type storyAlerts struct{ s *story }

func (a storyAlerts) RetireApp(ctx context.Context, app string) error {
	return a.s.al.engine.RetireApp(ctx, app)
}

func (a storyAlerts) Ack(ctx context.Context, key, by, reason string) (alert.State, error) {
	return a.s.al.engine.Ack(ctx, key, by, reason)
}

// configure starts alerting afresh with env ("NAME=value") as the only
// config vars besides the story's ALERT_WEBHOOK_URL, as a release with
// changed config vars restarts every dyno: the store and what it holds stay.
func (s *story) configure(env ...string) {
	s.t.Helper()
	var err error
	if s.cfg, err = config.Load(append([]string{"ALERT_WEBHOOK_URL=" + s.hook}, env...)); err != nil {
		s.t.Fatal(err)
	}
	s.checks = s.cfg.Checks
	s.links = nil
	if s.cfg.URL != "" {
		if s.links, err = ack.NewLinks(s.cfg.URL, []string{"pw"}); err != nil {
			s.t.Fatal(err)
		}
	}
	if s.al, err = newAlerting(s.cfg, s.cfg.Rules, s.checks, s.logger, s.st, metrics.New(), s.now, s.links); err != nil {
		s.t.Fatal(err)
	}
	s.sender = s.newSender("story")
}

// newSender is another worker's sender on the story's store and channels.
func (s *story) newSender(holder string) *notify.Sender {
	s.t.Helper()
	sender, err := notify.NewSender(notify.SenderOptions{Outbox: s.st, Refs: s.st, Storms: s.st, DashboardURL: s.cfg.URL, Notifiers: s.al.notifiers, Holder: holder,
		Logger: s.logger, Now: s.now})
	if err != nil {
		s.t.Fatal(err)
	}
	return sender
}

func (s *story) now() time.Time { return time.Unix(0, s.clock.Load()).UTC() }

// log posts lines to app's drain as Logplex does, stamped with the story's
// time. Each line is written as `heroku logs` shows it without its time:
// "heroku[router]: at=error code=H12 …".
func (s *story) log(app string, lines ...string) {
	s.t.Helper()
	s.logAt(app, s.now(), lines...)
}

// logAt is log of lines stamped at, such as a backlog Logplex catches up on.
func (s *story) logAt(app string, at time.Time, lines ...string) {
	s.t.Helper()
	var body strings.Builder
	for _, l := range lines {
		head, msg, ok := strings.Cut(l, ": ")
		source, proc, ok2 := strings.Cut(strings.TrimSuffix(head, "]"), "[")
		if !ok || !ok2 {
			s.t.Fatalf("story line %q: want source[process]: message", l)
		}
		body.WriteString(frame(fmt.Sprintf("<45>1 %s host %s %s - %s", at.Format(time.RFC3339Nano), source, proc, msg)))
	}
	req := httptest.NewRequest("POST", "/drain/"+app, strings.NewReader(body.String()))
	req.SetPathValue("app", app)
	req.SetBasicAuth("dynowatch", "s")
	req.Header.Set("Content-Type", "application/logplex-1")
	req.Header.Set("Logplex-Msg-Count", fmt.Sprint(len(lines)))
	s.frames++
	req.Header.Set("Logplex-Frame-Id", fmt.Sprintf("%s-%d", app, s.frames))
	w := httptest.NewRecorder()
	s.drain.ServeHTTP(w, req)
	if w.Code/100 != 2 {
		s.t.Fatalf("drain %s: %d %s", app, w.Code, w.Body)
	}
}

// advance moves the clock by d in the worker's steps (see tick).
func (s *story) advance(d time.Duration) {
	s.t.Helper()
	for end := s.now().Add(d); s.now().Before(end); {
		s.clock.Store(min(s.now().Add(alertEvery).UnixNano(), end.UnixNano()))
		s.tick()
	}
}

// tick is one of the worker's steps, now: it flushes the rollups, evaluates
// the window rules and lets time act on the alerts (as the worker does
// every 15 s), forecasts memory and judges releases once a minute, then
// sends what is due.
func (s *story) tick() {
	s.t.Helper()
	if err := s.pipe.Flush(s.ctx); err != nil {
		s.t.Fatal(err)
	}
	if err := s.al.evaluate(s.ctx, s.now()); err != nil {
		s.t.Fatal(err)
	}
	if s.now().Sub(s.memory) >= memoryEvery {
		s.memory = s.now()
		if err := s.al.forecastMemory(s.ctx, s.now()); err != nil {
			s.t.Fatal(err)
		}
		if err := s.al.judgeReleases(s.ctx, s.now()); err != nil {
			s.t.Fatal(err)
		}
	}
	s.send()
}

// send delivers what the outbox holds due now, one claim's worth.
func (s *story) send() {
	s.t.Helper()
	if _, _, err := s.sender.SendDue(s.ctx, 50); err != nil {
		s.t.Fatal(err)
	}
}

// received returns what the webhook got so far, in order.
func (s *story) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// expect checks what the webhook got, as "status app rule code" each.
func (s *story) expect(want ...string) {
	s.t.Helper()
	var got []string
	for _, r := range s.received() {
		got = append(got, r.short())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		s.t.Errorf("webhook got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// expectBySeverity checks what the webhook got, as "status severity:
// severity code, …" each (see received.bySeverity).
func (s *story) expectBySeverity(want ...string) {
	s.t.Helper()
	var got []string
	for _, r := range s.received() {
		got = append(got, r.bySeverity())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		s.t.Fatalf("webhook got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// expectAlerts checks the alerts the webhook got, each of every message as
// "status rule code dyno", in any order: the order among different alerts
// is no promise, and grouping may put several in one message.
func (s *story) expectAlerts(want ...string) {
	s.t.Helper()
	var got []string
	for _, r := range s.received() {
		for _, a := range r.Alerts {
			got = append(got, strings.Join(strings.Fields(r.Status+" "+string(a.Rule)+" "+a.Code+" "+a.Dyno), " "))
		}
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		s.t.Fatalf("webhook got alerts:\n  %s\nwant, in any order:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// call makes an API request with the dashboard password and returns the
// status and body.
func (s *story) call(method, path, body string) (int, string) {
	s.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.SetBasicAuth("me", "pw")
	w := httptest.NewRecorder()
	s.api.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// page makes a request of the ack page, without the dashboard password, as
// a phone's browser does; form, if set, is posted.
func (s *story) page(method, path string, form url.Values) (int, string) {
	s.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	w := httptest.NewRecorder()
	s.api.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// runChecks runs the configured checks on their schedule (in real time)
// until done says so, failing after 10 s.
func (s *story) runChecks(done func() bool) {
	s.t.Helper()
	w, err := worker.New(worker.Options{Leases: s.st, Holder: "story", Logger: s.logger})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := addChecks(w, s.checks, s.cfg.LookupEnv, s.logger, s.st, s.al, "story"); err != nil {
		s.t.Fatal(err)
	}
	ctx, stop := context.WithCancel(s.ctx)
	ran := make(chan error, 1)
	go func() { ran <- w.Run(ctx) }()
	defer func() {
		stop()
		if err := <-ran; err != nil {
			s.t.Error(err)
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); !done(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatal("checks: not done within 10 s")
		}
	}
}

// firing says whether an alert of rule is firing.
func (s *story) firing(rule alert.RuleName) bool {
	s.t.Helper()
	active, err := s.st.ActiveAlerts(s.ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	return slices.ContainsFunc(active, func(a alert.State) bool { return a.Rule == rule && a.Phase == alert.PhaseFiring })
}

// eachStoreOf runs fn on a fresh store of each backend, side by side: its
// callers do nothing after it returns.
func eachStoreOf(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, storetest.MustOpenEmbedded(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, storetest.MustOpenPostgres(t)) })
}

// R14 is one alert per app, dyno and code however often Heroku repeats it,
// and it resolves one window (ALERT_R14_WINDOW, 10m) after the last line.
func TestStoryR14PagesOnceAndResolvesAWindowAfterTheLastLine(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	for range 6 { // Heroku repeats R14 while the dyno swaps
		s.log("shop", "heroku[worker.1]: Process running mem=1028MB(103.3%)", "heroku[worker.1]: Error R14 (Memory quota exceeded)")
		s.advance(time.Minute)
	}
	s.expect("firing shop r14 R14")
	s.advance(8 * time.Minute) // the last line was 9 minutes ago
	s.expect("firing shop r14 R14")
	s.advance(time.Minute)
	s.expect("firing shop r14 R14", "resolved shop r14 R14")
	if got := s.received(); got[0].Dyno != "worker.1" {
		t.Errorf("firing names dyno %q, want worker.1", got[0].Dyno)
	}
}

// Router codes that are the client's doing never page (ALERT_H_CODES_IGNORE,
// H26, H27 and H28 by default); the others do.
func TestStoryClientRouterCodesNeverPage(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	s.log("shop",
		`heroku[router]: at=error code=H27 desc="Client Request Interrupted" method=POST path="/upload" host=shop.herokuapp.com fwd="1.2.3.4" dyno=web.1 connect=1ms service=100ms status=499 bytes=0`,
		`heroku[router]: at=error code=H28 desc="Client Connection Idle" method=GET path="/" host=shop.herokuapp.com fwd="1.2.3.4" dyno=web.1 connect=1ms service=1ms status=499 bytes=0`)
	s.advance(time.Minute)
	s.expect()
	s.log("shop", `heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/slow" host=shop.herokuapp.com fwd="1.2.3.4" dyno=web.2 connect=1ms service=30000ms status=503 bytes=0`)
	s.advance(time.Minute)
	s.expect("firing shop h_codes H12")
}

// 5XX_RATE fires when over 5% of at least ALERT_5XX_RATE_MIN_REQUESTS (20)
// requests failed over its window, and resolves when the share is back under.
func TestStory5xxRateFiresOnTheShareOfEnoughRequests(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	req := func(status int) string {
		return fmt.Sprintf(`heroku[router]: at=info method=GET path="/" host=shop.herokuapp.com fwd="1.2.3.4" dyno=web.1 connect=1ms service=20ms status=%d bytes=10`, status)
	}
	s.log("shop", req(500), req(500), req(200)) // 2 of 3 failed, but too few requests to judge
	s.advance(time.Minute)
	s.expect()
	for range 3 {
		var lines []string
		for i := range 20 {
			lines = append(lines, req(map[bool]int{true: 502, false: 200}[i < 4]))
		}
		s.log("shop", lines...) // 20% failed
		s.advance(time.Minute)
	}
	s.expect("firing shop 5xx_rate")
	for range 8 {
		var lines []string
		for range 40 {
			lines = append(lines, req(200))
		}
		s.log("shop", lines...)
		s.advance(time.Minute)
	}
	s.expect("firing shop 5xx_rate", "resolved shop 5xx_rate")
}

// A firing alert is reminded of every ALERT_REPEAT_INTERVAL.
func TestStoryFiringAlertIsRemindedEveryRepeatInterval(t *testing.T) {
	t.Parallel()
	s := newStory(t, "ALERT_REPEAT_INTERVAL=30m")
	for range 14 { // an R15 every five minutes for 70 minutes
		s.log("shop", "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
		s.advance(5 * time.Minute)
	}
	s.expect("firing shop r15 R15", "reminder shop r15 R15", "reminder shop r15 R15")
}

// An acknowledged alert is not reminded of, is listed with its ack, and
// its resolution still goes out; the next episode is paged and reminded of
// afresh. On both databases: the ack is kept with the alert's state.
func TestStoryAckedAlertIsNotRemindedButResolves(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		s := newStoryOn(t, st, "ALERT_REPEAT_INTERVAL=30m")
		r15 := "heroku[web.1]: Error R15 (Memory quota vastly exceeded)"
		s.log("shop", r15)
		s.advance(time.Minute)
		s.expect("firing shop r15 R15")
		if code, body := s.call("POST", "/api/v1/alerts/r15%7Cshop%7Cweb.1/ack", `{"by":"Ana","reason":"scaling up"}`); code != http.StatusOK {
			t.Fatalf("ack: %d %s", code, body)
		}
		for range 14 { // an R15 every five minutes for 70 minutes
			s.log("shop", r15)
			s.advance(5 * time.Minute)
		}
		s.expect("firing shop r15 R15", "acknowledged shop r15 R15")
		if _, body := s.call("GET", "/api/v1/alerts?state=firing", ""); !strings.Contains(body, `"ack":{"by":"Ana"`) || !strings.Contains(body, `"reason":"scaling up"`) {
			t.Fatalf("firing alerts without Ana's ack: %s", body)
		}
		s.log("shop", "app[web.1]: still here") // lines, not R15s: the app is not silent
		s.advance(10 * time.Minute)             // the R15 window after the last R15
		s.expect("firing shop r15 R15", "acknowledged shop r15 R15", "resolved shop r15 R15")

		for range 7 { // the next episode, 35 minutes long
			s.log("shop", r15)
			s.advance(5 * time.Minute)
		}
		s.expect("firing shop r15 R15", "acknowledged shop r15 R15", "resolved shop r15 R15", "firing shop r15 R15", "reminder shop r15 R15")
		if _, body := s.call("GET", "/api/v1/alerts?state=firing", ""); strings.Contains(body, `"ack"`) {
			t.Fatalf("the next episode is acknowledged: %s", body)
		}
	})
}

// The ack link of a firing works without the dashboard password: opening it
// (as a chat app previewing it would) acknowledges nothing, posting its
// form does, and the webhook hears who acknowledged it; no reminder
// follows, the resolution does. A day later the link is refused.
func TestStoryAckLinkOfAFiring(t *testing.T) {
	t.Parallel()
	s := newStory(t, "ALERT_REPEAT_INTERVAL=30m", "DYNOWATCH_URL=https://my-dynowatch.herokuapp.com")
	r15 := "heroku[web.1]: Error R15 (Memory quota vastly exceeded)"
	s.log("shop", r15)
	s.advance(time.Minute)
	s.expect("firing shop r15 R15")
	link := s.received()[0].AckURL
	path, ok := strings.CutPrefix(link, "https://my-dynowatch.herokuapp.com/ack/")
	if !ok || s.received()[0].Alerts[0].AckURL != link {
		t.Fatalf("the firing's ack_url %q, want a link under DYNOWATCH_URL/ack/", link)
	}
	path = "/ack/" + path
	if code, body := s.page("GET", path, nil); code != http.StatusOK || !strings.Contains(body, "<form") {
		t.Fatalf("GET the link: %d\n%s", code, body)
	}
	s.advance(time.Minute)
	s.expect("firing shop r15 R15")
	if code, body := s.page("POST", path, url.Values{"name": {"Ana"}, "reason": {"scaling up"}}); code != http.StatusOK || !strings.Contains(body, "Acknowledged by Ana") {
		t.Fatalf("POST the link's form: %d\n%s", code, body)
	}
	for range 14 {
		s.log("shop", r15)
		s.advance(5 * time.Minute)
	}
	s.log("shop", "app[web.1]: still here")
	s.advance(10 * time.Minute)
	s.expect("firing shop r15 R15", "acknowledged shop r15 R15", "resolved shop r15 R15")
	if got := s.received(); got[1].AckedBy != "Ana" || got[2].AckedBy != "Ana" || got[1].AckURL != "" {
		t.Errorf("acknowledged and resolved say acked by %q and %q, want Ana, and no link: %+v", got[1].AckedBy, got[2].AckedBy, got[1])
	}
	s.clock.Add(int64(ack.LinkTTL)) // the page reads the clock; nothing else needs to run meanwhile
	if code, body := s.page("GET", path, nil); code != http.StatusGone || !strings.Contains(body, "expired") {
		t.Fatalf("the link a day on: %d\n%s", code, body)
	}
}

// Only Heroku's own sources carry platform errors: an app printing an R15
// line does not page; Heroku's R15 for the same dyno does.
func TestStoryAppOutputCannotFakePlatformErrors(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	s.log("shop", "app[web.1]: Error R15 (Memory quota vastly exceeded)", "app[web.1]: at=error code=H12 desc=\"Request timeout\"")
	s.advance(time.Minute)
	s.expect()
	s.log("shop", "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
	s.advance(time.Minute)
	s.expect("firing shop r15 R15")
}

// `heroku maintenance:on`: every request is an H80 with status 503. Nobody
// is paged while it lasts (not even for the errors that made someone turn
// it on), and its 503s page nobody when it ends (they are not the app's
// 5xx); the first real error after it pages as usual.
func TestStoryMaintenanceModeNeverPages(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	s.log("shop", append(times(37, okRequest), times(3, serverError)...)...) // 7.5% 5xx, then maintenance:on
	h80 := `heroku[router]: at=info code=H80 desc="Maintenance mode" method=GET path="/" host=shop.herokuapp.com request_id=0d6f2c8e fwd="1.2.3.4" dyno= connect= service= status=503 bytes=`
	ok := `heroku[router]: at=info method=GET path="/" host=shop.herokuapp.com fwd="1.2.3.4" dyno=web.1 connect=1ms service=20ms status=200 bytes=10`
	for range 10 {
		lines := make([]string, 50)
		for i := range lines {
			lines[i] = h80
		}
		s.log("shop", lines...)
		s.advance(time.Minute)
	}
	s.expect()
	for range 10 { // maintenance:off
		lines := make([]string, 30)
		for i := range lines {
			lines[i] = ok
		}
		s.log("shop", lines...)
		s.advance(time.Minute)
	}
	s.expect()
	s.log("shop", `heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/slow" host=shop.herokuapp.com fwd="1.2.3.4" dyno=web.2 connect=1ms service=30000ms status=503 bytes=0`)
	s.advance(time.Minute)
	s.expect("firing shop h_codes H12")
}

// An H_CODES alert is one per app and code, and says where the latest
// error was: a later H12 on web.3 is reported on web.3, not on web.1, and
// once resolved, an H12 on web.5 fires naming web.5, not the first dyno
// the alert ever saw.
func TestStoryHCodesAlertNamesTheLatestDyno(t *testing.T) {
	t.Parallel()
	s := newStory(t, "ALERT_REPEAT_INTERVAL=2m", "ALERT_SILENCE_ENABLED=false")
	h12 := func(dyno string) string {
		return `heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/slow" host=shop.herokuapp.com fwd="1.2.3.4" dyno=` + dyno + ` connect=1ms service=30000ms status=503 bytes=0`
	}
	s.log("shop", h12("web.1"))
	s.advance(time.Minute)
	s.log("shop", h12("web.3"))
	s.advance(2 * time.Minute)
	s.expect("firing shop h_codes H12", "reminder shop h_codes H12")
	if got := s.received(); got[0].Dyno != "web.1" || got[1].Dyno != "web.3" {
		t.Errorf("dynos told: %q then %q, want web.1 then web.3", got[0].Dyno, got[1].Dyno)
	}
	s.advance(15 * time.Minute) // well past a window (ALERT_H_CODES_WINDOW, 5m) after the last H12: resolved
	if got := s.received(); got[len(got)-1].short() != "resolved shop h_codes H12" {
		t.Fatalf("15 minutes after the last H12, the webhook got %v last; want the H12 resolved", got[len(got)-1])
	}
	s.log("shop", h12("web.5"))
	s.send()
	if got := s.received(); got[len(got)-1].short() != "firing shop h_codes H12" || got[len(got)-1].Dyno != "web.5" {
		t.Errorf("an H12 on web.5 after the alert resolved: the webhook got %q on %q, want it firing on web.5", got[len(got)-1].short(), got[len(got)-1].Dyno)
	}
}

// Sample rules fire after ALERT_<RULE>_SAMPLES consecutive samples over the
// threshold and resolve after as many under it: MEMORY warns at 90% of the
// quota for 3 samples, before R14.
func TestStoryMemoryWarnsAfterConsecutiveSamplesAndResolvesAfterAsManyUnder(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	sample := func(rssMB int) string {
		return fmt.Sprintf("heroku[web.1]: source=web.1 dyno=heroku.12345.d2f4 sample#load_avg_1m=0.10 sample#memory_total=%[1]d.00MB sample#memory_rss=%[1]d.00MB sample#memory_cache=0.00MB sample#memory_swap=0.00MB sample#memory_pgpgin=0pages sample#memory_pgpgout=0pages sample#memory_quota=512.00MB", rssMB)
	}
	for _, mb := range []int{470, 480, 300, 470, 480} { // two over, one under: the count starts again
		s.log("shop", sample(mb))
		s.advance(20 * time.Second)
	}
	s.expect()
	s.log("shop", sample(490)) // the third in a row
	s.advance(20 * time.Second)
	s.expect("firing shop memory")
	for _, mb := range []int{300, 300} {
		s.log("shop", sample(mb))
		s.advance(20 * time.Second)
	}
	s.expect("firing shop memory")
	s.log("shop", sample(300))
	s.advance(20 * time.Second)
	s.expect("firing shop memory", "resolved shop memory")
}

// An alert that changes state more than ALERT_FLAP_CHANGES times within
// ALERT_FLAP_WINDOW sends one "flapping" notice instead of a page per
// change, stays firing while it flaps, and resolves once calm.
func TestStoryFlappingAlertSendsOneNotice(t *testing.T) {
	t.Parallel()
	s := newStory(t, "ALERT_FLAP_CHANGES=2", "ALERT_R14_WINDOW=1m", "ALERT_SILENCE_ENABLED=false")
	for range 4 { // an R14, quiet for two minutes (resolved), again …
		s.log("shop", "heroku[web.1]: Error R14 (Memory quota exceeded)")
		s.advance(2 * time.Minute)
	}
	s.expect("firing shop r14 R14", "resolved shop r14 R14", "flapping shop r14 R14")
	s.advance(40 * time.Minute)
	s.expect("firing shop r14 R14", "resolved shop r14 R14", "flapping shop r14 R14", "resolved shop r14 R14")
}

// CRASH_LOOP counts crashes over a sliding window (3 within 15 minutes):
// crashes at 0, 14, 16 and 17 minutes page at the 17th, because three
// fell within the last 15 minutes, though the first episode had lapsed.
func TestStoryCrashLoopCountsOverASlidingWindow(t *testing.T) {
	t.Parallel()
	s := newStory(t, "ALERT_SILENCE_ENABLED=false")
	crash := "heroku[web.1]: State changed from up to crashed"
	last := time.Duration(0)
	for _, at := range []time.Duration{0, 14 * time.Minute, 16 * time.Minute, 17 * time.Minute} {
		s.advance(at - last)
		last = at
		s.expect()
		s.log("shop", crash)
	}
	s.advance(15 * time.Second)
	s.expect("firing shop crash_loop")
}

// ALERT_GROUP_WAIT (1m): an app's alerts firing within it after its first
// go out together, one message, rather than a page each; but a critical
// alert is never held behind a group that a warning started.
func TestStoryGroupWaitNeverHoldsACriticalBehindAWarning(t *testing.T) {
	t.Parallel()
	s := newStory(t, "ALERT_SILENCE_ENABLED=false")
	s.log("shop", "heroku[web.1]: Error R14 (Memory quota exceeded)") // warning
	s.send()
	s.expect("firing shop r14 R14")
	s.clock.Add(int64(10 * time.Second))
	s.log("shop", "heroku[web.2]: Error R15 (Memory quota vastly exceeded)") // critical, 10 s later
	s.send()
	s.expect("firing shop r14 R14", "firing shop r15 R15")
	s.clock.Add(int64(10 * time.Second))
	s.log("shop", "heroku[web.3]: Error R14 (Memory quota exceeded)") // a warning behind the critical waits for the group
	s.send()
	s.expect("firing shop r14 R14", "firing shop r15 R15")
	s.advance(time.Minute)
	s.expect("firing shop r14 R14", "firing shop r15 R15", "firing shop r14 R14")
}

// SLOW_REQUESTS judges the p95 of enough requests, as 5XX_RATE does: one
// slow request is not a slow app, unless ALERT_SLOW_REQUESTS_MIN_REQUESTS
// (20) says one is enough.
func TestStorySlowRequestsNeedEnoughRequests(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	slow := `heroku[router]: at=info method=GET path="/report" host=shop.herokuapp.com fwd="1.2.3.4" dyno=web.1 connect=1ms service=9000ms status=200 bytes=10`
	s.log("shop", slow)
	s.advance(2 * time.Minute)
	s.expect()
	lines := make([]string, 40)
	for i := range lines {
		lines[i] = slow
	}
	s.log("shop", lines...)
	s.advance(time.Minute)
	s.expect("firing shop slow_requests")

	s = newStory(t, "ALERT_SLOW_REQUESTS_MIN_REQUESTS=1")
	s.log("shop", slow)
	s.advance(30 * time.Second)
	s.expect("firing shop slow_requests") // one is enough when the user says so
}

// Router lines as Heroku writes them, for the stories that need traffic.
const (
	okRequest   = `heroku[router]: at=info method=GET path="/" host=myapp.herokuapp.com request_id=0b27af66 fwd="115.96.38.61" dyno=web.1 connect=1ms service=40ms status=200 bytes=1811 protocol=https`
	serverError = `heroku[router]: at=info method=POST path="/orders" host=myapp.herokuapp.com request_id=9c1e2f00 fwd="115.96.38.61" dyno=web.2 connect=1ms service=120ms status=500 bytes=310 protocol=https`
	h12Request  = `heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno=web.1 connect=6ms service=30001ms status=503 bytes=0`
)

// times is n copies of line, as a busy minute's drain request carries them.
func times(n int, line string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = line
	}
	return out
}

// TestSilenceByTheREADMEsRuleNameMutes: a silence for "R15" or "H_CODES",
// the README's spelling, mutes those alerts, as does the spelling of alerts
// ("slow_requests": the H12's 30 s makes the minute's p95).
func TestSilenceByTheREADMEsRuleNameMutes(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	for _, rule := range []string{"R15", "H_CODES", "slow_requests"} {
		if code, body := s.call("POST", "/api/v1/silences", `{"rule":"`+rule+`","duration":"1h","reason":"known"}`); code != http.StatusCreated {
			t.Fatalf("silence of %s: %d %s", rule, code, body)
		}
	}
	s.log("shop",
		`heroku[worker.1]: Process running mem=1029MB(201.0%)`,
		`heroku[worker.1]: Error R15 (Memory quota vastly exceeded)`,
		h12Request)
	s.advance(2 * time.Minute) // past ALERT_GROUP_WAIT: nothing is held back either
	s.expect()                 // R15 and H12 while silenced
	s.log("shop", `heroku[worker.2]: Error R14 (Memory quota exceeded)`)
	s.send()
	s.expect("firing shop r14 R14") // which no silence covers
	if got := s.received(); len(got) == 1 && got[0].Dyno != "worker.2" {
		t.Errorf("the R14 names dyno %q, want worker.2", got[0].Dyno)
	}
}

// TestSilenceOfAnUnknownRuleIsRefused: a silence that would mute nothing is
// a 400 that lists the rules.
func TestSilenceOfAnUnknownRuleIsRefused(t *testing.T) {
	t.Parallel()
	s := newStory(t)
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

// `heroku maintenance:on` for an app with a status check (app=): Heroku's
// maintenance page answers the check with 503, and the check's own request
// is an H80 line in the app's drain. The failing check pages nobody while
// maintenance lasts, as the app's router alerts do not; once it ends (a
// router line the app served), a check still failing pages, and one that
// passes again was never told of. Its certificate is not muted: maintenance
// does not renew it.
func TestStoryMaintenanceModeMutesTheAppsChecks(t *testing.T) {
	t.Parallel()
	const h80 = `heroku[router]: at=info code=H80 desc="Maintenance mode" method=GET path="/health" host=shop.herokuapp.com request_id=0d6f2c8e fwd="1.2.3.4" dyno= connect= service= status=503 bytes=`
	for _, tt := range []struct {
		name         string
		healthyAfter bool
		want         []string
	}{
		{"still failing after", false, []string{"firing shop check api"}},
		{"passing after", true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var healthy atomic.Bool
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !healthy.Load() {
					w.WriteHeader(http.StatusServiceUnavailable) // Heroku's maintenance page
				}
			}))
			defer target.Close()
			s := newStory(t, "CHECK_API=http "+target.URL+"/health every=1s timeout=500ms fail=1 app=shop")
			s.log("shop", h80) // maintenance:on
			s.runChecks(func() bool { return s.firing(alert.RuleCheck) })
			s.advance(5 * time.Minute)
			s.expect()
			healthy.Store(tt.healthyAfter)
			s.log("shop", okRequest) // maintenance:off
			if tt.healthyAfter {
				s.runChecks(func() bool { return !s.firing(alert.RuleCheck) })
			}
			s.advance(time.Minute)
			s.expect(tt.want...)
		})
	}
}

// DELETE /api/v1/apps/{app} (after `heroku drains:remove`) while the app's
// alerts fire: the channel that heard them fire hears them resolve, though
// the app and its alerts are forgotten at once; other apps' alerts go on.
func TestStoryForgettingAnAppResolvesItsFiringAlerts(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	s.log("shop", "heroku[worker.1]: Error R14 (Memory quota exceeded)")
	s.log("blog", "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
	s.send()
	s.expectAlerts("firing r14 R14 worker.1", "firing r15 R15 web.1")
	if code, body := s.call("DELETE", "/api/v1/apps/shop", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE /api/v1/apps/shop: %d %s", code, body)
	}
	s.send()
	s.expectAlerts("firing r14 R14 worker.1", "firing r15 R15 web.1", "resolved r14 R14 worker.1")
	if _, body := s.call("GET", "/api/v1/alerts?app=shop", ""); strings.Contains(body, "r14") {
		t.Errorf("shop's alerts are still listed: %s", body)
	}
	if s.firing(alert.RuleR14) || !s.firing(alert.RuleR15) {
		t.Error("want shop's R14 forgotten and blog's R15 firing")
	}
}

// PG_ERRORS pages on Heroku Postgres's own log lines only. An app's process
// type named postgres (a self-run Postgres whose log_line_prefix is
// "sql_error_code = %e ") logs as app[postgres.1], as Heroku Postgres logs
// as app[postgres.<pid>]; its lines lack the [DATABASE] [9-1] tags Heroku
// Postgres writes, and are app output.
func TestStoryOnlyHerokuPostgresLinesPagePGErrors(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	s.log("shop", `app[postgres.1]: sql_error_code = 53300 FATAL:  sorry, too many clients already`)
	s.advance(time.Minute)
	s.expect()
	s.log("shop", `app[postgres.1262692]: [DATABASE] [9-1]  sql_error_code = 53300 FATAL:  too many connections for role "u3v"`)
	s.advance(time.Minute)
	s.expect("firing shop pg_errors 53300")
}

// TestAlertOfARemovedCheckResolves: removing a failing check's CHECK_ var
// resolves its alert at the worker's next tick, and nobody is reminded of it.
func TestAlertOfARemovedCheckResolves(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer down.Close()
	s := newStory(t, "CHECK_API=http "+down.URL+"/health every=1s timeout=500ms fail=1 app=shop")
	s.runChecks(func() bool { return s.firing(alert.RuleCheck) })
	s.send()
	s.expect("firing shop check api")
	s.configure() // heroku config:unset CHECK_API
	s.advance(alertEvery)
	s.expect("firing shop check api", "resolved shop check api")
	s.clock.Add(int64(3 * time.Hour)) // the worker's next tick hours later: no reminder is due
	s.tick()
	s.expect("firing shop check api", "resolved shop check api")
}

// TestAlertOfARuleTurnedOffResolves: ALERT_<RULE>_ENABLED=false, for every
// app or for one, resolves the rule's firing alerts at the worker's next tick.
func TestAlertOfARuleTurnedOffResolves(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	s.log("shop", append(times(40, okRequest), `heroku[worker.1]: Error R14 (Memory quota exceeded)`, h12Request)...)
	s.advance(2 * time.Minute)
	s.expectAlerts("firing r14 R14 worker.1", "firing h_codes H12 web.1")
	s.configure("ALERT_R14_ENABLED=false", "ALERT_H_CODES_ENABLED__SHOP=false")
	s.log("shop", `heroku[worker.1]: Error R14 (Memory quota exceeded)`, h12Request)
	s.advance(alertEvery)
	s.expectAlerts("firing r14 R14 worker.1", "firing h_codes H12 web.1", "resolved r14 R14 worker.1", "resolved h_codes H12 web.1")
	s.clock.Add(int64(3 * time.Hour)) // hours later
	s.log("shop", `heroku[worker.1]: Error R14 (Memory quota exceeded)`, okRequest)
	s.tick()
	s.expectAlerts("firing r14 R14 worker.1", "firing h_codes H12 web.1", "resolved r14 R14 worker.1", "resolved h_codes H12 web.1")
}

// TestAlertOfARemovedChannelResolves: a channel failing again and again
// raises DELIVERY; removing the channel's config vars resolves it.
func TestAlertOfARemovedChannelResolves(t *testing.T) {
	t.Parallel()
	revoked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer revoked.Close()
	s := newStory(t, "INFOBIP_BASE_URL="+revoked.URL, "INFOBIP_API_KEY=revoked", "ALERT_SMS_TO=41793026727")
	s.log("shop", `heroku[worker.1]: Error R15 (Memory quota vastly exceeded)`)
	for range 3 { // the SMS is retried, and fails
		s.advance(time.Minute)
		s.log("shop", okRequest)
	}
	s.expectAlerts("firing r15 R15 worker.1", "firing delivery sms")
	s.configure() // heroku config:unset INFOBIP_API_KEY …
	s.advance(time.Minute)
	s.expectAlerts("firing r15 R15 worker.1", "firing delivery sms", "resolved delivery sms")
}

// TestCheckAlertsTurnedOffNeverPage: ALERT_CHECK_ENABLED=false silences every
// check's alerts, ALERT_CHECK_ENABLED__<APP>=false those of one app's checks;
// the checks still run and record their results.
func TestCheckAlertsTurnedOffNeverPage(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer down.Close()
	ran := func(s *story, name string) bool {
		rs, err := s.st.CheckResults(s.ctx, name, time.Time{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(rs) >= 2
	}

	s := newStory(t, "CHECK_API=http "+down.URL+"/health every=1s timeout=500ms fail=1 app=shop",
		"CHECK_BILLING=http "+down.URL+"/billing every=1s timeout=500ms fail=1 app=my-billing",
		"ALERT_CHECK_ENABLED__MY_BILLING=false")
	s.runChecks(func() bool { return ran(s, "api") && ran(s, "billing") })
	s.advance(alertEvery)
	s.expect("firing shop check api") // checks of shop on, of my-billing off

	s = newStory(t, "CHECK_API=http "+down.URL+"/health every=1s timeout=500ms fail=1 app=shop", "ALERT_CHECK_ENABLED=false")
	s.runChecks(func() bool { return ran(s, "api") })
	s.advance(alertEvery)
	s.expect() // check alerts off
}

// TestEmailSubjectNamesTheDynoOnce: the subject of an R14's email reads
// "… R14 memory quota exceeded on shop worker.1", not "… on worker.1 on shop
// worker.1".
func TestEmailSubjectNamesTheDynoOnce(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	s.log("shop", `heroku[worker.1]: Error R14 (Memory quota exceeded)`)
	s.send()
	got := s.received()
	if len(got) != 1 {
		t.Fatalf("heard %d notifications, want the R14's", len(got))
	}
	email, err := notify.RenderEmail(got[0].notification())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(email.Subject, "worker.1") != 1 || !strings.HasSuffix(email.Subject, "R14 memory quota exceeded on shop worker.1") {
		t.Errorf("subject %q, want the dyno once, after the app", email.Subject)
	}
}

// TestWindowRulesSpanTheirConfiguredWindow: 5XX_RATE's 5 minutes are 5
// minutes, not the minute rollups from the start of the minute 5 minutes
// ago: errors 5 minutes and 20 seconds ago are out of the window. The
// worker runs once, when the test says: it was busy before.
func TestWindowRulesSpanTheirConfiguredWindow(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		tickAt time.Duration
		want   []string
	}{
		{4*time.Minute + 50*time.Second, []string{"firing shop 5xx_rate"}},
		{5*time.Minute + 30*time.Second, nil},
	} {
		s := newStory(t)
		s.clock.Add(int64(10 * time.Second))
		s.log("shop", times(20, serverError)...)
		s.clock.Add(int64(tt.tickAt - 10*time.Second))
		s.log("shop", okRequest) // the app still talks
		s.tick()
		s.expect(tt.want...)
	}
}

// TestResolvedNeverArrivesBeforeItsFiring: an R14 that fires within
// ALERT_GROUP_WAIT of the app's first alert is held for the group; when it
// resolves while held, the receiver still hears its firing first.
func TestResolvedNeverArrivesBeforeItsFiring(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		s := newStoryOn(t, st, "ALERT_GROUP_WAIT=2m", "ALERT_R14_WINDOW=1m")
		s.log("shop", "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
		s.send()
		s.clock.Add(int64(10 * time.Second))
		s.log("shop", "heroku[web.2]: Error R14 (Memory quota exceeded)")
		s.send()
		s.advance(65 * time.Second) // R14 is over (a window after its line) while its firing waits for the group
		s.expectBySeverity("firing critical: critical R15")
		s.advance(time.Minute) // past the group's time
		s.expectBySeverity("firing critical: critical R15", "firing warning: warning R14", "resolved warning: warning R14")
	})
}

// TestResolvedReachesANarrowedChannelThatHeardTheFiring: a webhook narrowed
// to critical hears a warning that rode along with a critical in a grouped
// message, so it is told when the warning resolves; the grouped message's
// top-level severity is the highest of its alerts.
func TestResolvedReachesANarrowedChannelThatHeardTheFiring(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		s := newStoryOn(t, st, "ALERT_WEBHOOK_MIN_SEVERITY=critical", "ALERT_GROUP_WAIT=1m", "ALERT_R14_WINDOW=2m")
		s.log("shop", "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
		s.send()
		s.clock.Add(int64(10 * time.Second))
		s.log("shop", "heroku[web.2]: Error R14 (Memory quota exceeded)",
			`heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/" host=shop.example.com dyno=web.1 connect=1ms service=30001ms status=503 bytes=0`)
		s.advance(2 * time.Minute) // the group (the warning with a critical) at 1m; R14 over at 2m10s
		s.advance(15 * time.Second)
		// A warning alone is not for this channel, nor its resolution.
		s.log("shop", "heroku[worker.1]: Error R14 (Memory quota exceeded)")
		s.advance(10*time.Minute - 145*time.Second)
		s.expectBySeverity("firing critical: critical R15", "firing critical: critical H12, warning R14", "resolved warning: warning R14",
			"resolved critical: critical H12", "resolved critical: critical R15") // H_CODES's window (5m) ends before R15's (10m)
	})
}

// TestALateBacklogDoesNotLookOld: lines that arrive twelve minutes late
// (Logplex catching up) fire an alert whose notification is new: DELIVERY's
// "notifications waiting over 10 minutes" counts from when it was written,
// not from the log's time.
func TestALateBacklogDoesNotLookOld(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		s := newStoryOn(t, st, "ALERT_R15_WINDOW=1h")
		s.logAt("shop", s.now().Add(-12*time.Minute), "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
		// The worker's alert job runs before the sender gets to it.
		if err := s.al.evaluate(s.ctx, s.now()); err != nil {
			t.Fatal(err)
		}
		stats, err := st.OutboxStats(s.ctx, s.now())
		if err != nil || stats.Oldest != 0 {
			t.Fatalf("OutboxStats = %+v, %v; want the new notification waiting 0s", stats, err)
		}
		s.send()
		s.expectBySeverity("firing critical: critical R15")
	})
}

// TestRemindersCountFromDelivery: a firing that reached the webhook only
// after it was down for half an hour is reminded of ALERT_REPEAT_INTERVAL
// after it went out, not after the alert was detected.
func TestRemindersCountFromDelivery(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		s := newStoryOn(t, st, "ALERT_R15_WINDOW=6h", "ALERT_REPEAT_INTERVAL=1h",
			"ALERT_DELIVERY_ENABLED=false", "ALERT_SILENCE_ENABLED=false") // the webhook being down, or the app quiet, is not this story's
		s.mu.Lock()
		s.down = true
		s.mu.Unlock()
		detected := s.now()
		s.log("shop", "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
		s.send()
		s.advance(20 * time.Minute)
		s.mu.Lock()
		s.down = false
		s.mu.Unlock()
		// Retries back off 30 s, 1 m, 2 m, 4 m, 8 m, 16 m: the firing goes
		// out on the try after 30 minutes.
		for len(s.received()) == 0 && s.now().Before(detected.Add(time.Hour)) {
			s.advance(alertEvery)
		}
		s.expectBySeverity("firing critical: critical R15")
		delivered := s.received()[0].At
		if delivered.Sub(detected) < 30*time.Minute {
			t.Fatalf("the firing went out at +%v, want its retry after half an hour", delivered.Sub(detected))
		}
		// An hour after detection, and up to just under one after delivery: nothing.
		s.advance(delivered.Add(time.Hour - alertEvery).Sub(s.now()))
		s.expectBySeverity("firing critical: critical R15")
		s.advance(alertEvery)
		s.expectBySeverity("firing critical: critical R15", "reminder critical: critical R15")
	})
}

// TestTwoWorkersAndASlowChannelDeliverOnce: fifty alerts, two workers
// sending from one store, and a webhook that takes 2 s to answer (on the
// test clock): each alert reaches the webhook once, although one worker's
// claim of fifty rows takes longer than a lease to work through.
func TestTwoWorkersAndASlowChannelDeliverOnce(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		s := newStoryOn(t, st)
		for i := range 50 { // of fifty apps: no alert waits for another's group
			s.log(fmt.Sprintf("app-%02d", i), "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
		}
		s.mu.Lock()
		s.answer = func() {
			s.clock.Add(int64(2 * time.Second))
			time.Sleep(2 * time.Millisecond) // lets the other worker try its luck meanwhile
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, sender := range []*notify.Sender{s.sender, s.newSender("story.2")} {
			wg.Go(func() {
				for ctx.Err() == nil {
					sent, failed, err := sender.SendDue(ctx, 50)
					if err != nil {
						t.Error(err)
						return
					}
					if sent+failed > 0 {
						continue
					}
					if stats, err := st.OutboxStats(ctx, s.now()); err != nil || stats.Pending == 0 {
						return
					}
					time.Sleep(time.Millisecond)
				}
			})
		}
		wg.Wait()
		seen := map[string]int{}
		for _, r := range s.received() {
			seen[r.ID]++
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("delivery %s arrived %d times", id, n)
			}
		}
		if len(seen) != 50 {
			t.Errorf("%d alerts arrived, want 50", len(seen))
		}
	})
}

// TestACriticalPageNeverWaitsBehindWarnings: with eighty warnings
// waiting in the outbox, an R15 written after them is the next message the
// webhook gets.
func TestACriticalPageNeverWaitsBehindWarnings(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		s := newStoryOn(t, st)
		for i := range 80 {
			s.log(fmt.Sprintf("app-%03d", i), "heroku[web.1]: Error R14 (Memory quota exceeded)")
		}
		s.clock.Add(int64(time.Second))
		s.log("shop", "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
		s.send()
		got := s.received()
		if len(got) != 50 || got[0].bySeverity() != "firing critical: critical R15" || got[1].bySeverity() != "firing warning: warning R14" {
			t.Fatalf("the first send got %d messages, first %v; want 50, the R15 first", len(got), got[:min(len(got), 2)])
		}
	})
}

// A line's time is what its sender says. An R15 dated years ahead pages as
// of now and resolves a window later, rather than staying firing (and
// reminding) until that date; an R15 older than its window pages nobody.
func TestStoryLinesDatedFarAwayNeitherPinNorPage(t *testing.T) {
	t.Parallel()
	s := newStory(t, "ALERT_SILENCE_ENABLED=false")
	future := s.now().Add(24 * 365 * time.Hour).Format(time.RFC3339)
	old := s.now().Add(-24 * time.Hour).Format(time.RFC3339)
	body := frame("<45>1 "+future+" host heroku web.1 - Error R15 (Memory quota vastly exceeded)") +
		frame("<45>1 "+old+" host heroku web.2 - Error R15 (Memory quota vastly exceeded)")
	req := httptest.NewRequest("POST", "/drain/shop", strings.NewReader(body))
	req.SetPathValue("app", "shop")
	req.SetBasicAuth("dynowatch", "s")
	req.Header.Set("Content-Type", "application/logplex-1")
	w := httptest.NewRecorder()
	s.drain.ServeHTTP(w, req)
	if w.Code != http.StatusNoContent {
		t.Fatalf("drain: %d %s", w.Code, w.Body)
	}
	s.advance(time.Minute)
	s.expect("firing shop r15 R15")
	if got := s.received(); got[0].Dyno != "web.1" {
		t.Errorf("paged for %s, want the future-dated web.1 only", got[0].Dyno)
	}
	s.advance(10 * time.Minute)
	s.expect("firing shop r15 R15", "resolved shop r15 R15")
}

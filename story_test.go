package main

// Stories: the README's alerting promises driven through the real chain —
// a drain request, the parser, the pipeline, the detector and the window
// rules, the engine, the outbox, the sender and the webhook channel — on a
// simulated clock, asserting what a receiver gets and in what order. The
// configuration is the environment a user sets.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/config"
	"github.com/dynowatch/dynowatch/drain"
	"github.com/dynowatch/dynowatch/ingest"
	"github.com/dynowatch/dynowatch/notify"
	"github.com/dynowatch/dynowatch/parse"
	"github.com/dynowatch/dynowatch/store"
	"github.com/dynowatch/dynowatch/store/storetest"
)

// story is one dynowatch on a simulated clock, with a webhook receiver.
type story struct {
	t      *testing.T
	clock  atomic.Int64 // unix nanoseconds
	st     *store.Store
	al     *alerting
	pipe   *ingest.Pipeline
	drain  http.Handler
	sender *notify.Sender
	mu     sync.Mutex
	got    []received
}

// received is one webhook delivery as the receiver read it.
type received struct {
	Status string `json:"status"`
	App    string `json:"app"`
	Rule   string `json:"rule"`
	Code   string `json:"code"`
	Dyno   string `json:"dyno"`
	At     time.Time
}

func (r received) String() string {
	return fmt.Sprintf("%s %s %s %s %s at +%v", r.Status, r.App, r.Rule, r.Code, r.Dyno, r.At.Sub(storyBegin).Round(time.Second))
}

// storyBegin is when every story begins: a recent whole minute, so that
// minute rollups and windows line up as they do in production.
var storyBegin = time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)

// newStory starts dynowatch with env (config vars as a user sets them) and
// a webhook channel pointing at the story's receiver.
func newStory(t *testing.T, env map[string]string) *story {
	t.Helper()
	s := &story{t: t}
	s.clock.Store(storyBegin.UnixNano())
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n received
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		n.At = s.now()
		s.mu.Lock()
		s.got = append(s.got, n)
		s.mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	for _, v := range (&config.Config{}).Vars() {
		t.Setenv(v.Name, "")
		os.Unsetenv(v.Name)
	}
	for _, kv := range os.Environ() { // the ALERT_ rule vars are not config fields
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "ALERT_") || strings.HasPrefix(name, "CHECK_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Setenv("ALERT_WEBHOOK_URL", hook.URL)
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := loadRules()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s.st = storetest.MustOpen(t, store.Config{Path: filepath.Join(t.TempDir(), "story.db"), MaxConns: 1, Logger: log})
	checkList, err := loadChecks()
	if err != nil {
		t.Fatal(err)
	}
	if s.al, err = newAlerting(cfg, rules, checkList, log, s.st, newMetrics(), s.now); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Observations are applied as each batch commits, rather than on the
	// engine's real-time tick: the story's clock is the only clock.
	s.pipe, err = ingest.New(ingest.Options{Store: s.st, Logger: log, FlushEvery: time.Hour, Committers: 1,
		EventLinesPerMinute: cfg.EventLinesPerMinute, Now: s.now,
		Observe: func(app string, entries []parse.Entry) {
			if err := s.al.engine.Apply(ctx, s.al.detector.Observe(app, entries)); err != nil {
				t.Errorf("applying observations: %v", err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.pipe.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
	})
	if s.drain, err = drain.NewHandler(drain.Options{Secrets: []string{"s"}, Sink: s.pipe, Logger: log, Now: s.now}); err != nil {
		t.Fatal(err)
	}
	if s.sender, err = notify.NewSender(notify.SenderOptions{Outbox: alertStore{s.st}, Notifiers: s.al.notifiers, Holder: "story",
		Logger: log, Now: s.now}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *story) now() time.Time { return time.Unix(0, s.clock.Load()).UTC() }

// log posts lines to app's drain as Logplex does, stamped with the story's
// time. Each line is written as `heroku logs` shows it without its time:
// "heroku[router]: at=error code=H12 …".
func (s *story) log(app string, lines ...string) {
	s.t.Helper()
	var body strings.Builder
	for _, l := range lines {
		head, msg, ok := strings.Cut(l, ": ")
		source, proc, ok2 := strings.Cut(strings.TrimSuffix(head, "]"), "[")
		if !ok || !ok2 {
			s.t.Fatalf("story line %q: want source[process]: message", l)
		}
		body.WriteString(frame(fmt.Sprintf("<45>1 %s host %s %s - %s", s.now().Format(time.RFC3339Nano), source, proc, msg)))
	}
	req := httptest.NewRequest("POST", "/drain/"+app, strings.NewReader(body.String()))
	req.SetPathValue("app", app)
	req.SetBasicAuth("dynowatch", "s")
	req.Header.Set("Content-Type", "application/logplex-1")
	req.Header.Set("Logplex-Msg-Count", fmt.Sprint(len(lines)))
	req.Header.Set("Logplex-Frame-Id", fmt.Sprintf("%s-%d", app, s.clock.Load()))
	w := httptest.NewRecorder()
	s.drain.ServeHTTP(w, req)
	if w.Code/100 != 2 {
		s.t.Fatalf("drain %s: %d %s", app, w.Code, w.Body)
	}
}

// advance moves the clock by d in the worker's steps: each step flushes the
// rollups, evaluates the window rules and lets time act on the alerts (as
// the worker does every 15 s), then sends what is due.
func (s *story) advance(d time.Duration) {
	s.t.Helper()
	ctx := context.Background()
	for end := s.now().Add(d); s.now().Before(end); {
		s.clock.Store(min(s.now().Add(alertEvery).UnixNano(), end.UnixNano()))
		if err := s.pipe.Flush(ctx); err != nil {
			s.t.Fatal(err)
		}
		if err := s.al.evaluate(ctx, s.now()); err != nil {
			s.t.Fatal(err)
		}
		s.send()
	}
}

// send delivers what the outbox holds due now.
func (s *story) send() {
	s.t.Helper()
	if _, _, err := s.sender.SendDue(context.Background(), 50); err != nil {
		s.t.Fatal(err)
	}
}

// received returns what the webhook got so far, in order, as strings like
// "firing shop r14 R14 worker.1 at +0s".
func (s *story) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// expect checks what the webhook got, as "status app rule code" each.
func (s *story) expect(want ...string) {
	s.t.Helper()
	got := s.received()
	var short []string
	for _, r := range got {
		short = append(short, strings.Join(strings.Fields(r.Status+" "+r.App+" "+r.Rule+" "+r.Code), " "))
	}
	if strings.Join(short, "\n") != strings.Join(want, "\n") {
		s.t.Errorf("webhook got:\n  %s\nwant:\n  %s", strings.Join(short, "\n  "), strings.Join(want, "\n  "))
	}
}

// R14 is one alert per app, dyno and code however often Heroku repeats it,
// and it resolves one window (ALERT_R14_WINDOW, 10m) after the last line.
func TestStoryR14PagesOnceAndResolvesAWindowAfterTheLastLine(t *testing.T) {
	s := newStory(t, nil)
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
	s := newStory(t, nil)
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
	s := newStory(t, nil)
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
	s := newStory(t, map[string]string{"ALERT_REPEAT_INTERVAL": "30m"})
	for range 14 { // an R15 every five minutes for 70 minutes
		s.log("shop", "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
		s.advance(5 * time.Minute)
	}
	s.expect("firing shop r15 R15", "reminder shop r15 R15", "reminder shop r15 R15")
}

// Only Heroku's own sources carry platform errors: an app printing an R15
// line does not page; Heroku's R15 for the same dyno does.
func TestStoryAppOutputCannotFakePlatformErrors(t *testing.T) {
	s := newStory(t, nil)
	s.log("shop", "app[web.1]: Error R15 (Memory quota vastly exceeded)", "app[web.1]: at=error code=H12 desc=\"Request timeout\"")
	s.advance(time.Minute)
	s.expect()
	s.log("shop", "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
	s.advance(time.Minute)
	s.expect("firing shop r15 R15")
}

// `heroku maintenance:on`: every request is an H80 with status 503. Nobody
// is paged while it lasts, and its 503s page nobody when it ends (they are
// not the app's 5xx); the first real error after it pages as usual.
func TestStoryMaintenanceModeNeverPages(t *testing.T) {
	s := newStory(t, nil)
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
// error was: a later H12 on web.3 is reported on web.3, not on web.1.
func TestStoryHCodesAlertNamesTheLatestDyno(t *testing.T) {
	s := newStory(t, map[string]string{"ALERT_REPEAT_INTERVAL": "2m"})
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
}

// Sample rules fire after ALERT_<RULE>_SAMPLES consecutive samples over the
// threshold and resolve after as many under it: MEMORY warns at 90% of the
// quota for 3 samples, before R14.
func TestStoryMemoryWarnsAfterConsecutiveSamplesAndResolvesAfterAsManyUnder(t *testing.T) {
	s := newStory(t, nil)
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
	s := newStory(t, map[string]string{"ALERT_FLAP_CHANGES": "2", "ALERT_R14_WINDOW": "1m", "ALERT_SILENCE_ENABLED": "false"})
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
	s := newStory(t, map[string]string{"ALERT_SILENCE_ENABLED": "false"})
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
	s := newStory(t, map[string]string{"ALERT_SILENCE_ENABLED": "false"})
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
// slow request is not a slow app.
func TestStorySlowRequestsNeedEnoughRequests(t *testing.T) {
	s := newStory(t, nil)
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
}

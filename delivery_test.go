package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/alert"
	"github.com/dynowatch/dynowatch/config"
	"github.com/dynowatch/dynowatch/notify"
	"github.com/dynowatch/dynowatch/parse"
	"github.com/dynowatch/dynowatch/store"
	"github.com/dynowatch/dynowatch/store/storetest"
)

// The delivery stories: the alert chain as the worker runs it (detector,
// engine, outbox in a real store, sender, channels built from the config
// vars a user sets), on a clock the test moves, with an httptest receiver
// that records exactly what arrives and in what order.

// testClock is a clock the test moves; receivers may move it too.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder is a webhook receiver that keeps what it got, in order.
type recorder struct {
	mu  sync.Mutex
	got []hookMessage
	ids []string // X-Dynowatch-Delivery of each
	srv *httptest.Server
}

func newRecorder(t *testing.T, handle func()) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if handle != nil {
			handle()
		}
		var m hookMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		rec.mu.Lock()
		rec.got = append(rec.got, m)
		rec.ids = append(rec.ids, r.Header.Get("X-Dynowatch-Delivery"))
		rec.mu.Unlock()
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// take returns what arrived since the last take, one line a message: its
// status and top-level severity, then each alert's severity and code.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.got {
		var codes []string
		for _, a := range m.Alerts {
			codes = append(codes, a.Severity+" "+a.Code)
		}
		out = append(out, m.Status+" "+m.Severity+": "+strings.Join(codes, ", "))
	}
	r.got = nil
	return out
}

// deliveryChain is the worker's alert side on a test clock.
type deliveryChain struct {
	t      *testing.T
	clock  *testClock
	st     *store.Store
	al     *alerting
	sender *notify.Sender
}

// newDeliveryChain loads the config from env as dynowatch does (env holds
// only what the story sets) and builds the alert chain over st.
func newDeliveryChain(t *testing.T, st *store.Store, clock *testClock, env map[string]string) *deliveryChain {
	t.Helper()
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
	notifiers, err := notify.Channels(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range notifiers {
		names = append(names, n.Name())
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine, err := alert.NewEngine(alert.EngineOptions{Store: alertStore{st}, Rules: rules, Channels: names, Logger: log,
		Now: clock.Now, DashboardURL: "https://dw.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := notify.NewSender(notify.SenderOptions{Outbox: alertStore{st}, Notifiers: notifiers, Holder: "worker.1", Logger: log, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	al := &alerting{rules: rules, engine: engine, notifiers: notifiers, store: st, log: log, metrics: newMetrics(),
		detector: &alert.Detector{Rules: rules}}
	return &deliveryChain{t: t, clock: clock, st: st, al: al, sender: sender}
}

// drain feeds log lines of app, as a drain body carries them, to the
// detector and the engine.
func (c *deliveryChain) drain(app string, lines ...string) {
	c.t.Helper()
	var body strings.Builder
	for _, l := range lines {
		body.WriteString(frame(l + "\n"))
	}
	s := parse.NewScanner(strings.NewReader(body.String()), parse.FormLogplex)
	var entries []parse.Entry
	for s.Scan() {
		e, err := s.Entry()
		if err != nil {
			c.t.Fatal(err)
		}
		entries = append(entries, *e)
	}
	if err := s.Err(); err != nil {
		c.t.Fatal(err)
	}
	if err := c.al.engine.Apply(context.Background(), c.al.detector.Observe(app, entries)); err != nil {
		c.t.Fatal(err)
	}
}

// at moves the clock to t0+d, lets the worker's alert job run, and sends
// what is due.
func (c *deliveryChain) at(t0 time.Time, d time.Duration) {
	c.t.Helper()
	c.clock.Set(t0.Add(d))
	if err := c.al.evaluate(context.Background(), c.clock.Now()); err != nil {
		c.t.Fatal(err)
	}
	c.send()
}

// send runs the sender until nothing is due.
func (c *deliveryChain) send() {
	c.t.Helper()
	for {
		sent, failed, err := c.sender.SendDue(context.Background(), 50)
		if err != nil {
			c.t.Fatal(err)
		}
		if sent+failed == 0 {
			return
		}
	}
}

// eachStoreOf runs fn on a fresh store of each backend.
func eachStoreOf(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.MustOpenEmbedded(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.MustOpenPostgres(t)) })
}

func dynoLine(at time.Time, dyno, msg string) string {
	return fmt.Sprintf("<45>1 %s host heroku %s - %s", at.Format(time.RFC3339), dyno, msg)
}

func routerH12(at time.Time) string {
	return fmt.Sprintf(`<158>1 %s host heroku router - at=error code=H12 desc="Request timeout" method=GET path="/" host=shop.example.com dyno=web.1 connect=1ms service=30001ms status=503 bytes=0`,
		at.Format(time.RFC3339))
}

var storyT0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// TestResolvedNeverArrivesBeforeItsFiring: an R14 that fires within
// ALERT_GROUP_WAIT of the app's first alert is held for the group; when it
// resolves while held, the receiver still hears its firing first.
func TestResolvedNeverArrivesBeforeItsFiring(t *testing.T) {
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		hook := newRecorder(t, nil)
		c := newDeliveryChain(t, st, &testClock{t: storyT0}, map[string]string{"ALERT_WEBHOOK_URL": hook.srv.URL,
			"ALERT_GROUP_WAIT": "2m", "ALERT_R14_WINDOW": "1m"})
		c.drain("shop", dynoLine(storyT0, "web.1", "Error R15 (Memory quota vastly exceeded)"))
		c.send()
		c.clock.Set(storyT0.Add(10 * time.Second))
		c.drain("shop", dynoLine(storyT0.Add(10*time.Second), "web.2", "Error R14 (Memory quota exceeded)"))
		c.send()
		c.at(storyT0, 75*time.Second)  // R14 is over (a window after its line) while its firing waits for the group
		c.at(storyT0, 121*time.Second) // the group's time
		c.at(storyT0, 122*time.Second)
		want := []string{"firing critical: critical R15", "firing warning: warning R14", "resolved warning: warning R14"}
		if got := hook.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("the webhook got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestResolvedReachesANarrowedChannelThatHeardTheFiring: a webhook narrowed
// to critical hears a warning that rode along with a critical in a grouped
// message, so it is told when the warning resolves; the grouped message's
// top-level severity is the highest of its alerts.
func TestResolvedReachesANarrowedChannelThatHeardTheFiring(t *testing.T) {
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		hook := newRecorder(t, nil)
		c := newDeliveryChain(t, st, &testClock{t: storyT0}, map[string]string{"ALERT_WEBHOOK_URL": hook.srv.URL,
			"ALERT_WEBHOOK_MIN_SEVERITY": "critical", "ALERT_GROUP_WAIT": "1m", "ALERT_R14_WINDOW": "2m"})
		c.drain("shop", dynoLine(storyT0, "web.1", "Error R15 (Memory quota vastly exceeded)"))
		c.send()
		c.clock.Set(storyT0.Add(10 * time.Second))
		c.drain("shop", dynoLine(storyT0.Add(10*time.Second), "web.2", "Error R14 (Memory quota exceeded)"), routerH12(storyT0.Add(10*time.Second)))
		c.at(storyT0, 61*time.Second)  // the group: the warning with a critical
		c.at(storyT0, 131*time.Second) // R14 is over
		c.at(storyT0, 132*time.Second)
		// A warning alone is not for this channel, nor its resolution.
		c.drain("shop", dynoLine(storyT0.Add(132*time.Second), "worker.1", "Error R14 (Memory quota exceeded)"))
		c.at(storyT0, 10*time.Minute)
		want := []string{"firing critical: critical R15", "firing critical: critical H12, warning R14", "resolved warning: warning R14",
			"resolved critical: critical R15", "resolved critical: critical H12"}
		if got := hook.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("the webhook got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestALateBacklogDoesNotLookOld: lines that arrive twelve minutes late
// (Logplex catching up) fire an alert whose notification is new: DELIVERY's
// "notifications waiting over 10 minutes" counts from when it was written,
// not from the log's time.
func TestALateBacklogDoesNotLookOld(t *testing.T) {
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		hook := newRecorder(t, nil)
		c := newDeliveryChain(t, st, &testClock{t: storyT0}, map[string]string{"ALERT_WEBHOOK_URL": hook.srv.URL, "ALERT_R15_WINDOW": "1h"})
		c.drain("shop", dynoLine(storyT0.Add(-12*time.Minute), "web.1", "Error R15 (Memory quota vastly exceeded)"))
		// The worker's alert job runs before the sender gets to it.
		if err := c.al.evaluate(context.Background(), c.clock.Now()); err != nil {
			t.Fatal(err)
		}
		stats, err := st.OutboxStats(context.Background(), c.clock.Now())
		if err != nil || stats.Oldest != 0 {
			t.Fatalf("OutboxStats = %+v, %v; want the new notification waiting 0s", stats, err)
		}
		c.send()
		if got, want := strings.Join(hook.take(), "\n"), "firing critical: critical R15"; got != want {
			t.Fatalf("the webhook got\n%s\nwant\n%s", got, want)
		}
	})
}

// TestRemindersCountFromDelivery: a firing that reached the webhook only
// after it was down for half an hour is reminded of ALERT_REPEAT_INTERVAL
// after it went out, not after the alert was detected.
func TestRemindersCountFromDelivery(t *testing.T) {
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		var mu sync.Mutex
		down := true
		hook := newRecorder(t, nil)
		failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if down {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			hook.srv.Config.Handler.ServeHTTP(w, r)
		}))
		t.Cleanup(failing.Close)
		c := newDeliveryChain(t, st, &testClock{t: storyT0}, map[string]string{"ALERT_WEBHOOK_URL": failing.URL,
			"ALERT_R15_WINDOW": "6h", "ALERT_REPEAT_INTERVAL": "1h",
			"ALERT_DELIVERY_ENABLED": "false"}) // the webhook being down is not this story's

		c.drain("shop", dynoLine(storyT0, "web.1", "Error R15 (Memory quota vastly exceeded)"))
		c.send()
		for m := time.Duration(1); m < 20; m++ {
			c.at(storyT0, m*time.Minute)
		}
		mu.Lock()
		down = false
		mu.Unlock()
		// Retries back off 30 s, 1 m, 2 m, 4 m, 8 m, 16 m: the firing goes
		// out on the try after 30 minutes.
		var delivered time.Duration
		for s := 20 * time.Minute; delivered == 0 && s < time.Hour; s += 30 * time.Second {
			c.at(storyT0, s)
			if got := hook.take(); len(got) > 0 {
				if got[0] != "firing critical: critical R15" {
					t.Fatalf("first message %v, want the firing", got)
				}
				delivered = s
			}
		}
		if delivered < 30*time.Minute {
			t.Fatalf("the firing went out at %v, want its retry after half an hour", delivered)
		}
		// An hour after detection, and just under one after delivery: nothing.
		for _, s := range []time.Duration{time.Hour, delivered + time.Hour - 30*time.Second} {
			c.at(storyT0, s)
			if got := hook.take(); len(got) > 0 {
				t.Fatalf("at %v: %v; want no reminder before an hour after the firing went out", s, got)
			}
		}
		c.at(storyT0, delivered+time.Hour)
		if got := strings.Join(hook.take(), "\n"); got != "reminder critical: critical R15" {
			t.Fatalf("an hour after the firing went out: %q, want the reminder", got)
		}
	})
}

// TestTwoWorkersAndASlowChannelDeliverOnce: fifty alerts, two workers
// sending from one store, and a webhook that takes 2 s to answer (on the
// test clock): each alert reaches the webhook once, although one worker's
// claim of fifty rows takes longer than a lease to work through.
func TestTwoWorkersAndASlowChannelDeliverOnce(t *testing.T) {
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		clock := &testClock{t: storyT0}
		hook := newRecorder(t, func() {
			clock.Advance(2 * time.Second)
			time.Sleep(2 * time.Millisecond) // lets the other worker try its luck meanwhile
		})
		c := newDeliveryChain(t, st, clock, map[string]string{"ALERT_WEBHOOK_URL": hook.srv.URL})
		for i := range 50 { // of fifty apps: no alert waits for another's group
			c.drain(fmt.Sprintf("app-%02d", i), dynoLine(storyT0, "web.1", "Error R15 (Memory quota vastly exceeded)"))
		}
		second, err := notify.NewSender(notify.SenderOptions{Outbox: alertStore{st}, Notifiers: c.al.notifiers, Holder: "worker.2",
			Logger: c.al.log, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, s := range []*notify.Sender{c.sender, second} {
			wg.Go(func() {
				for ctx.Err() == nil {
					sent, failed, err := s.SendDue(ctx, 50)
					if err != nil {
						t.Error(err)
						return
					}
					if sent+failed > 0 {
						continue
					}
					if stats, err := st.OutboxStats(ctx, clock.Now()); err != nil || stats.Pending == 0 {
						return
					}
					time.Sleep(time.Millisecond)
				}
			})
		}
		wg.Wait()
		hook.mu.Lock()
		defer hook.mu.Unlock()
		seen := map[string]int{}
		for _, id := range hook.ids {
			seen[id]++
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
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		hook := newRecorder(t, nil)
		c := newDeliveryChain(t, st, &testClock{t: storyT0}, map[string]string{"ALERT_WEBHOOK_URL": hook.srv.URL})
		for i := range 80 {
			c.drain(fmt.Sprintf("app-%03d", i), dynoLine(storyT0, "web.1", "Error R14 (Memory quota exceeded)"))
		}
		c.clock.Set(storyT0.Add(time.Second))
		c.drain("shop", dynoLine(storyT0.Add(time.Second), "web.1", "Error R15 (Memory quota vastly exceeded)"))
		if _, _, err := c.sender.SendDue(context.Background(), 50); err != nil {
			t.Fatal(err)
		}
		got := hook.take()
		if len(got) != 50 || got[0] != "firing critical: critical R15" || got[1] != "firing warning: warning R14" {
			t.Fatalf("the first send got %d messages, first %q; want 50, the R15 first", len(got), got[:min(len(got), 2)])
		}
	})
}

package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
)

// memStore is an in-memory Store with the same compare-and-set rule as the
// real one (whose own tests run on Postgres and SQLite).
type memStore struct {
	releases  map[string]Observation // app → its latest release line and time
	mu        sync.Mutex
	alerts    map[string]State
	outbox    []Outgoing
	silences  []Silence
	saves     int
	conflicts int // SaveAlert calls to refuse, as if another dyno won
	// lastNotifiedCalls counts LastNotified calls: queries of the outbox.
	lastNotifiedCalls int
}

func newMemStore() *memStore { return &memStore{alerts: map[string]State{}} }

func (m *memStore) Alert(_ context.Context, key string) (State, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.alerts[key]
	return s, ok, nil
}

func (m *memStore) SaveAlert(_ context.Context, s *State, expect int64, out []Outgoing) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conflicts > 0 {
		m.conflicts--
		cur := m.alerts[s.Key]
		cur.Key, cur.Version = s.Key, cur.Version+1
		m.alerts[s.Key] = cur
		return false, nil
	}
	if m.alerts[s.Key].Version != expect {
		return false, nil
	}
	s.Version = expect + 1
	m.alerts[s.Key] = *s
	m.outbox = append(m.outbox, out...)
	m.saves++
	return true, nil
}

func (m *memStore) ActiveAlerts(context.Context) ([]State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []State
	for _, s := range m.alerts {
		if s.Phase == PhasePending || s.Phase == PhaseFiring {
			out = append(out, s)
		}
	}
	return out, nil
}

func (m *memStore) ActiveSilences(_ context.Context, now time.Time) ([]Silence, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Silence
	for _, s := range m.silences {
		if now.Before(s.Until) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (m *memStore) LastRelease(_ context.Context, app string, since time.Time) (string, bool, error) {
	r, ok := m.releases[app]
	if !ok || r.At.Before(since) {
		return "", false, nil
	}
	return r.Evidence, true, nil
}

func (m *memStore) LastGroupStart(_ context.Context, app string, atLeast Severity, since time.Time) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.outbox) - 1; i >= 0; i-- {
		o := m.outbox[i]
		if o.App != app || o.Severity.Rank() < atLeast.Rank() {
			continue
		}
		if o.Status == Firing && o.NotBefore.IsZero() && !o.CreatedAt.Before(since) {
			return o.CreatedAt, true, nil
		}
	}
	return time.Time{}, false, nil
}

func (m *memStore) sent() []Notification {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Notification
	for _, o := range m.outbox {
		if o.Channel != "webhook" {
			continue
		}
		var n Notification
		if err := json.Unmarshal(o.Payload, &n); err != nil {
			panic(err)
		}
		out = append(out, n)
	}
	return out
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

func newEngine(t *testing.T, st Store, clock *testClock) *Engine {
	t.Helper()
	e, err := NewEngine(EngineOptions{Store: st, Rules: DefaultRules(), Channels: []string{"webhook", "sms"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock.now, DashboardURL: "https://dw.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// ev is an event of the alert k at at.
func ev(k Key, at time.Time) Observation {
	return Observation{Key: k.String(), Rule: k.Rule, App: k.App, Dyno: k.Dyno, Code: k.Code, Kind: Event, At: at, Count: 1,
		Summary: string(k.Rule) + " summary", Evidence: "line at " + at.Format(time.TimeOnly)}
}

func TestEngineFiresOnceAndResolves(t *testing.T) {
	ctx := context.Background()
	st, clock := newMemStore(), &testClock{t0}
	e := newEngine(t, st, clock)
	var storm []Observation
	for i := 0; i < 500; i++ {
		storm = append(storm, ev(Key{Rule: RuleHCodes, App: "shop", Code: "H12"}, t0.Add(time.Duration(i)*time.Millisecond)))
	}
	storm = append(storm, ev(Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}, t0))
	if err := e.Apply(ctx, storm); err != nil {
		t.Fatal(err)
	}
	if st.saves != 2 {
		t.Errorf("%d store updates for an H12 storm and an R14, want 2", st.saves)
	}
	sent := st.sent()
	if len(sent) != 2 || sent[0].Status != Firing || sent[0].Alerts[0].Key != (Key{Rule: RuleHCodes, App: "shop", Code: "H12"}).String() || sent[0].URL != "https://dw.example.com/apps/shop" {
		t.Fatalf("notifications = %+v", sent)
	}
	if len(st.outbox) != 4 || st.outbox[0].DeliveryID != st.outbox[1].DeliveryID || st.outbox[1].Channel != "sms" {
		t.Errorf("outbox = %+v, want each notification once per channel with one delivery id", st.outbox)
	}

	clock.t = t0.Add(11 * time.Minute)
	if err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	sent = st.sent()
	if len(sent) != 4 || sent[2].Status != Resolved || sent[3].Status != Resolved {
		t.Fatalf("after the windows: %+v, want both resolved", sent)
	}
}

func TestEngineSilence(t *testing.T) {
	ctx := context.Background()
	st, clock := newMemStore(), &testClock{t0}
	st.silences = []Silence{{App: "shop", Until: t0.Add(time.Minute)}}
	e := newEngine(t, st, clock)
	if err := e.Apply(ctx, []Observation{ev(Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}, t0)}); err != nil {
		t.Fatal(err)
	}
	if n := len(st.sent()); n != 0 {
		t.Fatalf("%d notifications while silenced", n)
	}
	clock.t = t0.Add(2 * time.Minute)
	if err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if sent := st.sent(); len(sent) != 1 || sent[0].Status != Firing {
		t.Fatalf("after the silence: %+v, want the firing", sent)
	}
}

func TestEngineMaintenanceMutesRouterAlerts(t *testing.T) {
	ctx := context.Background()
	st, clock := newMemStore(), &testClock{t0}
	e := newEngine(t, st, clock)
	h80 := Observation{Key: Key{Rule: RuleMaintenance, App: "shop"}.String(), Rule: RuleMaintenance, App: "shop", Kind: Event, At: t0, Count: 1}
	if err := e.Apply(ctx, []Observation{h80}); err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, []Observation{ev(Key{Rule: RuleHCodes, App: "shop", Code: "H10"}, t0.Add(time.Second))}); err != nil {
		t.Fatal(err)
	}
	if n := len(st.sent()); n != 0 {
		t.Fatalf("%d notifications in maintenance mode", n)
	}
	out := Observation{Key: Key{Rule: RuleMaintenance, App: "shop"}.String(), Rule: RuleMaintenance, App: "shop", Kind: Below, At: t0.Add(2 * time.Second), Count: 1}
	clock.t = t0.Add(3 * time.Second)
	if err := e.Apply(ctx, []Observation{out}); err != nil {
		t.Fatal(err)
	}
	if err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if sent := st.sent(); len(sent) != 1 || sent[0].Alerts[0].Code != "H10" || sent[0].Alerts[0].Key != (Key{Rule: RuleHCodes, App: "shop", Code: "H10"}).String() {
		t.Fatalf("after maintenance: %+v, want the H10 alert to page", sent)
	}
}

func TestEngineRetriesWhenAnotherDynoWins(t *testing.T) {
	st, clock := newMemStore(), &testClock{t0}
	st.conflicts = 2
	e := newEngine(t, st, clock)
	if err := e.Apply(context.Background(), []Observation{ev(Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}, t0)}); err != nil {
		t.Fatal(err)
	}
	if sent := st.sent(); len(sent) != 1 {
		t.Fatalf("%d notifications, want 1 after two lost races", len(sent))
	}
}

func TestEngineRunAppliesQueuedObservationsOnStop(t *testing.T) {
	st, clock := newMemStore(), &testClock{t0}
	e := newEngine(t, st, clock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx, time.Hour) }()
	e.Observe([]Observation{ev(Key{Rule: RuleR15, App: "shop", Dyno: "web.1"}, t0)})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sent := st.sent(); len(sent) != 1 || sent[0].Alerts[0].Severity != Critical {
		t.Fatalf("notifications = %+v, want the queued R15", sent)
	}
}

func TestEngineNamesTheReleaseBefore(t *testing.T) {
	st, clock := newMemStore(), &testClock{t0}
	st.releases = map[string]Observation{"shop": {At: t0.Add(-12 * time.Minute), Evidence: "2024-03-15T11:48:00Z app[api]: Release v138 created by user ann@example.com"}}
	e := newEngine(t, st, clock)
	other := ev(Key{Rule: RuleR14, App: "other", Dyno: "web.1"}, t0)
	other.App = "other"
	if err := e.Apply(context.Background(), []Observation{ev(Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}, t0), other}); err != nil {
		t.Fatal(err)
	}
	sent := st.sent()
	if len(sent) != 2 || sent[0].Alerts[0].Release != "2024-03-15T11:48:00Z app[api]: Release v138 created by user ann@example.com" || sent[1].Alerts[0].Release != "" {
		t.Fatalf("notifications = %+v", sent)
	}
}

func TestEngineGroupsAnAppsAlerts(t *testing.T) {
	st, clock := newMemStore(), &testClock{t0}
	e := newEngine(t, st, clock)
	other := ev(Key{Rule: RuleR14, App: "other", Dyno: "web.1"}, t0)
	other.App = "other"
	if err := e.Apply(context.Background(), []Observation{ev(Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}, t0), ev(Key{Rule: RuleHCodes, App: "shop", Code: "H12"}, t0), other}); err != nil {
		t.Fatal(err)
	}
	clock.t = t0.Add(30 * time.Second)
	if err := e.Apply(context.Background(), []Observation{ev(Key{Rule: RuleCrashLoop, App: "shop", Dyno: "web.1"}, t0.Add(30*time.Second)), ev(Key{Rule: RuleCrashLoop, App: "shop", Dyno: "web.1"}, t0.Add(30*time.Second)), ev(Key{Rule: RuleCrashLoop, App: "shop", Dyno: "web.1"}, t0.Add(30*time.Second))}); err != nil {
		t.Fatal(err)
	}
	held := map[string]time.Time{}
	for _, o := range st.outbox {
		if o.Channel == "webhook" {
			var n Notification
			json.Unmarshal(o.Payload, &n)
			held[n.Alerts[0].Key] = o.NotBefore
		}
	}
	want := map[string]time.Time{
		Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}.String():       {},                  // the app's first: at once
		Key{Rule: RuleHCodes, App: "shop", Code: "H12"}.String():      {},                  // critical: never held behind a warning's group
		Key{Rule: RuleCrashLoop, App: "shop", Dyno: "web.1"}.String(): t0.Add(time.Minute), // within a minute of the H12: held for its group
		Key{Rule: RuleR14, App: "other", Dyno: "web.1"}.String():      {},                  // another app
	}
	for k, w := range want {
		if !held[k].Equal(w) {
			t.Errorf("%s held until %v, want %v", k, held[k], w)
		}
	}
}

func TestEngineCoalescedEventsKeepTheLatestDyno(t *testing.T) {
	st, clock := newMemStore(), &testClock{t0}
	e := newEngine(t, st, clock)
	d := &Detector{Rules: DefaultRules()}
	obs := d.Observe("shop", entries(t,
		`2024-03-15T12:00:00Z heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/" dyno=web.1 service=30001ms status=503`,
		`2024-03-15T12:00:01Z heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/" dyno=web.3 service=30001ms status=503`))
	if err := e.Apply(context.Background(), obs); err != nil {
		t.Fatal(err)
	}
	if sent := st.sent(); len(sent) != 1 || sent[0].Alerts[0].Dyno != "web.3" {
		t.Fatalf("notifications = %+v, want one H12 on web.3", sent)
	}
}

// TestInstantRulesArePagedAsUrgent: an R14 (a warning) and a crash loop are
// written to the outbox as urgent, to be delivered before a storm of
// critical router alerts; the router alerts are not.
func TestInstantRulesArePagedAsUrgent(t *testing.T) {
	st, clock := newMemStore(), &testClock{t0}
	e := newEngine(t, st, clock)
	crash := Key{Rule: RuleCrashLoop, App: "shop", Dyno: "web.2"}
	obs := []Observation{ev(Key{Rule: RuleHCodes, App: "shop", Code: "H12"}, t0), ev(Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}, t0),
		ev(crash, t0), ev(crash, t0), ev(crash, t0)}
	if err := e.Apply(context.Background(), obs); err != nil {
		t.Fatal(err)
	}
	urgent := map[RuleName]bool{}
	for _, o := range st.outbox {
		var n Notification
		json.Unmarshal(o.Payload, &n)
		urgent[n.Alerts[0].Rule] = o.Urgent
	}
	if want := map[RuleName]bool{RuleHCodes: false, RuleR14: true, RuleCrashLoop: true}; !maps.Equal(urgent, want) {
		t.Errorf("urgent = %v, want %v", urgent, want)
	}
}

// TestTickAsksTheOutboxOnceForAllFiringAlerts: with thousands of alerts
// firing, a tick asks the outbox when each was last told of in one query,
// not one an alert (2,000 queries every 15 s before).
func TestTickAsksTheOutboxOnceForAllFiringAlerts(t *testing.T) {
	st, clock := newMemStore(), &testClock{t0}
	e := newEngine(t, st, clock)
	var obs []Observation
	for i := range 2000 {
		obs = append(obs, ev(Key{Rule: RuleR14, App: fmt.Sprintf("app-%d", i), Dyno: "web.1"}, t0))
	}
	if err := e.Apply(context.Background(), obs); err != nil {
		t.Fatal(err)
	}
	clock.t = t0.Add(time.Minute)
	if err := e.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.lastNotifiedCalls != 1 {
		t.Errorf("one tick over 2000 firing alerts asked LastNotified %d times, want once", st.lastNotifiedCalls)
	}
}

// TestEngineAck: only a firing alert is acknowledged, a name is required,
// a second ack keeps the first, and another dyno's write in between is
// retried; the ack is told on every channel (the outbox sends it where the
// firing was heard), once.
func TestEngineAck(t *testing.T) {
	ctx := context.Background()
	st, clock := newMemStore(), &testClock{t0}
	e := newEngine(t, st, clock)
	r14 := Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}.String()
	if _, err := e.Ack(ctx, r14, "Ana", ""); !errors.Is(err, ErrNoAlert) {
		t.Fatalf("Ack of an unknown alert: %v, want ErrNoAlert", err)
	}
	if err := e.Apply(ctx, []Observation{ev(Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}, t0)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, by, reason string }{
		{"no name", "  ", "why"},
		{"name too long", strings.Repeat("a", MaxAckBy+1), ""},
		{"reason too long", "Ana", strings.Repeat("é", MaxAckReason+1)},
	} {
		if _, err := e.Ack(ctx, r14, tc.by, tc.reason); !errors.Is(err, ErrBadAck) {
			t.Errorf("%s: %v, want ErrBadAck", tc.name, err)
		}
	}
	outbox := len(st.outbox)
	st.conflicts = 1
	clock.t = t0.Add(time.Minute)
	s, err := e.Ack(ctx, r14, " Ana ", " restarting ")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Ack{By: "Ana", At: t0.Add(time.Minute), Reason: "restarting"}); s.Ack != want {
		t.Fatalf("Ack = %+v, want %+v", s.Ack, want)
	}
	clock.t = t0.Add(2 * time.Minute)
	if s, err := e.Ack(ctx, r14, "Bo", ""); err != nil || s.Ack.By != "Ana" {
		t.Fatalf("second Ack = %+v, %v; want Ana's kept", s.Ack, err)
	}
	if acks := st.outbox[outbox:]; len(acks) != 2 || acks[0].Status != Acknowledged || acks[1].Channel != "sms" {
		t.Fatalf("the ack wrote %+v, want an acknowledged notice on each channel", acks)
	}
	if n := st.sent(); n[len(n)-1].Alerts[0].AckedBy != "Ana" {
		t.Fatalf("the acknowledged notice %+v does not say who", n[len(n)-1])
	}
	clock.t = t0.Add(time.Hour)
	if err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _, _ := st.Alert(ctx, r14); s.Phase != PhaseResolved {
		t.Fatalf("phase %s after the window, want resolved", s.Phase)
	}
	if _, err := e.Ack(ctx, r14, "Ana", ""); !errors.Is(err, ErrNotFiring) {
		t.Fatalf("Ack of a resolved alert: %v, want ErrNotFiring", err)
	}
}

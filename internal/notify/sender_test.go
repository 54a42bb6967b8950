package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// t0 is when the tests' notifications are made.
var t0 = time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

// memOutbox is an outbox in memory, claimed the way the store claims.
type memOutbox struct {
	mu   sync.Mutex // the sender works on channels side by side
	rows []*memRow
}

type memRow struct {
	Delivery
	claimedBy    string
	claimedUntil time.Time
	nextAttempt  time.Time
	sent, gaveUp bool
	skipped      bool
	reason       string
}

func (m *memOutbox) ClaimOutbox(_ context.Context, holder string, now time.Time, lease time.Duration, limit int) ([]Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Delivery
	for _, r := range m.rows {
		if len(out) == limit || r.sent || r.gaveUp || now.Before(r.nextAttempt) || now.Before(r.claimedUntil) {
			continue
		}
		r.claimedBy, r.claimedUntil = holder, now.Add(lease)
		r.Attempts++
		out = append(out, r.Delivery)
	}
	return out, nil
}

func (m *memOutbox) row(id int64) *memRow { return m.rows[id-1] }

func (m *memOutbox) ExtendClaim(_ context.Context, holder string, now time.Time, lease time.Duration, ids ...int64) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var kept []int64
	for _, id := range ids {
		if r := m.row(id); r.claimedBy == holder && !r.sent && !r.gaveUp && !r.skipped {
			r.claimedUntil = now.Add(lease)
			kept = append(kept, id)
		}
	}
	return kept, nil
}

func (m *memOutbox) MarkSent(_ context.Context, id int64, holder string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.row(id).sent = true
	return nil
}

func (m *memOutbox) MarkSkipped(_ context.Context, id int64, holder string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.row(id).skipped = true
	return nil
}

func (m *memOutbox) MarkFailed(_ context.Context, id int64, holder string, _, retryAt time.Time, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.row(id)
	r.claimedUntil, r.nextAttempt, r.reason, r.gaveUp = time.Time{}, retryAt, reason, retryAt.IsZero()
	return nil
}

// funcNotifier is a notifier whose behaviour the test sets.
type funcNotifier struct {
	name   string
	notify func(*alert.Notification) (bool, error)
	got    []alert.Notification
}

func (f *funcNotifier) Name() string { return f.name }
func (f *funcNotifier) Notify(_ context.Context, n *alert.Notification) (bool, error) {
	f.got = append(f.got, *n)
	return f.notify(n)
}

func TestSenderRetriesThenDelivers(t *testing.T) {
	payload, _ := json.Marshal(alert.Notification{ID: "d1", Status: alert.Firing, Alerts: []alert.Alert{{Key: "r14|shop|web.1"}}})
	box := &memOutbox{rows: []*memRow{{Delivery: Delivery{ID: 1, Outgoing: alert.Outgoing{Channel: "webhook", Payload: payload, CreatedAt: t0}}}}}
	down := true
	hook := &funcNotifier{name: "webhook", notify: func(*alert.Notification) (bool, error) {
		if down {
			return true, errors.New("503 from the webhook")
		}
		return false, nil
	}}
	clock := &testClock{t0}
	s, err := NewSender(SenderOptions{Outbox: box, Notifiers: []Notifier{hook}, Holder: "w1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if sent, failed, err := s.SendDue(ctx, 10); sent != 0 || failed != 1 || err != nil {
		t.Fatalf("first attempt: %d sent, %d failed, %v", sent, failed, err)
	}
	clock.t = t0.Add(10 * time.Second) // before the 30 s backoff
	if sent, failed, _ := s.SendDue(ctx, 10); sent+failed != 0 {
		t.Fatal("retried before its backoff")
	}
	down = false
	clock.t = t0.Add(31 * time.Second)
	if sent, _, _ := s.SendDue(ctx, 10); sent != 1 || !box.row(1).sent || len(hook.got) != 2 || hook.got[1].ID != "d1" {
		t.Fatalf("second attempt: sent %d, row %+v, calls %d", sent, box.row(1), len(hook.got))
	}
}

func TestSenderGivesUpOnFinalErrors(t *testing.T) {
	payload, _ := json.Marshal(alert.Notification{ID: "d2", Status: alert.Firing})
	box := &memOutbox{rows: []*memRow{
		{Delivery: Delivery{ID: 1, Outgoing: alert.Outgoing{Channel: "sms", Payload: payload, CreatedAt: t0}}},
		{Delivery: Delivery{ID: 2, Outgoing: alert.Outgoing{Channel: "email:gone", Payload: payload, CreatedAt: t0}}},
	}}
	sms := &funcNotifier{name: "sms", notify: func(*alert.Notification) (bool, error) { return false, errors.New("401 Invalid login details") }}
	s, _ := NewSender(SenderOptions{Outbox: box, Notifiers: []Notifier{sms}, Holder: "w1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: (&testClock{t0}).now})
	if _, failed, err := s.SendDue(context.Background(), 10); failed != 2 || err != nil {
		t.Fatalf("failed %d, %v", failed, err)
	}
	if r := box.row(1); !r.gaveUp || r.reason != "401 Invalid login details" {
		t.Errorf("sms row = %+v, want given up with the reason", r)
	}
	if r := box.row(2); !r.gaveUp {
		t.Errorf("row of an unconfigured channel = %+v, want given up", r)
	}
}

func TestBackoff(t *testing.T) {
	for attempts, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 7: 32 * time.Minute, 8: time.Hour, 20: time.Hour} {
		if got := backoff(attempts); got != want {
			t.Errorf("backoff(%d) = %v, want %v", attempts, got, want)
		}
	}
}

func TestSenderSendsAGroupAsOneMessage(t *testing.T) {
	firing := func(id, key string) []byte {
		b, _ := json.Marshal(alert.Notification{ID: id, Status: alert.Firing, Alerts: []alert.Alert{{Key: key, App: "shop"}}})
		return b
	}
	resolved, _ := json.Marshal(alert.Notification{ID: "d4", Status: alert.Resolved, Alerts: []alert.Alert{{Key: "r14|shop|web.2", App: "shop"}}})
	box := &memOutbox{rows: []*memRow{
		{Delivery: Delivery{ID: 1, Outgoing: alert.Outgoing{Channel: "webhook", App: "shop", Status: alert.Firing, Payload: firing("d1", "h_codes|shop|H12"), CreatedAt: t0}}},
		{Delivery: Delivery{ID: 2, Outgoing: alert.Outgoing{Channel: "webhook", App: "shop", Status: alert.Firing, Payload: firing("d2", "crash_loop|shop|web.1"), CreatedAt: t0}}},
		{Delivery: Delivery{ID: 3, Outgoing: alert.Outgoing{Channel: "webhook", App: "other", Status: alert.Firing, Payload: firing("d3", "r14|other|web.1"), CreatedAt: t0}}},
		{Delivery: Delivery{ID: 4, Outgoing: alert.Outgoing{Channel: "webhook", App: "shop", Status: alert.Resolved, Payload: resolved, CreatedAt: t0}}},
	}}
	hook := &funcNotifier{name: "webhook", notify: func(*alert.Notification) (bool, error) { return false, nil }}
	s, _ := NewSender(SenderOptions{Outbox: box, Notifiers: []Notifier{hook}, Holder: "w1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: (&testClock{t0}).now})
	if sent, _, err := s.SendDue(context.Background(), 10); sent != 4 || err != nil {
		t.Fatalf("sent %d, %v", sent, err)
	}
	if len(hook.got) != 3 || len(hook.got[0].Alerts) != 2 || hook.got[0].Alerts[1].Key != "crash_loop|shop|web.1" {
		t.Fatalf("messages = %+v, want shop's two firing alerts as one, then other's, then the resolution", hook.got)
	}
}

// TestSenderSendsAlertsOfNoAppAlone: two failing checks without app= due
// together on one channel go out as two messages, not one group.
func TestSenderSendsAlertsOfNoAppAlone(t *testing.T) {
	firing := func(id, key string) []byte {
		b, _ := json.Marshal(alert.Notification{ID: id, Status: alert.Firing, Alerts: []alert.Alert{{Key: key, Rule: alert.RuleCheck}}})
		return b
	}
	box := &memOutbox{rows: []*memRow{
		{Delivery: Delivery{ID: 1, Outgoing: alert.Outgoing{Channel: "webhook", Status: alert.Firing, Payload: firing("d1", "check||api"), CreatedAt: t0}}},
		{Delivery: Delivery{ID: 2, Outgoing: alert.Outgoing{Channel: "webhook", Status: alert.Firing, Payload: firing("d2", "check||db"), CreatedAt: t0}}},
	}}
	hook := &funcNotifier{name: "webhook", notify: func(*alert.Notification) (bool, error) { return false, nil }}
	s, _ := NewSender(SenderOptions{Outbox: box, Notifiers: []Notifier{hook}, Holder: "w1", Logger: discard(), Now: (&testClock{t0}).now})
	if sent, _, err := s.SendDue(context.Background(), 10); sent != 2 || err != nil {
		t.Fatalf("sent %d, %v", sent, err)
	}
	if len(hook.got) != 2 || len(hook.got[0].Alerts) != 1 || len(hook.got[1].Alerts) != 1 {
		t.Fatalf("messages = %+v, want one per check", hook.got)
	}
}

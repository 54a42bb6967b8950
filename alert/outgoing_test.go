package alert

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// LastNotified: the memory outbox sends nothing, so a notification is
// taken as sent when written.
func (m *memStore) LastNotified(_ context.Context, key string) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.outbox) - 1; i >= 0; i-- {
		if o := m.outbox[i]; o.AlertKey == key && o.Status != Resolved {
			return o.CreatedAt, false, nil
		}
	}
	return time.Time{}, false, nil
}

// TestAlertsOfNoAppAreNotGroupedAndLinkTheChecksPage: status checks without
// app= share no outage, so neither waits for the other's group, and their
// notifications link the checks page, not an app's.
func TestAlertsOfNoAppAreNotGroupedAndLinkTheChecksPage(t *testing.T) {
	st, clock := newMemStore(), &testClock{t0}
	e := newEngine(t, st, clock)
	failing := func(name string) Observation {
		return Observation{Key: "check||" + name, Rule: RuleCheck, Code: name, Kind: Above, At: t0, Count: 1,
			Summary: "http check " + name + " failing", Severity: Critical}
	}
	if err := e.Apply(context.Background(), []Observation{failing("api"), failing("db")}); err != nil {
		t.Fatal(err)
	}
	if len(st.outbox) != 4 {
		t.Fatalf("%d outbox rows, want both checks on both channels", len(st.outbox))
	}
	for _, o := range st.outbox {
		var n Notification
		if err := json.Unmarshal(o.Payload, &n); err != nil {
			t.Fatal(err)
		}
		if !o.NotBefore.IsZero() || n.URL != "https://dw.example.com/checks" || n.Status != Firing {
			t.Errorf("%s on %s: held until %v, url %q, status %s; want at once, the checks page, firing",
				n.Alerts[0].Key, o.Channel, o.NotBefore, n.URL, n.Status)
		}
	}
}

// TestSenderSendsAlertsOfNoAppAlone: two failing checks without app= due
// together on one channel go out as two messages, not one group.
func TestSenderSendsAlertsOfNoAppAlone(t *testing.T) {
	firing := func(id, key string) []byte {
		b, _ := json.Marshal(Notification{ID: id, Status: Firing, Alerts: []Alert{{Key: key, Rule: RuleCheck}}})
		return b
	}
	box := &memOutbox{rows: []*memRow{
		{Delivery: Delivery{ID: 1, Channel: "webhook", Status: Firing, Payload: firing("d1", "check||api"), CreatedAt: t0}},
		{Delivery: Delivery{ID: 2, Channel: "webhook", Status: Firing, Payload: firing("d2", "check||db"), CreatedAt: t0}},
	}}
	hook := &funcNotifier{name: "webhook", notify: func(*Notification) (bool, error) { return false, nil }}
	s, _ := NewSender(SenderOptions{Outbox: box, Notifiers: []Notifier{hook}, Holder: "w1", Logger: discard(), Now: (&testClock{t0}).now})
	if sent, _, err := s.SendDue(context.Background(), 10); sent != 2 || err != nil {
		t.Fatalf("sent %d, %v", sent, err)
	}
	if len(hook.got) != 2 || len(hook.got[0].Alerts) != 1 || len(hook.got[1].Alerts) != 1 {
		t.Fatalf("messages = %+v, want one per check", hook.got)
	}
}

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

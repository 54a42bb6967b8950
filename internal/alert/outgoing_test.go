package alert

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// LastNotified: the memory outbox sends nothing, so a notification is
// taken as sent when written.
func (m *memStore) LastNotified(_ context.Context, keys []string) (map[string]Notified, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastNotifiedCalls++
	out := map[string]Notified{}
	for _, key := range keys {
		for i := len(m.outbox) - 1; i >= 0; i-- {
			if o := m.outbox[i]; o.AlertKey == key && o.Status != Resolved {
				out[key] = Notified{SentAt: o.CreatedAt}
				break
			}
		}
	}
	return out, nil
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

// TestDeliveryAlertsLinkTheAlertsPage: dynowatch's own DELIVERY alerts
// (a channel failing, the outbox backing up) are of no monitored app: their
// notifications link the alerts page, which lists them with the channel's
// error, not /apps/dynowatch, the page of an app that is not monitored (or
// of the user's own app of that name).
func TestDeliveryAlertsLinkTheAlertsPage(t *testing.T) {
	st, clock := newMemStore(), &testClock{t0}
	e := newEngine(t, st, clock)
	obs := DefaultRules().DeliveryObservations(DeliveryHealth{Oldest: time.Hour, FailedByChannel: map[string]int{"sms": 5},
		LastError: map[string]string{"sms": "401 Unauthorized"}, Channels: []string{"webhook", "sms"}}, t0)
	if err := e.Apply(context.Background(), obs); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, o := range st.outbox {
		var n Notification
		if err := json.Unmarshal(o.Payload, &n); err != nil {
			t.Fatal(err)
		}
		keys[n.Alerts[0].Key] = true
		if n.URL != "https://dw.example.com/alerts" {
			t.Errorf("%s on %s links %q, want the alerts page", n.Alerts[0].Key, o.Channel, n.URL)
		}
	}
	if len(keys) != 2 {
		t.Errorf("notified of %v, want the sms channel's and the outbox's delivery alerts", keys)
	}
}

// TestMaintenanceMutesAChecksFailureNotItsCertificate: while shop is in
// maintenance (an H80 just now), its check failing pages nobody (Heroku's
// maintenance page answers it), but its certificate ending soon does, as
// does a check of no app.
func TestMaintenanceMutesAChecksFailureNotItsCertificate(t *testing.T) {
	st, clock := newMemStore(), &testClock{t0}
	e := newEngine(t, st, clock)
	h80 := Observation{Key: Key{Rule: RuleMaintenance, App: "shop"}.String(), Rule: RuleMaintenance, App: "shop", Kind: Event, At: t0, Count: 1, Code: "H80"}
	above := func(k Key) Observation {
		return Observation{Key: k.String(), Rule: RuleCheck, App: k.App, Code: k.Code, Kind: Above, At: t0, Count: 1, Severity: Critical, Summary: k.String()}
	}
	obs := []Observation{h80,
		above(Key{Rule: RuleCheck, App: "shop", Code: "api"}),
		above(Key{Rule: RuleCheck, App: "shop", Code: "api", Part: "cert"}),
		above(Key{Rule: RuleCheck, Code: "status"})}
	if err := e.Apply(context.Background(), obs); err != nil {
		t.Fatal(err)
	}
	told := map[string]bool{}
	for _, o := range st.outbox {
		told[o.AlertKey] = true
	}
	want := map[string]bool{"check|shop|api|cert": true, "check||status": true}
	if len(told) != len(want) || !told["check|shop|api|cert"] || !told["check||status"] {
		t.Errorf("told of %v, want %v", told, want)
	}
	if s := st.alerts["check|shop|api"]; s.Phase != PhaseFiring {
		t.Errorf("shop's check is %s, want firing (muted)", s.Phase)
	}
}

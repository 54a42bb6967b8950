package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// countingChannel is a channel under test against a server that accepts
// everything and counts what it gets.
type countingChannel struct {
	name string
	make func(t *testing.T) (n Notifier, sent func() int)
}

// acceptingHTTPServer answers every request with status and body.
func acceptingHTTPServer(t *testing.T, status int, body string) (*httptest.Server, func() int) {
	t.Helper()
	var count atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count.Add(1)
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { return int(count.Load()) }
}

var countingChannels = []countingChannel{
	{"sendgrid", func(t *testing.T) (Notifier, func() int) {
		srv, sent := acceptingHTTPServer(t, http.StatusAccepted, "")
		c, err := NewSendGrid(SendGridOptions{APIKey: "k", Host: srv.URL, From: "a@example.com", To: []string{"b@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		return c, sent
	}},
	{"smtp", func(t *testing.T) (Notifier, func() int) {
		srv := newTestSMTPServer(t, nil)
		c, err := NewSMTP(SMTPOptions{URL: "smtp://" + srv.addr(), From: "a@example.com", To: []string{"b@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		return c, func() int { return len(srv.messages()) }
	}},
	{"infobip", func(t *testing.T) (Notifier, func() int) {
		srv, sent := acceptingHTTPServer(t, http.StatusOK, infobipPending)
		c, err := NewInfobip(InfobipOptions{BaseURL: srv.URL, APIKey: "k", To: []string{"41793026727"}})
		if err != nil {
			t.Fatal(err)
		}
		return c, sent
	}},
	{"webhook", func(t *testing.T) (Notifier, func() int) {
		srv, sent := acceptingHTTPServer(t, http.StatusOK, "")
		c, err := NewWebhook(WebhookOptions{URL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		return c, sent
	}},
	{"ntfy", func(t *testing.T) (Notifier, func() int) {
		srv := newNtfyServer(t, "alerts", "")
		c, err := NewNtfy(NtfyOptions{URL: srv.srv.URL + "/alerts"})
		if err != nil {
			t.Fatal(err)
		}
		return c, func() int { return len(srv.got()) }
	}},
	{"pushover", func(t *testing.T) (Notifier, func() int) {
		srv := newPushoverServer(t)
		c, err := NewPushover(PushoverOptions{Token: testPushoverToken, User: testPushoverUser, APIURL: srv.srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		return c, func() int { msgs, _, _ := srv.state(); return len(msgs) }
	}},
	{"pagerduty", func(t *testing.T) (Notifier, func() int) {
		srv := newPagerDutyServer(t)
		c, err := NewPagerDuty(PagerDutyOptions{RoutingKey: testPagerDutyKey, APIURL: srv.srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		// PagerDuty hears a notification as an event per alert: count the
		// notifications (the delivery ids of triggers), and the resolves of
		// alerts it was not told of here.
		return c, func() int {
			heard := map[string]bool{}
			triggered := map[string]bool{}
			for _, e := range srv.got() {
				switch e.EventAction {
				case "trigger":
					heard[e.Payload.CustomDetails.DeliveryID] = true
					triggered[e.DedupKey] = true
				case "resolve":
					if !triggered[e.DedupKey] {
						heard["resolve "+e.DedupKey] = true
					}
				}
			}
			return len(heard)
		}
	}},
}

// TestChannelMinSeverity: a channel routed to a minimum severity hears
// no firing that ranks below it (no request is made), hears a group whose
// most severe alert meets it, and hears the reminders and resolution of
// every firing it heard, whatever their severity, and of no other.
func TestChannelMinSeverity(t *testing.T) {
	withSeverity := func(n *alert.Notification, s alert.Severity) *alert.Notification {
		for i := range n.Alerts {
			n.Alerts[i].Severity = s
		}
		return n
	}
	withStatus := func(n *alert.Notification, st alert.Status) *alert.Notification {
		n.Status = st
		return n
	}
	// rows are outbox rows of notifications, one alert each, as the store
	// hands them out: firings of one app grouped, the rest after their firing.
	rows := func(firingHeard bool, ns ...*alert.Notification) []*memRow {
		var out []*memRow
		for _, n := range ns {
			for _, a := range n.Alerts {
				one := *n
				one.Alerts = []alert.Alert{a}
				payload, err := json.Marshal(&one)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, &memRow{Delivery: Delivery{ID: int64(len(out) + 1), Outgoing: alert.Outgoing{Channel: "", App: a.App, AlertKey: a.Key,
					Status: n.Status, Payload: payload, CreatedAt: t0}, FiringHeard: firingHeard}})
			}
		}
		return out
	}
	onlyWarnings := withSeverity(fixtureGrouped(), alert.Warning)
	oneCritical := withSeverity(fixtureGrouped(), alert.Warning)
	oneCritical.Alerts[2].Severity = alert.Critical
	for _, tc := range []struct {
		name  string
		min   alert.Severity
		heard bool // the firing before a reminder or resolved
		n     *alert.Notification
		want  bool
	}{
		{"critical firing to critical channel", alert.Critical, false, fixtureFiring(), true},
		{"critical resolved to critical channel that heard it", alert.Critical, true, fixtureResolved(), true},
		{"warning firing to critical channel", alert.Critical, false, withSeverity(fixtureFiring(), alert.Warning), false},
		{"warning resolved to critical channel that heard it in a group", alert.Critical, true, withSeverity(fixtureResolved(), alert.Warning), true},
		{"warning resolved to critical channel that did not hear it", alert.Critical, false, withSeverity(fixtureResolved(), alert.Warning), false},
		{"critical resolved to a channel that did not hear it", "", false, fixtureResolved(), false},
		{"reminder of a heard warning to critical channel", alert.Critical, true, withStatus(withSeverity(fixtureFiring(), alert.Warning), alert.Reminder), true},
		{"info to warning channel", alert.Warning, false, withSeverity(fixtureFiring(), alert.Info), false},
		{"group of warnings to critical channel", alert.Critical, false, onlyWarnings, false},
		{"group with one critical to critical channel", alert.Critical, false, oneCritical, true},
		{"info to unnarrowed channel", "", false, withSeverity(fixtureFiring(), alert.Info), true},
	} {
		for _, ch := range countingChannels {
			t.Run(tc.name+"/"+ch.name, func(t *testing.T) {
				c, sent := ch.make(t)
				box := &memOutbox{rows: rows(tc.heard, tc.n)}
				for _, r := range box.rows {
					r.Channel = c.Name()
				}
				s, err := NewSender(SenderOptions{Outbox: box, Notifiers: []Notifier{Routed(c, Route{MinSeverity: tc.min})}, Holder: "w1", Logger: discard(), Now: (&testClock{t0}).now})
				if err != nil {
					t.Fatal(err)
				}
				if _, failed, err := s.SendDue(context.Background(), 10); failed != 0 || err != nil {
					t.Fatalf("SendDue: %d failed, %v", failed, err)
				}
				want := 0
				if tc.want {
					want = 1
				}
				if got := sent(); got != want {
					t.Errorf("%d sent, want %d", got, want)
				}
				for _, r := range box.rows {
					if r.sent != tc.want || r.skipped == tc.want {
						t.Errorf("row %d: sent %v, skipped %v", r.ID, r.sent, r.skipped)
					}
				}
			})
		}
	}
	// A test goes through Notify directly: the route is the Sender's, and
	// channels never filter themselves.
	for _, ch := range countingChannels {
		n, sent := ch.make(t)
		c := Routed(n, Route{MinSeverity: alert.Critical})
		test := withSeverity(&alert.Notification{ID: "t", Status: alert.Test, Alerts: fixtureFiring().Alerts}, alert.Info)
		if _, err := c.Notify(context.Background(), test); err != nil || sent() != 1 {
			t.Errorf("%s: a test at info to a critical channel: %d sent, %v", ch.name, sent(), err)
		}
	}
}

// TestChannelSendTimeout: every send is bounded by the channel's timeout
// even when the caller's context has none.
func TestChannelSendTimeout(t *testing.T) {
	hang := "http://" + hangingServer(t)
	const timeout = 150 * time.Millisecond
	sg, err := NewSendGrid(SendGridOptions{APIKey: "k", Host: hang, From: "a@example.com", To: []string{"b@example.com"}, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	ib, err := NewInfobip(InfobipOptions{BaseURL: hang, APIKey: "k", To: []string{"41793026727"}, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := NewWebhook(WebhookOptions{URL: hang, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	silent := newSilentServer(t)
	sm, err := NewSMTP(SMTPOptions{URL: "smtp://" + silent, From: "a@example.com", To: []string{"b@example.com"}, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	pd, err := NewPagerDuty(PagerDutyOptions{RoutingKey: testPagerDutyKey, APIURL: hang, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	nt, err := NewNtfy(NtfyOptions{URL: hang + "/alerts", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	po, err := NewPushover(PushoverOptions{Token: testPushoverToken, User: testPushoverUser, APIURL: hang, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Notifier{sg, ib, wh, sm, pd, nt, po} {
		t.Run(c.Name(), func(t *testing.T) {
			start := time.Now()
			retry, err := c.Notify(context.Background(), fixtureFiring())
			if took := time.Since(start); took > timeout+2*time.Second {
				t.Errorf("took %v with a timeout of %v", took, timeout)
			}
			if err == nil || !retry {
				t.Errorf("Notify=%v, %v; want a retry after the timeout", retry, err)
			}
			if err != nil && !errorsIsDeadline(err) {
				t.Errorf("err=%v does not unwrap to context.DeadlineExceeded", err)
			}
		})
	}
	// The default, when the options leave Timeout zero.
	if wh0, _ := NewWebhook(WebhookOptions{URL: hang}); wh0.timeout != DefaultSendTimeout || DefaultSendTimeout != 10*time.Second {
		t.Errorf("default timeout %v, want 10s", wh0.timeout)
	}
}

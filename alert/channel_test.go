package alert

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// countingChannel is a channel under test against a server that accepts
// everything and counts what it gets.
type countingChannel struct {
	name string
	make func(t *testing.T, min Severity) (n Notifier, sent func() int)
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
	{"sendgrid", func(t *testing.T, min Severity) (Notifier, func() int) {
		srv, sent := acceptingHTTPServer(t, http.StatusAccepted, "")
		c, err := NewSendGrid(SendGridOptions{APIKey: "k", Host: srv.URL, From: "a@example.com", To: []string{"b@example.com"}, MinSeverity: min})
		if err != nil {
			t.Fatal(err)
		}
		return c, sent
	}},
	{"smtp", func(t *testing.T, min Severity) (Notifier, func() int) {
		srv := newTestSMTPServer(t, nil)
		c, err := NewSMTP(SMTPOptions{URL: "smtp://" + srv.addr(), From: "a@example.com", To: []string{"b@example.com"}, MinSeverity: min})
		if err != nil {
			t.Fatal(err)
		}
		return c, func() int { return len(srv.messages()) }
	}},
	{"infobip", func(t *testing.T, min Severity) (Notifier, func() int) {
		srv, sent := acceptingHTTPServer(t, http.StatusOK, infobipPending)
		c, err := NewInfobip(InfobipOptions{BaseURL: srv.URL, APIKey: "k", To: []string{"41793026727"}, MinSeverity: min})
		if err != nil {
			t.Fatal(err)
		}
		return c, sent
	}},
	{"webhook", func(t *testing.T, min Severity) (Notifier, func() int) {
		srv, sent := acceptingHTTPServer(t, http.StatusOK, "")
		c, err := NewWebhook(WebhookOptions{URL: srv.URL, MinSeverity: min})
		if err != nil {
			t.Fatal(err)
		}
		return c, sent
	}},
}

// TestChannelMinSeverity: a channel narrowed to a minimum severity skips
// what ranks below it, without a request, and sends the resolved notice of
// everything it sent as firing, because the severity is the alert's
// whatever the status.
func TestChannelMinSeverity(t *testing.T) {
	withSeverity := func(n *Notification, s Severity) *Notification {
		for i := range n.Alerts {
			n.Alerts[i].Severity = s
		}
		return n
	}
	onlyWarnings := withSeverity(fixtureGrouped(), Warning)
	oneCritical := withSeverity(fixtureGrouped(), Warning)
	oneCritical.Alerts[2].Severity = Critical
	for _, tc := range []struct {
		name string
		min  Severity
		n    *Notification
		want bool
	}{
		{"critical firing to critical channel", Critical, fixtureFiring(), true},
		{"critical resolved to critical channel", Critical, fixtureResolved(), true},
		{"warning firing to critical channel", Critical, withSeverity(fixtureFiring(), Warning), false},
		{"warning resolved to critical channel", Critical, withSeverity(fixtureResolved(), Warning), false},
		{"reminder of a warning to warning channel", Warning, func() *Notification {
			n := withSeverity(fixtureFiring(), Warning)
			n.Status = Reminder
			return n
		}(), true},
		{"info to warning channel", Warning, withSeverity(fixtureFiring(), Info), false},
		{"group of warnings to critical channel", Critical, onlyWarnings, false},
		{"group with one critical to critical channel", Critical, oneCritical, true},
		{"info to unnarrowed channel", "", withSeverity(fixtureFiring(), Info), true},
		{"test message at info to critical channel", Critical, withSeverity(&Notification{ID: "t", Status: Test, Alerts: fixtureFiring().Alerts}, Info), true},
	} {
		for _, ch := range countingChannels {
			t.Run(tc.name+"/"+ch.name, func(t *testing.T) {
				c, sent := ch.make(t, tc.min)
				retry, err := c.Notify(context.Background(), tc.n)
				if err != nil || retry {
					t.Fatalf("Notify=%v, %v; want false, nil", retry, err)
				}
				want := 0
				if tc.want {
					want = 1
				}
				if got := sent(); got != want {
					t.Errorf("%d sent, want %d", got, want)
				}
			})
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
	for _, c := range []Notifier{sg, ib, wh, sm} {
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

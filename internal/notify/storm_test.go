package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
)

// A storm summary reads as one SMS: what collapsed, on how many apps,
// naming the first three, and the link to the dashboard's alerts.
func TestStormSummaryText(t *testing.T) {
	t.Parallel()
	d := &Delivery{Outgoing: alert.Outgoing{DeliveryID: "storm-1", Channel: "sms", CreatedAt: t0}}
	for _, c := range []struct {
		name  string
		count StormCount
		want  string
	}{
		{"many", StormCount{Alerts: 37, Apps: []string{"shop", "cart", "billing", "api", "www"}, Severity: alert.Critical},
			"FIRING critical STORM: 37 more alerts on 5 apps (shop, cart, billing, ...), see the dashboard https://dw.example.com/alerts"},
		{"one", StormCount{Alerts: 1, Apps: []string{"shop"}, Severity: alert.Warning},
			"FIRING warning STORM: 1 more alert on 1 app (shop), see the dashboard https://dw.example.com/alerts"},
		{"checks without app=", StormCount{Alerts: 2, Severity: alert.Critical},
			"FIRING critical STORM: 2 more alerts, see the dashboard https://dw.example.com/alerts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := RenderSMS(stormNote(d, c.count, "https://dw.example.com/", t0.Add(time.Minute))); got != c.want {
				t.Errorf("SMS\n  %q\nwant\n  %q", got, c.want)
			}
		})
	}
}

// A channel with a storm cap needs the store's count: without it the
// sender refuses to start rather than send every storm in full.
func TestSenderNeedsStormsForACap(t *testing.T) {
	t.Parallel()
	hook, err := NewWebhook(WebhookOptions{URL: "https://hooks.example.com/x"})
	if err != nil {
		t.Fatal(err)
	}
	routed := Routed(hook, Route{Storm: config.StormCap{Max: 5, Per: 10 * time.Minute}})
	_, err = NewSender(SenderOptions{Outbox: &memOutbox{}, Notifiers: []Notifier{routed}, Holder: "w1", Logger: discard()})
	if err == nil || !strings.Contains(err.Error(), "SenderOptions.Storms is required for the storm cap of webhook") {
		t.Errorf("NewSender = %v, want it to ask for Storms", err)
	}
}

// An alert that joined a failing check's incident names the check: the SMS
// in place of its summary, the other channels as an intro and a field.
func TestJoinedAlertNamesItsCause(t *testing.T) {
	t.Parallel()
	n := &alert.Notification{Status: alert.Firing, URL: "https://dw.example.com/apps/shop", Alerts: []alert.Alert{
		{Key: "h_codes|shop|H12", Rule: alert.RuleHCodes, App: "shop", Code: "H12", Severity: alert.Critical, Summary: "H12 request timeout: 30 in 5m",
			Cause: "postgres check db failing (2 runs in a row): cannot connect"},
		{Key: "5xx_rate|shop", Rule: alert.Rule5xxRate, App: "shop", Severity: alert.Critical, Summary: "5xx at 40%",
			Cause: "postgres check db failing (2 runs in a row): cannot connect"}}}
	if got, want := RenderSMS(n), "FIRING critical H12 shop: caused by postgres check db failing (2 runs in a row): cannot connect (+1 more) https://dw.example.com/apps/shop"; got != want {
		t.Errorf("SMS\n  %q\nwant\n  %q", got, want)
	}
	e, err := RenderEmail(n)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Text, "Caused by postgres check db failing (2 runs in a row): cannot connect: joined its incident.") ||
		!strings.Contains(e.Text, "Caused by:") {
		t.Errorf("email text does not name the cause:\n%s", e.Text)
	}
}

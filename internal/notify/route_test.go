package notify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
)

func TestRouteHears(t *testing.T) {
	t.Parallel()
	prodCritical := Route{MinSeverity: alert.Critical, Apps: []string{"shop-prod-*"}}
	for _, tc := range []struct {
		name  string
		route Route
		a     alert.Alert
		want  bool
	}{
		{"open route, any alert", Route{}, alert.Alert{App: "blog", Rule: alert.RuleR14, Severity: alert.Info}, true},
		{"pattern matches", prodCritical, alert.Alert{App: "shop-prod-eu", Rule: alert.RuleR14, Severity: alert.Critical}, true},
		{"pattern does not match", prodCritical, alert.Alert{App: "shop-staging", Rule: alert.RuleR14, Severity: alert.Critical}, false},
		{"pattern matches, below the minimum", prodCritical, alert.Alert{App: "shop-prod-eu", Rule: alert.RuleR14, Severity: alert.Warning}, false},
		{"pattern is not a prefix match", Route{Apps: []string{"shop-prod-*"}}, alert.Alert{App: "old-shop-prod-1"}, false},
		{"exact name among several", Route{Apps: []string{"shop-prod-*", "billing"}}, alert.Alert{App: "billing"}, true},
		{"name is not a prefix", Route{Apps: []string{"billing"}}, alert.Alert{App: "billing-2"}, false},
		{"an alert of no app is not of the apps listed", Route{Apps: []string{"shop-*"}}, alert.Alert{Rule: alert.RuleCheck}, false},
		{"* is every app, and alerts of none", Route{Apps: []string{"*"}}, alert.Alert{Rule: alert.RuleCheck}, true},
		{"question mark is one character", Route{Apps: []string{"shop-?"}}, alert.Alert{App: "shop-12"}, false},
		{"rule listed", Route{Rules: []alert.RuleName{alert.RuleR14, alert.RuleHCodes}}, alert.Alert{App: "a", Rule: alert.RuleHCodes}, true},
		{"rule not listed", Route{Rules: []alert.RuleName{alert.RuleR14}}, alert.Alert{App: "a", Rule: alert.RuleHCodes}, false},
		{"app and rule both needed", Route{Apps: []string{"shop-*"}, Rules: []alert.RuleName{alert.RuleR14}}, alert.Alert{App: "blog", Rule: alert.RuleR14}, false},
	} {
		if got := tc.route.Hears(tc.a); got != tc.want {
			t.Errorf("%s: %+v hears %+v = %v, want %v", tc.name, tc.route, tc.a, got, tc.want)
		}
	}
}

func TestNewRouteNamesTheVar(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		apps, rules []string
		want        string
	}{
		{[]string{"shop-[prod"}, nil, "SLACK_APPS"},
		{nil, []string{"R14", "H12"}, `SLACK_RULES: rule "H12": unknown`},
	} {
		if _, err := NewRoute("SLACK", "info", tc.apps, tc.rules); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewRoute(%q, %q): %v, want an error naming %s", tc.apps, tc.rules, err, tc.want)
		}
	}
	if _, err := NewRoute("SLACK", "page", nil, nil); err == nil || err.Error() != `notify: SLACK_MIN_SEVERITY "page": want critical, warning or info` {
		t.Errorf("NewRoute with a bad severity: %v, want an error naming SLACK_MIN_SEVERITY", err)
	}
	r, err := NewRoute("SLACK", "warning", []string{"shop-*"}, []string{"h_codes", "R14"})
	if err != nil || r.MinSeverity != alert.Warning || len(r.Rules) != 2 || r.Rules[0] != alert.RuleHCodes {
		t.Errorf("NewRoute = %+v, %v", r, err)
	}
}

// TestSenderRoutes: a firing of a staging app reaches Slack, whose route is
// open, and not SMS, routed to production apps: the SMS row is passed over
// with no message. A group reaches SMS for its production alert. Resolved
// follows firing: each resolution reaches exactly the channels that heard
// the firing.
func TestSenderRoutes(t *testing.T) {
	note := func(status alert.Status, apps ...string) []byte {
		n := alert.Notification{ID: "d", Status: status}
		for _, app := range apps {
			n.Alerts = append(n.Alerts, alert.Alert{Key: "r14|" + app + "|web.1", App: app, Rule: alert.RuleR14, Severity: alert.Critical})
		}
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	row := func(id int64, ch, app string, status alert.Status, firingHeard bool) *memRow {
		return &memRow{Delivery: Delivery{ID: id, Outgoing: alert.Outgoing{Channel: ch, App: app, AlertKey: "r14|" + app + "|web.1",
			Status: status, Payload: note(status, app), CreatedAt: t0}, FiringHeard: firingHeard}}
	}
	box := &memOutbox{rows: []*memRow{
		row(1, "slack", "shop-staging", alert.Firing, false),
		row(2, "sms", "shop-staging", alert.Firing, false),
		row(3, "sms", "shop-prod-eu", alert.Firing, false),
	}}
	slack := &funcNotifier{name: "slack", notify: func(*alert.Notification) (bool, error) { return false, nil }}
	sms := &funcNotifier{name: "sms", notify: func(*alert.Notification) (bool, error) { return false, nil }}
	cfg := &config.Config{SMSMinSeverity: "critical", SMSApps: config.List{"shop-prod-*"}, SlackMinSeverity: "info"}
	routes := cfg.Routes()
	var notifiers []Notifier
	for _, n := range []struct {
		n      Notifier
		prefix string
	}{{slack, "SLACK"}, {sms, "ALERT_SMS"}} {
		var err error
		if notifiers, err = appendRouted(notifiers, n.n, routes[n.prefix]); err != nil {
			t.Fatal(err)
		}
	}
	s, err := NewSender(SenderOptions{Outbox: box, Notifiers: notifiers, Holder: "w1", Logger: discard(), Now: (&testClock{t0}).now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if sent, failed, err := s.SendDue(ctx, 10); sent != 2 || failed != 0 || err != nil {
		t.Fatalf("firings: %d sent, %d failed, %v", sent, failed, err)
	}
	if !box.row(1).sent || box.row(2).sent || !box.row(2).skipped || !box.row(3).sent {
		t.Fatalf("rows after the firings: %+v %+v %+v", box.row(1), box.row(2), box.row(3))
	}
	if len(slack.got) != 1 || len(sms.got) != 1 || sms.got[0].Alerts[0].App != "shop-prod-eu" {
		t.Fatalf("slack got %+v, sms got %+v; want staging on Slack only, production on SMS", slack.got, sms.got)
	}
	// The resolutions, as the store writes them: FiringHeard from the
	// firing's row on the same channel.
	for _, r := range []*memRow{
		row(4, "slack", "shop-staging", alert.Resolved, box.row(1).sent),
		row(5, "sms", "shop-staging", alert.Resolved, box.row(2).sent),
		row(6, "sms", "shop-prod-eu", alert.Resolved, box.row(3).sent),
	} {
		box.rows = append(box.rows, r)
	}
	if sent, failed, err := s.SendDue(ctx, 10); sent != 2 || failed != 0 || err != nil {
		t.Fatalf("resolutions: %d sent, %d failed, %v", sent, failed, err)
	}
	if !box.row(4).sent || !box.row(5).skipped || !box.row(6).sent || len(sms.got) != 2 || sms.got[1].Status != alert.Resolved {
		t.Fatalf("resolutions: rows %+v %+v %+v, sms got %+v", box.row(4), box.row(5), box.row(6), sms.got)
	}

	// A group of one app reaches SMS for its one production alert.
	box.rows = append(box.rows, &memRow{Delivery: Delivery{ID: 7, Outgoing: alert.Outgoing{Channel: "sms", App: "shop-prod-eu",
		Status: alert.Firing, Payload: note(alert.Firing, "shop-staging", "shop-prod-eu"), CreatedAt: t0}}})
	if sent, _, err := s.SendDue(ctx, 10); sent != 1 || err != nil || !box.row(7).sent {
		t.Fatalf("group: %d sent, %v, row %+v", sent, err, box.row(7))
	}
}

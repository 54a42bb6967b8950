package dashboard

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// TestAlertOfNoAppLinksTheChecksPage: a status check without app= fires an
// alert of app ""; the alerts page and the overview show it without a link
// to an app page that does not exist.
func TestAlertOfNoAppLinksTheChecksPage(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)
	st := storetest.MustOpenEmbedded(t)
	a := &alert.State{Key: "check||api", Rule: "check", Code: "api", Severity: alert.Critical, Phase: alert.PhaseFiring,
		Summary: "http check api failing (2 runs in a row): 500 Internal Server Error", StartedAt: now.Add(-time.Minute), FiredAt: now}
	if ok, err := st.SaveAlert(ctx, a, 0, nil); err != nil || !ok {
		t.Fatal(ok, err)
	}
	get, _ := mustServe(t, st, now)
	for _, path := range []string{"/", "/alerts", "/checks"} {
		code, page := get(path)
		if code != 200 || strings.Contains(page, `href="/apps/"`) {
			t.Errorf("%s: %d, or a link to /apps/:\n%s", path, code, page)
		}
	}
	if _, page := get("/alerts"); !strings.Contains(page, `<a href="/checks">checks</a>`) {
		t.Errorf("the alert does not link the checks page:\n%s", page)
	}
}

// TestDeliveryAlertLinksNoAppPage: dynowatch's own DELIVERY alert (app
// "dynowatch") is shown as dynowatch's, without a link to /apps/dynowatch,
// which is no monitored app's page.
func TestDeliveryAlertLinksNoAppPage(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)
	st := storetest.MustOpenEmbedded(t)
	a := &alert.State{Key: "delivery|dynowatch|sms", Rule: "delivery", App: "dynowatch", Code: "sms", Severity: alert.Critical, Phase: alert.PhaseFiring,
		Summary: "channel sms failed 3 times in a row: 401 Unauthorized", StartedAt: now.Add(-time.Minute), FiredAt: now}
	if ok, err := st.SaveAlert(ctx, a, 0, nil); err != nil || !ok {
		t.Fatal(ok, err)
	}
	get, _ := mustServe(t, st, now)
	if code, page := get("/alerts"); code != 200 || strings.Contains(page, `href="/apps/dynowatch"`) || !strings.Contains(page, "dynowatch itself") {
		t.Errorf("/alerts: %d, a link to /apps/dynowatch or no \"dynowatch itself\":\n%s", code, page)
	}
}

// TestAlertsPageShowsTheEscalationTier: an alert that escalated says to
// which tier; one its first tier alone heard says nothing of tiers.
func TestAlertsPageShowsTheEscalationTier(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)
	st := storetest.MustOpenEmbedded(t)
	for _, a := range []*alert.State{
		{Key: "r15|shop|web.1", Rule: alert.RuleR15, App: "shop", Dyno: "web.1", Code: "R15", Severity: alert.Critical, Phase: alert.PhaseFiring,
			Summary: "R15 on web.1", StartedAt: now.Add(-time.Hour), FiredAt: now.Add(-time.Hour), Notified: true, Tier: 3, ToldAt: now.Add(-time.Hour)},
		{Key: "r14|shop|web.2", Rule: alert.RuleR14, App: "shop", Dyno: "web.2", Code: "R14", Severity: alert.Warning, Phase: alert.PhaseFiring,
			Summary: "R14 on web.2", StartedAt: now.Add(-time.Minute), FiredAt: now.Add(-time.Minute), Notified: true, Tier: 1, ToldAt: now.Add(-time.Minute)},
	} {
		if ok, err := st.SaveAlert(ctx, a, 0, nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	get, _ := mustServe(t, st, now)
	_, page := get("/alerts")
	if got := strings.Count(page, "escalated to tier"); got != 1 || !strings.Contains(page, "(critical, escalated to tier 3)") {
		t.Errorf("the alerts page shows %d tiers, want the R15's tier 3 alone:\n%s", got, page)
	}
}

// TestTimelineSaysEscalated: of an alert that escalated, the firing
// notices written after its first tier was told are the later tiers'.
func TestTimelineSaysEscalated(t *testing.T) {
	t0 := time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)
	a := alert.State{Key: "r15|shop|web.1", Rule: alert.RuleR15, App: "shop", Severity: alert.Critical, Phase: alert.PhaseFiring,
		StartedAt: t0, FiredAt: t0, Notified: true, Tier: 2, ToldAt: t0}
	notice := func(channel string, at time.Time) notify.Delivery {
		return notify.Delivery{Outgoing: alert.Outgoing{Channel: channel, AlertKey: a.Key, Status: alert.Firing, CreatedAt: at}, SentAt: at, Heard: true}
	}
	var got []string
	for _, s := range timeline(a, []notify.Delivery{notice("slack", t0), notice("sms", t0.Add(10*time.Minute))}, nil) {
		got = append(got, s.What+" "+s.Who)
	}
	want := []string{"started ", "fired ", "firing notice slack", "escalated: firing notice sms"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("timeline = %q, want %q", got, want)
	}
}

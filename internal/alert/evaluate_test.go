package alert

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// fakeWindows is a WindowSource in memory that records the windows read.
type fakeWindows struct {
	apps   []AppHeard
	window map[string]Window // by app
	health DeliveryHealth
	read   []string // app@window length, in order
}

func (f *fakeWindows) AppsHeard(context.Context) ([]AppHeard, error) { return f.apps, nil }

func (f *fakeWindows) Window(_ context.Context, app string, from, to time.Time) (Window, error) {
	f.read = append(f.read, app+"@"+to.Sub(from).String())
	return f.window[app], nil
}

func (f *fakeWindows) DeliveryHealth(context.Context, time.Time) (DeliveryHealth, error) {
	return f.health, nil
}

func TestEvaluateWindows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := t0.Add(time.Hour)
	src := &fakeWindows{
		apps: []AppHeard{
			{Name: "shop", LastMessage: now.Add(-time.Minute)},
			// Heard of only through a replay hours ago: its rollups are not read.
			{Name: "replayed", LastMessage: now.Add(-3 * time.Hour)},
		},
		window: map[string]Window{
			"shop":     {Requests: 100, Status5xx: 50, P95: math.NaN()},
			"replayed": {Requests: 100, Status5xx: 100, P95: 9000},
		},
		health: DeliveryHealth{Oldest: 20 * time.Minute},
	}
	st, clock := newMemStore(), &testClock{now}
	e := newEngine(t, st, clock)
	if err := e.EvaluateWindows(ctx, src, now); err != nil {
		t.Fatal(err)
	}
	// 5xx_rate and slow_requests share a 5-minute window: one read, and one
	// of silence's 15 minutes. None of the replayed app.
	if got := strings.Join(src.read, " "); got != "shop@5m0s shop@15m0s" {
		t.Errorf("windows read %q, want shop's 5 and 15 minutes once each", got)
	}
	firing := map[string]bool{}
	for _, s := range st.alerts {
		firing[s.Key] = s.Phase == PhaseFiring
	}
	for _, c := range []struct {
		key  Key
		want bool
	}{
		{Key{Rule: Rule5xxRate, App: "shop"}, true},
		{Key{Rule: RuleSlowRequests, App: "shop"}, false},
		{Key{Rule: Rule5xxRate, App: "replayed"}, false},
		{Key{Rule: RuleSilence, App: "replayed"}, true}, // silent for hours: the window rule that needs no rollups
		{Key{Rule: RuleDelivery, App: deliveryApp, Code: deliveryBacklog}, true},
	} {
		if firing[c.key.String()] != c.want {
			t.Errorf("%s firing = %v, want %v (alerts: %v)", c.key, firing[c.key.String()], c.want, firing)
		}
	}
}

package alert

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestWindowObservations(t *testing.T) {
	r := DefaultRules()
	tests := []struct {
		name string
		rule RuleName
		w    Window
		want []ObsKind
	}{
		{"5xx over 5%", Rule5xxRate, Window{App: "shop", Requests: 100, Status5xx: 6}, []ObsKind{Above}},
		{"5xx under 5%", Rule5xxRate, Window{App: "shop", Requests: 100, Status5xx: 4}, []ObsKind{Below}},
		{"too few requests to judge", Rule5xxRate, Window{App: "shop", Requests: 19, Status5xx: 19}, []ObsKind{Below}},
		{"slow", RuleSlowRequests, Window{App: "shop", Requests: 20, P95: 5200}, []ObsKind{Above}},
		{"too few slow requests to judge", RuleSlowRequests, Window{App: "shop", Requests: 19, P95: 5200}, []ObsKind{Below}},
		{"fast", RuleSlowRequests, Window{App: "shop", Requests: 20, P95: 80}, []ObsKind{Below}},
		{"no requests", RuleSlowRequests, Window{App: "shop", P95: math.NaN()}, []ObsKind{Below}},
		{"silent", RuleSilence, Window{App: "shop", LastMessage: t0.Add(-16 * time.Minute)}, []ObsKind{Above}},
		{"talking", RuleSilence, Window{App: "shop", LastMessage: t0.Add(-time.Minute)}, []ObsKind{Below}},
		{"never talked", RuleSilence, Window{App: "shop"}, nil},
	}
	for _, tt := range tests {
		obs := r.WindowObservations(tt.rule, tt.w, t0)
		var got []ObsKind
		for _, o := range obs {
			got = append(got, o.Kind)
			if o.Key != (Key{Rule: tt.rule, App: "shop"}).String() {
				t.Errorf("%s: key %q", tt.name, o.Key)
			}
		}
		if len(got) != len(tt.want) || (len(got) == 1 && got[0] != tt.want[0]) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestStory5xxRate: a window rule fires on the first window over the
// threshold and resolves on the first under it (Samples 1).
func TestStory5xxRate(t *testing.T) {
	story(t, "5xx_rate", rule("5xx_rate"), DefaultPolicy(), []step{
		{at: 0, obs: Above, want: Firing, phase: PhaseFiring},
		{at: 15 * time.Second, obs: Above, phase: PhaseFiring},
		{at: 30 * time.Second, obs: Below, want: Resolved, phase: PhaseResolved},
	})
}

func TestDeliveryObservations(t *testing.T) {
	obs := DefaultRules().DeliveryObservations(DeliveryHealth{
		Oldest:          12 * time.Minute,
		FailedByChannel: map[string]int{"email:sendgrid": 4, "sms": 1},
		LastError:       map[string]string{"email:sendgrid": "401 The provided authorization grant is invalid"},
		Channels:        []string{"email:sendgrid", "sms", "webhook"},
	}, t0)
	var got []string
	for _, o := range obs {
		got = append(got, o.Code+" "+[]string{"event", "above", "below"}[o.Kind])
	}
	if want := "email:sendgrid above,sms below,webhook below,outbox above"; strings.Join(got, ",") != want {
		t.Errorf("observations %v, want %s", got, want)
	}
	if !strings.Contains(obs[0].Summary, "401") {
		t.Errorf("summary %q lacks the channel's error", obs[0].Summary)
	}
}

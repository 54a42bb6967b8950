package alert

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestParseTiers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     Tiers
	}{
		{"unset", "", nil},
		{"the README's", "webhook,email now; sms after 10m; pagerduty after 30m",
			Tiers{{Channels: []string{"webhook", "email"}}, {Channels: []string{"sms"}, After: 10 * time.Minute}, {Channels: []string{"pagerduty"}, After: 30 * time.Minute}}},
		{"spaces and case as people write them", "  Slack, Email now ;sms  after 90s; ",
			Tiers{{Channels: []string{"slack", "email"}}, {Channels: []string{"sms"}, After: 90 * time.Second}}},
		{"no tier now", "sms after 5m; pagerduty after 1h",
			Tiers{{Channels: []string{"sms"}, After: 5 * time.Minute}, {Channels: []string{"pagerduty"}, After: time.Hour}}},
		{"seconds and days", "ntfy after 1s; email after 1d",
			Tiers{{Channels: []string{"ntfy"}, After: time.Second}, {Channels: []string{"email"}, After: 24 * time.Hour}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTiers(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("ParseTiers(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseTiersRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, why string }{
		{"no when", "slack", "want channels, then now or after a duration"},
		{"no channel", "now", "want channels, then now or after a duration"},
		{"bad duration", "slack now; sms after 10 minutes", "want channels, then now or after a duration"},
		{"bad unit", "slack now; sms after 10x", `after "10x": want a number and a unit`},
		{"negative", "slack now; sms after -5m", `after "-5m"`},
		{"zero", "slack now; sms after 0s", "after 0 is now"},
		{"now later", "slack now; sms now", "want a delay longer than the tier before's (0s)"},
		{"not later", "slack now; sms after 10m; pagerduty after 10m", "tier 3 \"pagerduty after 10m\": want a delay longer than the tier before's (10m), such as pagerduty after 20m"},
		{"twice", "slack now; slack after 10m", "slack is in tier 1 already"},
		{"space for comma", "slack email now", `"slack email" is not a channel name`},
		{"empty name", "slack,,email now", `"" is not a channel name`},
		{"empty tier", "slack now;; sms after 1m", "tier 2 \"\""},
		{"symbols", "sms! after 1m", `"sms!" is not a channel name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTiers(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("ParseTiers(%q) = %v, want an error saying %q", tc.in, err, tc.why)
			}
		})
	}
}

// FuzzParseTiers: whatever it accepts, it writes back as it reads it, and
// its tiers follow the grammar's promises.
func FuzzParseTiers(f *testing.F) {
	for _, s := range []string{"", "webhook,email now; sms after 10m; pagerduty after 30m", "sms after 1s", "slack now;", "a now; b after 1d12h",
		"slack now; sms after 10m; sms after 20m", "x after 500ms", ";", "now now"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTiers(s)
		if err != nil {
			return
		}
		again, err := ParseTiers(ts.String())
		if err != nil || fmt.Sprint(again) != fmt.Sprint(ts) {
			t.Fatalf("ParseTiers(%q) = %v; its String %q reads as %v, %v", s, ts, ts.String(), again, err)
		}
		seen := map[string]bool{}
		for i, tier := range ts {
			if i > 0 && tier.After <= ts[i-1].After || len(tier.Channels) == 0 {
				t.Fatalf("ParseTiers(%q) = %v: tier %d", s, ts, i+1)
			}
			for _, c := range tier.Channels {
				if seen[c] {
					t.Fatalf("ParseTiers(%q) = %v: %s twice", s, ts, c)
				}
				seen[c] = true
			}
		}
	})
}

func TestEscalationResolve(t *testing.T) {
	t.Parallel()
	channels := []string{"email:sendgrid", "email:smtp", "webhook", "sms", "pagerduty"}
	tiers := func(s string) Tiers {
		ts, err := ParseTiers(s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	e := Escalation{Default: tiers("email now; sms after 10m; pagerduty after 30m"),
		BySeverity: map[Severity]Tiers{Critical: tiers("sms,pagerduty after 5m")}}
	got, err := e.resolve(channels)
	if err != nil {
		t.Fatal(err)
	}
	for sev, want := range map[Severity]string{
		Warning:  "email:sendgrid,email:smtp,webhook now; sms after 10m; pagerduty after 30m", // webhook, not named: at once
		Info:     "email:sendgrid,email:smtp,webhook now; sms after 10m; pagerduty after 30m",
		Critical: "email:sendgrid,email:smtp,webhook now; sms,pagerduty after 5m",
	} {
		if got[sev].String() != want {
			t.Errorf("%s: %v, want %s", sev, got[sev], want)
		}
	}
	if none, err := (Escalation{}).resolve(channels); err != nil || len(none[Critical]) != 1 || len(none[Critical][0].Channels) != len(channels) {
		t.Errorf("no escalation: %v %v, want every channel at once", none, err)
	}
	if _, err := (Escalation{Default: tiers("slack now")}).resolve(channels); err == nil || !strings.Contains(err.Error(), "names slack, which is not a configured channel") {
		t.Errorf("a channel not configured: %v", err)
	}
}

// TestEscalationStory is the story of escalation on simulated time, with
// the engine's tick every 15 s as the worker runs it: an R15 nobody
// acknowledges reaches SMS 10 minutes after it fired, someone acks it, and
// PagerDuty never hears of it; its resolution goes to the channels that
// heard it fire, and only to them. The next episode starts at tier 1, is
// acked at once, and never escalates.
func TestEscalationStory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st := newMemStore()
		tiers, err := ParseTiers("webhook now; sms after 10m; pagerduty after 30m")
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEngine(EngineOptions{Store: st, Rules: DefaultRules(), Channels: []string{"webhook", "sms", "pagerduty"},
			Escalation: Escalation{Default: tiers}, Logger: discard(), Now: time.Now})
		if err != nil {
			t.Fatal(err)
		}
		r15 := Key{Rule: RuleR15, App: "shop", Dyno: "web.1"}
		run := func(d time.Duration, events bool) {
			t.Helper()
			for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(15 * time.Second) {
				if events {
					if err := e.Apply(ctx, []Observation{ev(r15, time.Now())}); err != nil {
						t.Fatal(err)
					}
				}
				if err := e.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		sent := func() []string {
			st.mu.Lock()
			defer st.mu.Unlock()
			var out []string
			for _, o := range st.outbox {
				out = append(out, string(o.Status)+" "+o.Channel)
			}
			return out
		}
		expect := func(want ...string) {
			t.Helper()
			if got := sent(); !slices.Equal(got, want) {
				t.Fatalf("at %v the outbox holds %q, want %q", time.Now(), got, want)
			}
		}
		tier := func() int {
			s, _, _ := st.Alert(ctx, r15.String())
			return s.Tier
		}

		run(time.Minute, true)
		expect("firing webhook")
		run(9*time.Minute-time.Second, true) // ten minutes after it fired, less a tick
		expect("firing webhook")
		run(15*time.Second, true)
		expect("firing webhook", "firing sms")
		if tier() != 2 {
			t.Fatalf("tier %d, want 2", tier())
		}
		if _, err := e.Ack(ctx, r15.String(), "Ana", "on it"); err != nil {
			t.Fatal(err)
		}
		// The ack goes to both tiers that heard (chat says who is on it),
		// and tier 3 never comes.
		run(time.Hour, true)
		expect("firing webhook", "firing sms", "acknowledged webhook", "acknowledged sms")
		run(20*time.Minute, false) // the R15 window after the last
		expect("firing webhook", "firing sms", "acknowledged webhook", "acknowledged sms", "resolved webhook", "resolved sms")

		run(time.Minute, true)
		if _, err := e.Ack(ctx, r15.String(), "Bo", ""); err != nil {
			t.Fatal(err)
		}
		if tier() != 1 {
			t.Fatalf("the next episode is at tier %d, want 1", tier())
		}
		run(time.Hour, true)
		expect("firing webhook", "firing sms", "acknowledged webhook", "acknowledged sms", "resolved webhook", "resolved sms",
			"firing webhook", "acknowledged webhook")
	})
}

// TestEscalateSkipsSilencedUntoldAndAcked: only a firing alert that paged
// its first tier, nobody acked and no silence mutes escalates, and a tick
// late by more than a tier reaches every tier due at once.
func TestEscalateSkipsSilencedUntoldAndAcked(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	ts := Tiers{{Channels: []string{"slack"}}, {After: 10 * time.Minute}, {After: 30 * time.Minute}}
	firing := State{Key: "k", Phase: PhaseFiring, Notified: true, Tier: 1, ToldAt: t0}
	for _, tc := range []struct {
		name     string
		s        State
		at       time.Duration
		silenced bool
		want     int
	}{
		{"before its time", firing, 10*time.Minute - time.Second, false, 1},
		{"on time", firing, 10 * time.Minute, false, 2},
		{"a late tick", firing, 31 * time.Minute, false, 3},
		{"past the last tier", State{Key: "k", Phase: PhaseFiring, Notified: true, Tier: 3, ToldAt: t0}, 5 * time.Hour, false, 3},
		{"silenced", firing, time.Hour, true, 1},
		{"acked", State{Key: "k", Phase: PhaseFiring, Notified: true, Tier: 1, ToldAt: t0, Ack: Ack{By: "Ana", At: t0}}, time.Hour, false, 1},
		{"never told", State{Key: "k", Phase: PhaseFiring}, time.Hour, false, 0},
		{"told before tiers were kept", State{Key: "k", Phase: PhaseFiring, Notified: true}, time.Hour, false, 0},
		{"resolved", State{Key: "k", Phase: PhaseResolved, Notified: true, Tier: 1, ToldAt: t0}, time.Hour, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, up := Escalate(tc.s, ts, t0.Add(tc.at), tc.silenced)
			if got.Tier != tc.want || up != (tc.want != tc.s.Tier) {
				t.Fatalf("Escalate = tier %d, %v; want tier %d", got.Tier, up, tc.want)
			}
		})
	}
}

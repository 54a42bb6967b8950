package alert

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)

// step is one moment of a story: an observation, or time passing (a tick).
type step struct {
	at       time.Duration // after t0
	obs      ObsKind       // with tick false
	tick     bool
	silenced bool
	want     Status // the notification, "" for none
	phase    Phase  // the phase after the step
}

// story feeds steps to one alert of rule and checks after each.
func story(t *testing.T, rule RuleName, r Rule, p Policy, steps []step) {
	t.Helper()
	var s State
	for i, st := range steps {
		now := t0.Add(st.at)
		var got Status
		if st.tick {
			s, got = Tick(s, r, p, now, st.silenced)
		} else {
			o := Observation{Key: Key{Rule: rule, App: "shop", Dyno: "web.1"}.String(), Rule: rule, App: "shop", Dyno: "web.1", Kind: st.obs, At: now, Count: 1,
				Summary: "summary", Evidence: fmt.Sprintf("line %d", i)}
			s, got = Apply(s, o, r, p, st.silenced)
		}
		if got != st.want || s.Phase != st.phase {
			t.Fatalf("step %d (at %v): notification %q phase %q, want %q and %q; state %+v", i, st.at, got, s.Phase, st.want, st.phase, s)
		}
	}
}

func rule(name RuleName) Rule { return DefaultRules().For("shop", name) }

func TestStoryR14FiresAtOnceRemindsAndResolves(t *testing.T) {
	story(t, RuleR14, rule(RuleR14), DefaultPolicy(), []step{
		{at: 0, obs: Event, want: Firing, phase: PhaseFiring},
		{at: 20 * time.Second, obs: Event, phase: PhaseFiring},          // the same R14 again: no second page
		{at: 9 * time.Minute, tick: true, phase: PhaseFiring},           // within the window of the last one
		{at: 55 * time.Minute, obs: Event, phase: PhaseFiring},          // still happening
		{at: time.Hour, tick: true, want: Reminder, phase: PhaseFiring}, // an hour after the page
		{at: 61 * time.Minute, tick: true, phase: PhaseFiring},
		{at: 65 * time.Minute, tick: true, want: Resolved, phase: PhaseResolved}, // a window (10m) after the last R14
		{at: 3 * time.Hour, obs: Event, want: Firing, phase: PhaseFiring},        // a new episode
	})
}

func TestStoryHCodesThreshold(t *testing.T) {
	r := rule(RuleHCodes)
	r.Threshold = 3
	story(t, RuleHCodes, r, DefaultPolicy(), []step{
		{at: 0, obs: Event, phase: PhasePending},
		{at: time.Minute, obs: Event, phase: PhasePending},
		{at: 7 * time.Minute, obs: Event, phase: PhasePending},              // the first two fell out of the 5m window
		{at: 8 * time.Minute, obs: Event, phase: PhasePending},              //
		{at: 9 * time.Minute, obs: Event, want: Firing, phase: PhaseFiring}, // 3 within 5 minutes
	})
}

func TestStoryPendingLapses(t *testing.T) {
	r := rule(RuleHCodes)
	r.Threshold = 2
	story(t, RuleHCodes, r, DefaultPolicy(), []step{
		{at: 0, obs: Event, phase: PhasePending},
		{at: 6 * time.Minute, tick: true, phase: ""},
	})
}

func TestStoryMemoryNeedsConsecutiveSamples(t *testing.T) {
	story(t, RuleMemory, rule(RuleMemory), DefaultPolicy(), []step{
		{at: 0, obs: Above, phase: PhasePending},
		{at: 20 * time.Second, obs: Above, phase: PhasePending},
		{at: 40 * time.Second, obs: Below, phase: ""}, // not three in a row
		{at: 60 * time.Second, obs: Above, phase: PhasePending},
		{at: 80 * time.Second, obs: Above, phase: PhasePending},
		{at: 100 * time.Second, obs: Above, want: Firing, phase: PhaseFiring},
		{at: 120 * time.Second, obs: Below, phase: PhaseFiring},
		{at: 140 * time.Second, obs: Above, phase: PhaseFiring}, // the count of samples under it starts again
		{at: 160 * time.Second, obs: Below, phase: PhaseFiring},
		{at: 180 * time.Second, obs: Below, phase: PhaseFiring},
		{at: 200 * time.Second, obs: Below, want: Resolved, phase: PhaseResolved},
	})
}

func TestStorySampleAlertResolvesWhenSamplesStop(t *testing.T) {
	story(t, RuleMemory, rule(RuleMemory), DefaultPolicy(), []step{
		{at: 0, obs: Above, phase: PhasePending},
		{at: 20 * time.Second, obs: Above, phase: PhasePending},
		{at: 40 * time.Second, obs: Above, want: Firing, phase: PhaseFiring},
		{at: 11 * time.Minute, tick: true, want: Resolved, phase: PhaseResolved}, // the dyno went away
	})
}

func TestStorySilence(t *testing.T) {
	story(t, RuleR14, rule(RuleR14), DefaultPolicy(), []step{
		{at: 0, obs: Event, silenced: true, phase: PhaseFiring},                                  // muted: nobody is paged
		{at: time.Minute, tick: true, silenced: true, phase: PhaseFiring},                        //
		{at: 2 * time.Minute, tick: true, want: Firing, phase: PhaseFiring},                      // silence over, still firing: now it pages
		{at: 5 * time.Minute, obs: Event, silenced: true, phase: PhaseFiring},                    // muted again
		{at: 16 * time.Minute, tick: true, silenced: true, want: Resolved, phase: PhaseResolved}, // heard of it, so hears it is over
	})
	story(t, RuleR14, rule(RuleR14), DefaultPolicy(), []step{
		{at: 0, obs: Event, silenced: true, phase: PhaseFiring},
		{at: 11 * time.Minute, tick: true, silenced: true, phase: PhaseResolved}, // never told, so nothing to resolve
	})
}

func TestStoryFlapping(t *testing.T) {
	r := rule(RuleMemory)
	r.Samples = 1
	p := DefaultPolicy()
	steps := []step{
		{at: 0, obs: Above, want: Firing, phase: PhaseFiring},
		{at: 1 * time.Minute, obs: Below, want: Resolved, phase: PhaseResolved},
		{at: 2 * time.Minute, obs: Above, want: Firing, phase: PhaseFiring},
		{at: 3 * time.Minute, obs: Below, want: Resolved, phase: PhaseResolved},
		{at: 4 * time.Minute, obs: Above, want: Flapping, phase: PhaseFiring}, // the 5th change in 30 minutes
		{at: 5 * time.Minute, obs: Below, phase: PhaseFiring},                 // held firing, no storm
		{at: 6 * time.Minute, obs: Above, phase: PhaseFiring},
		{at: 7 * time.Minute, obs: Below, phase: PhaseFiring},
		{at: 30 * time.Minute, tick: true, phase: PhaseFiring},                   // still changing within the last 30 minutes
		{at: 38 * time.Minute, tick: true, want: Resolved, phase: PhaseResolved}, // calm for 30 minutes, and the condition is over
	}
	story(t, RuleMemory, r, p, steps)
}

func TestStoryCrashLoop(t *testing.T) {
	story(t, RuleCrashLoop, rule(RuleCrashLoop), DefaultPolicy(), []step{
		{at: 0, obs: Event, phase: PhasePending},
		{at: 3 * time.Minute, obs: Event, phase: PhasePending},
		{at: 6 * time.Minute, obs: Event, want: Firing, phase: PhaseFiring}, // the third crash: one alert
		{at: 9 * time.Minute, obs: Event, phase: PhaseFiring},               // not a fourth
		{at: 25 * time.Minute, tick: true, want: Resolved, phase: PhaseResolved},
	})
}

func TestEvidenceIsCapped(t *testing.T) {
	var s State
	for i := 0; i < 20; i++ {
		s, _ = Apply(s, Observation{Key: Key{Rule: RuleR14, App: "a", Dyno: "web.1"}.String(), Rule: RuleR14, Kind: Event, At: t0.Add(time.Duration(i) * time.Second), Evidence: fmt.Sprint(i)}, rule(RuleR14), DefaultPolicy(), false)
	}
	if len(s.Evidence) != MaxEvidence || s.Evidence[MaxEvidence-1] != "19" {
		t.Errorf("evidence = %v, want the last %d lines", s.Evidence, MaxEvidence)
	}
}

func TestStoryFlappingEventAlert(t *testing.T) {
	story(t, RuleHCodes, rule(RuleHCodes), DefaultPolicy(), []step{
		{at: 0, obs: Event, want: Firing, phase: PhaseFiring},
		{at: 5 * time.Minute, tick: true, want: Resolved, phase: PhaseResolved},
		{at: 6 * time.Minute, obs: Event, want: Firing, phase: PhaseFiring},
		{at: 11 * time.Minute, tick: true, want: Resolved, phase: PhaseResolved},
		{at: 12 * time.Minute, obs: Event, want: Flapping, phase: PhaseFiring},
		{at: 17 * time.Minute, tick: true, phase: PhaseFiring}, // over again, but held
		{at: 18 * time.Minute, tick: true, phase: PhaseFiring},
		{at: 47 * time.Minute, tick: true, phase: PhaseFiring}, // the last change was 30 minutes ago
		{at: 48 * time.Minute, tick: true, want: Resolved, phase: PhaseResolved},
	})
}

func TestObservationSeverityOverridesTheRule(t *testing.T) {
	s, _ := Apply(State{}, Observation{Key: Key{Rule: RuleCheck, Code: "api"}.String(), Rule: RuleCheck, Kind: Above, At: t0, Severity: Info}, rule(RuleCheck), DefaultPolicy(), false)
	if s.Severity != Info {
		t.Errorf("severity %q, want the observation's info over the rule's critical", s.Severity)
	}
}

func TestEventThresholdAboveTheKeptOccurrencesStillCounts(t *testing.T) {
	r := rule(RuleHCodes)
	r.Threshold = 60
	var s State
	var st Status
	for i := range 60 {
		// Out of order in pairs, as two dynos' lines may arrive.
		at := t0.Add(time.Duration(i^1) * time.Second)
		s, st = Apply(s, Observation{Key: Key{Rule: RuleHCodes, App: "shop", Code: "H12"}.String(), Rule: RuleHCodes, Kind: Event, At: at, Count: 1}, r, DefaultPolicy(), false)
		if i < 59 && (st != "" || int(s.Counter) != i+1 || len(s.Recent) > maxRecent) {
			t.Fatalf("event %d: %q, counter %d, %d occurrences kept", i, st, s.Counter, len(s.Recent))
		}
	}
	if st != Firing {
		t.Fatalf("the 60th event: %q, want firing", st)
	}
}

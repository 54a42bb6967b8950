package alert

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestEngineRunPagesR14AtOnce runs the engine's loop on simulated time: an
// R14 observed is applied, and paged, at once, not at the next tick, and
// before a router error observed with it.
func TestEngineRunPagesR14AtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		e, err := NewEngine(EngineOptions{Store: st, Rules: DefaultRules(), Channels: []string{"webhook"},
			Logger: discard(), Now: time.Now})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- e.Run(ctx, 250*time.Millisecond) }()

		e.Observe([]Observation{ev(Key{Rule: RuleHCodes, App: "shop", Code: "H12"}, time.Now()), ev(Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}, time.Now())})
		synctest.Wait() // no time passes: the tick is 250 ms away
		if sent := st.sent(); len(sent) != 2 || sent[0].Alerts[0].Rule != RuleR14 || sent[1].Alerts[0].Rule != RuleHCodes {
			t.Fatalf("before the tick: %+v, want the R14 paged, then the H12", sent)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

package alert

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestEngineRunPagesWithinItsInterval runs the engine's loop on simulated
// time: an R14 observed is applied, and paged, at the next tick of the loop,
// not before.
func TestEngineRunPagesWithinItsInterval(t *testing.T) {
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

		e.Observe([]Observation{ev(Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}, time.Now())})
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if n := len(st.sent()); n != 0 {
			t.Fatalf("%d notifications before the tick", n)
		}
		time.Sleep(100 * time.Millisecond) // past the 250 ms tick
		synctest.Wait()
		if sent := st.sent(); len(sent) != 1 || sent[0].Status != Firing {
			t.Fatalf("after the tick: %+v, want the R14 paged", sent)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

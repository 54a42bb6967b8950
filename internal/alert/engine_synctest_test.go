package alert

import (
	"context"
	"slices"
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

// TestAckStopsRemindersNotTheResolution is the story of an acknowledged
// alert on simulated time: an R14 fires and is paged, someone acks it, the
// dyno keeps swapping for three hours without a reminder (one is due every
// hour), and when it stops the resolution still goes to every channel. The
// firing carries its ack link, the ack is told to whoever heard the firing
// (chat messages say who). The next episode starts unacknowledged and is
// reminded of again.
func TestAckStopsRemindersNotTheResolution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st := newMemStore()
		e, err := NewEngine(EngineOptions{Store: st, Rules: DefaultRules(), Channels: []string{"webhook", "sms"},
			Logger: discard(), Now: time.Now, AckURL: func(key string, _, now time.Time) string {
				return "https://dw.example.com/ack/" + key + "@" + now.Format(time.TimeOnly)
			}})
		if err != nil {
			t.Fatal(err)
		}
		r14 := Key{Rule: RuleR14, App: "shop", Dyno: "web.1"}
		swapFor := func(d time.Duration) {
			t.Helper()
			for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Minute) {
				if err := e.Apply(ctx, []Observation{ev(r14, time.Now())}); err != nil {
					t.Fatal(err)
				}
				if err := e.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		statuses := func() []Status {
			var out []Status
			for _, n := range st.sent() {
				out = append(out, n.Status)
			}
			return out
		}

		swapFor(time.Minute)
		if got := statuses(); !slices.Equal(got, []Status{Firing}) {
			t.Fatalf("after the first R14: %v, want [firing]", got)
		}
		acked, err := e.Ack(ctx, r14.String(), "Ana", "restarting web.1")
		if err != nil {
			t.Fatal(err)
		}
		if acked.Ack.By != "Ana" || !acked.Ack.At.Equal(time.Now()) {
			t.Fatalf("Ack = %+v, want Ana's now", acked.Ack)
		}
		swapFor(3 * time.Hour)
		if got := statuses(); !slices.Equal(got, []Status{Firing, Acknowledged}) {
			t.Fatalf("three hours of R14 after the ack: %v, want the ack told and no reminder", got)
		}
		sent := st.sent()
		if got, want := sent[0].Alerts[0].AckURL, "https://dw.example.com/ack/r14|shop|web.1@00:00:00"; got != want {
			t.Errorf("the firing's ack link %q, want %q", got, want)
		}
		if a := sent[1].Alerts[0]; a.AckedBy != "Ana" || a.AckReason != "restarting web.1" || a.AckURL != "" {
			t.Errorf("the acknowledged notice: %+v, want Ana's ack and no link", a)
		}
		time.Sleep(11 * time.Minute) // quiet for the rule's window
		if err := e.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if got := statuses(); !slices.Equal(got, []Status{Firing, Acknowledged, Resolved}) {
			t.Fatalf("after it stopped: %v, want [firing acknowledged resolved]", got)
		}
		if n := len(st.outbox); n != 6 {
			t.Fatalf("%d outbox rows, want firing, acknowledged and resolved on both channels", n)
		}

		swapFor(61 * time.Minute)
		if got := statuses(); !slices.Equal(got, []Status{Firing, Acknowledged, Resolved, Firing, Reminder}) {
			t.Fatalf("the next episode, an hour on: %v, want it fired and reminded of", got)
		}
		if s, _, _ := st.Alert(ctx, r14.String()); s.Acked() {
			t.Fatalf("the next episode is acknowledged: %+v", s.Ack)
		}
	})
}

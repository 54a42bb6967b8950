package store_test

import (
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
)

// TestDynoMemory: each dyno's rss + swap per minute since its latest state
// change or exit, within the lookback, with its latest quota; samples of
// other kinds, apps and of the dyno's previous life are left out.
func TestDynoMemory(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		now := t0.Add(8 * time.Hour)
		restart := t0.Add(7*time.Hour + 30*time.Second) // web.1 cycles: its minute is the old process's
		var sr []store.SampleRollup
		for m := time.Duration(0); m <= 8*time.Hour; m += time.Minute {
			at := t0.Add(m)
			sr = append(sr,
				store.SampleRollup{App: "shop", Kind: "runtime_metrics", Source: "web.1", Minute: at,
					Values: map[string]float64{"memory_rss_mb": 200 + m.Minutes(), "memory_swap_mb": 1, "memory_quota_mb": 512, "load_avg_1m": 0.2}},
				store.SampleRollup{App: "shop", Kind: "runtime_metrics", Source: "worker.1", Minute: at,
					Values: map[string]float64{"memory_rss_mb": 90}}, // no swap, no quota logged
				store.SampleRollup{App: "other", Kind: "runtime_metrics", Source: "web.1", Minute: at,
					Values: map[string]float64{"memory_rss_mb": 999}},
				store.SampleRollup{App: "shop", Kind: "postgres_metrics", Source: "DATABASE", Minute: at,
					Values: map[string]float64{"memory_rss_mb": 5}},
			)
		}
		if err := s.MergeRollups(ctx, nil, sr); err != nil {
			t.Fatal(err)
		}
		ev := func(at time.Time, kind, dyno, msg string) store.Event {
			return store.Event{App: "shop", Time: at, Kind: kind, Dyno: dyno, Line: at.Format(time.RFC3339) + " heroku[" + dyno + "]: " + msg}
		}
		b := &store.Batch{App: "shop", Key: "k1", Received: now, Events: []store.Event{
			ev(t0.Add(time.Hour), "state_change", "web.1", "State changed from starting to up"), // an older start
			ev(restart.Add(-5*time.Second), "state_change", "web.1", "State changed from up to starting"),
			ev(restart, "state_change", "web.1", "State changed from starting to up"),
			ev(t0.Add(-time.Hour), "state_change", "worker.1", "State changed from starting to up"), // before the lookback
			ev(t0.Add(7*time.Hour), "release", "api", "Release v12 created by user ops@example.com"),
		}}
		if _, err := s.WriteBatches(ctx, []*store.Batch{b}); err != nil {
			t.Fatal(err)
		}
		got, err := s.DynoMemory(ctx, "shop", now)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Dyno != "web.1" || got[1].Dyno != "worker.1" {
			t.Fatalf("dynos %+v", got)
		}
		web, worker := got[0], got[1]
		if !web.Started.Equal(restart) || web.QuotaMB != 512 || web.RSSMB != 680 || web.SwapMB != 1 {
			t.Errorf("web.1 = started %v quota %v rss %v swap %v", web.Started, web.QuotaMB, web.RSSMB, web.SwapMB)
		}
		if n := len(web.Points); n != 60 || !web.Points[0].At.Equal(t0.Add(7*time.Hour+time.Minute)) || web.Points[0].MB != 200+421+1 {
			t.Errorf("web.1 has %d points from %+v, want 60 from the minute after the restart", n, web.Points[0])
		}
		if !worker.Started.IsZero() || worker.QuotaMB != 0 || len(worker.Points) != int(alert.MemoryLookback/time.Minute)+1 {
			t.Errorf("worker.1 = started %v quota %v, %d points; want the whole lookback", worker.Started, worker.QuotaMB, len(worker.Points))
		}
		if got, err := s.DynoMemory(ctx, "nobody", now); err != nil || len(got) != 0 {
			t.Errorf("an app without samples: %v, %v", got, err)
		}
	})
}

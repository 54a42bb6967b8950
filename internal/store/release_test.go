package store_test

import (
	"math"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
)

// TestReleasesAndFigures: release lines with the commit of the deploy line
// beside them, a deploy alone, and the figures of whole minutes.
func TestReleasesAndFigures(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		line := func(at time.Time, src, msg string) string { return at.Format(time.RFC3339) + " " + src + ": " + msg }
		ev := func(at time.Time, kind, dyno, msg string) store.Event {
			src := "app[" + dyno + "]"
			if kind == "state_change" {
				src = "heroku[" + dyno + "]"
			}
			return store.Event{App: "shop", Time: at, Kind: kind, Dyno: dyno, Line: line(at, src, msg)}
		}
		r1, r2, d3 := t0.Add(30*time.Second), t0.Add(time.Hour), t0.Add(2*time.Hour)
		b := &store.Batch{App: "shop", Key: "k", Received: t0, Events: []store.Event{
			ev(r1.Add(-time.Second), "deploy", "api", "Deploy 4f070772 by user kim@example.com"),
			ev(r1, "release", "api", "Release v138 created by user kim@example.com"),
			ev(r2, "release", "api", "Release v139 created by user ops@example.com"), // a config change: no deploy
			ev(d3, "deploy", "api", "Deploy 9b1c2d3e by user kim@example.com"),
			ev(t0.Add(3*time.Minute), "state_change", "web.1", "State changed from up to crashed"),
			ev(t0.Add(4*time.Minute), "state_change", "web.1", "State changed from crashed to starting"),
			ev(t0.Add(5*time.Minute), "state_change", "web.2", "State changed from up to crashed"),
		}}
		if _, err := s.WriteBatches(ctx, []*store.Batch{b}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Releases(ctx, "shop", t0.Add(-time.Hour), t0.Add(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []alert.Release{
			{At: r1, Version: "v138", User: "kim@example.com", Commit: "4f070772", Line: b.Events[1].Line},
			{At: r2, Version: "v139", User: "ops@example.com", Line: b.Events[2].Line},
			{At: d3, User: "kim@example.com", Commit: "9b1c2d3e", Line: b.Events[3].Line},
		}
		if len(got) != len(want) {
			t.Fatalf("releases %+v, want %+v", got, want)
		}
		for i := range want {
			if !got[i].At.Equal(want[i].At) || got[i].Version != want[i].Version || got[i].User != want[i].User || got[i].Commit != want[i].Commit || got[i].Line != want[i].Line {
				t.Errorf("release %d = %+v, want %+v", i, got[i], want[i])
			}
		}

		var rs []store.Rollup
		for m := range 10 {
			rs = append(rs, rollup("shop", "web.1", t0.Add(time.Duration(m)*time.Minute), 100, 200, 30000))
		}
		if err := s.MergeRollups(ctx, rs, nil); err != nil {
			t.Fatal(err)
		}
		// From mid-minute: the minutes 1 to 4 whole, not the partial one at 5.
		f, err := s.Figures(ctx, "shop", t0.Add(30*time.Second), t0.Add(5*time.Minute+30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if f.Minutes != 4 || f.Requests != 12 || f.Status5xx != 4 || f.Codes["H12"] != 4 || f.Crashes != 1 || f.P99 < 27000 || f.P95 < 27000 {
			t.Errorf("figures %+v, want 4 minutes of 3 requests, one an H12, and the crash at 3 min", f)
		}
		if f, err := s.Figures(ctx, "shop", t0.Add(10*time.Second), t0.Add(50*time.Second)); err != nil || f.Minutes != 0 || !math.IsNaN(f.P95) {
			t.Errorf("figures of no whole minute %+v, %v", f, err)
		}
	})
}

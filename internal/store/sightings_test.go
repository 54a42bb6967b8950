package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynowatch/dynowatch/internal/otlp"
	"github.com/dynowatch/dynowatch/internal/store"
)

// The store keeps the sightings of every web dyno.
var _ otlp.SightingsStore = (*store.Store)(nil)

func sighted(app string, kind otlp.SightingKind, name, unit string, understood bool, requests int64, last time.Time) otlp.Sighted {
	return otlp.Sighted{App: app, Kind: kind, Sighting: otlp.Sighting{Name: name, Unit: unit, Understood: understood, Requests: requests, LastSeen: last}}
}

// Two dynos' merges of the same name add up their requests, and the name
// reads as it did when it was last seen, whichever merged last; names of
// an app come back in the order they were first seen.
func TestSightingsMerge(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		mem := sighted("fir-shop", otlp.SightMetric, "my.mem.metric", "By", false, 3, t0.Add(2*time.Second))
		if err := s.MergeSightings(ctx, []otlp.Sighted{mem, sighted("", otlp.SightResourceKey, "my.app.attr", "", false, 1, t0)}, 2, t0.Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		// The other dyno had OTLP_MAP set later; an older merge of a dyno
		// that was slow to flush does not undo it.
		mapped := mem
		mapped.Understood, mapped.Requests, mapped.LastSeen = true, 4, t0.Add(3*time.Second)
		old := mem
		old.Requests, old.LastSeen = 1, t0.Add(time.Second)
		for _, x := range []otlp.Sighted{mapped, old, sighted("fir-shop", otlp.SightScope, "heroku-runtime", "", true, 4, t0.Add(3*time.Second))} {
			if err := s.MergeSightings(ctx, []otlp.Sighted{x}, 0, t0.Add(6*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		got, dropped, err := s.ReadSightings(ctx, t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		want := []otlp.Sighted{
			sighted("", otlp.SightResourceKey, "my.app.attr", "", false, 1, t0),
			sighted("fir-shop", otlp.SightMetric, "my.mem.metric", "By", true, 8, t0.Add(3*time.Second)),
			sighted("fir-shop", otlp.SightScope, "heroku-runtime", "", true, 4, t0.Add(3*time.Second)),
		}
		if diff := cmp.Diff(want, got); diff != "" || dropped != 2 {
			t.Errorf("sightings (-want +got):\n%s\ndropped %d, want 2", diff, dropped)
		}
	})
}

// The caps bound the table: past 100 apps (besides "no app") and 128 names
// of an app, the names seen first in the window are kept, the rest
// counted as dropped; several dynos merging at once keep them exactly.
func TestSightingsCapsBoundTheTable(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		var first []otlp.Sighted
		for i := range otlp.MaxSightingsPerApp - 1 {
			first = append(first, sighted("fir-shop", otlp.SightMetric, fmt.Sprintf("m%03d", i), "", false, 1, t0))
		}
		if err := s.MergeSightings(ctx, first, 0, t0); err != nil {
			t.Fatal(err)
		}
		// Four dynos at once, each with 3 new names of fir-shop (one fits)
		// and 30 apps of their own (100 fit, "no app" besides).
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for d := range errs {
			var seen []otlp.Sighted
			for i := range 3 {
				seen = append(seen, sighted("fir-shop", otlp.SightScope, fmt.Sprintf("dyno%d-%d", d, i), "", true, 1, t0))
			}
			for i := range 30 {
				seen = append(seen, sighted(fmt.Sprintf("app-%d-%02d", d, i), otlp.SightScope, "s", "", true, 1, t0))
			}
			seen = append(seen, sighted("", otlp.SightScope, fmt.Sprintf("dyno%d", d), "", true, 1, t0))
			wg.Go(func() { errs[d] = s.MergeSightings(ctx, seen, 1, t0.Add(time.Second)) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, dropped, err := s.ReadSightings(ctx, t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		perApp := map[string]int{}
		for _, x := range got {
			perApp[x.App]++
		}
		if len(perApp) != otlp.MaxSightingApps+1 || perApp["fir-shop"] != otlp.MaxSightingsPerApp || perApp[""] != 4 {
			t.Errorf("%d apps kept, fir-shop with %d names, no app with %d; want %d, %d, 4", len(perApp), perApp["fir-shop"], perApp[""], otlp.MaxSightingApps+1, otlp.MaxSightingsPerApp)
		}
		// 4 dropped by the dynos, 11 names of fir-shop, 21 apps of one name.
		if want := int64(4 + 11 + 21); dropped != want {
			t.Errorf("dropped %d, want %d", dropped, want)
		}
		// fir-shop's first names are the ones kept.
		if got[0].App != "fir-shop" || got[0].Name != "m000" {
			t.Errorf("first name kept: %+v, want fir-shop's m000", got[0])
		}
	})
}

// A name goes 24 h after it was last seen, and so does what was dropped:
// the next merge of a new name finds room.
func TestSightingsExpire(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		if err := s.MergeSightings(ctx, []otlp.Sighted{
			sighted("fir-shop", otlp.SightMetric, "old", "", false, 1, t0),
			sighted("fir-shop", otlp.SightMetric, "late", "", false, 1, t0.Add(2*time.Hour)),
		}, 3, t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		read := func(at time.Time) (names []string, dropped int64) {
			t.Helper()
			got, dropped, err := s.ReadSightings(ctx, at)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range got {
				names = append(names, x.Name)
			}
			return names, dropped
		}
		if names, dropped := read(t0.Add(otlp.SightingsWindow)); fmt.Sprint(names) != "[late old]" || dropped != 3 {
			t.Errorf("at 24 h: %v, dropped %d; want [late old] (by name, as merged), 3", names, dropped)
		}
		if names, dropped := read(t0.Add(otlp.SightingsWindow + time.Second)); fmt.Sprint(names) != "[late]" || dropped != 3 {
			t.Errorf("past 24 h: %v, dropped %d; want [late], 3", names, dropped)
		}
		if names, dropped := read(t0.Add(otlp.SightingsWindow + 3*time.Hour)); len(names) != 0 || dropped != 0 {
			t.Errorf("a day after the last: %v, dropped %d; want none", names, dropped)
		}
		// The merge a day later deletes what expired.
		if err := s.MergeSightings(ctx, []otlp.Sighted{sighted("fir-new", otlp.SightScope, "s", "", true, 1, t0.Add(48*time.Hour))}, 0, t0.Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if names, _ := read(t0.Add(2 * time.Hour)); fmt.Sprint(names) != "[s]" {
			t.Errorf("rows kept after the merge a day later: %v, want only the new [s]", names)
		}
	})
}

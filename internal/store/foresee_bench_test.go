package store_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// foreseeApps, foreseeDynos: the worker's once-a-minute forecasts and
// release verdicts are measured over 50 apps of 10 web dynos.
const foreseeApps, foreseeDynos = 50, 10

// fillForesee stores, for every app, a release every 6 hours over 30 days
// (with their deploy lines and a state change of every dyno), the last 7
// hours of runtime samples of every dyno (a leak on web.1 since the
// release before the latest, whose restarts are not logged yet) and the last 45
// minutes of router rollups: what the forecast and the release verdicts of
// one tick read. Older samples and rollups would only deepen the indexes
// these reads range over.
func fillForesee(b testing.TB, s *store.Store, now time.Time, apps int) {
	r := rand.New(rand.NewPCG(3, 4))
	for a := range apps {
		app := fmt.Sprintf("app-%02d", a)
		var evs []store.Event
		for i, at := 0, now.Add(-30*24*time.Hour-20*time.Minute); at.Before(now); i, at = i+1, at.Add(6*time.Hour) {
			evs = append(evs,
				store.Event{App: app, Time: at, Kind: "deploy", Dyno: "api", Line: at.Format(time.RFC3339) + " app[api]: Deploy 4f070772 by user kim@example.com"},
				store.Event{App: app, Time: at, Kind: "release", Dyno: "api", Line: at.Format(time.RFC3339) + fmt.Sprintf(" app[api]: Release v%d created by user kim@example.com", i+2)})
			for d := range foreseeDynos * min(1, int(now.Sub(at)/time.Hour)) { // the latest release's dynos are still warming up
				t := at.Add(time.Duration(20+d) * time.Second)
				evs = append(evs, store.Event{App: app, Time: t, Kind: "state_change", Dyno: fmt.Sprintf("web.%d", d+1),
					Line: t.Format(time.RFC3339) + fmt.Sprintf(" heroku[web.%d]: State changed from starting to up", d+1)})
			}
		}
		if _, err := s.WriteBatches(ctx, []*store.Batch{{App: app, Key: app, Received: now, Events: evs, State: store.AppDelta{LastMessage: now}}}); err != nil {
			b.Fatal(err)
		}
		var rs []store.Rollup
		var ss []store.SampleRollup
		for m := 7 * 60; m > 0; m-- {
			at := now.Add(-time.Duration(m) * time.Minute).Truncate(time.Minute)
			for _, sr := range busySamples(app, at, foreseeDynos)[:foreseeDynos] {
				if sr.Source == "web.1" {
					sr.Values = map[string]float64{"memory_rss_mb": 200 + float64(7*60-m)/2, "memory_swap_mb": 0, "memory_quota_mb": 512}
				}
				ss = append(ss, sr)
			}
			if m <= 45 {
				rs = append(rs, busyMinute(r, app, at, foreseeDynos, 100)...)
			}
			if len(ss) >= 600 {
				if err := s.MergeRollups(ctx, rs, ss); err != nil {
					b.Fatal(err)
				}
				rs, ss = nil, nil
			}
		}
		if err := s.MergeRollups(ctx, rs, ss); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkForeseeTick is one tick of the worker's memory forecasts and
// release verdicts over every app, as EvaluateMemory and EvaluateReleases
// read and compute them (without applying: that is the alert engine's), and
// the coverage of every app the overview reads.
func BenchmarkForeseeTick(b *testing.B) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) *store.Store
	}{{"postgres", storetest.MustOpenPostgres}, {"sqlite", storetest.MustOpenEmbedded}} {
		b.Run(backend.name, func(b *testing.B) {
			s := backend.open(b)
			// A release 20 minutes ago: its window after just ended, so
			// each tick judges it.
			now := time.Now().UTC().Truncate(6 * time.Hour).Add(6*time.Hour + 20*time.Minute)
			fillForesee(b, s, now, foreseeApps)
			rules := alert.DefaultRules()
			b.Run("memory", func(b *testing.B) {
				leaks := 0
				for b.Loop() {
					leaks = 0
					for a := range foreseeApps {
						app := fmt.Sprintf("app-%02d", a)
						ds, err := s.DynoMemory(ctx, app, now)
						if err != nil || len(ds) != foreseeDynos {
							b.Fatalf("%d dynos, %v", len(ds), err)
						}
						for _, d := range ds {
							if rules.ForecastMemory(app, d, now).Leak {
								leaks++
							}
						}
					}
				}
				if leaks != foreseeApps {
					b.Fatalf("%d leaks, want web.1 of each app", leaks)
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/tick")
				b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*foreseeApps), "ms/app")
			})
			b.Run("releases", func(b *testing.B) {
				for b.Loop() {
					for a := range foreseeApps {
						app := fmt.Sprintf("app-%02d", a)
						rels, err := s.Releases(ctx, app, now.Add(-45*time.Minute), now)
						if err != nil || len(rels) != 1 {
							b.Fatalf("%d releases, %v", len(rels), err)
						}
						vs, err := rules.Verdicts(ctx, s, app, rels, now)
						if err != nil || vs[0].Verdict == alert.VerdictPending {
							b.Fatalf("%+v, %v", vs, err)
						}
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/tick")
				b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*foreseeApps), "ms/app")
			})
			// The overview's coverage marks: what the store reads of every
			// app for one page.
			b.Run("coverage", func(b *testing.B) {
				for b.Loop() {
					for a := range foreseeApps {
						app := fmt.Sprintf("app-%02d", a)
						f, err := s.Coverage(ctx, app, now)
						if err != nil || f.RuntimeLast.IsZero() || f.RouterLast.IsZero() {
							b.Fatalf("%+v, %v", f, err)
						}
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/page")
				b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*foreseeApps), "ms/app")
			})
		})
	}
}

package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// TestHourlyRollupsHoldEveryMinuteOnce: two web dynos flush 90 minutes while
// both fold the closed minutes into the hourly rows now and then, and then
// flush again minutes folded already (a late batch): the hourly rows hold
// every minute's requests, codes, service times and sample maxima exactly
// once.
func TestHourlyRollupsHoldEveryMinuteOnce(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, cfg store.Config) {
		dynos := []*store.Store{storetest.MustOpen(t, cfg), storetest.MustOpenUnmigrated(t, cfg)}
		// Minutes after the migration, which folds nothing before it.
		h0 := time.Now().Add(time.Hour).Truncate(time.Hour)
		const minutes = 90
		wantHour := make([]store.Rollup, 2)
		wantRSS := make([]float64, 2)
		flush := func(s *store.Store, d, m int) error {
			at := h0.Add(time.Duration(m) * time.Minute)
			rs := []store.Rollup{rollup("shop", "web.1", at, 5+m, 30000), rollup("shop", "web.2", at, 40*(d+1))}
			sr := []store.SampleRollup{{App: "shop", Kind: "runtime_metrics", Source: "web.1", Minute: at,
				Values: map[string]float64{"memory_rss_mb": float64(100*d + m)}}}
			return s.MergeRollups(ctx, rs, sr)
		}
		late := []int{5, 61} // flushed again after their minutes were folded
		for d := range dynos {
			for _, m := range append(late, rangeN(minutes)...) {
				at := h0.Add(time.Duration(m) * time.Minute)
				h := m / 60
				for _, r := range []store.Rollup{rollup("shop", "web.1", at, 5+m, 30000), rollup("shop", "web.2", at, 40*(d+1))} {
					wantHour[h].Merge(&r)
				}
				wantRSS[h] = max(wantRSS[h], float64(100*d+m))
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, len(dynos))
		for d, s := range dynos {
			wg.Go(func() {
				for m := range minutes {
					if errs[d] = flush(s, d, m); errs[d] != nil {
						return
					}
					if m%7 == d { // the dynos fold at different times
						if errs[d] = s.FoldHourly(ctx, h0.Add(time.Duration(m-1)*time.Minute)); errs[d] != nil {
							return
						}
					}
				}
			})
		}
		wg.Wait()
		for d, s := range dynos {
			if errs[d] != nil {
				t.Fatalf("dyno %d: %v", d, errs[d])
			}
			if err := s.FoldHourly(ctx, h0.Add(minutes*time.Minute)); err != nil {
				t.Fatal(err)
			}
			for _, m := range late {
				if err := flush(s, d, m); err != nil {
					t.Fatal(err)
				}
			}
		}
		s := dynos[0]
		if err := s.FoldHourly(ctx, h0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		q := store.SeriesQuery{App: "shop", From: h0, To: h0.Add(2 * time.Hour), Step: time.Hour}
		for _, c := range []struct {
			metric string
			want   func(r *store.Rollup) float64
		}{
			{"requests", func(r *store.Rollup) float64 { return float64(r.Requests) }},
			{"codes", func(r *store.Rollup) float64 { return float64(r.Codes["H12"]) }},
			{"p99", func(r *store.Rollup) float64 { return r.Service.Quantile(0.99) }},
		} {
			q.Metric = c.metric
			got, err := s.Series(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want := []store.Point{{Time: h0, Value: c.want(&wantHour[0])}, {Time: h0.Add(time.Hour), Value: c.want(&wantHour[1])}}
			if len(got) != 1 || !cmp.Equal(want, got[0].Points) {
				t.Errorf("hourly %s = %+v, want %+v", c.metric, got, want)
			}
		}
		q.Metric = "memory_rss_mb"
		got, err := s.Series(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Point{{Time: h0, Value: wantRSS[0]}, {Time: h0.Add(time.Hour), Value: wantRSS[1]}}
		if len(got) != 1 || !cmp.Equal(want, got[0].Points) {
			t.Errorf("hourly memory_rss_mb = %+v, want %+v", got, want)
		}
	})
}

func rangeN(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

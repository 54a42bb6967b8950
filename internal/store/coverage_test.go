package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
)

// TestCoverage: an app with router lines, Cedar runtime metrics, Postgres
// metrics and two L10 lines in the last 24 h (one older, left out) in the
// wordings of internal/parse/testdata/mixed.txt; a Fir app with runtime
// metrics from its telemetry drain only; an app the store does not know.
func TestCoverage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		now := t0.Add(30 * time.Hour)
		l10 := func(at time.Time, msg string) store.Event {
			return store.Event{App: "shop", Time: at, Kind: "logplex_error", Code: "L10", Line: at.Format(time.RFC3339) + " heroku[logplex]: " + msg}
		}
		b := &store.Batch{App: "shop", Key: "k1", Received: now, State: store.AppDelta{LastMessage: now.Add(-time.Minute), Messages: 10, CountMismatches: 2},
			Events: []store.Event{
				l10(now.Add(-25*time.Hour), "Error L10 (output buffer overflow): 7 messages dropped since 2026-11-03T15:00:00+00:00."),
				l10(now.Add(-2*time.Hour), "Error L10 (output buffer overflow): 500 messages dropped since 2026-11-04T17:59:46+00:00."),
				l10(now.Add(-time.Hour), "Error L10 (output buffer overflow): drain 'd.fc6b856b-3332-4546-93de-7d0ee272c3bd' dropped 12 messages since 2026-11-04T18:00:46+00:00."),
			}}
		fir := &store.Batch{App: "fir-shop", Key: "k2", Received: now, State: store.AppDelta{LastMessage: now.Add(-2 * time.Minute), Messages: 3}}
		if _, err := s.WriteBatches(ctx, []*store.Batch{b, fir}); err != nil {
			t.Fatal(err)
		}
		routerFrom := now.Add(-26 * time.Hour).Truncate(time.Hour)
		rs := []store.Rollup{rollup("shop", "web.1", routerFrom, 20), rollup("shop", "web.1", now.Add(-time.Minute).Truncate(time.Minute), 30)}
		ss := []store.SampleRollup{
			{App: "shop", Kind: "runtime_metrics", Source: "web.1", Minute: now.Add(-5*time.Hour + 7*time.Minute), Values: map[string]float64{"memory_rss_mb": 300}},
			{App: "shop", Kind: "runtime_metrics", Source: "web.1", Minute: now.Add(-2 * time.Minute).Truncate(time.Minute), Values: map[string]float64{"memory_rss_mb": 310}},
			{App: "shop", Kind: "postgres_metrics", Source: "HEROKU_POSTGRESQL_SILVER", Minute: now.Add(-3 * time.Minute).Truncate(time.Minute), Values: map[string]float64{"active-connections": 4}},
			{App: "fir-shop", Kind: "runtime_metrics", Source: "web-1234abcde-123ab", Minute: now.Add(-2 * time.Minute).Truncate(time.Minute), Values: map[string]float64{"memory_rss_mb": 100}},
		}
		if err := s.MergeRollups(ctx, rs, ss); err != nil {
			t.Fatal(err)
		}
		if err := s.FoldHourly(ctx, now.Add(-4*time.Hour)); err != nil {
			t.Fatal(err)
		}

		f, err := s.Coverage(ctx, "shop", now)
		if err != nil {
			t.Fatal(err)
		}
		if !f.RouterFirst.Equal(routerFrom) || !f.RouterLast.Equal(now.Add(-time.Minute).Truncate(time.Minute)) {
			t.Errorf("router %v … %v, want %v … %v", f.RouterFirst, f.RouterLast, routerFrom, now.Add(-time.Minute).Truncate(time.Minute))
		}
		if !f.RuntimeFirst.Equal(now.Add(-5*time.Hour+7*time.Minute)) /* the minute, not the hourly row's hour */ || !f.RuntimeLast.Equal(now.Add(-2*time.Minute).Truncate(time.Minute)) {
			t.Errorf("runtime %v … %v", f.RuntimeFirst, f.RuntimeLast)
		}
		if !f.FirLast.IsZero() || len(f.Addons) != 1 || f.Addons["postgres_metrics"].IsZero() {
			t.Errorf("fir %v, addons %v", f.FirLast, f.Addons)
		}
		if f.L10Lines != 2 || f.L10Dropped != 512 || f.CountMismatches != 2 {
			t.Errorf("L10 %d lines %d dropped, %d mismatches; want 2, 512, 2", f.L10Lines, f.L10Dropped, f.CountMismatches)
		}
		c := alert.AssessCoverage("shop", f, now)
		if c.Mark != "partial" || c.Items[4].Name != "drops" || c.Items[4].OK {
			t.Errorf("shop coverage %+v", c)
		}

		f, err = s.Coverage(ctx, "fir-shop", now)
		if err != nil {
			t.Fatal(err)
		}
		if f.FirLast.IsZero() || !f.RuntimeLast.IsZero() || !f.RouterLast.IsZero() {
			t.Errorf("fir-shop facts %+v", f)
		}
		if _, err := s.Coverage(ctx, "nobody", now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown app: %v, want ErrNotFound", err)
		}
	})
}

package store_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// busyMinute returns the rollups of one minute of a busy app: dynos router
// dynos at perDyno requests a minute each, lognormal service times around
// 55 ms, a few H12s.
func busyMinute(r *rand.Rand, app string, minute time.Time, dynos, perDyno int) []store.Rollup {
	rs := make([]store.Rollup, dynos)
	for d := range rs {
		ro := store.Rollup{App: app, Dyno: fmt.Sprintf("web.%d", d+1), Minute: minute}
		for range perDyno {
			ms := int(math.Exp(4 + 1.2*r.NormFloat64()))
			ro.Requests++
			ro.Bytes += 2000
			switch {
			case ms > 30000:
				ro.Status5xx++
				if ro.Codes == nil {
					ro.Codes = map[string]int64{}
				}
				ro.Codes["H12"]++
			case r.IntN(50) == 0:
				ro.Status4xx++
			default:
				ro.Status2xx++
			}
			ro.Service.Observe(ms)
		}
		rs[d] = ro
	}
	return rs
}

// busySamples returns one minute of metric samples: runtime metrics of each
// dyno, and the Postgres and Redis add-ons.
func busySamples(app string, minute time.Time, dynos int) []store.SampleRollup {
	var ss []store.SampleRollup
	for d := range dynos {
		ss = append(ss, store.SampleRollup{App: app, Kind: "runtime_metrics", Source: fmt.Sprintf("web.%d", d+1), Minute: minute,
			Values: map[string]float64{
				"load_avg_1m": 0.12, "load_avg_5m": 0.08, "load_avg_15m": 0.05,
				"memory_total_mb": 412.33, "memory_rss_mb": 398.12, "memory_cache_mb": 14.21, "memory_swap_mb": 0,
				"memory_pgpgin": 1234567, "memory_pgpgout": 1134567, "memory_quota_mb": 512,
			}})
	}
	ss = append(ss,
		store.SampleRollup{App: app, Kind: "postgres_metrics", Source: "DATABASE", Minute: minute, Values: map[string]float64{
			"current_transaction": 1873, "db_size_bytes": 6.21e8, "tables": 41, "active_connections": 12, "waiting_connections": 0,
			"index_cache_hit_rate": 0.99982, "table_cache_hit_rate": 0.99971, "load_avg_1m": 0.2, "load_avg_5m": 0.15, "load_avg_15m": 0.1,
			"read_iops": 0.5, "write_iops": 12.3, "tmp_disk_used_bytes": 33849344, "tmp_disk_available_bytes": 72944943104,
			"memory_total_bytes": 4045992e3, "memory_free_bytes": 100000e3, "memory_cached_bytes": 3500000e3, "memory_postgres_bytes": 200000e3,
			"wal_percentage_used": 0.07,
		}},
		store.SampleRollup{App: app, Kind: "redis_metrics", Source: "REDIS", Minute: minute, Values: map[string]float64{
			"active_connections": 8, "load_avg_1m": 0.05, "load_avg_5m": 0.04, "load_avg_15m": 0.03, "read_iops": 0, "write_iops": 0.2,
			"memory_total_bytes": 16e9, "memory_free_bytes": 8e9, "memory_cached_bytes": 4e9, "memory_redis_bytes": 3.1e6, "hit_rate": 0.9917, "evicted_keys": 0,
		}},
	)
	return ss
}

func busyLine(at time.Time) string {
	return at.Format("2006-01-02T15:04:05.000000+00:00") + ` heroku[router]: at=error code=H12 desc="Request timeout" method=GET ` +
		`path="/api/v2/orders/184467/items" host=shop.example.com request_id=6e7c2a8d-2b8f-4a1e-9c3d-1f2e3d4c5b6a ` +
		`dyno=web.3 connect=1ms service=30000ms status=503 bytes=0 protocol=https`
}

// TestPostgresBytesPerRow measures what rows of a busy app cost on disk
// (heap, TOAST and indexes), the figures size.go's arithmetic uses; it fails
// when a change makes them grow past that budget.
func TestPostgresBytesPerRow(t *testing.T) {
	if testing.Short() {
		t.Skip("fills tables to measure them")
	}
	t.Parallel()
	s := storetest.MustOpenPostgres(t)
	r := rand.New(rand.NewPCG(1, 2))
	// One minute of each of 300 hours, so the hourly tables fill as fast as
	// the minute ones; 10 drain batches a minute with 2 events each.
	const minutes, dynos = 300, 10
	for m := range minutes {
		at := t0.Add(time.Duration(m) * 61 * time.Minute)
		if err := s.MergeRollups(ctx, busyMinute(r, "shop-production", at, dynos, 6000), busySamples("shop-production", at, dynos)); err != nil {
			t.Fatal(err)
		}
		bs := make([]*store.Batch, 10)
		for i := range bs {
			bs[i] = batch("shop-production", fmt.Sprintf("frame:%016x", r.Uint64()), at,
				store.Event{Time: at, Kind: "router", Code: "H12", Dyno: "web.3", Line: busyLine(at)},
				store.Event{Time: at, Kind: "router", Code: "H12", Dyno: "web.3", Line: busyLine(at)})
		}
		if _, err := s.WriteBatches(ctx, bs); err != nil {
			t.Fatal(err)
		}
	}
	budget := map[string]float64{ // bytes a row, as size.go assumes
		"rollups_minute": 190, "rollups_hourly": 190, "latency_minute": 650, "latency_hourly": 650, "samples_minute": 330, "samples_hourly": 330, "events": 460, "dedupe_keys": 170,
	}
	// Live rows only: size.go adds the dead rows autovacuum leaves.
	for table := range budget {
		if err := store.Exec(ctx, s, "VACUUM FULL "+table); err != nil {
			t.Fatal(err)
		}
	}
	for table, want := range budget {
		var perRow float64
		err := store.QueryRow(ctx, s, fmt.Sprintf(`SELECT pg_total_relation_size('%[1]s')::float8 / count(*) FROM %[1]s`, table), &perRow)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-15s %4.0f bytes a row (budget %.0f)", table, perRow, want)
		if perRow > want {
			t.Errorf("%s takes %.0f bytes a row, more than the %.0f size.go budgets", table, perRow, want)
		}
	}
}

// BenchmarkMergeRollups is one web dyno's flush: the rollups of 20 router
// dynos for the current minute and the samples of 20 dynos and 2 add-ons,
// merged into rows that exist already (the common case).
func BenchmarkMergeRollups(b *testing.B) {
	s := storetest.MustOpenPostgres(b)
	r := rand.New(rand.NewPCG(1, 2))
	rs := busyMinute(r, "shop", t0, 20, 500)
	ss := busySamples("shop", t0, 20)
	for b.Loop() {
		if err := s.MergeRollups(ctx, rs, ss); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rs))/b.Elapsed().Seconds(), "rollups/s")
}

// BenchmarkWriteBatches is one group commit of 16 drain batches, each with
// a dedupe key, two events and app state, as the drain writes them.
func BenchmarkWriteBatches(b *testing.B) {
	s := storetest.MustOpenPostgres(b)
	const group = 16
	n := 0
	for b.Loop() {
		bs := make([]*store.Batch, group)
		for i := range bs {
			n++
			at := t0.Add(time.Duration(n) * time.Millisecond)
			bs[i] = batch(fmt.Sprintf("app-%d", i%4), fmt.Sprintf("frame:%d", n), at,
				store.Event{Time: at, Kind: "router", Code: "H12", Dyno: "web.3", Line: busyLine(at)},
				store.Event{Time: at, Kind: "dyno_error", Code: "R14", Dyno: "web.1", Line: "Error R14 (Memory quota exceeded)"})
		}
		if _, err := s.WriteBatches(ctx, bs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*group)/b.Elapsed().Seconds(), "batches/s")
}

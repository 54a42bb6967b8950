package store_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

func ptr(f float64) *float64 { return &f }

// checkRun is a result of check name at t0+at.
func checkRun(name, app string, at time.Duration, ok bool) checks.Result {
	r := checks.Result{Check: name, App: app, Kind: "http", Time: t0.Add(at), OK: ok, Latency: 120 * time.Millisecond,
		Value: ptr(200), Worker: "worker.1@host:42"}
	if !ok {
		r.Value, r.Error = ptr(500), "HTTP 500 Internal Server Error, want 2xx"
	}
	return r
}

func mustRecord(t *testing.T, s *store.Store, rs ...checks.Result) {
	t.Helper()
	for _, r := range rs {
		if err := s.RecordCheck(ctx, r); err != nil {
			t.Fatalf("RecordCheck(%s at %v): %v", r.Check, r.Time, err)
		}
	}
}

func mustCheckResults(t *testing.T, s *store.Store, name string, since time.Time, limit int) []checks.Result {
	t.Helper()
	rs, err := s.CheckResults(ctx, name, since, limit)
	if err != nil {
		t.Fatalf("CheckResults(%s, %v, %d): %v", name, since, limit, err)
	}
	return rs
}

var ignoreID = cmpopts.IgnoreFields(checks.Result{}, "ID")

func TestCheckResultsRoundTrip(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		queue := checks.Result{Check: "queue", App: "shop", Kind: "redis", Time: t0.Add(time.Minute), OK: false,
			Latency: 1234567 * time.Microsecond, Value: ptr(1500), Growth: ptr(-12.5),
			Error: "list jobs has 1500 items, over max=1000", Worker: "worker.2"}
		api := checks.Result{Check: "api", Kind: "http", Time: t0, OK: true, Latency: 80 * time.Millisecond, Value: ptr(204),
			CertExpiry: t0.Add(10 * 24 * time.Hour), Warning: "certificate expires in 10 days"}
		db := checks.Result{Check: "db", App: "shop", Kind: "postgres", Time: t0.Add(2 * time.Minute), OK: true}
		mustRecord(t, s, queue, api, db)
		for _, want := range []checks.Result{queue, api, db} {
			got := mustCheckResults(t, s, want.Check, time.Time{}, 0)
			if len(got) != 1 || got[0].ID == 0 {
				t.Fatalf("CheckResults(%s) = %+v, want one with an ID", want.Check, got)
			}
			if diff := cmp.Diff(want, got[0], ignoreID); diff != "" {
				t.Errorf("%s after a round trip (-want +got):\n%s", want.Check, diff)
			}
		}
		if got := mustCheckResults(t, s, "nope", time.Time{}, 0); got == nil || len(got) != 0 {
			t.Fatalf("CheckResults of an unknown check = %#v, want an empty slice", got)
		}
	})
}

func TestCheckResultsOrderSinceLimit(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		for i := range 5 {
			mustRecord(t, s, checkRun("api", "shop", time.Duration(i)*time.Minute, i%2 == 0))
		}
		mustRecord(t, s, checkRun("other", "shop", 10*time.Minute, true))
		times := func(rs []checks.Result) []int {
			var out []int
			for _, r := range rs {
				out = append(out, int(r.Time.Sub(t0)/time.Minute))
			}
			return out
		}
		for _, c := range []struct {
			name  string
			since time.Time
			limit int
			want  []int
		}{
			{"all, newest first", time.Time{}, 0, []int{4, 3, 2, 1, 0}},
			{"limit", time.Time{}, 2, []int{4, 3}},
			{"since is inclusive", t0.Add(3 * time.Minute), 0, []int{4, 3}},
			{"since after all", t0.Add(time.Hour), 0, nil},
		} {
			if got := times(mustCheckResults(t, s, "api", c.since, c.limit)); !cmp.Equal(got, c.want) {
				t.Errorf("%s: minutes %v, want %v", c.name, got, c.want)
			}
		}
		for _, bad := range []int{-1, store.MaxCheckLimit + 1} {
			if _, err := s.CheckResults(ctx, "api", time.Time{}, bad); err == nil {
				t.Errorf("CheckResults with limit %d succeeded", bad)
			}
		}
	})
}

func TestRecordCheckValidatesAndClips(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		good := checkRun("api", "", 0, false)
		for _, c := range []struct {
			name  string
			edit  func(*checks.Result)
			field string
		}{
			{"no check", func(r *checks.Result) { r.Check = "" }, "Check"},
			{"no kind", func(r *checks.Result) { r.Kind = "" }, "Kind"},
			{"no time", func(r *checks.Result) { r.Time = time.Time{} }, "Time"},
			{"negative latency", func(r *checks.Result) { r.Latency = -time.Second }, "Latency"},
		} {
			r := good
			c.edit(&r)
			if err := s.RecordCheck(ctx, r); err == nil || !strings.Contains(err.Error(), c.field) {
				t.Errorf("%s: RecordCheck = %v, want an error naming %s", c.name, err, c.field)
			}
		}
		// A long error is cut at a rune boundary: "é" is two bytes.
		long := good
		long.Error = "x" + strings.Repeat("é", store.MaxCheckText)
		mustRecord(t, s, long)
		got := mustCheckResults(t, s, "api", time.Time{}, 1)[0].Error
		if len(got) != store.MaxCheckText-1 || !strings.HasPrefix(long.Error, got) {
			t.Fatalf("stored error of %d bytes (%q…), want the first %d bytes of it", len(got), got[:10], store.MaxCheckText-1)
		}
	})
}

func TestLatestChecks(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		if got, err := s.LatestChecks(ctx); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("LatestChecks of a new store = %#v, %v; want an empty slice", got, err)
		}
		newest := checkRun("queue", "shop", 5*time.Minute, false)
		mustRecord(t, s,
			checkRun("queue", "shop", time.Minute, true),
			newest,
			checkRun("queue", "shop", 3*time.Minute, true), // late: another worker's older run
			checkRun("api", "", 2*time.Minute, true),
		)
		got, err := s.LatestChecks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []checks.Result{checkRun("api", "", 2*time.Minute, true), newest}
		if diff := cmp.Diff(want, got, ignoreID); diff != "" {
			t.Fatalf("LatestChecks (-want +got):\n%s", diff)
		}
	})
}

// Workers recording runs of one check at once: the latest is the newest.
func TestLatestChecksConcurrent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				if err := s.RecordCheck(ctx, checkRun("api", "", time.Duration(i)*time.Second, true)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, err := s.LatestChecks(ctx)
		if err != nil || len(got) != 1 || !got[0].Time.Equal(t0.Add(15*time.Second)) {
			t.Fatalf("LatestChecks = %+v, %v; want the run at +15s", got, err)
		}
	})
}

func TestCheckUptime(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		for i, ok := range []bool{true, false, true, true, false, true} {
			mustRecord(t, s, checkRun("api", "", time.Duration(i)*time.Minute, ok))
		}
		mustRecord(t, s, checkRun("other", "", 2*time.Minute, false))
		for _, c := range []struct {
			name     string
			from, to time.Duration
			want     store.Uptime
		}{
			{"all", 0, time.Hour, store.Uptime{Runs: 6, OK: 4}},
			{"from inclusive, to exclusive", time.Minute, 4 * time.Minute, store.Uptime{Runs: 3, OK: 2}},
			{"no runs", time.Hour, 2 * time.Hour, store.Uptime{}},
		} {
			got, err := s.CheckUptime(ctx, "api", t0.Add(c.from), t0.Add(c.to))
			if err != nil || got != c.want {
				t.Errorf("%s: CheckUptime = %+v, %v; want %+v", c.name, got, err, c.want)
			}
		}
	})
	if r, ok := (store.Uptime{Runs: 4, OK: 3}).Ratio(); !ok || r != 0.75 {
		t.Errorf("Ratio of 3 in 4 = %v, %v", r, ok)
	}
	if _, ok := (store.Uptime{}).Ratio(); ok {
		t.Error("Ratio of no runs is defined")
	}
}

func TestPruneChecks(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		const day = 24 * time.Hour
		now := t0.Add(100 * day)
		// api runs on; "removed" left the config 40 days ago.
		for _, age := range []time.Duration{45 * day, 40 * day, 31 * day, 29 * day, time.Hour} {
			mustRecord(t, s, checkRun("api", "", 100*day-age, true))
		}
		mustRecord(t, s, checkRun("removed", "", 60*day, true), checkRun("removed", "", 60*day+time.Minute, false))

		res, err := s.Prune(ctx, now, store.DefaultRetention())
		if err != nil {
			t.Fatalf("Prune: %v", err)
		}
		if res.Checks != 5 {
			t.Fatalf("Prune deleted %d check results, want 5: %+v", res.Checks, res)
		}
		if n := len(mustCheckResults(t, s, "api", time.Time{}, 0)); n != 2 {
			t.Fatalf("%d api results left, want 2", n)
		}
		latest, err := s.LatestChecks(ctx)
		if err != nil || len(latest) != 1 || latest[0].Check != "api" {
			t.Fatalf("LatestChecks after Prune = %+v, %v; want api only", latest, err)
		}
		// Zero keeps forever; the old fields alone still work.
		keep := store.Retention{DedupeKeys: store.MinDedupeRetention}
		if res, err := s.Prune(ctx, now.Add(1000*day), keep); err != nil || res.Checks != 0 {
			t.Fatalf("Prune keeping all = %+v, %v", res, err)
		}
		if _, err := s.Prune(ctx, now, store.Retention{Checks: -1, DedupeKeys: time.Hour}); err == nil || !strings.Contains(err.Error(), "Retention.Checks") {
			t.Fatalf("Prune with a negative Checks = %v, want an error naming it", err)
		}
	})
}

func TestDeleteAppChecks(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		// shop has a drain and checks; quiet has checks only; the
		// app-less check belongs to no app.
		if _, err := s.WriteBatch(ctx, batch("shop", "", t0)); err != nil {
			t.Fatal(err)
		}
		for i, app := range []string{"shop", "quiet", ""} {
			for j := range 3 {
				mustRecord(t, s, checkRun(fmt.Sprintf("check%d", i), app, time.Duration(j)*time.Minute, true))
			}
		}
		for _, app := range []string{"shop", "quiet"} {
			if err := s.DeleteApp(ctx, app); err != nil {
				t.Fatalf("DeleteApp(%s): %v", app, err)
			}
			if err := s.DeleteApp(ctx, app); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("DeleteApp(%s) again = %v, want ErrNotFound", app, err)
			}
		}
		if err := s.DeleteApp(ctx, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf(`DeleteApp("") = %v, want ErrNotFound`, err)
		}
		for name, want := range map[string]int{"check0": 0, "check1": 0, "check2": 3} {
			if n := len(mustCheckResults(t, s, name, time.Time{}, 0)); n != want {
				t.Errorf("%s has %d results, want %d", name, n, want)
			}
		}
		latest, err := s.LatestChecks(ctx)
		if err != nil || len(latest) != 1 || latest[0].Check != "check2" {
			t.Fatalf("LatestChecks = %+v, %v; want check2 only", latest, err)
		}
	})
}

// TestPostgresCheckBytesPerRow measures what a check result costs on disk
// (heap and indexes), the figure size.go's arithmetic uses.
func TestPostgresCheckBytesPerRow(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a table to measure it")
	}
	t.Parallel()
	s := storetest.MustOpenPostgres(t)
	// Ten checks, mostly passing, a few with a value and a worker name of a
	// Heroku dyno.
	for i := range 5000 {
		r := checkRun(fmt.Sprintf("check_%d", i%10), "shop-production", time.Duration(i)*time.Second, i%50 != 0)
		r.Worker = "worker.1@3f6c2a8d-2b8f-4a1e-9c3d-1f2e3d4c5b6a:4"
		mustRecord(t, s, r)
	}
	if err := store.Exec(ctx, s, "VACUUM FULL check_results"); err != nil {
		t.Fatal(err)
	}
	const budget = 250 // bytes a row, as size.go assumes
	var perRow float64
	if err := store.QueryRow(ctx, s, `SELECT pg_total_relation_size('check_results')::float8 / count(*) FROM check_results`, &perRow); err != nil {
		t.Fatal(err)
	}
	t.Logf("check_results %4.0f bytes a row (budget %d)", perRow, budget)
	if perRow > budget {
		t.Errorf("check_results takes %.0f bytes a row, more than the %d size.go budgets", perRow, budget)
	}
}

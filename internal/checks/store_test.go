package checks_test

// The runner against the store: an external test, as the store imports
// checks.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/pgtest"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
	"github.com/dynowatch/dynowatch/internal/worker"
)

// The store is what a runner records its checks in.
var _ checks.Store = (*store.Store)(nil)

// Two workers on one database run each check once per interval; when one
// stops, the other carries on. A slow check delays no other.
func TestRunnersShareChecks(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	var mu sync.Mutex
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-r.Context().Done() // never answers: every run times out
			return
		}
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	list, err := checks.ParseVars(map[string]string{
		"CHECK_FAST": "http " + srv.URL + "/fast every=1s timeout=800ms",
		"CHECK_SLOW": "http " + srv.URL + "/slow every=1s timeout=900ms fail=2",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}

	var (
		obMu sync.Mutex
		obs  []alert.Observation
	)
	observe := func(o []alert.Observation) {
		obMu.Lock()
		defer obMu.Unlock()
		obs = append(obs, o...)
	}
	take := func() []alert.Observation {
		obMu.Lock()
		defer obMu.Unlock()
		out := obs
		obs = nil
		return out
	}
	stores := make([]*store.Store, 2)
	stops := make([]func() error, 2)
	for i := range stops {
		stores[i] = storetest.MustOpen(t, store.Config{DatabaseURL: dbURL})
		r, err := checks.NewRunner(checks.RunnerOptions{Checks: list, Store: stores[i], Observe: observe,
			Logger: slog.New(slog.DiscardHandler), Holder: fmt.Sprintf("worker.%d", i+1)})
		if err != nil {
			t.Fatal(err)
		}
		w, err := worker.New(worker.Options{Leases: stores[i], Holder: fmt.Sprintf("worker.%d", i+1), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range r.Jobs() {
			if err := w.Add(j); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		stops[i] = func() error { cancel(); return <-done }
	}
	defer func() {
		for _, stop := range stops {
			if stop != nil {
				_ = stop()
			}
		}
	}()

	// results polls the store until cond holds of check name's results
	// (oldest first), or fails t after timeout.
	results := func(name string, timeout time.Duration, cond func([]checks.Result) bool) []checks.Result {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			rs, err := stores[0].CheckResults(t.Context(), name, time.Time{}, store.MaxCheckLimit)
			if err != nil {
				t.Fatal(err)
			}
			for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
				rs[i], rs[j] = rs[j], rs[i]
			}
			if cond(rs) {
				return rs
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: condition not met within %v; results: %d", name, timeout, len(rs))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	fast := results("fast", 15*time.Second, func(rs []checks.Result) bool { return len(rs) >= 5 })
	// Once per interval, whichever worker ran it: as many runs as seconds
	// (the lease lasts 0.9 s), and no worker right after the other, as two
	// timers of different phases would be without the lease. Gaps between
	// one worker's runs may shrink by the jitter of a loaded machine.
	span := fast[len(fast)-1].Time.Sub(fast[0].Time)
	if limit := int(span/(900*time.Millisecond)) + 1; len(fast) > limit {
		t.Fatalf("%d runs of fast within %v, want at most %d", len(fast), span, limit)
	}
	for i := 1; i < len(fast); i++ {
		gap := fast[i].Time.Sub(fast[i-1].Time)
		if fast[i].Worker != fast[i-1].Worker && gap < 500*time.Millisecond {
			t.Fatalf("runs %d and %d of fast (by %s and %s) are %v apart: twice in one interval",
				i-1, i, fast[i-1].Worker, fast[i].Worker, gap)
		}
	}
	// The slow check, stuck at its timeout every run, did not slow the fast
	// one: five runs in about four seconds, not eight.
	if span := fast[4].Time.Sub(fast[0].Time); span > 6500*time.Millisecond {
		t.Fatalf("5 runs of fast took %v, want about 4 s", span)
	}
	slow := results("slow", 10*time.Second, func(rs []checks.Result) bool { return len(rs) >= 2 })
	if slow[0].OK || !strings.Contains(slow[0].Error, "timed out after 900ms") {
		t.Fatalf("slow: %+v", slow[0])
	}
	// And it fired: two failures in a row.
	deadline := time.Now().Add(5 * time.Second)
	for fired := false; !fired; {
		for _, o := range take() {
			fired = fired || (o.Key == (alert.Key{Rule: alert.RuleCheck, Code: "slow"}).String() && o.Kind == alert.Above)
		}
		if !fired && time.Now().After(deadline) {
			t.Fatal("no Above observation for slow after two failures")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Stop the worker that ran fast last: the other takes over.
	last := fast[len(fast)-1].Worker
	i := map[string]int{"worker.1": 0, "worker.2": 1}[last]
	if err := stops[i](); err != nil {
		t.Fatal(err)
	}
	stops[i] = nil
	stoppedAt := time.Now()
	other := map[int]string{0: "worker.2", 1: "worker.1"}[i]
	after := results("fast", 10*time.Second, func(rs []checks.Result) bool {
		n := 0
		for _, r := range rs {
			if r.Time.After(stoppedAt) && r.Worker == other {
				n++
			}
		}
		return n >= 3
	})
	for _, r := range after {
		if r.Time.After(stoppedAt) && r.Worker == last {
			t.Fatalf("the stopped worker %s ran fast at %v", last, r.Time)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n, _ := stores[0].CheckUptime(t.Context(), "fast", time.Time{}, time.Now().Add(time.Hour)); int(n.Runs) > hits {
		t.Fatalf("%d runs stored for %d requests", n.Runs, hits)
	}
}

package ingest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// run runs a pipeline ("a web dyno") on st until the returned stop.
func run(t *testing.T, st *store.Store) (*Pipeline, func()) {
	t.Helper()
	p, err := New(Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Committers: 2, FlushEvery: time.Hour, EventLinesPerMinute: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	return p, func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("final flush: %v", err)
		}
	}
}

// failingStore fails every write, as a store that is down.
type failingStore struct{ *store.Store }

func (failingStore) WriteBatches(context.Context, []*store.Batch) ([]bool, error) {
	return nil, context.DeadlineExceeded
}

// A batch of requests only is answered without waiting for the store, and
// what the README promises of its retries holds: recognised at once on the
// same dyno, and on any dyno once its key is flushed when the retry brings
// a notable line (Logplex resends the same lines, so a retry with one is a
// retry of a batch that had one, or whose cap was full on the first dyno).
func TestBatchOfRequestsOnlyIsNotCommittedAlone(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *store.Store{"postgres": storetest.MustOpenPostgres, "embedded": storetest.MustOpenEmbedded} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			from, to := time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC), time.Date(2024, 3, 15, 12, 1, 0, 0, time.UTC)
			requests := func() int64 {
				t.Helper()
				ws, err := st.WindowStats(ctx, "shop", from, to)
				if err != nil {
					t.Fatal(err)
				}
				return ws.Requests
			}

			// The store is down: a batch of requests is still taken and
			// counted, one with an R14 is refused so that Logplex retries it.
			down, stopDown := run(t, st)
			down.o.Store = failingStore{st}
			if dup, err := down.Ingest(ctx, batch(t, "shop", "frame:1", router(1, 200, 5, "web.1", ""), router(2, 200, 5, "web.1", ""))); err != nil || dup {
				t.Fatalf("requests only, store down: Ingest = %v, %v; want taken", dup, err)
			}
			r14 := "2024-03-15T12:00:06Z heroku[web.1]: Error R14 (Memory quota exceeded)"
			if _, err := down.Ingest(ctx, batch(t, "shop", "frame:2", router(3, 200, 5, "web.1", ""), r14)); err == nil {
				t.Fatal("a batch with an R14 was taken while the store is down")
			}
			if dup, err := down.Ingest(ctx, batch(t, "shop", "frame:1", router(1, 200, 5, "web.1", ""), router(2, 200, 5, "web.1", ""))); err != nil || !dup {
				t.Fatalf("retry on the same dyno: Ingest = %v, %v; want a duplicate", dup, err)
			}
			down.o.Store = st // the store is back before the dyno's final flush
			stopDown()
			if got := requests(); got != 2 {
				t.Fatalf("requests = %d, want 2 (the retry not counted)", got)
			}

			// The refused batch's retry is taken by another dyno; a retry of
			// frame:1 carrying a notable line is recognised from the flushed key.
			other, stopOther := run(t, st)
			if dup, err := other.Ingest(ctx, batch(t, "shop", "frame:2", router(3, 200, 5, "web.1", ""), r14)); err != nil || dup {
				t.Fatalf("retry of the refused batch: Ingest = %v, %v; want taken", dup, err)
			}
			if dup, err := other.Ingest(ctx, batch(t, "shop", "frame:1", router(1, 200, 5, "web.1", ""), r14)); err != nil || !dup {
				t.Fatalf("retry of a flushed key on another dyno: Ingest = %v, %v; want a duplicate", dup, err)
			}
			stopOther()
			if got := requests(); got != 3 {
				t.Errorf("requests = %d, want 3", got)
			}
			events, err := st.Events(ctx, store.EventQuery{App: "shop", Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].Code != "R14" {
				t.Errorf("events = %+v, want the one R14", events)
			}

			// After the final flush, a batch of requests is refused rather
			// than counted where no flush will write it.
			if _, err := other.Ingest(ctx, batch(t, "shop", "frame:3", router(4, 200, 5, "web.1", ""))); err == nil {
				t.Error("a batch was taken after the pipeline stopped")
			}
		})
	}
}

// gatedStore holds the first commit of events until release, then fails it,
// as a commit that times out while Logplex has given up on the request.
type gatedStore struct {
	*store.Store
	entered, release chan struct{}
	once             sync.Once
}

func (s *gatedStore) WriteBatches(ctx context.Context, bs []*store.Batch) ([]bool, error) {
	gated := false
	for _, b := range bs {
		if len(b.Events) > 0 {
			s.once.Do(func() { gated = true })
		}
	}
	if gated {
		close(s.entered)
		<-s.release
		return nil, context.DeadlineExceeded
	}
	return s.Store.WriteBatches(ctx, bs)
}

// Logplex's retry of a batch whose first attempt is still being committed
// (its request timed out at Logplex, or the connection was cut) must not be
// answered "duplicate" before that commit ends: if the commit then fails,
// nothing of the batch would be kept and Logplex, having had a 2xx, would
// not send it again.
func TestRetryDuringTheFirstAttemptsCommitWaitsForIt(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *store.Store{"postgres": storetest.MustOpenPostgres, "embedded": storetest.MustOpenEmbedded} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			p, stop := run(t, st)
			gs := &gatedStore{Store: st, entered: make(chan struct{}), release: make(chan struct{})}
			p.o.Store = gs
			r14 := "2024-03-15T12:00:06Z heroku[web.1]: Error R14 (Memory quota exceeded)"
			lines := []string{router(1, 200, 5, "web.1", ""), r14}

			first := make(chan error, 1)
			go func() {
				_, err := p.Ingest(ctx, batch(t, "shop", "frame:1", lines...))
				first <- err
			}()
			<-gs.entered
			type result struct {
				dup bool
				err error
			}
			retry := make(chan result, 1)
			go func() {
				dup, err := p.Ingest(ctx, batch(t, "shop", "frame:1", lines...))
				retry <- result{dup, err}
			}()
			var got result
			select {
			case got = <-retry: // answered while the first attempt is in flight
				close(gs.release)
			case <-time.After(200 * time.Millisecond):
				close(gs.release)
				got = <-retry
			}
			if err := <-first; err == nil {
				t.Fatal("the first attempt's commit failed, yet Ingest reported it kept")
			}
			if got.dup || got.err != nil {
				t.Fatalf("retry: Ingest = %v, %v; want taken, the first attempt having failed", got.dup, got.err)
			}
			stop()
			events, err := st.Events(ctx, store.EventQuery{App: "shop", Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].Code != "R14" {
				t.Errorf("events = %+v, want the R14 of the retry", events)
			}
			ws, err := st.WindowStats(ctx, "shop", time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC), time.Date(2024, 3, 15, 12, 1, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if ws.Requests != 1 {
				t.Errorf("requests = %d, want 1", ws.Requests)
			}
		})
	}
}

// A batch of requests only with CommitKey (a replayed file's, an OTLP
// request's of several apps) has its key committed before Ingest returns:
// its retry is recognised by another process or dyno before any flush, and
// while the store is down it is refused rather than counted.
func TestCommitKeyCommitsABatchOfRequestsOnly(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *store.Store{"postgres": storetest.MustOpenPostgres, "embedded": storetest.MustOpenEmbedded} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			requestsOnly := func(key string) *drain.Batch {
				b := batch(t, "shop", key, router(1, 200, 5, "web.1", ""), router(2, 200, 5, "web.1", ""))
				b.CommitKey = true
				return b
			}

			down, stopDown := run(t, st)
			down.o.Store = failingStore{st}
			if _, err := down.Ingest(ctx, requestsOnly("replay:f:1")); err == nil {
				t.Fatal("taken while the store is down")
			}
			down.o.Store = st
			stopDown()

			first, stopFirst := run(t, st)
			second, stopSecond := run(t, st)
			if dup, err := first.Ingest(ctx, requestsOnly("replay:f:1")); err != nil || dup {
				t.Fatalf("first: Ingest = %v, %v; want taken", dup, err)
			}
			if dup, err := second.Ingest(ctx, requestsOnly("replay:f:1")); err != nil || !dup {
				t.Fatalf("again, in another process before any flush: Ingest = %v, %v; want a duplicate", dup, err)
			}
			stopFirst()
			stopSecond()
			ws, err := st.WindowStats(ctx, "shop", time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC), time.Date(2024, 3, 15, 12, 1, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if ws.Requests != 2 {
				t.Errorf("requests = %d, want 2 (counted once)", ws.Requests)
			}
		})
	}
}

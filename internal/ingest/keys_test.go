package ingest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

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

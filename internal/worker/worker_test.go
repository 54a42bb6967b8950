package worker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/pgtest"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
	"github.com/dynowatch/dynowatch/internal/worker"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newWorker(t *testing.T, l worker.Leases, holder string) *worker.Worker {
	t.Helper()
	w, err := worker.New(worker.Options{Leases: l, Holder: holder, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestLease(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name           string
		every, atLeast time.Duration
		want           time.Duration
	}{
		{"most of the interval", time.Minute, 0, 54 * time.Second},
		{"a short minimum changes nothing", time.Minute, 5 * time.Second, 54 * time.Second},
		{"a timeout near the interval wins", 10 * time.Second, 9500 * time.Millisecond, 9500 * time.Millisecond},
	} {
		if got := worker.Lease(c.every, c.atLeast); got != c.want {
			t.Errorf("%s: worker.Lease(%v, %v) = %v, want %v", c.name, c.every, c.atLeast, got, c.want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	st := storetest.MustOpenEmbedded(t)
	for _, c := range []struct {
		name string
		o    worker.Options
	}{
		{"Leases", worker.Options{Holder: "w", Logger: discard()}},
		{"Holder", worker.Options{Leases: st, Logger: discard()}},
		{"Logger", worker.Options{Leases: st, Holder: "w"}},
	} {
		if _, err := worker.New(c.o); err == nil {
			t.Errorf("worker.New without %s: no error", c.name)
		}
	}
}

// The same job from two workers on one Postgres: one run per interval, and
// the other takes over when the first stops. A shared job runs on both.
func TestLeasedJobRunsOncePerInterval(t *testing.T) {
	t.Parallel()
	st := storetest.MustOpenPostgres(t)
	a, b := newWorker(t, st, "worker-a"), newWorker(t, st, "worker-b")
	var runs atomic.Int32
	job := worker.Job{Name: "job:prune", Every: time.Minute, Run: func(context.Context, time.Time) error { runs.Add(1); return nil }}
	ctx := context.Background()
	now := time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)
	a.RunOnce(ctx, job, now)
	b.RunOnce(ctx, job, now.Add(time.Second))
	if n := runs.Load(); n != 1 {
		t.Fatalf("%d runs from two workers in one interval, want 1", n)
	}
	// worker-a is gone: at the next interval worker-b runs the job.
	b.RunOnce(ctx, job, now.Add(time.Minute))
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d runs after worker-a stopped, want 2", n)
	}
	job.Shared = true
	a.RunOnce(ctx, job, now.Add(time.Minute))
	b.RunOnce(ctx, job, now.Add(time.Minute))
	if n := runs.Load(); n != 4 {
		t.Fatalf("%d runs after a shared job ran on both workers, want 4", n)
	}
}

// A held job outlives its lease (it is renewed), runs on one worker of two,
// and moves to the other when its worker stops.
func TestHeldJobMovesWhenItsWorkerStops(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	const lease = 300 * time.Millisecond
	var mu sync.Mutex
	running := map[string]int{} // holder → runs in progress
	started := make(chan string, 10)
	type stoppable struct {
		stop func()
		done chan error
	}
	workers := map[string]stoppable{}
	for i, holder := range []string{"worker-a", "worker-b"} {
		open := storetest.MustOpen
		if i > 0 {
			open = storetest.MustOpenUnmigrated // the second dyno on the database
		}
		w := newWorker(t, open(t, store.Config{DatabaseURL: dbURL}), holder)
		if err := w.AddHeld(worker.Held{Name: "tail:demo", Lease: lease, Run: func(ctx context.Context) error {
			mu.Lock()
			running[holder]++
			both := running["worker-a"] > 0 && running["worker-b"] > 0
			mu.Unlock()
			if both {
				t.Errorf("the held job runs on both workers at once")
			}
			started <- holder
			<-ctx.Done()
			mu.Lock()
			running[holder]--
			mu.Unlock()
			return nil
		}}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s := stoppable{stop: cancel, done: make(chan error, 1)}
		go func() { s.done <- w.Run(ctx) }()
		workers[holder] = s
	}
	t.Cleanup(func() {
		for _, s := range workers {
			s.stop()
		}
	})
	first := <-started
	// Several leases long: the holder renews it, and the other never starts.
	select {
	case h := <-started:
		t.Fatalf("the held job started again on %s while %s held it", h, first)
	case <-time.After(4 * lease):
	}
	workers[first].stop()
	if err := <-workers[first].done; err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-started:
		if h == first {
			t.Fatalf("the held job started again on the stopped worker %s", h)
		}
	case <-time.After(5 * lease):
		t.Fatalf("the held job did not move within %v after %s stopped", 5*lease, first)
	}
}

// noLeases is Leases for shared jobs, which take none.
type noLeases struct{}

func (noLeases) AcquireLease(context.Context, string, string, time.Duration, time.Time) (bool, error) {
	return false, errors.New("a shared job took a lease")
}

// A run cut short by shutdown is told once at info, without the
// cancellations it joins; a real error stays an error, also at shutdown.
func TestJobErrorLevel(t *testing.T) {
	t.Parallel()
	cancelled := errors.Join(
		fmt.Errorf("store: save alert shop/h12: %w", context.Canceled),
		fmt.Errorf("store: save alert blog/h12: %w", context.Canceled))
	for _, c := range []struct {
		name     string
		shutdown bool
		err      error
		want     string // level and message of the one line logged
	}{
		{"shutdown", true, cancelled, "INFO job cut short by shutdown"},
		{"cancelled without shutdown", false, cancelled, "ERROR job failed"},
		{"real error at shutdown", true, errors.New("store: save alert shop/h12: disk full"), "ERROR job failed"},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}}))
		w, err := worker.New(worker.Options{Leases: noLeases{}, Holder: "w", Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if c.shutdown {
			cancel()
		}
		w.RunOnce(ctx, worker.Job{Name: "job:alerts", Every: time.Minute, Shared: true,
			Run: func(context.Context, time.Time) error { return c.err }}, time.Now())
		cancel()
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "level="+strings.Replace(c.want, " ", ` msg="`, 1)+`"`) {
			t.Errorf("%s: logged %q, want one line %q", c.name, buf.String(), c.want)
		}
		if c.want[0] == 'I' && strings.Contains(buf.String(), "save alert") {
			t.Errorf("%s: logged the cancelled writes: %q", c.name, buf.String())
		}
	}
}

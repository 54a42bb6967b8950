// Package worker runs a process's scheduled and long-running jobs. Several
// worker dynos may share one store: a job takes a lease in it before running,
// so that one worker of them runs it per interval and another takes over when
// that one dies. Checks, window rules, outbox delivery, retention and pull
// mode's tails all register their jobs here.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// Leases is what a Worker needs from the store.
type Leases interface {
	// AcquireLease takes the lease name for holder until now+ttl if it is
	// free, expired or holder's already, and reports whether holder has it.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
}

// Options configures a Worker.
type Options struct {
	Leases Leases
	Holder string // this worker's name among those sharing the store
	Logger *slog.Logger
	Now    func() time.Time // optional: the clock of leases and runs
}

func (o *Options) validate() error {
	switch {
	case o.Leases == nil:
		return errors.New("worker: Options.Leases is required")
	case o.Holder == "":
		return errors.New("worker: Options.Holder is required")
	case o.Logger == nil:
		return errors.New("worker: Options.Logger is required")
	}
	return nil
}

// Job runs every Every, never beside itself: a run that outlasts its
// interval delays only its own next run.
type Job struct {
	// Name is the job's lease, namespaced by the caller ("job:prune",
	// "check:db"): it is shared by every worker on the store.
	Name  string
	Every time.Duration
	// MinLease makes the lease last at least this long, so that runs never
	// overlap across workers (a check's timeout when it is near Every).
	MinLease time.Duration
	// Shared jobs take no lease: every worker runs them (the outbox, which
	// hands each row to one worker itself).
	Shared bool
	// Immediately runs the job once at start rather than after Every.
	Immediately bool
	// Run is the job. Its error is logged (at info when it is ctx's, at
	// shutdown); the job runs again next interval.
	Run func(ctx context.Context, now time.Time) error
}

// Held is a long job that runs for as long as this worker holds its lease:
// the lease is renewed while it runs, and Run's context ends when the lease
// is lost to another worker.
type Held struct {
	Name  string        // the lease, namespaced by the caller ("tail:app")
	Lease time.Duration // how long the lease lasts between renewals: another worker takes over within about this
	// Run runs while the lease is held. On nil it is run again once the
	// lease is (still or again) held; an error ends the job and is logged.
	Run func(ctx context.Context) error
}

// Worker runs Jobs on one scheduler and Held jobs on goroutines of their own.
type Worker struct {
	o    Options
	s    gocron.Scheduler
	held []Held
}

// New returns a Worker without jobs.
func New(o Options) (*Worker, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	// Running jobs see their context end first; this bounds the wait for one
	// that ignores it.
	s, err := gocron.NewScheduler(gocron.WithStopTimeout(20 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("worker: scheduler: %w", err)
	}
	return &Worker{o: o, s: s}, nil
}

// Lease is how long the lease of a job run every every lasts: most of an
// interval, or atLeast if longer. It is never released: released early, a
// second worker whose timer fires a moment later would run the job again.
// The holder renews it at its next run; if it dies, another worker takes
// over once it ends, within one interval.
func Lease(every, atLeast time.Duration) time.Duration {
	return max(every*9/10, atLeast)
}

// Add schedules j. Jobs added after Run has started are not run.
func (w *Worker) Add(j Job) error {
	if j.Name == "" || j.Every <= 0 || j.Run == nil {
		return fmt.Errorf("worker: job %q needs a Name, an Every above 0 and a Run", j.Name)
	}
	opts := []gocron.JobOption{gocron.WithName(j.Name), gocron.WithSingletonMode(gocron.LimitModeReschedule)}
	if j.Immediately {
		opts = append(opts, gocron.WithStartAt(gocron.WithStartImmediately()))
	}
	if _, err := w.s.NewJob(gocron.DurationJob(j.Every), gocron.NewTask(func(ctx context.Context) { w.runOnce(ctx, j, w.o.Now()) }), opts...); err != nil {
		return fmt.Errorf("worker: scheduling %s: %w", j.Name, err)
	}
	return nil
}

// AddHeld adds h, started by Run.
func (w *Worker) AddHeld(h Held) error {
	if h.Name == "" || h.Lease <= 0 || h.Run == nil {
		return fmt.Errorf("worker: held job %q needs a Name, a Lease above 0 and a Run", h.Name)
	}
	w.held = append(w.held, h)
	return nil
}

// Run runs the jobs until ctx is done, then waits for the runs in flight
// (their context is done too) and the held jobs to end.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, h := range w.held {
		wg.Go(func() { w.hold(ctx, h) })
	}
	w.s.Start()
	w.o.Logger.Info("worker started", "holder", w.o.Holder, "jobs", len(w.s.Jobs()), "held", len(w.held))
	<-ctx.Done()
	err := w.s.Shutdown()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("worker: shutdown: %w", err)
	}
	return nil
}

// runOnce runs j if it is shared or this worker holds, or can take, its lease.
func (w *Worker) runOnce(ctx context.Context, j Job, now time.Time) {
	if !j.Shared {
		ok, err := w.o.Leases.AcquireLease(ctx, j.Name, w.o.Holder, Lease(j.Every, j.MinLease), now)
		if err != nil {
			w.o.Logger.Error("job lease", "job", j.Name, "err", err)
			return
		}
		if !ok {
			return
		}
	}
	err := j.Run(ctx, now)
	switch {
	case err == nil:
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		// Shutdown cut the run short: not a failure, and its error may join
		// one cancelled write per app, so it is told once and without them.
		w.o.Logger.Info("job cut short by shutdown", "job", j.Name)
	default:
		w.o.Logger.Error("job failed", "job", j.Name, "err", err)
	}
}

// hold runs h whenever this worker holds its lease, until ctx is done or h
// fails. It tries to take the lease, and renews it, every third of its
// length, so a renewal missed once does not lose it.
func (w *Worker) hold(ctx context.Context, h Held) {
	for ctx.Err() == nil {
		ok, err := w.o.Leases.AcquireLease(ctx, h.Name, w.o.Holder, h.Lease, w.o.Now())
		if err != nil || !ok {
			if err != nil {
				w.o.Logger.Error("job lease", "job", h.Name, "err", err)
			}
			Sleep(ctx, h.Lease/3)
			continue
		}
		hctx, cancel := context.WithCancel(ctx)
		go func() { // renew while running; stop running when it is lost
			for Sleep(hctx, h.Lease/3) == nil {
				if ok, err := w.o.Leases.AcquireLease(hctx, h.Name, w.o.Holder, h.Lease, w.o.Now()); err != nil || !ok {
					cancel()
					return
				}
			}
		}()
		err = h.Run(hctx)
		cancel()
		if err != nil {
			w.o.Logger.Error("job stopped", "job", h.Name, "err", err)
			return
		}
	}
}

// Sleep waits for d or until ctx is done, and returns ctx's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

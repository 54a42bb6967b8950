package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/dynowatch/dynowatch/alert"
	"github.com/dynowatch/dynowatch/checks"
	"github.com/dynowatch/dynowatch/store"
)

// loadChecks reads the CHECK_<NAME> config vars. Every role checks them at
// start, so a bad one fails the release phase rather than a worker later.
func loadChecks() ([]checks.Check, error) { return checks.Load(os.Environ()) }

// startChecks runs the status checks on the worker. Their alert observations
// are applied at once: a worker-only dyno runs no engine loop to drain a queue.
func startChecks(ctx context.Context, list []checks.Check, log *slog.Logger, st *store.Store, al *alerting, holder string) (stop func() error, err error) {
	if len(list) == 0 {
		return func() error { return nil }, nil
	}
	r, err := checks.NewRunner(checks.RunnerOptions{Checks: list, Store: checkStore{st}, Logger: log, Holder: holder, Ran: al.metrics.CheckRan,
		Observe: func(obs []alert.Observation) {
			if err := al.engine.Apply(context.WithoutCancel(ctx), obs); err != nil {
				log.Error("check alerts", "err", err)
			}
		}})
	if err != nil {
		return nil, err
	}
	return r.Start(ctx) // which logs that they started
}

// checkStore gives the checks the store in their terms.
type checkStore struct{ *store.Store }

func (s checkStore) RecordCheck(ctx context.Context, r checks.Result) error {
	return s.Store.RecordCheck(ctx, store.CheckResult(r))
}

func (s checkStore) CheckResults(ctx context.Context, name string, since time.Time, limit int) ([]checks.Result, error) {
	rs, err := s.Store.CheckResults(ctx, name, since, limit)
	out := make([]checks.Result, len(rs))
	for i, r := range rs {
		out[i] = checks.Result(r)
	}
	return out, err
}

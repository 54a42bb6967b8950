package main

import (
	"context"
	"log/slog"
	"slices"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/worker"
)

// addChecks puts the status checks on the worker w. Their alert observations
// are applied at once: a worker-only dyno runs no engine loop to drain a
// queue, and shutdown does not cut an observation short. lookup finds the
// config var of an env:VAR target (config.Config.LookupEnv).
func addChecks(w *worker.Worker, list []checks.Check, lookup func(string) (string, bool), log *slog.Logger, st *store.Store, al *alerting, holder string) error {
	if len(list) == 0 {
		return nil
	}
	r, err := checks.NewRunner(checks.RunnerOptions{Checks: list, LookupEnv: lookup, Store: st, Logger: log, Holder: holder, Ran: al.metrics.CheckRan,
		Observe: func(obs []alert.Observation) {
			if err := al.engine.Apply(context.Background(), obs); err != nil {
				log.Error("check alerts", "err", err)
			}
		}})
	if err != nil {
		return err
	}
	for _, j := range r.Jobs() {
		if err := w.Add(j); err != nil {
			return err
		}
	}
	log.Info("status checks scheduled", "checks", len(list), "holder", holder)
	return nil
}

// configuredStore is the store as the dashboard and the API read it.
type configuredStore struct {
	*store.Store
	checks map[string]bool
}

// configuredChecks gives the dashboard and the API the store with the
// latest runs of the checks configured now only: a check removed from the
// config vars keeps its results until they are pruned, but it is not "down".
func configuredChecks(st *store.Store, list []checks.Check) configuredStore {
	names := map[string]bool{}
	for _, c := range list {
		names[c.Name] = true
	}
	return configuredStore{Store: st, checks: names}
}

// LatestChecks returns the latest run of every configured check.
func (s configuredStore) LatestChecks(ctx context.Context) ([]checks.Result, error) {
	all, err := s.Store.LatestChecks(ctx)
	return slices.DeleteFunc(all, func(r checks.Result) bool { return !s.checks[r.Check] }), err
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/worker"
)

// How often the worker's jobs run.
const (
	pruneEvery   = 10 * time.Minute       // delete data past its retention
	alertEvery   = 15 * time.Second       // window rules, resolutions, reminders
	memoryEvery  = time.Minute            // memory forecasts: samples are kept per minute
	releaseEvery = time.Minute            // release verdicts: rollups are per minute
	sendEvery    = 250 * time.Millisecond // deliver the outbox: an R14 reaches a phone in about a second
	// sendBatch is how many rows the worker claims at a time. Small, so that
	// during a backlog an R14 written meanwhile is claimed (urgent rows go
	// first) after at most this many sends, not after a long batch.
	sendBatch = 10
)

// newWorker builds the worker's scheduled jobs. Several worker dynos may
// run: each job takes a lease in the store, so one of them runs it per
// interval, and another takes over when that one dies.
func newWorker(cfg *config.Config, log *slog.Logger, st *store.Store, al *alerting) (*worker.Worker, error) {
	w, err := worker.New(worker.Options{Leases: st, Holder: workerID(cfg), Logger: log})
	if err != nil {
		return nil, err
	}
	retention := store.Retention{
		Events: cfg.RetentionEvents.D(), Minute: cfg.RetentionMinute.D(), Samples: cfg.RetentionMinute.D(),
		Hourly: cfg.RetentionHourly.D(), DedupeKeys: store.DefaultRetention().DedupeKeys, Alerts: cfg.RetentionEvents.D(), Checks: cfg.RetentionMinute.D(),
	}
	sender, err := notify.NewSender(notify.SenderOptions{Outbox: st, Refs: st, Notifiers: al.notifiers, Holder: workerID(cfg), Logger: log,
		Delivered: al.metrics.Delivered, Storms: st, DashboardURL: publicURL(cfg).String()})
	if err != nil {
		return nil, err
	}
	jobs := []worker.Job{
		// Window rules and the passing of time, by one worker per interval.
		{Name: "job:alerts", Every: alertEvery, Run: al.evaluate},
		{Name: "job:memory", Every: memoryEvery, Run: al.forecastMemory},
		{Name: "job:releases", Every: releaseEvery, Run: al.judgeReleases},
		// Delivery by every worker: the outbox hands each row to one of them.
		{Name: "job:outbox", Every: sendEvery, Shared: true, Run: func(ctx context.Context, _ time.Time) error {
			for {
				sent, failed, err := sender.SendDue(ctx, sendBatch)
				if err != nil {
					log.Error("sending notifications", "err", err)
				}
				if sent+failed < sendBatch || ctx.Err() != nil {
					return nil
				}
			}
		}},
		{Name: "job:prune", Every: pruneEvery, Immediately: true, Run: func(ctx context.Context, now time.Time) error {
			res, err := st.Prune(ctx, now, retention)
			if err == nil {
				log.Info("pruned old data", "result", fmt.Sprintf("%+v", res))
			}
			return err
		}},
	}
	if cfg.HeartbeatURL != "" {
		jobs = append(jobs, worker.Job{Name: "job:heartbeat", Every: time.Minute, Immediately: true, Run: func(ctx context.Context, _ time.Time) error {
			return heartbeat(ctx, cfg.HeartbeatURL)
		}})
	}
	for _, j := range jobs {
		if err := w.Add(j); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// workerID names this process among the workers sharing the store.
func workerID(cfg *config.Config) string {
	host, _ := os.Hostname()
	if cfg.Dyno != "" {
		host = cfg.Dyno + "@" + host
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}

// heartbeat pings the dead-man's switch. Its URL is a secret (it holds the
// switch's id), so errors name only its host.
func heartbeat(ctx context.Context, rawURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", rawURL, nil)
	if err != nil {
		return errors.New("heartbeat: HEARTBEAT_URL is not a URL")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("heartbeat to %s: request failed", req.URL.Host)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("heartbeat to %s: %s", req.URL.Host, resp.Status)
	}
	return nil
}

// addTails follows every app of TAIL_APPS on the worker w, each on the
// worker that holds its lease.
func addTails(w *worker.Worker, cfg *config.Config, log *slog.Logger, sink drain.Sink) error {
	if len(cfg.TailApps) == 0 {
		return nil
	}
	client, err := sessionClient(cfg, log)
	if err != nil {
		return err
	}
	for _, j := range client.Jobs(cfg.TailApps, sink) {
		if err := w.AddHeld(j); err != nil {
			return err
		}
	}
	log.Info("pull mode: following apps through log sessions", "apps", len(cfg.TailApps))
	return nil
}

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

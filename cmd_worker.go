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

	"github.com/go-co-op/gocron/v2"

	"github.com/dynowatch/dynowatch/config"
	"github.com/dynowatch/dynowatch/notify"
	"github.com/dynowatch/dynowatch/store"
)

// How often the worker's jobs run.
const (
	pruneEvery = 10 * time.Minute       // delete data past its retention
	alertEvery = 15 * time.Second       // window rules, resolutions, reminders
	sendEvery  = 250 * time.Millisecond // deliver the outbox: an R14 reaches a phone in about a second
	// sendBatch is how many rows the worker claims at a time. Small, so that
	// during a backlog an R14 written meanwhile is claimed (urgent rows go
	// first) after at most this many sends, not after a long batch.
	sendBatch = 10
)

// startWorker starts the worker's scheduled jobs and returns how to stop them.
// Several worker dynos may run: each job takes a lease in the store, so one
// of them runs it per interval, and another takes over when that one dies.
func startWorker(ctx context.Context, cfg *config.Config, log *slog.Logger, st *store.Store, al *alerting) (stop func() error, err error) {
	s, err := gocron.NewScheduler(gocron.WithStopTimeout(20 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("worker scheduler: %w", err)
	}
	holder := workerID(cfg)
	retention := store.Retention{
		Events: cfg.RetentionEvents.D(), Minute: cfg.RetentionMinute.D(), Samples: cfg.RetentionMinute.D(),
		Hourly: cfg.RetentionHourly.D(), DedupeKeys: store.DefaultRetention().DedupeKeys, Alerts: cfg.RetentionEvents.D(), Checks: cfg.RetentionMinute.D(),
	}
	sender, err := notify.NewSender(notify.SenderOptions{Outbox: st, Refs: st, Notifiers: al.notifiers, Holder: holder, Logger: log,
		Delivered: al.metrics.Delivered})
	if err != nil {
		return nil, err
	}
	// Window rules and the passing of time, by one worker per interval.
	if _, err = s.NewJob(gocron.DurationJob(alertEvery),
		gocron.NewTask(func(ctx context.Context) {
			leased(ctx, log, st, "alerts", holder, alertEvery, time.Now(), al.evaluate)
		}),
		gocron.WithName("alerts"), gocron.WithSingletonMode(gocron.LimitModeReschedule), gocron.WithContext(ctx),
	); err != nil {
		return nil, fmt.Errorf("scheduling alerts: %w", err)
	}
	// Delivery by every worker: the outbox hands each row to one of them.
	if _, err = s.NewJob(gocron.DurationJob(sendEvery),
		gocron.NewTask(func(ctx context.Context) {
			for {
				sent, failed, err := sender.SendDue(ctx, sendBatch)
				if err != nil {
					log.Error("sending notifications", "err", err)
				}
				if sent+failed < sendBatch || ctx.Err() != nil {
					return
				}
			}
		}),
		gocron.WithName("outbox"), gocron.WithSingletonMode(gocron.LimitModeReschedule), gocron.WithContext(ctx),
	); err != nil {
		return nil, fmt.Errorf("scheduling the outbox: %w", err)
	}
	_, err = s.NewJob(gocron.DurationJob(pruneEvery),
		gocron.NewTask(func(ctx context.Context) {
			leased(ctx, log, st, "prune", holder, pruneEvery, time.Now(), func(ctx context.Context, now time.Time) error {
				res, err := st.Prune(ctx, now, retention)
				if err == nil {
					log.Info("pruned old data", "result", fmt.Sprintf("%+v", res))
				}
				return err
			})
		}),
		gocron.WithName("prune"),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithStartAt(gocron.WithStartImmediately()),
		gocron.WithContext(ctx),
	)
	if err != nil {
		return nil, fmt.Errorf("scheduling prune: %w", err)
	}
	if cfg.HeartbeatURL != "" {
		if _, err = s.NewJob(gocron.DurationJob(time.Minute),
			gocron.NewTask(func(ctx context.Context) {
				leased(ctx, log, st, "heartbeat", holder, time.Minute, time.Now(), func(ctx context.Context, _ time.Time) error {
					return heartbeat(ctx, cfg.HeartbeatURL)
				})
			}),
			gocron.WithName("heartbeat"), gocron.WithStartAt(gocron.WithStartImmediately()), gocron.WithContext(ctx),
		); err != nil {
			return nil, fmt.Errorf("scheduling the heartbeat: %w", err)
		}
	}
	s.Start()
	log.Info("worker started", "holder", holder)
	return s.Shutdown, nil
}

// leased runs job if this worker holds, or can take, the job's lease. The
// lease lasts a little less than the interval, so the job runs once per
// interval across all workers, and is not released: released early, a second
// worker whose timer fires a moment later would run it again.
func leased(ctx context.Context, log *slog.Logger, st *store.Store, job, holder string, every time.Duration, now time.Time, run func(context.Context, time.Time) error) {
	ok, err := st.AcquireLease(ctx, "job:"+job, holder, every*9/10, now)
	if err != nil {
		log.Error("job lease", "job", job, "err", err)
		return
	}
	if !ok {
		return
	}
	if err := run(ctx, now); err != nil {
		log.Error("job failed", "job", job, "err", err)
	}
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

package main

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/parse"
	"github.com/dynowatch/dynowatch/internal/store"
)

// alerting is the alert side of a process: rules, the detector that reads
// drained lines, the engine that keeps alert states, and the channels.
type alerting struct {
	rules     *alert.Rules
	detector  *alert.Detector
	engine    *alert.Engine
	notifiers []notify.Notifier
	store     *store.Store
	log       *slog.Logger
	metrics   *metrics
	// changes are the channels told of releases and deploys (PagerDuty),
	// linking dashboard; now is the clock of their rows.
	changes   []string
	dashboard string
	now       func() time.Time
}

// newAlerting sets up alerting for the rules and the checks configured now;
// now is its clock (time.Now but in tests).
func newAlerting(cfg *config.Config, rules *alert.Rules, checkList []checks.Check, log *slog.Logger, st *store.Store, met *metrics, now func() time.Time) (*alerting, error) {
	notifiers, err := notify.Channels(cfg)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(notifiers))
	for i, n := range notifiers {
		names[i] = n.Name()
	}
	if len(names) == 0 {
		log.Warn("no alert channel configured: alerts are kept and shown, but nobody is told (set " + notify.ChannelVars + ")")
	}
	engine, err := alert.NewEngine(alert.EngineOptions{Store: st, Rules: rules, Channels: names, Logger: log,
		DashboardURL: publicURL(cfg).String(), Timezone: cfg.Timezone, Now: now, Retired: removedCheck(checkList),
		Causes: storageChecks(checkList)})
	if err != nil {
		return nil, err
	}
	return &alerting{rules: rules, engine: engine, notifiers: notifiers, store: st, log: log, metrics: met,
		changes: notify.ChangeChannels(notifiers), dashboard: publicURL(cfg).String(), now: now,
		detector: &alert.Detector{Rules: rules, KeepQueryStrings: cfg.KeepQueryStrings, KeepClientIPs: cfg.KeepClientIPs}}, nil
}

// storageChecks names, for an app, the alerts of its Postgres and Redis
// checks: the causes its request timeouts and 5xx join (see alert's
// cause.go).
func storageChecks(list []checks.Check) func(app string) []alert.Key {
	return func(app string) []alert.Key {
		var out []alert.Key
		for _, c := range list {
			if c.App == app && (c.Kind == checks.Postgres || c.Kind == checks.Redis) {
				out = append(out, alert.Key{Rule: alert.RuleCheck, App: app, Code: c.Name})
			}
		}
		return out
	}
}

// removedCheck says whether a check alert is of none of the checks in list:
// its CHECK_ var was removed, or its app= changed.
func removedCheck(list []checks.Check) func(alert.Key) bool {
	return func(k alert.Key) bool {
		return k.Rule == alert.RuleCheck && !slices.ContainsFunc(list, func(c checks.Check) bool { return c.Name == k.Code && c.App == k.App })
	}
}

// observe is the drain's hook: alert rules see every committed batch.
func (a *alerting) observe(app string, entries []parse.Entry) {
	a.engine.Observe(a.detector.Observe(app, entries))
	a.tellChanges(app, entries)
}

// changeTimeout bounds writing a batch's releases and deploys to the
// outbox: the drain's hook has no context of its own, and the batch is
// committed already.
const changeTimeout = 5 * time.Second

// tellChanges writes the releases and deploys among entries to the outbox
// of the channels that take them, once per line (see notify.Changes).
// Replayed batches never get here.
func (a *alerting) tellChanges(app string, entries []parse.Entry) {
	if len(a.changes) == 0 {
		return
	}
	out, err := notify.Changes(app, entries, a.changes, a.dashboard, a.now())
	if err == nil && len(out) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), changeTimeout)
		err = a.store.Enqueue(ctx, out...)
		cancel()
	}
	if err != nil {
		a.log.Error("telling of a release or deploy", "app", app, "err", err)
	}
}

// evaluate runs the window rules over every app and lets time act on the
// active alerts (the worker's job, every alertEvery).
func (a *alerting) evaluate(ctx context.Context, now time.Time) error {
	return a.engine.EvaluateWindows(ctx, a.store, now)
}

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
	engine, err := alert.NewEngine(alert.EngineOptions{Store: st, Rules: rules, Channels: names, Escalation: cfg.EscalationTiers(), Logger: log,
		DashboardURL: publicURL(cfg).String(), Timezone: cfg.Timezone, Now: now, Retired: removedCheck(checkList)})
	if err != nil {
		return nil, err
	}
	return &alerting{rules: rules, engine: engine, notifiers: notifiers, store: st, log: log, metrics: met,
		detector: &alert.Detector{Rules: rules, KeepQueryStrings: cfg.KeepQueryStrings, KeepClientIPs: cfg.KeepClientIPs}}, nil
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
}

// evaluate runs the window rules over every app and lets time act on the
// active alerts (the worker's job, every alertEvery).
func (a *alerting) evaluate(ctx context.Context, now time.Time) error {
	return a.engine.EvaluateWindows(ctx, a.store, now)
}

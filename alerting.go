package main

import (
	"context"
	"log/slog"
	"math"
	"os"
	"slices"
	"time"

	"github.com/dynowatch/dynowatch/alert"
	"github.com/dynowatch/dynowatch/checks"
	"github.com/dynowatch/dynowatch/config"
	"github.com/dynowatch/dynowatch/notify"
	"github.com/dynowatch/dynowatch/parse"
	"github.com/dynowatch/dynowatch/store"
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

// loadRules reads the ALERT_<RULE>_… config vars. Every role checks them at
// start, so a typo fails the release phase rather than a worker later.
func loadRules() (*alert.Rules, error) {
	return alert.LoadRules(os.Environ(), config.ChannelVars())
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
	apps, err := a.store.Apps(ctx)
	if err != nil {
		return err
	}
	var obs []alert.Observation
	for _, app := range apps {
		stats := map[time.Duration]store.WindowStats{}
		for _, rule := range alert.WindowRules {
			r := a.rules.For(app.Name, rule)
			if !r.Enabled {
				continue
			}
			ws, ok := stats[r.Window]
			if !ok && !app.LastMessage.Before(now.Add(-r.Window)) {
				// Only an app that spoke through a live drain in the window is
				// judged by it: replayed history fills the same rollups, and
				// must never page.
				if ws, err = a.store.WindowStats(ctx, app.Name, now.Add(-r.Window), now); err != nil {
					return err
				}
				stats[r.Window] = ws
			}
			p95 := math.NaN()
			if ws.Service.Count() > 0 {
				p95 = ws.Service.Quantile(0.95)
			}
			obs = append(obs, a.rules.WindowObservations(rule, alert.Window{App: app.Name, Requests: ws.Requests,
				Status5xx: ws.Status5xx, P95: p95, LastMessage: app.LastMessage}, now)...)
		}
	}
	stats, err := a.store.OutboxStats(ctx, now)
	if err != nil {
		return err
	}
	names := make([]string, len(a.notifiers))
	for i, n := range a.notifiers {
		names[i] = n.Name()
	}
	obs = append(obs, a.rules.DeliveryObservations(alert.DeliveryHealth{Oldest: stats.Oldest, FailedByChannel: stats.FailedByChannel,
		LastError: stats.LastError, Channels: names}, now)...)
	if err := a.engine.Apply(ctx, obs); err != nil {
		return err
	}
	return a.engine.Tick(ctx)
}

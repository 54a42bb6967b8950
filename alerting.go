package main

import (
	"context"
	"encoding/json"
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
	engine, err := alert.NewEngine(alert.EngineOptions{Store: alertStore{st}, Rules: rules, Channels: names, Logger: log,
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
	return a.engine.EvaluateWindows(ctx, windowSource{a.store}, now)
}

// windowSource gives the window rules the store in their terms.
type windowSource struct{ st *store.Store }

func (w windowSource) Apps(ctx context.Context) ([]alert.AppHeard, error) {
	apps, err := w.st.Apps(ctx)
	out := make([]alert.AppHeard, len(apps))
	for i, a := range apps {
		out[i] = alert.AppHeard{Name: a.Name, LastMessage: a.LastMessage}
	}
	return out, err
}

func (w windowSource) Window(ctx context.Context, app string, from, to time.Time) (alert.Window, error) {
	ws, err := w.st.WindowStats(ctx, app, from, to)
	p95 := math.NaN()
	if ws.Service.Count() > 0 {
		p95 = ws.Service.Quantile(0.95)
	}
	return alert.Window{App: app, Requests: ws.Requests, Status5xx: ws.Status5xx, P95: p95}, err
}

func (w windowSource) DeliveryHealth(ctx context.Context, now time.Time) (alert.DeliveryHealth, error) {
	s, err := w.st.OutboxStats(ctx, now)
	return alert.DeliveryHealth{Oldest: s.Oldest, FailedByChannel: s.FailedByChannel, LastError: s.LastError}, err
}

// alertStore gives the alert engine and sender the store in their terms.
type alertStore struct{ st *store.Store }

func (a alertStore) Alert(ctx context.Context, key string) (alert.State, bool, error) {
	s, ok, err := a.st.Alert(ctx, key)
	return fromStoreAlert(s), ok, err
}

func (a alertStore) SaveAlert(ctx context.Context, s *alert.State, expect int64, out []alert.Outgoing) (bool, error) {
	as := store.AlertState{Key: s.Key, Rule: string(s.Rule), App: s.App, Dyno: s.Dyno, Code: s.Code, Severity: string(s.Severity),
		State: string(s.Phase), Summary: s.Summary, Evidence: s.Evidence, StartedAt: s.StartedAt, FiredAt: s.FiredAt,
		ResolvedAt: s.ResolvedAt, LastEventAt: s.LastEventAt, LastNotifiedAt: s.LastNotifiedAt, Notified: s.Notified,
		Flapping: s.Flapping, Transitions: s.Transitions, Counter: s.Counter}
	for _, o := range s.Recent {
		as.Recent = append(as.Recent, store.Occurrence(o))
	}
	msgs := make([]store.OutboxMessage, len(out))
	for i, o := range out {
		msgs[i] = store.OutboxMessage{DeliveryID: o.DeliveryID, Channel: o.Channel, App: o.App, AlertKey: o.AlertKey, Status: string(o.Status),
			Severity: string(o.Severity), Urgent: o.Urgent, Payload: o.Payload, CreatedAt: o.CreatedAt, NotBefore: o.NotBefore}
	}
	ok, err := a.st.SaveAlert(ctx, &as, expect, msgs...)
	s.Version = as.Version
	return ok, err
}

func (a alertStore) ActiveAlerts(ctx context.Context) ([]alert.State, error) {
	active, err := a.st.ActiveAlerts(ctx)
	out := make([]alert.State, len(active))
	for i, s := range active {
		out[i] = fromStoreAlert(s)
	}
	return out, err
}

func (a alertStore) ActiveSilences(ctx context.Context, now time.Time) ([]alert.Silence, error) {
	sl, err := a.st.ActiveSilences(ctx, now)
	out := make([]alert.Silence, len(sl))
	for i, s := range sl {
		out[i] = alert.Silence{App: s.App, Rule: alert.RuleName(s.Rule), Key: s.Key, Until: s.Until}
		// Silences stored before the API checked names may say "H_CODES".
		if r, err := alert.ParseRuleName(s.Rule); err == nil {
			out[i].Rule = r
		}
	}
	return out, err
}

func (a alertStore) LastRelease(ctx context.Context, app string, since time.Time) (string, bool, error) {
	for _, kind := range []string{"release", "deploy"} {
		ev, err := a.st.Events(ctx, store.EventQuery{App: app, Kind: kind, Since: since, Limit: 1})
		if err != nil || len(ev) > 0 {
			if err != nil {
				return "", false, err
			}
			return ev[0].Line, true, nil
		}
	}
	return "", false, nil
}

func (a alertStore) LastGroupStart(ctx context.Context, app string, atLeast alert.Severity, since time.Time) (time.Time, bool, error) {
	items, err := a.st.Outbox(ctx, store.OutboxQuery{App: app, Limit: 50})
	if err != nil {
		return time.Time{}, false, err
	}
	for _, it := range items { // newest first
		if it.CreatedAt.Before(since) {
			break
		}
		var head struct{ Status alert.Status }
		if it.NextAttempt.After(it.CreatedAt) || alert.Severity(it.Severity).Rank() < atLeast.Rank() ||
			json.Unmarshal(it.Payload, &head) != nil || head.Status != alert.Firing {
			continue // held for a group itself, less severe, or not a firing
		}
		return it.CreatedAt, true, nil
	}
	return time.Time{}, false, nil
}

func (a alertStore) LastNotified(ctx context.Context, key string) (time.Time, bool, error) {
	return a.st.LastNotified(ctx, key)
}

func (a alertStore) ClaimOutbox(ctx context.Context, holder string, now time.Time, lease time.Duration, limit int) ([]notify.Delivery, error) {
	items, err := a.st.ClaimOutbox(ctx, holder, now, lease, limit)
	out := make([]notify.Delivery, len(items))
	for i, it := range items {
		out[i] = notify.Delivery{ID: it.ID, Channel: it.Channel, App: it.App, AlertKey: it.AlertKey, Status: alert.Status(it.Status),
			Payload: it.Payload, Attempts: it.Attempts, CreatedAt: it.CreatedAt, FiringHeard: it.FiringHeard}
	}
	return out, err
}

func (a alertStore) ExtendClaim(ctx context.Context, holder string, now time.Time, lease time.Duration, ids ...int64) ([]int64, error) {
	return a.st.ExtendClaim(ctx, holder, now, lease, ids...)
}

func (a alertStore) MarkSent(ctx context.Context, id int64, holder string, now time.Time) error {
	return a.st.MarkSent(ctx, id, holder, now)
}

func (a alertStore) MarkSkipped(ctx context.Context, id int64, holder string, now time.Time) error {
	return a.st.MarkSkipped(ctx, id, holder, now)
}

func (a alertStore) MarkFailed(ctx context.Context, id int64, holder string, now, retryAt time.Time, reason string) error {
	return a.st.MarkFailed(ctx, id, holder, now, retryAt, reason)
}

func fromStoreAlert(s store.AlertState) alert.State {
	a := alert.State{Key: s.Key, Rule: alert.RuleName(s.Rule), App: s.App, Dyno: s.Dyno, Code: s.Code, Severity: alert.Severity(s.Severity),
		Phase: alert.Phase(s.State), Summary: s.Summary, Evidence: s.Evidence, StartedAt: s.StartedAt, FiredAt: s.FiredAt,
		ResolvedAt: s.ResolvedAt, LastEventAt: s.LastEventAt, LastNotifiedAt: s.LastNotifiedAt, Notified: s.Notified,
		Flapping: s.Flapping, Transitions: s.Transitions, Counter: s.Counter, Version: s.Version}
	for _, o := range s.Recent {
		a.Recent = append(a.Recent, alert.Occurrence(o))
	}
	return a
}

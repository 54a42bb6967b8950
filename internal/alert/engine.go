package alert

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Store is what the engine needs from the store: alert states with
// compare-and-set, and the outbox written in the same transaction.
type Store interface {
	Alert(ctx context.Context, key string) (State, bool, error)
	// SaveAlert writes s if its stored version is still expect (0: it must
	// not exist yet), with out in the same transaction; false when another
	// dyno got there first. It sets s.Version.
	SaveAlert(ctx context.Context, s *State, expect int64, out []Outgoing) (bool, error)
	ActiveAlerts(ctx context.Context) ([]State, error)
	ActiveSilences(ctx context.Context, now time.Time) ([]Silence, error)
	// LastRelease returns the app's latest release or deploy event since a
	// time, as its log line, and whether there was one.
	LastRelease(ctx context.Context, app string, since time.Time) (string, bool, error)
	// LastGroupStart returns when the app's latest firing notification of
	// at least severity atLeast that went out at once (not held for a
	// group) was written, if it was since.
	LastGroupStart(ctx context.Context, app string, atLeast Severity, since time.Time) (time.Time, bool, error)
	// LastNotified returns, for each of keys whose alert's latest firing or
	// reminder is written, when it went out, or Pending while it has not
	// yet; zero if it never will. Tick asks it of every firing alert at
	// once: one query, not one an alert.
	LastNotified(ctx context.Context, keys []string) (map[string]Notified, error)
}

// Notified is when an alert's latest firing or reminder went out.
type Notified struct {
	SentAt  time.Time
	Pending bool // written, not sent yet
}

// Outgoing is one notification for one channel, as the outbox keeps it.
// The outbox sends the notifications of one alert on one channel in order,
// and a reminder or resolved only where the alert's firing was heard.
type Outgoing struct {
	DeliveryID string
	Channel    string
	App        string
	AlertKey   string
	Status     Status
	Severity   Severity
	Urgent     bool      // a page of an instant rule (Instant): delivered before everything else
	Payload    []byte    // the Notification as JSON
	CreatedAt  time.Time // the engine's clock when it was written, not a log's time
	NotBefore  time.Time // held until its group goes out; zero: at once
}

// Silence mutes what it matches until Until, such as an app during planned
// maintenance; an empty App, Rule or Key matches every value.
type Silence struct {
	ID        int64 // set by the store
	App       string
	Rule      RuleName
	Key       string
	Until     time.Time
	Reason    string
	CreatedBy string
	CreatedAt time.Time
}

func (s Silence) matches(st *State) bool {
	return (s.App == "" || s.App == st.App) && (s.Rule == "" || s.Rule == st.Rule) && (s.Key == "" || s.Key == st.Key)
}

// EngineOptions configures an Engine.
type EngineOptions struct {
	Store    Store
	Rules    *Rules
	Channels []string // names of the notifiers
	// Escalation says which of Channels are told when: at once, or later
	// if nobody acknowledges the alert. Zero: every channel at once.
	Escalation   Escalation
	Logger       *slog.Logger
	Now          func() time.Time // optional
	DashboardURL string           // for links; optional
	Timezone     string           // ALERT_TIMEZONE; optional
	// AckURL, if set, returns the signed link that acknowledges the alert
	// key's episode that started at episode (State.StartedAt), made at now,
	// for its firing, reminder and flapping notices.
	AckURL func(key string, episode, now time.Time) string
	// Causes, if set, names the alerts whose failing explains an app's
	// request timeouts and 5xx: its Postgres and Redis status checks. See
	// cause.go.
	Causes func(app string) []Key
	// Retired, if set, says whether an alert's source is gone for good (a
	// status check no longer configured), so that Tick resolves it instead
	// of waiting for an observation that will never come. Alerts of rules
	// turned off and of channels no longer set up are retired without it.
	Retired func(Key) bool
}

// Engine applies observations to the alerts' stored states and writes the
// notifications they call for to the outbox. Any number of dynos may run
// one: states change by compare-and-set.
type Engine struct {
	o     EngineOptions
	obs   *obsQueue
	tiers map[Severity]Tiers // the channels of each escalation tier, by severity
}

// NewEngine returns an Engine.
func NewEngine(o EngineOptions) (*Engine, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("alert: EngineOptions.Store is required")
	case o.Rules == nil:
		return nil, errors.New("alert: EngineOptions.Rules is required")
	case o.Logger == nil:
		return nil, errors.New("alert: EngineOptions.Logger is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	tiers, err := o.Escalation.resolve(o.Channels)
	if err != nil {
		return nil, err
	}
	return &Engine{o: o, obs: newObsQueue(), tiers: tiers}, nil
}

// Observe queues observations for Run without waiting on the store: the
// drain calls it. Nothing is dropped: the observations of one alert merge
// into one, and when maxPendingKeys alerts are waiting, non-urgent ones fold
// into their app's alert of the rule (see Folded).
func (e *Engine) Observe(obs []Observation) {
	if len(obs) > 0 {
		e.obs.push(obs)
	}
}

// QueueDepth is the number of alerts with observations waiting for Run.
func (e *Engine) QueueDepth() int { return e.obs.depth() }

// Folded is the number of observations folded into their app's alert of
// the rule because the queue was full.
func (e *Engine) Folded() int64 { return e.obs.foldedCount() }

// FinalApplyTimeout bounds what Run does after ctx is done: applying what
// is still queued. Heroku kills a dyno 30 s after SIGTERM.
const FinalApplyTimeout = 15 * time.Second

// Run applies queued observations until ctx is done: urgent ones (R codes,
// crashes) as soon as they arrive and before any other, the rest at least
// every interval. Then it applies what is left, urgent ones first, within
// FinalApplyTimeout.
func (e *Engine) Run(ctx context.Context, interval time.Duration) error {
	// An apply under way is not cut short when ctx is done: its
	// observations were committed with their batches, and would be lost.
	applyCtx := context.WithoutCancel(ctx)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-e.obs.wake:
		case <-tick.C:
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(applyCtx, FinalApplyTimeout)
			defer cancel()
			err := e.applyQueued(fctx, fctx.Done())
			if n := e.obs.depth(); n > 0 {
				err = errors.Join(err, fmt.Errorf("alert: the observations of %d alerts not applied within %v", n, FinalApplyTimeout))
			}
			return err
		}
		if err := e.applyQueued(applyCtx, ctx.Done()); err != nil {
			e.o.Logger.Error("applying alert observations", "err", err)
		}
	}
}

// applyQueued applies what is queued, urgent observations first and again
// between every chunk of the rest, until the queue is empty or stop closes.
func (e *Engine) applyQueued(ctx context.Context, stop <-chan struct{}) error {
	var errs []error
	for {
		obs := e.obs.take(0, 0)
		if len(obs) == 0 {
			obs = e.obs.take(1, applyChunk)
		}
		if len(obs) == 0 {
			return errors.Join(errs...)
		}
		if err := e.Apply(ctx, obs); err != nil {
			errs = append(errs, err)
		}
		select {
		case <-stop:
			return errors.Join(errs...)
		default:
		}
	}
}

// Apply applies observations now, coalescing the events of each alert.
func (e *Engine) Apply(ctx context.Context, obs []Observation) error {
	now := e.o.Now()
	silences, err := e.o.Store.ActiveSilences(ctx, now)
	if err != nil {
		return fmt.Errorf("alert: silences: %w", err)
	}
	var errs []error
	for _, group := range coalesce(e.inTime(obs, now)) {
		if group[0].Rule != RuleMaintenance && !e.o.Rules.For(group[0].App, group[0].Rule).Enabled {
			continue // ALERT_<RULE>_ENABLED=false, for every app or this one: Tick resolves what was firing
		}
		if err := e.update(ctx, group[0].Key, silences, now, func(s State, silenced bool) (State, []Status) {
			var out []Status
			r := e.o.Rules.For(group[0].App, group[0].Rule)
			if group[0].Rule == RuleMaintenance {
				r = Rule{Name: RuleMaintenance, Enabled: true, Threshold: 1, Window: e.o.Rules.Policy.MaintenanceFor, Samples: 1, Severity: Info}
				silenced = true // maintenance is a state, not something to page about
			}
			for _, o := range group {
				var st Status
				if s, st = Apply(s, o, r, e.o.Rules.Policy, silenced); st != "" {
					out = append(out, st)
				}
			}
			return s, out
		}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// maxClockAhead is how far a line's time may be ahead of the engine's clock
// and still count as it is: Heroku's clocks and ours differ by a second or
// so, and the order of a batch's lines must survive that.
const maxClockAhead = 5 * time.Minute

// inTime keeps alert clocks to the engine's own. A line's time is what
// whoever sends it says: one dated far in the future would keep its alert
// firing (and reminding) until that date, so it counts as of now; an event
// older than its rule's window is one the alert would already be over for
// (a nine-year-old R15, or history a log session replays on connecting), so
// it pages nobody. obs is changed in place.
func (e *Engine) inTime(obs []Observation, now time.Time) []Observation {
	kept := obs[:0]
	for _, o := range obs {
		if o.At.After(now.Add(maxClockAhead)) {
			o.At = now
		}
		if o.Kind == Event && o.Rule != RuleMaintenance {
			if w := e.o.Rules.For(o.App, o.Rule).Window; w > 0 && now.Sub(o.At) > w {
				continue
			}
		}
		kept = append(kept, o)
	}
	return kept
}

// Tick lets time act on every active alert: resolutions a window after the
// last event, reminders, escalation to the tiers due, the end of silences
// and of flapping.
func (e *Engine) Tick(ctx context.Context) error {
	now := e.o.Now()
	active, err := e.o.Store.ActiveAlerts(ctx)
	if err != nil {
		return fmt.Errorf("alert: active alerts: %w", err)
	}
	silences, err := e.o.Store.ActiveSilences(ctx, now)
	if err != nil {
		return fmt.Errorf("alert: silences: %w", err)
	}
	notified, err := e.lastNotified(ctx, active)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range active {
		r := e.o.Rules.For(a.App, a.Rule)
		if a.Rule == RuleMaintenance {
			r = Rule{Name: RuleMaintenance, Enabled: true, Window: e.o.Rules.Policy.MaintenanceFor, Samples: 1, Severity: Info}
		}
		retired := e.retired(&a)
		n := notified[a.Key]
		if err := e.update(ctx, a.Key, silences, now, func(s State, silenced bool) (State, []Status) {
			if s.Phase == PhaseFiring && s.Notified {
				// Reminders count from when the last notice went out, not
				// from when it was written: a firing held for its group, or
				// retried while a channel was down, is not reminded of early.
				switch {
				case n.Pending:
					s.LastNotifiedAt = now
				case !n.SentAt.IsZero():
					s.LastNotifiedAt = n.SentAt
				}
			}
			var st Status
			if retired {
				s, st = Retire(s, now)
			} else {
				s, st = Tick(s, r, e.o.Rules.Policy, now, silenced || a.Rule == RuleMaintenance)
			}
			if st == "" && !retired {
				// Escalating in a tick of its own, never with a reminder,
				// keeps a new tier from hearing a reminder before its firing.
				var up bool
				if s, up = Escalate(s, e.tiers[s.Severity], now, silenced || a.Rule == RuleMaintenance); up {
					return s, []Status{escalated}
				}
			}
			if st == "" {
				return s, nil
			}
			return s, []Status{st}
		}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RetireApp ends app's active alerts as it is forgotten (DELETE
// /api/v1/apps/{app}): a firing one resolves at once, told to whoever
// heard it fire, a pending one lapses, as Tick does with a retired alert.
func (e *Engine) RetireApp(ctx context.Context, app string) error {
	if app == "" {
		return errors.New("alert: RetireApp: app is empty") // the alerts of no app are no app's to end
	}
	now := e.o.Now()
	active, err := e.o.Store.ActiveAlerts(ctx)
	if err != nil {
		return fmt.Errorf("alert: active alerts: %w", err)
	}
	var errs []error
	for _, a := range active {
		if a.App != app {
			continue
		}
		if err := e.update(ctx, a.Key, nil, now, func(s State, _ bool) (State, []Status) {
			s, st := Retire(s, now)
			if st == "" {
				return s, nil
			}
			return s, []Status{st}
		}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Ack records that by acknowledged the alert key's firing episode, and
// why (optional), and returns its state. It reports ErrNoAlert for a key
// without state, ErrNotFiring when the episode is pending or over, and
// ErrBadAck for an empty or over-long name or reason. Acknowledging an
// episode already acknowledged changes nothing and returns the first ack.
func (e *Engine) Ack(ctx context.Context, key, by, reason string) (State, error) {
	for attempt := 0; attempt < 5; attempt++ {
		cur, ok, err := e.o.Store.Alert(ctx, key)
		if err != nil {
			return State{}, fmt.Errorf("alert %s: %w", key, err)
		}
		if !ok {
			return State{}, fmt.Errorf("%w: %s", ErrNoAlert, key)
		}
		now := e.o.Now()
		next, changed, err := Acknowledge(cur, by, reason, now)
		if err != nil || !changed {
			return next, err
		}
		var out []Outgoing
		if next.Notified { // tell whoever heard it fire: chat messages say who is on it
			if out, err = e.outgoing(ctx, &next, Acknowledged, next.Tier, now); err != nil {
				return State{}, err
			}
		}
		saved, err := e.o.Store.SaveAlert(ctx, &next, cur.Version, out)
		if err != nil {
			return State{}, fmt.Errorf("alert %s: %w", key, err)
		}
		if saved {
			e.o.Logger.Info("alert acknowledged", "key", key, "app", next.App, "by", next.Ack.By, "reason", next.Ack.Reason)
			return next, nil
		}
	}
	return State{}, fmt.Errorf("alert %s: changed by other dynos five times in a row", key)
}

// retired says whether nothing will observe the alert s again: its rule is
// off (or no longer exists), or its check or channel is no longer
// configured.
func (e *Engine) retired(s *State) bool {
	if s.Rule == RuleMaintenance {
		return false
	}
	if !e.o.Rules.For(s.App, s.Rule).Enabled {
		return true
	}
	k, err := ParseKey(s.Key)
	if err != nil {
		e.o.Logger.Warn("alert key", "err", err)
		return false
	}
	if k.Rule == RuleDelivery && k.Code != deliveryBacklog && !slices.Contains(e.o.Channels, k.Code) {
		return true
	}
	return e.o.Retired != nil && e.o.Retired(k)
}

// lastNotified asks the outbox, in one query, when the latest firing or
// reminder of each firing alert of active that was told of went out.
func (e *Engine) lastNotified(ctx context.Context, active []State) (map[string]Notified, error) {
	if len(e.o.Channels) == 0 {
		return nil, nil
	}
	var keys []string
	for i := range active {
		if a := &active[i]; a.Phase == PhaseFiring && a.Notified {
			keys = append(keys, a.Key)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	n, err := e.o.Store.LastNotified(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("alert: last notified of %d alerts: %w", len(keys), err)
	}
	return n, nil
}

// update reads an alert, changes it with fn and saves it with its
// notifications, retrying when another dyno changed it in between.
func (e *Engine) update(ctx context.Context, key string, silences []Silence, now time.Time, fn func(State, bool) (State, []Status)) error {
	for attempt := 0; attempt < 5; attempt++ {
		cur, _, err := e.o.Store.Alert(ctx, key)
		if err != nil {
			return fmt.Errorf("alert %s: %w", key, err)
		}
		next, statuses := fn(cur, e.silenced(ctx, &cur, key, silences, now))
		if next.Phase == "" && cur.Version == 0 {
			return nil // a pending condition that went away before it was ever stored
		}
		if next.Phase == "" {
			next.Phase = PhaseResolved // a lapsed pending alert is kept as over
			next.ResolvedAt = now
		}
		var out []Outgoing
		for _, st := range statuses {
			o, err := e.outgoing(ctx, &next, st, cur.Tier, now)
			if err != nil {
				return err
			}
			out = append(out, o...)
		}
		ok, err := e.o.Store.SaveAlert(ctx, &next, cur.Version, out)
		if err != nil {
			return fmt.Errorf("alert %s: %w", key, err)
		}
		if ok {
			for _, st := range statuses {
				e.o.Logger.Info("alert "+string(st), "key", key, "app", next.App, "severity", next.Severity, "tier", next.Tier, "summary", next.Summary)
			}
			return nil
		}
	}
	return fmt.Errorf("alert %s: changed by other dynos five times in a row", key)
}

// silenced says whether a silence, or maintenance mode, mutes the alert.
func (e *Engine) silenced(ctx context.Context, s *State, key string, silences []Silence, now time.Time) bool {
	probe := *s
	if probe.Key == "" {
		k, err := ParseKey(key)
		if err != nil {
			e.o.Logger.Error("alert key", "err", err)
		}
		probe.Key, probe.Rule, probe.App = key, k.Rule, k.App
	}
	for _, sl := range silences {
		if now.Before(sl.Until) && sl.matches(&probe) {
			return true
		}
	}
	if mutedInMaintenance(&probe) {
		m, ok, err := e.o.Store.Alert(ctx, Key{Rule: RuleMaintenance, App: probe.App}.String())
		if err == nil && ok && m.Phase == PhaseFiring && now.Sub(m.LastEventAt) < e.o.Rules.Policy.MaintenanceFor {
			return true
		}
	}
	return false
}

// mutedInMaintenance says whether maintenance mode mutes the alert s: its
// app's router alerts, whose errors are Heroku's maintenance page, and its
// status checks (app=), which that page answers with 503. Not a check's
// certificate: maintenance does not renew it.
func mutedInMaintenance(s *State) bool {
	switch s.Rule {
	case RuleHCodes, Rule5xxRate, RuleSlowRequests:
		return true
	case RuleCheck:
		k, err := ParseKey(s.Key)
		return err == nil && s.App != "" && k.Part == ""
	}
	return false
}

// escalated is the status of a notification to the tiers an alert just
// reached (Escalate); it goes out to them as a firing, their first news of
// the alert.
const escalated Status = "escalated"

// channels returns who is told st of s, which was at tier from before:
// a firing, reminder or resolution the tiers it reached (a resolution
// only them: the others never heard of it), an escalation the tiers it
// just reached.
func (e *Engine) channels(s *State, st Status, from int) []string {
	tiers := e.tiers[s.Severity]
	if tiers == nil {
		tiers = Tiers{{Channels: e.o.Channels}} // not a severity: no escalation
	}
	lo, hi := 0, maxTier(s, len(tiers))
	if st == escalated {
		lo = min(from, hi)
	}
	var out []string
	for _, t := range tiers[lo:hi] {
		out = append(out, t.Channels...)
	}
	return out
}

// outgoing renders a notification about s for the channels that are to
// hear it (see channels); from is the tier s was at before.
func (e *Engine) outgoing(ctx context.Context, s *State, st Status, from int, now time.Time) ([]Outgoing, error) {
	channels := e.channels(s, st, from)
	if len(channels) == 0 {
		return nil, nil
	}
	escalation := st == escalated
	if escalation {
		st = Firing
	}
	a := s.Alert()
	if e.o.AckURL != nil && !s.Acked() && (st == Firing || st == Reminder || st == Flapping) {
		a.AckURL = e.o.AckURL(s.Key, s.StartedAt, now)
	}
	if (st == Firing || st == Flapping) && s.App != "" {
		// What changed just before often is the cause: say so. An alert of
		// no app (a status check without app=) has no releases.
		line, ok, err := e.o.Store.LastRelease(ctx, s.App, s.StartedAt.Add(-releaseLookback))
		if err != nil {
			return nil, fmt.Errorf("alert %s: releases: %w", s.Key, err)
		}
		if ok {
			a.Release = line
		}
	}
	var (
		cause  State
		joined bool
	)
	if st == Firing {
		var err error
		if cause, joined, err = e.cause(ctx, s); err != nil {
			return nil, err
		}
		if joined {
			a.Cause = cause.Summary
		}
	}
	n := Notification{ID: newDeliveryID(), Status: st, Alerts: []Alert{a}, CreatedAt: now, Timezone: e.o.Timezone}
	if e.o.DashboardURL != "" {
		n.URL = strings.TrimSuffix(e.o.DashboardURL, "/") + dashboardPath(s)
	}
	payload, err := json.Marshal(&n)
	if err != nil {
		return nil, err
	}
	// One outage must not page five times: an app's first alert goes out at
	// once, those firing within GroupWait after it wait and go out together.
	// Only behind a group as severe as they are, though: a critical page is
	// never held because a warning of the same app went out first. Alerts
	// of no app share no outage, so they are never held.
	var notBefore time.Time
	switch {
	case escalation:
		// A later tier is told at once: the tier's delay was its wait.
	case joined:
		// Held whatever its severity: the cause paged already (see cause.go).
		notBefore = joinAt(cause.FiredAt, now, e.o.Rules.Policy.GroupWait)
	case st == Firing && e.o.Rules.Policy.GroupWait > 0 && s.App != "":
		start, ok, err := e.o.Store.LastGroupStart(ctx, s.App, s.Severity, now.Add(-e.o.Rules.Policy.GroupWait))
		if err != nil {
			return nil, fmt.Errorf("alert %s: grouping: %w", s.Key, err)
		}
		if ok {
			notBefore = start.Add(e.o.Rules.Policy.GroupWait)
		}
	}
	out := make([]Outgoing, 0, len(channels))
	for _, c := range channels {
		out = append(out, Outgoing{DeliveryID: n.ID, Channel: c, App: s.App, AlertKey: s.Key, Status: st, Severity: s.Severity,
			Urgent: s.Rule.Instant(), Payload: payload, CreatedAt: now, NotBefore: notBefore})
	}
	return out, nil
}

// dashboardPath is the dashboard page that shows s: its app's, or for an
// alert of no app (a status check without app=) the checks page, or the
// alerts page. dynowatch's own DELIVERY alerts carry the app name
// "dynowatch" but no app page shows them: the alerts page lists them with
// the channel's error.
func dashboardPath(s *State) string {
	switch {
	case s.Rule == RuleDelivery:
		return "/alerts"
	case s.App != "":
		return "/apps/" + url.PathEscape(s.App)
	case s.Rule == RuleCheck:
		return "/checks"
	}
	return "/alerts"
}

// releaseLookback is how long before an alert started a release is named in it.
const releaseLookback = 30 * time.Minute

// Alert is the state as a notification shows it.
func (s *State) Alert() Alert {
	return Alert{Key: s.Key, Rule: s.Rule, App: s.App, Dyno: s.Dyno, Code: s.Code, Severity: s.Severity, Summary: s.Summary,
		StartedAt: s.StartedAt, ResolvedAt: s.ResolvedAt, Evidence: s.Evidence, AckedBy: s.Ack.By, AckedAt: s.Ack.At, AckReason: s.Ack.Reason}
}

func newDeliveryID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// coalesce groups observations by alert, in order, and merges runs of events
// of one alert into one: an H12 storm is one store update a round, not one a
// line.
func coalesce(obs []Observation) [][]Observation {
	index := map[string]int{}
	var groups [][]Observation
	for _, o := range obs {
		i, ok := index[o.Key]
		if !ok {
			index[o.Key] = len(groups)
			groups = append(groups, []Observation{o})
			continue
		}
		g := groups[i]
		if last := &g[len(g)-1]; last.Kind == Event && o.Kind == Event {
			last.Count += max(o.Count, 1)
			if o.At.After(last.At) {
				last.At, last.Summary, last.Dyno = o.At, o.Summary, o.Dyno
			}
			// Keep the first lines as evidence; the rest are counted.
			continue
		}
		groups[i] = append(g, o)
	}
	return groups
}

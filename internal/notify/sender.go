package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
)

// Outbox is what the sender needs of the store's outbox: rows claimed by one
// worker at a time (a claim that outlives its lease is taken over), and
// marked sent or failed.
type Outbox interface {
	ClaimOutbox(ctx context.Context, holder string, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// ExtendClaim keeps the rows ids holder's until now+lease, and returns
	// those holder still held.
	ExtendClaim(ctx context.Context, holder string, now time.Time, lease time.Duration, ids ...int64) ([]int64, error)
	MarkSent(ctx context.Context, id int64, holder string, now time.Time) error
	// MarkSkipped settles a row its channel was not to hear.
	MarkSkipped(ctx context.Context, id int64, holder string, now time.Time) error
	// MarkFailed records a failed attempt; a zero retryAt gives up for good.
	MarkFailed(ctx context.Context, id int64, holder string, now, retryAt time.Time, reason string) error
}

// Delivery is one outbox row: a notification for one channel, as the
// engine wrote it, and its delivery so far. The outbox hands out the rows
// of one alert on one channel in order, each once the one before it is
// settled.
type Delivery struct {
	ID int64 // the row, set by the store
	alert.Outgoing
	Attempts    int       // claims so far, this one included
	NextAttempt time.Time // when it is due (Outgoing.NotBefore is not read back); zero: at once
	LastError   string    // the reason of the latest failed attempt
	ClaimedBy   string    // the holder of the latest claim: on a sent row, its sender
	SentAt      time.Time // zero until sent, or passed over (MarkSkipped)
	Heard       bool      // sent to the channel, not passed over
	GaveUpAt    time.Time // zero unless MarkFailed gave up
	// FiringHeard, on a reminder or resolved, says that this channel heard
	// the alert's firing: it is told of the rest whatever its minimum
	// severity, and nothing more if it did not hear the firing.
	FiringHeard bool
}

// follows reports whether d is told only to a channel that heard its
// alert's firing.
func (d *Delivery) follows() bool {
	return d.AlertKey != "" && d.Status.Follows()
}

// SenderOptions configures a Sender.
type SenderOptions struct {
	Outbox    Outbox
	Notifiers []Notifier
	// Refs keeps the messages of the channels that edit them (see
	// IncidentNotifier). Without it, each notification is a new message.
	Refs   MessageRefs
	Holder string // this worker, among those sharing the outbox
	Logger *slog.Logger
	Now    func() time.Time // optional
	GiveUp time.Duration    // stop retrying a notification this old; 24 h by default
	// Delivered, if set, hears of every attempt, for /metrics.
	Delivered func(channel string, ok bool)
	// Storms counts what each channel with a storm cap (Route.Storm) was
	// told; required when one has.
	Storms Storms
	// DashboardURL is linked from storm summaries; optional.
	DashboardURL string
}

// Sender delivers the outbox's notifications through the notifiers.
type Sender struct {
	o         SenderOptions
	notifiers map[string]Notifier
	routes    map[string]Route           // by channel: what its firings must pass
	storms    map[string]config.StormCap // by channel, those capped
}

// NewSender returns a Sender.
func NewSender(o SenderOptions) (*Sender, error) {
	switch {
	case o.Outbox == nil:
		return nil, errors.New("notify: SenderOptions.Outbox is required")
	case o.Holder == "":
		return nil, errors.New("notify: SenderOptions.Holder is required")
	case o.Logger == nil:
		return nil, errors.New("notify: SenderOptions.Logger is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.GiveUp == 0 {
		o.GiveUp = 24 * time.Hour
	}
	if o.Delivered == nil {
		o.Delivered = func(string, bool) {}
	}
	s := &Sender{o: o, notifiers: map[string]Notifier{}, routes: map[string]Route{}, storms: map[string]config.StormCap{}}
	for _, n := range o.Notifiers {
		switch r := n.(type) {
		case *routed:
			s.notifiers[n.Name()], s.routes[n.Name()] = r.Notifier, r.route
			if r.route.Storm.Max > 0 {
				if o.Storms == nil {
					return nil, fmt.Errorf("notify: SenderOptions.Storms is required for the storm cap of %s", n.Name())
				}
				s.storms[n.Name()] = r.route.Storm
			}
		default:
			s.notifiers[n.Name()] = n
		}
		if s.routes[n.Name()].open() {
			delete(s.routes, n.Name()) // it hears every firing, even one of no alerts
		}
	}
	return s, nil
}

// sendLease is how long a claimed row is this worker's. The sender renews it
// before each send and bounds each send to sendBound, well within it, so
// only a dead worker's rows are taken over, however slow a channel is.
const (
	sendLease = time.Minute
	sendBound = sendLease / 3
)

// backoff is the wait before the attempt after the given one: 30 s, 1 m, 2 m …, at most an hour.
func backoff(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// SendDue sends what is due, up to limit rows, and reports how it went.
// Firing notifications of one app due together on one channel (a group that
// waited out GroupWait) go out as one message. Who hears what is decided
// here, not by the channels: a firing (or a group) reaches a channel whose
// route (minimum severity, apps, rules) one of its alerts passes, and its
// reminders and resolution reach the channels that heard it, whatever
// their route.
func (s *Sender) SendDue(ctx context.Context, limit int) (sent, failed int, err error) {
	due, err := s.o.Outbox.ClaimOutbox(ctx, s.o.Holder, s.o.Now(), sendLease, limit)
	if err != nil {
		return 0, 0, fmt.Errorf("notify: claiming the outbox: %w", err)
	}
	// One send at a time per channel, the channels side by side: a slow
	// webhook delays neither the SMS nor its own rows' order.
	byChannel := map[string][][]Delivery{}
	var order []string
	for _, g := range groupDue(due) {
		ch := g[0].Channel
		if _, ok := byChannel[ch]; !ok {
			order = append(order, ch)
		}
		byChannel[ch] = append(byChannel[ch], g)
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, ch := range order {
		wg.Go(func() {
			for _, g := range byChannel[ch] {
				n, f, err := s.deliver(ctx, g)
				mu.Lock()
				sent, failed = sent+n, failed+f
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return sent, failed, errors.Join(errs...)
}

// deliver sends one group, or passes it over if its channel is not to hear
// it, and records the outcome of each of its rows. It first renews their
// claim, and leaves alone any row another worker took over meanwhile.
func (s *Sender) deliver(ctx context.Context, group []Delivery) (sent, failed int, err error) {
	ids := make([]int64, len(group))
	for i, d := range group {
		ids[i] = d.ID
	}
	kept, err := s.o.Outbox.ExtendClaim(ctx, s.o.Holder, s.o.Now(), sendLease, ids...)
	if err != nil {
		return 0, 0, fmt.Errorf("notify: renewing the claim: %w", err)
	}
	if len(kept) < len(group) {
		group = slices.DeleteFunc(slices.Clone(group), func(d Delivery) bool { return !slices.Contains(kept, d.ID) })
		if len(group) == 0 {
			return 0, 0, nil
		}
	}
	var errs []error
	told := s.hears(group)
	if told {
		if told, err = s.admits(ctx, group); err != nil {
			return 0, 0, err // the claim runs out, and the group is tried again
		}
	}
	if !told {
		for _, d := range group {
			if err := s.o.Outbox.MarkSkipped(ctx, d.ID, s.o.Holder, s.o.Now()); err != nil {
				errs = append(errs, err)
			}
		}
		return 0, 0, errors.Join(errs...)
	}
	sendCtx, cancel := context.WithTimeout(ctx, sendBound)
	retry, sendErr := s.send(sendCtx, group)
	cancel()
	s.o.Delivered(group[0].Channel, sendErr == nil)
	now := s.o.Now()
	for _, d := range group {
		if sendErr == nil {
			sent++
			if err := s.o.Outbox.MarkSent(ctx, d.ID, s.o.Holder, now); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		failed++
		retryAt := now.Add(backoff(d.Attempts))
		if wait, ok := RetryAfter(sendErr); ok && now.Add(wait).After(retryAt) {
			retryAt = now.Add(wait) // the provider asked for no sooner
		}
		if !retry || retryAt.Sub(d.CreatedAt) > s.o.GiveUp {
			retryAt = time.Time{}
		}
		s.o.Logger.Warn("notification not delivered", "channel", d.Channel, "attempt", d.Attempts, "retry_at", retryAt, "err", sendErr)
		if err := s.o.Outbox.MarkFailed(ctx, d.ID, s.o.Holder, now, retryAt, sendErr.Error()); err != nil {
			errs = append(errs, err)
		}
	}
	return sent, failed, errors.Join(errs...)
}

// hears reports whether the group's channel is to be told of it: a
// reminder, resolved or acknowledged if it heard the firing (an
// acknowledgement only if it is an ackHearer), anything else if any of its
// alerts passes the channel's route (so a group reaches a channel for the
// one alert it is to hear, with the others of the app alongside, and is
// then told of each of their resolutions). A channel that is not configured
// any more hears everything, so that the send fails and says so.
func (s *Sender) hears(group []Delivery) bool {
	if d := group[0]; d.follows() {
		if _, ok := s.notifiers[d.Channel].(ackHearer); d.Status == alert.Acknowledged && !ok {
			return false
		}
		return d.FiringHeard
	} else if d.Status == StatusStorm {
		return true
	}
	route, ok := s.routes[group[0].Channel]
	if !ok {
		return true
	}
	if d := group[0]; d.Status == StatusChange {
		return route.HearsApp(d.App) // a change has no severity or rule
	}
	for _, d := range group {
		var head struct{ Alerts []alert.Alert }
		if json.Unmarshal(d.Payload, &head) != nil {
			return true // the send reports it
		}
		for _, a := range head.Alerts {
			if route.Hears(a) {
				return true
			}
		}
	}
	return false
}

// admits reports whether the channel's storm cap lets a new incident, the
// group, through; follow-ups of incidents it was told (reminders,
// resolutions) and its own summaries always pass. An incident it collapses
// is passed over like one the channel is not to hear, so its reminders and
// resolution are passed over too (FiringHeard): the summary sent the
// channel to the dashboard, where they show.
func (s *Sender) admits(ctx context.Context, group []Delivery) (bool, error) {
	d := &group[0]
	limit, ok := s.storms[d.Channel]
	if !ok || d.follows() || d.Status == StatusStorm || d.Status == StatusChange {
		return true, nil
	}
	told, err := s.o.Storms.AdmitIncident(ctx, d.Channel, limit, group, s.o.Now())
	if err != nil {
		return false, fmt.Errorf("notify: the storm cap of %s: %w", d.Channel, err)
	}
	return told, nil
}

// sendSummary sends the storm summary d on n, saying what collapsed into
// it.
func (s *Sender) sendSummary(ctx context.Context, n Notifier, d *Delivery) (retry bool, err error) {
	if s.o.Storms == nil {
		return false, fmt.Errorf("storm summary %s: the channel %s is not capped any more", d.DeliveryID, d.Channel)
	}
	c, err := s.o.Storms.StormSummary(ctx, d.Channel, d.DeliveryID)
	if err != nil {
		return true, fmt.Errorf("notify: storm summary %s on %s: %w", d.DeliveryID, d.Channel, err)
	}
	return n.Notify(ctx, stormNote(d, c, s.o.DashboardURL, s.o.Now()))
}

// groupDue groups firing deliveries of one app and channel; every other
// delivery, and a firing of no app (a status check without app=, which
// shares no outage with another), is a group of its own.
func groupDue(due []Delivery) [][]Delivery {
	type key struct{ channel, app string }
	index := map[key]int{}
	var groups [][]Delivery
	for _, d := range due {
		if d.App != "" && d.Status == alert.Firing {
			k := key{d.Channel, d.App}
			if i, ok := index[k]; ok {
				groups[i] = append(groups[i], d)
				continue
			}
			index[k] = len(groups)
		}
		groups = append(groups, []Delivery{d})
	}
	return groups
}

// send sends a group as one notification: the most severe alert's, with
// the alerts of the others added after it, most severe first, so that what
// a channel shows first (a subject, an SMS, the webhook's top level) is the
// worst of them.
func (s *Sender) send(ctx context.Context, group []Delivery) (retry bool, err error) {
	n, ok := s.notifiers[group[0].Channel]
	if !ok {
		// Configured once, removed since: nothing will ever send it.
		return false, fmt.Errorf("channel %q is not configured any more", group[0].Channel)
	}
	switch d := &group[0]; d.Status {
	case StatusStorm:
		return s.sendSummary(ctx, n, d)
	case StatusChange:
		return sendChange(ctx, n, d)
	}
	notes := make([]alert.Notification, len(group))
	for i, d := range group {
		if err := json.Unmarshal(d.Payload, &notes[i]); err != nil {
			return false, fmt.Errorf("notification %d: %w", d.ID, err)
		}
	}
	slices.SortStableFunc(notes, func(a, b alert.Notification) int { return b.Severity().Rank() - a.Severity().Rank() })
	note := notes[0]
	for _, one := range notes[1:] {
		note.Alerts = append(note.Alerts, one.Alerts...)
	}
	in, ok := n.(IncidentNotifier)
	var keys []string
	for _, d := range group {
		if d.AlertKey != "" {
			keys = append(keys, d.AlertKey)
		}
	}
	if !ok || s.o.Refs == nil || len(keys) == 0 {
		return n.Notify(ctx, &note)
	}
	return s.sendIncident(ctx, in, &note, keys)
}

// sendIncident sends note on a channel that keeps one message per incident:
// a firing starts a new message, anything after it edits (or follows up)
// the one its alert's firing made. The ref is saved before the rows are
// marked sent, so the alert's next row, on whichever worker, finds it.
func (s *Sender) sendIncident(ctx context.Context, in IncidentNotifier, note *alert.Notification, keys []string) (retry bool, err error) {
	var prior MessageRef
	if note.Status != alert.Firing {
		if prior, _, err = s.o.Refs.MessageRef(ctx, in.Name(), keys[0]); err != nil {
			return true, fmt.Errorf("notify: the message of %s on %s: %w", keys[0], in.Name(), err)
		}
	}
	ref, retry, err := in.NotifyIncident(ctx, note, prior)
	if err != nil {
		return retry, err
	}
	if ref == prior || ref.ID == "" {
		return false, nil
	}
	ref.Grouped = ref.Grouped || len(keys) > 1
	if err := s.o.Refs.SaveMessageRef(ctx, in.Name(), keys, ref, s.o.Now()); err != nil {
		// Sent all the same: sending it again would repeat it. The
		// alert's next notification is a message of its own.
		s.o.Logger.Warn("message ref not kept", "channel", in.Name(), "alert", keys[0], "err", err)
	}
	return false, nil
}

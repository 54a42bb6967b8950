package alert

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Phase is where an alert is in its life.
type Phase string

// Phases. An alert without a phase has never been seen, or its pending
// condition went away.
const (
	PhasePending  Phase = "pending" // counting toward its threshold
	PhaseFiring   Phase = "firing"
	PhaseResolved Phase = "resolved"
)

// ParsePhase reads "pending", "firing" or "resolved".
func ParsePhase(s string) (Phase, error) {
	switch p := Phase(s); p {
	case PhasePending, PhaseFiring, PhaseResolved:
		return p, nil
	}
	return "", fmt.Errorf("state %q: want pending, firing or resolved", s)
}

// State is one alert's state in one episode (from pending or firing to
// resolved), shared by every dyno through the store.
type State struct {
	ID              int64 // the episode, set by the store
	Key             string
	Rule            RuleName
	App, Dyno, Code string
	Severity        Severity
	Phase           Phase
	Summary         string
	Evidence        []string // the latest lines, at most MaxEvidence
	StartedAt       time.Time
	FiredAt         time.Time
	ResolvedAt      time.Time
	LastEventAt     time.Time
	LastNotifiedAt  time.Time
	Notified        bool         // a firing notification went out: "resolved" must follow
	Flapping        bool         // held firing until the changes calm down
	Transitions     []time.Time  // recent changes between firing and resolved
	Recent          []Occurrence // a pending event alert's events within its window, oldest first
	Counter         int64        // events in the window, or consecutive samples
	Ack             Ack          // who took this episode on; zero until someone does
	Version         int64        // the store's compare-and-set token
}

// MaxEvidence is how many log lines an alert keeps as evidence, the latest:
// the one cap of evidence, which the store and the messages hold to too.
const MaxEvidence = 5

// Ack says who acknowledged an alert's episode, when and why: someone is on
// it, so it is not reminded of (nor escalated) until it resolves.
type Ack struct {
	By     string // a name given on the ack page, a Slack user, a script
	At     time.Time
	Reason string // optional
}

// Acked says whether someone acknowledged the episode.
func (s *State) Acked() bool { return !s.Ack.At.IsZero() }

// Limits of an acknowledgement's texts, in characters.
const (
	MaxAckBy     = 100
	MaxAckReason = 500
)

// Errors of Acknowledge.
var (
	ErrNoAlert   = errors.New("alert: no such alert")
	ErrNotFiring = errors.New("alert: not firing")
	ErrBadAck    = errors.New("alert: bad acknowledgement")
)

// Acknowledge records that by took the firing alert s on, at now. Only a
// firing episode is acknowledged: a pending one told nobody, a resolved one
// is over. A second acknowledgement of the same episode keeps the first
// (who got there first is the one on it) and reports false.
func Acknowledge(s State, by, reason string, now time.Time) (State, bool, error) {
	by, reason = strings.TrimSpace(by), strings.TrimSpace(reason)
	switch {
	case by == "":
		return s, false, fmt.Errorf("%w: who acknowledges is empty; give a name", ErrBadAck)
	case utf8.RuneCountInString(by) > MaxAckBy:
		return s, false, fmt.Errorf("%w: the name is over %d characters", ErrBadAck, MaxAckBy)
	case utf8.RuneCountInString(reason) > MaxAckReason:
		return s, false, fmt.Errorf("%w: the reason is over %d characters", ErrBadAck, MaxAckReason)
	case s.Phase != PhaseFiring:
		phase := s.Phase
		if phase == "" {
			phase = "over"
		}
		return s, false, fmt.Errorf("%w: alert %s is %s", ErrNotFiring, s.Key, phase)
	case s.Acked():
		return s, false, nil
	}
	s.Ack = Ack{By: by, At: now, Reason: reason}
	return s, true, nil
}

// Occurrence is Count events at one time.
type Occurrence struct {
	At    time.Time
	Count int64
}

// maxRecent bounds State.Recent: beyond it the oldest two occurrences are
// merged. It matters only for thresholds above it, as a pending alert has
// fewer occurrences than its threshold.
const maxRecent = 50

// Apply is what an observation does to an alert's state under rule r and
// policy p. It returns the new state and the notification to send, if any
// ("" for none). silenced mutes firing, reminder and flapping notifications;
// a resolution is always told to whoever heard of the firing.
func Apply(s State, o Observation, r Rule, p Policy, silenced bool) (State, Status) {
	if s.Key == "" {
		s = State{Key: o.Key, Rule: o.Rule, App: o.App, Dyno: o.Dyno, Code: o.Code}
	}
	s.Severity = r.Severity
	if o.Severity != "" {
		s.Severity = o.Severity
	}
	prev := s.LastEventAt
	if o.Kind == Event || o.Kind == Above {
		// The latest line's: an H_CODES alert is one per app and code, and
		// its dyno is the one that erred last, not the first it saw.
		s.Summary, s.Dyno = o.Summary, o.Dyno
		if o.Evidence != "" {
			s.Evidence = append(s.Evidence, o.Evidence)
			if len(s.Evidence) > MaxEvidence {
				s.Evidence = s.Evidence[len(s.Evidence)-MaxEvidence:]
			}
		}
		if o.At.After(s.LastEventAt) {
			s.LastEventAt = o.At
		}
	}
	switch o.Kind {
	case Event:
		return applyEvent(s, prev, o, r, p, silenced)
	case Above:
		return applyAbove(s, o, r, p, silenced)
	default:
		return applyBelow(s, o, r, p)
	}
}

func applyEvent(s State, prev time.Time, o Observation, r Rule, p Policy, silenced bool) (State, Status) {
	if s.Phase == PhaseFiring {
		if s.Flapping && !prev.IsZero() && o.At.Sub(prev) >= r.Window && r.Window > 0 {
			// Held firing while over, and it is back: one more change.
			s.Transitions = recent(append(s.Transitions, o.At), o.At, p.FlapWindow)
		}
		return s, ""
	}
	if s.Phase != PhasePending {
		s = newEpisode(s, o.At)
	}
	// The threshold counts the events within the window before the latest,
	// wherever the first one was.
	s.Recent = addOccurrence(s.Recent, Occurrence{At: o.At, Count: int64(max(o.Count, 1))})
	s = slide(s, s.LastEventAt, r.Window)
	if float64(s.Counter) >= max(r.Threshold, 1) {
		s.Recent = nil
		return fire(s, o.At, p, silenced)
	}
	s.Phase = PhasePending
	return s, ""
}

// addOccurrence inserts o in time order (lines may arrive out of order).
func addOccurrence(rs []Occurrence, o Occurrence) []Occurrence {
	i := len(rs)
	for i > 0 && rs[i-1].At.After(o.At) {
		i--
	}
	rs = slices.Insert(rs, i, o)
	if len(rs) > maxRecent {
		rs[1].Count += rs[0].Count
		rs = rs[1:]
	}
	return rs
}

// slide drops the events of a pending event alert older than window before
// now, and counts the rest; the episode starts at the oldest left.
func slide(s State, now time.Time, window time.Duration) State {
	i := 0
	for i < len(s.Recent) && window > 0 && now.Sub(s.Recent[i].At) > window {
		i++
	}
	s.Recent = s.Recent[i:]
	s.Counter = 0
	for _, o := range s.Recent {
		s.Counter += o.Count
	}
	if len(s.Recent) > 0 {
		s.StartedAt = s.Recent[0].At
	}
	return s
}

func applyAbove(s State, o Observation, r Rule, p Policy, silenced bool) (State, Status) {
	if s.Phase == PhaseFiring {
		if s.Flapping && s.Counter >= int64(max(r.Samples, 1)) {
			// Held firing while under, and it is back over: one more change.
			s.Transitions = recent(append(s.Transitions, o.At), o.At, p.FlapWindow)
		}
		s.Counter = 0 // counts samples back under the threshold
		return s, ""
	}
	if s.Phase != PhasePending {
		s = newEpisode(s, o.At)
	}
	s.Counter++
	if s.Counter >= int64(max(r.Samples, 1)) {
		return fire(s, o.At, p, silenced)
	}
	s.Phase = PhasePending
	return s, ""
}

func applyBelow(s State, o Observation, r Rule, p Policy) (State, Status) {
	switch s.Phase {
	case PhasePending:
		s.Phase, s.Counter = "", 0
	case PhaseFiring:
		s.Counter++
		if s.Counter == int64(max(r.Samples, 1)) {
			return resolve(s, o.At, p)
		}
	}
	return s, ""
}

// newEpisode starts counting afresh; a resolved alert's episode ends here.
func newEpisode(s State, at time.Time) State {
	s.Phase, s.Counter, s.StartedAt, s.Recent = PhasePending, 0, at, nil
	s.FiredAt, s.ResolvedAt, s.Notified, s.Ack = time.Time{}, time.Time{}, false, Ack{}
	return s
}

func fire(s State, at time.Time, p Policy, silenced bool) (State, Status) {
	s.Phase, s.FiredAt, s.Counter = PhaseFiring, at, 0
	s.Transitions = recent(append(s.Transitions, at), at, p.FlapWindow)
	if s.Flapping {
		return s, "" // already said it flaps
	}
	if len(s.Transitions) > p.FlapChanges {
		s.Flapping = true
		return notify(s, at, Flapping, silenced)
	}
	return notify(s, at, Firing, silenced)
}

func resolve(s State, at time.Time, p Policy) (State, Status) {
	s.Transitions = recent(append(s.Transitions, at), at, p.FlapWindow)
	if s.Flapping || len(s.Transitions) > p.FlapChanges {
		// Stays firing until it calms down: Tick resolves it then.
		s.Flapping = true
		return s, ""
	}
	return resolveNow(s, at)
}

func resolveNow(s State, at time.Time) (State, Status) {
	s.Phase, s.ResolvedAt, s.Counter, s.Flapping = PhaseResolved, at, 0, false
	if !s.Notified {
		return s, ""
	}
	s.LastNotifiedAt = at
	return s, Resolved
}

func notify(s State, at time.Time, st Status, silenced bool) (State, Status) {
	if silenced {
		return s, ""
	}
	s.Notified, s.LastNotifiedAt = true, at
	return s, st
}

// recent keeps the times within window before now.
func recent(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > window {
		i++
	}
	return ts[i:]
}

// Retire ends an alert that nothing will observe again (its rule was turned
// off, its check or channel removed): a pending one lapses, a firing one
// resolves at once, told to whoever heard of it, and is not reminded of.
func Retire(s State, now time.Time) (State, Status) {
	switch s.Phase {
	case PhasePending:
		s.Phase, s.Counter, s.Recent = "", 0, nil
	case PhaseFiring:
		return resolveNow(s, now)
	}
	return s, ""
}

// Tick is what the passing of time does to an alert: alerts resolve a window
// after their last event or sample over the threshold (rules without a window
// only on samples under it), pending ones lapse, firing ones nobody
// acknowledged are reminded of, silenced ones are told once their silence ends, and flapping
// ones resolve once calm.
func Tick(s State, r Rule, p Policy, now time.Time, silenced bool) (State, Status) {
	switch s.Phase {
	case PhasePending:
		if len(s.Recent) > 0 { // an event alert: its window slides
			if s = slide(s, now, r.Window); len(s.Recent) == 0 {
				s.Phase = ""
			}
			return s, ""
		}
		if r.Window > 0 && now.Sub(s.StartedAt) > r.Window {
			s.Phase, s.Counter = "", 0
		}
		return s, ""
	case PhaseFiring:
	default:
		return s, ""
	}
	quiet := r.Window > 0 && now.Sub(s.LastEventAt) >= r.Window
	s.Transitions = recent(s.Transitions, now, p.FlapWindow)
	if s.Flapping && len(s.Transitions) == 0 {
		s.Flapping = false
		if quiet || s.Counter >= int64(max(r.Samples, 1)) {
			return resolveNow(s, now) // calm, and over
		}
	}
	// Nothing new for a window: an event alert is over, and a sample alert
	// whose samples stopped (a dyno scaled away) is too. A flapping one
	// records that change once, when the window ended.
	if quiet {
		end := s.LastEventAt.Add(r.Window)
		if !s.Flapping {
			return resolve(s, now, p)
		}
		over := s.Counter >= int64(max(r.Samples, 1)) // already under: no new change
		if n := len(s.Transitions); !over && (n == 0 || s.Transitions[n-1].Before(end)) {
			return resolve(s, end, p)
		}
	}
	switch {
	case silenced, s.Acked(): // someone is on it: no reminder, and no late firing once a silence ends
		return s, ""
	case !s.Notified:
		return notify(s, now, Firing, false) // its silence ended while it was firing
	case p.RepeatInterval > 0 && now.Sub(s.LastNotifiedAt) >= p.RepeatInterval:
		return notify(s, now, Reminder, false)
	}
	return s, ""
}

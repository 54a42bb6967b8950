package alert

import (
	"context"
	"fmt"
	"time"
)

// A shared cause pages once. When an app's database or cache fails (its
// Postgres or Redis status check, CHECK_… app=), its requests time out and
// fail next: H12, H13, 5xx, slow requests. While the cause's alert fires,
// those alerts of the app join its incident: they are grouped as the
// app's alerts are (see Outgoing.NotBefore), in slots of GroupWait counted
// from when the cause fired, so that those firing close together go out as
// one notification, and each names the cause (Alert.Cause). They are
// alerts like any other otherwise: shown, reminded and resolved on their
// own.

// joinsCause says whether s is an alert a failing database or cache
// explains: a request timeout (H12), a connection closed without response
// (H13), a 5xx rate or slow requests.
func joinsCause(s *State) bool {
	switch s.Rule {
	case RuleHCodes:
		return s.Code == "H12" || s.Code == "H13"
	case Rule5xxRate, RuleSlowRequests:
		return true
	}
	return false
}

// cause returns the firing alert among those EngineOptions.Causes names
// for s's app that explains s, if any: the one that fired first.
func (e *Engine) cause(ctx context.Context, s *State) (State, bool, error) {
	if e.o.Causes == nil || s.App == "" || !joinsCause(s) {
		return State{}, false, nil
	}
	var found State
	for _, k := range e.o.Causes(s.App) {
		c, ok, err := e.o.Store.Alert(ctx, k.String())
		if err != nil {
			return State{}, false, fmt.Errorf("alert %s: its cause %s: %w", s.Key, k, err)
		}
		if ok && c.Phase == PhaseFiring && (found.Key == "" || c.FiredAt.Before(found.FiredAt)) {
			found = c
		}
	}
	return found, found.Key != "", nil
}

// joinAt is when an alert joining the incident of a cause that fired at
// fired goes out, at now: at the end of the current slot of wait since
// fired; at once when wait is 0 (grouping is off).
func joinAt(fired, now time.Time, wait time.Duration) time.Time {
	if wait <= 0 || fired.IsZero() {
		return time.Time{}
	}
	slots := max(0, now.Sub(fired)) / wait
	return fired.Add((slots + 1) * wait)
}

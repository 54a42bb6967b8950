package alert

import (
	"fmt"
	"math"
	"time"
)

// Window is what the worker read of one app over a rule's window: its
// requests from the rollups and when its last message arrived.
type Window struct {
	App         string
	Requests    int64
	Status5xx   int64
	P95         float64 // service time, ms; NaN when no request had one
	LastMessage time.Time
}

// WindowRules are the rules the worker evaluates over windows of the
// rollups rather than on single lines.
var WindowRules = []RuleName{Rule5xxRate, RuleSlowRequests, RuleSilence}

// WindowObservations returns the observations of rule for w at now.
func (r *Rules) WindowObservations(rule RuleName, w Window, now time.Time) []Observation {
	ru := r.For(w.App, rule)
	if !ru.Enabled {
		return nil
	}
	o := Observation{Key: Key{Rule: rule, App: w.App}.String(), Rule: rule, App: w.App, At: now, Count: 1, Kind: Below}
	switch rule {
	case Rule5xxRate:
		if w.Requests < int64(r.Policy.Min5xxRequests) || w.Requests == 0 {
			return []Observation{o}
		}
		pct := 100 * float64(w.Status5xx) / float64(w.Requests)
		o.Kind = above(pct >= ru.Threshold)
		o.Summary = fmt.Sprintf("%.1f%% of requests failed with 5xx in the last %v (%d of %d)", pct, ru.Window, w.Status5xx, w.Requests)
	case RuleSlowRequests:
		if w.Requests < int64(r.Policy.MinSlowRequests) || w.Requests == 0 || math.IsNaN(w.P95) {
			return []Observation{o}
		}
		o.Kind = above(w.P95 >= ru.Threshold)
		o.Summary = fmt.Sprintf("p95 service time %.0f ms over the last %v (%d requests)", w.P95, ru.Window, w.Requests)
	case RuleSilence:
		if w.LastMessage.IsZero() {
			return nil // never sent anything: not silent, just not set up yet
		}
		silent := now.Sub(w.LastMessage)
		o.Kind = above(silent >= ru.Window)
		o.Summary = fmt.Sprintf("no logs from %s for %v: is the drain still attached? (heroku drains -a %s)", w.App, silent.Round(time.Minute), w.App)
	default:
		return nil
	}
	return []Observation{o}
}

// DeliveryHealth is the state of the outbox: what the worker reads to alert
// on dynowatch's own delivery, through the channels that still work.
type DeliveryHealth struct {
	Oldest          time.Duration     // the oldest notification waiting
	FailedByChannel map[string]int    // failed attempts in a row, of channels failing now
	LastError       map[string]string // their latest error
	Channels        []string          // every configured channel
}

// maxOutboxWait is how long a notification may wait before the backlog is an alert.
const maxOutboxWait = 10 * time.Minute

// deliveryApp is the app of dynowatch's own alerts, and deliveryBacklog the
// code of the one about notifications waiting (the others' is a channel).
const (
	deliveryApp     = "dynowatch"
	deliveryBacklog = "outbox"
)

// DeliveryObservations returns the "delivery" rule's observations: one per
// channel (failing or not) and one for the backlog.
func (r *Rules) DeliveryObservations(h DeliveryHealth, now time.Time) []Observation {
	ru := r.global[RuleDelivery]
	if !ru.Enabled {
		return nil
	}
	var out []Observation
	for _, c := range h.Channels {
		o := Observation{Key: Key{Rule: RuleDelivery, App: deliveryApp, Code: c}.String(), Rule: RuleDelivery, App: deliveryApp, Code: c, At: now, Count: 1, Kind: Below}
		if n := h.FailedByChannel[c]; float64(n) >= ru.Threshold {
			o.Kind = Above
			o.Summary = fmt.Sprintf("channel %s failed %d times in a row: %s", c, n, h.LastError[c])
		}
		out = append(out, o)
	}
	backlog := Observation{Key: Key{Rule: RuleDelivery, App: deliveryApp, Code: deliveryBacklog}.String(), Rule: RuleDelivery, App: deliveryApp, Code: deliveryBacklog, At: now, Count: 1, Kind: Below}
	if h.Oldest >= maxOutboxWait {
		backlog.Kind = Above
		backlog.Summary = fmt.Sprintf("notifications waiting for %v: are the workers running? (heroku ps)", h.Oldest.Round(time.Minute))
	}
	return append(out, backlog)
}

package alert

import (
	"sync"
)

// Limits of the observation queue. Its size is bounded by the alerts it
// holds observations for, not by how many lines came in: the observations
// of one alert are merged as they arrive.
const (
	// maxPendingKeys is how many alerts may have observations waiting. Beyond
	// it, router and other non-urgent observations are merged into one alert
	// per app and rule (h_codes|app), so that an H-code storm over many apps
	// neither grows the queue nor pushes out an R14.
	maxPendingKeys = 16384
	// maxPerKey is how many observations one alert keeps waiting. Events
	// merge into one; samples over or under a threshold are kept in order,
	// and the oldest is shed beyond this: a sample rule counts a few
	// consecutive samples (ALERT_<RULE>_SAMPLES, 3 by default), and the
	// latest 16 decide as all of them would.
	maxPerKey = 16
	// applyChunk is how many non-urgent alerts are applied at a time, so that
	// an urgent observation arriving meanwhile waits for at most one chunk.
	applyChunk = 64
)

// obsQueue holds the observations waiting to be applied, merged per alert
// key, urgent ones (see urgent) apart from the rest.
type obsQueue struct {
	mu      sync.Mutex
	pending map[string][]Observation
	order   [2][]string   // keys in arrival order: [0] urgent, [1] the rest
	wake    chan struct{} // holds a token while an urgent observation waits
	folded  int64         // observations folded into their app's alert
}

func newObsQueue() *obsQueue {
	return &obsQueue{pending: map[string][]Observation{}, wake: make(chan struct{}, 1)}
}

// urgent says whether o goes before everything else: see RuleName.Instant.
func urgent(o *Observation) bool { return o.Rule.Instant() }

// push adds obs, merging each into what its alert already has waiting.
func (q *obsQueue) push(obs []Observation) {
	q.mu.Lock()
	defer q.mu.Unlock()
	woke := false
	for _, o := range obs {
		class := 1
		if urgent(&o) {
			class = 0
		}
		list, ok := q.pending[o.Key]
		if !ok && class == 1 && len(q.pending) >= maxPendingKeys {
			// Full: fold it into its app's alert of the rule rather than
			// dropping it. Urgent ones are always taken.
			o.Key, o.Dyno, o.Code = Key{Rule: o.Rule, App: o.App}.String(), "", ""
			q.folded++
			list, ok = q.pending[o.Key]
		}
		if !ok {
			q.order[class] = append(q.order[class], o.Key)
		}
		q.pending[o.Key] = q.add(list, o)
		if class == 0 && !woke {
			woke = true
			select {
			case q.wake <- struct{}{}:
			default:
			}
		}
	}
}

// add merges o into an alert's waiting observations: a run of events is one
// event with their count, as the engine would coalesce them anyway.
func (q *obsQueue) add(list []Observation, o Observation) []Observation {
	if n := len(list); n > 0 {
		if last := &list[n-1]; last.Kind == Event && o.Kind == Event {
			last.Count = max(last.Count, 1) + max(o.Count, 1)
			if o.At.After(last.At) {
				last.At, last.Summary = o.At, o.Summary
			}
			// The first lines are the evidence; the rest are counted.
			return list
		}
		if n >= maxPerKey {
			// Shed the oldest sample (events are never shed: they merge).
			for i := range list {
				if list[i].Kind != Event {
					list = append(list[:i], list[i+1:]...)
					break
				}
			}
		}
	}
	return append(list, o)
}

// take removes and returns the observations of up to n alerts of a class
// (0 urgent, 1 the rest; n < 1 for all), in their arrival order.
func (q *obsQueue) take(class, n int) []Observation {
	q.mu.Lock()
	defer q.mu.Unlock()
	keys := q.order[class]
	if n < 1 || n > len(keys) {
		n = len(keys)
	}
	var out []Observation
	for _, k := range keys[:n] {
		out = append(out, q.pending[k]...)
		delete(q.pending, k)
	}
	// Copy what is left so the taken keys' array can be freed.
	q.order[class] = append([]string(nil), keys[n:]...)
	return out
}

// depth is the number of alerts with observations waiting.
func (q *obsQueue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// foldedCount is the number of observations folded into their app's alert.
func (q *obsQueue) foldedCount() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.folded
}

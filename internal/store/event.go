package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Event is one notable log line kept with its original text.
type Event struct {
	ID   int64 // set by the store; WriteBatches leaves Batch.Events untouched
	App  string
	Time time.Time
	Kind string // a parse.Kind name: router, dyno_error, logplex_error, state_change, process_exit, release, …
	Code string // H12, R14, L10, a SQLSTATE such as 53300, or ""
	Dyno string // web.1: the dyno the router reached, or the process
	Line string // the original line as `TS source[proc]: msg`
}

// Event query limits.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// EventQuery selects events of one app, newest first.
type EventQuery struct {
	App    string
	Since  time.Time // only events at or after Since; zero for all
	Before int64     // cursor: only events with ID < Before; 0 for the newest
	Kind   string    // only this kind; "" for all
	Code   string    // only this code; "" for all
	Limit  int       // 0 means DefaultEventLimit; at most MaxEventLimit
}

// Events returns the events q selects, newest (highest ID) first. To page,
// pass the ID of the last event returned as the next query's Before.
func (s *Store) Events(ctx context.Context, q EventQuery) ([]Event, error) {
	if q.App == "" {
		return nil, errors.New("store: EventQuery.App is empty")
	}
	limit, err := pageLimit("EventQuery.Limit", q.Limit, DefaultEventLimit, MaxEventLimit)
	if err != nil {
		return nil, err
	}
	f := newFilter(`SELECT id, time_us, kind, code, dyno, line FROM events WHERE app = $1`, q.App)
	f.and(!q.Since.IsZero(), "time_us >=", micros(q.Since))
	f.and(q.Before > 0, "id <", q.Before)
	f.and(q.Kind != "", "kind =", q.Kind)
	f.and(q.Code != "", "code =", q.Code)
	query, args := f.page(limit)

	evs, err := queryAll(ctx, s.q, func(r row) (Event, error) {
		e := Event{App: q.App}
		var t int64
		err := r.Scan(&e.ID, &t, &e.Kind, &e.Code, &e.Dyno, &e.Line)
		e.Time = fromMicros(t)
		return e, err
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	return evs, nil
}

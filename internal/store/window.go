package store

import (
	"context"
	"fmt"
	"time"
)

// WindowStats sums the router rollups of one app over a window.
type WindowStats struct {
	Requests  int64
	Status2xx int64
	Status3xx int64
	Status4xx int64
	Status5xx int64
	Bytes     int64
	Codes     map[string]int64 // requests per H code; nil when none
	Service   Histogram        // service times of all dynos
}

// WindowStats returns the totals of app's minute rollups of the minutes
// that start at or after from and before to, all dynos together. A window
// of 5 minutes is 5 minute rollups, the one in progress included: starting
// at the minute of from would make it 6, counting requests up to 6 minutes old.
func (s *Store) WindowStats(ctx context.Context, app string, from, to time.Time) (WindowStats, error) {
	var sum Rollup
	lo, hi := floorTo(from.Unix()+59, 60), to.Unix()
	err := s.scanRollups(ctx, "rollups_minute", "minute", app, lo, hi, func(_ int64, r *Rollup) { sum.Merge(r) })
	if err == nil {
		err = s.scanLatency(ctx, "latency_minute", "minute", app, lo, hi, func(_ int64, h *Histogram) { sum.Service.Merge(h) })
	}
	if err != nil {
		return WindowStats{}, fmt.Errorf("store: window stats: %w", err)
	}
	return WindowStats{Requests: sum.Requests, Status2xx: sum.Status2xx, Status3xx: sum.Status3xx, Status4xx: sum.Status4xx,
		Status5xx: sum.Status5xx, Bytes: sum.Bytes, Codes: sum.Codes, Service: sum.Service}, nil
}

// scanRollups calls fn with every rollup row of app in [from, to) (Unix
// seconds) of table, in time order. The Rollup passed is reused between
// calls; its Service is empty (see scanLatency).
func (s *Store) scanRollups(ctx context.Context, table, col, app string, from, to int64, fn func(t int64, r *Rollup)) error {
	r, err := s.q.query(ctx, fmt.Sprintf(`SELECT %[2]s, dyno, requests, s2xx, s3xx, s4xx, s5xx, bytes, codes
		FROM %[1]s WHERE app = $1 AND %[2]s >= $2 AND %[2]s < $3 ORDER BY %[2]s`, table, col),
		app, from, to)
	if err != nil {
		return err
	}
	defer r.Close()
	var (
		ro    Rollup
		t     int64
		codes []byte
	)
	for r.Next() {
		codes = nil
		if err := r.Scan(&t, &ro.Dyno, &ro.Requests, &ro.Status2xx, &ro.Status3xx, &ro.Status4xx, &ro.Status5xx, &ro.Bytes, &codes); err != nil {
			return err
		}
		if err := decodeCodes(&ro, codes); err != nil {
			return err
		}
		fn(t, &ro)
	}
	return r.Err()
}

// scanLatency calls fn with the service-time histogram of app (all router
// dynos merged) for every minute or hour in [from, to), in time order. The
// Histogram passed is reused between calls.
func (s *Store) scanLatency(ctx context.Context, table, col, app string, from, to int64, fn func(t int64, h *Histogram)) error {
	r, err := s.q.query(ctx, fmt.Sprintf(`SELECT %[2]s, service FROM %[1]s
		WHERE app = $1 AND %[2]s >= $2 AND %[2]s < $3 ORDER BY %[2]s`, table, col), app, from, to)
	if err != nil {
		return err
	}
	defer r.Close()
	var (
		h       Histogram
		t       int64
		svcPG   []int32
		svcLite []byte
	)
	dest, svc := any(&svcLite), func() any { return svcLite }
	if s.pg != nil {
		dest, svc = &svcPG, func() any { return svcPG }
	}
	for r.Next() {
		svcPG, svcLite = nil, nil
		if err := r.Scan(&t, dest); err != nil {
			return err
		}
		if err := decodeService(&h, svc()); err != nil {
			return err
		}
		fn(t, &h)
	}
	return r.Err()
}

// floorTo rounds t (Unix seconds) down to a multiple of step.
func floorTo(t, step int64) int64 {
	m := t % step
	if m < 0 {
		m += step
	}
	return t - m
}

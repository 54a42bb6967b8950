package store

import (
	"context"
	"math"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// The store is what the alert engine's window rules read
// (alert.WindowSource): these give its apps, windows and outbox health in
// the engine's terms.

// AppsHeard returns every app and when its last message arrived.
func (s *Store) AppsHeard(ctx context.Context) ([]alert.AppHeard, error) {
	apps, err := s.Apps(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]alert.AppHeard, len(apps))
	for i, a := range apps {
		out[i] = alert.AppHeard{Name: a.Name, LastMessage: a.LastMessage}
	}
	return out, nil
}

// Window returns app's requests from from to to (see WindowStats); P95 is
// NaN when no request had a service time.
func (s *Store) Window(ctx context.Context, app string, from, to time.Time) (alert.Window, error) {
	ws, err := s.WindowStats(ctx, app, from, to)
	if err != nil {
		return alert.Window{}, err
	}
	p95 := math.NaN()
	if ws.Service.Count() > 0 {
		p95 = ws.Service.Quantile(0.95)
	}
	return alert.Window{App: app, Requests: ws.Requests, Status5xx: ws.Status5xx, P95: p95}, nil
}

// DeliveryHealth returns the outbox's backlog and failing channels at now.
func (s *Store) DeliveryHealth(ctx context.Context, now time.Time) (alert.DeliveryHealth, error) {
	st, err := s.OutboxStats(ctx, now)
	if err != nil {
		return alert.DeliveryHealth{}, err
	}
	return alert.DeliveryHealth{Oldest: st.Oldest, FailedByChannel: st.FailedByChannel, LastError: st.LastError}, nil
}

package store_test

import (
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
)

// TestOutboxNotBefore: a grouped alert's rows wait for their group.
func TestOutboxNotBefore(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		now, later := message("d-now", "webhook", "shop"), message("d-later", "webhook", "shop")
		later.NotBefore = t0.Add(time.Minute)
		if err := s.Enqueue(ctx, now, later); err != nil {
			t.Fatal(err)
		}
		items, err := s.ClaimOutbox(ctx, "w1", t0.Add(time.Second), time.Minute, 10)
		if err != nil || len(items) != 1 || items[0].DeliveryID != "d-now" {
			t.Fatalf("claimed %+v, %v; want only d-now", items, err)
		}
		items, err = s.ClaimOutbox(ctx, "w1", t0.Add(time.Minute), time.Minute, 10)
		if err != nil || len(items) != 1 || items[0].DeliveryID != "d-later" || !items[0].NextAttempt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("claimed %+v, %v; want d-later once its time came", items, err)
		}
	})
}

// TestOutboxLastGroupStart: a new firing of an app joins the group that the
// app's latest firing due at once started, if it is as severe and recent.
func TestOutboxLastGroupStart(t *testing.T) {
	t.Parallel()
	// row is a row of app written at t0+at.
	row := func(id string, at time.Duration, app string, status alert.Status, sev alert.Severity, edit func(*alert.Outgoing)) alert.Outgoing {
		m := alertMessage(id, "webhook", "k-"+id, status, sev)
		m.App, m.CreatedAt = app, t0.Add(at)
		if edit != nil {
			edit(&m)
		}
		return m
	}
	urgent := func(m *alert.Outgoing) { m.Urgent = true }
	held := func(m *alert.Outgoing) { m.NotBefore = m.CreatedAt.Add(time.Minute) }
	for _, c := range []struct {
		name    string
		rows    []alert.Outgoing
		atLeast alert.Severity
		since   time.Duration
		want    time.Duration // -1 for none
	}{
		{"none", nil, alert.Warning, 0, -1},
		{"a firing", []alert.Outgoing{row("a", time.Second, "shop", alert.Firing, alert.Warning, nil)}, alert.Warning, 0, time.Second},
		{"the latest firing", []alert.Outgoing{row("a", time.Second, "shop", alert.Firing, alert.Warning, nil),
			row("b", 2*time.Second, "shop", alert.Firing, alert.Critical, nil)}, alert.Warning, 0, 2 * time.Second},
		{"too old", []alert.Outgoing{row("a", time.Second, "shop", alert.Firing, alert.Warning, nil)}, alert.Warning, 2 * time.Second, -1},
		{"another app's", []alert.Outgoing{row("a", time.Second, "blog", alert.Firing, alert.Warning, nil)}, alert.Warning, 0, -1},
		{"less severe", []alert.Outgoing{row("a", time.Second, "shop", alert.Firing, alert.Warning, nil)}, alert.Critical, 0, -1},
		{"more severe", []alert.Outgoing{row("a", time.Second, "shop", alert.Firing, alert.Critical, nil)}, alert.Info, 0, time.Second},
		{"urgent and severe enough", []alert.Outgoing{row("a", time.Second, "shop", alert.Firing, alert.Critical, urgent)}, alert.Critical, 0, time.Second},
		{"urgent but less severe", []alert.Outgoing{row("a", time.Second, "shop", alert.Firing, alert.Info, urgent)}, alert.Warning, 0, -1},
		{"held for a group itself", []alert.Outgoing{row("a", time.Second, "shop", alert.Firing, alert.Warning, nil),
			row("b", 2*time.Second, "shop", alert.Firing, alert.Warning, held)}, alert.Warning, 0, time.Second},
		{"not a firing", []alert.Outgoing{row("a", time.Second, "shop", alert.Resolved, alert.Warning, nil),
			row("b", 2*time.Second, "shop", alert.Reminder, alert.Warning, nil), row("c", 3*time.Second, "shop", alert.Flapping, alert.Warning, nil)},
			alert.Warning, 0, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, s *store.Store) {
				if err := s.Enqueue(ctx, c.rows...); err != nil {
					t.Fatal(err)
				}
				at, ok, err := s.LastGroupStart(ctx, "shop", c.atLeast, t0.Add(c.since))
				if err != nil || ok != (c.want >= 0) || (ok && !at.Equal(t0.Add(c.want))) {
					t.Fatalf("LastGroupStart = %v, %v, %v; want t0+%v (-1: none)", at, ok, err, c.want)
				}
			})
		})
	}
}

package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/store"
)

// The store counts the sender's storms.
var _ notify.Storms = (*store.Store)(nil)

// stormCap reads a cap as a user writes it in <PREFIX>_STORM_CAP.
func stormCap(t *testing.T, s string) config.StormCap {
	t.Helper()
	var c config.StormCap
	if err := c.Decode(s); err != nil {
		t.Fatal(err)
	}
	return c
}

// incident is the one firing row of a new incident of app.
func incident(id, app string, sev alert.Severity) []notify.Delivery {
	return []notify.Delivery{{Outgoing: alert.Outgoing{DeliveryID: id, Channel: "sms", App: app, Status: alert.Firing, Severity: sev}}}
}

// A channel capped at "3 per 10m" is told three incidents, the rest
// collapse into one summary due 10 minutes after the first of them, and a
// retry is decided as before. After the span, incidents are told again.
func TestStormCapCollapsesIntoOneSummary(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		limit := stormCap(t, "3 per 10m")
		var told []string
		for i := range 8 {
			id := fmt.Sprintf("d%d", i)
			sev := alert.Warning
			if i == 6 {
				sev = alert.Critical
			}
			ok, err := s.AdmitIncident(ctx, "sms", limit, incident(id, fmt.Sprintf("shop-%d", i%5), sev), t0.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				told = append(told, id)
			}
		}
		if fmt.Sprint(told) != "[d0 d1 d2]" {
			t.Fatalf("told %v, want the first three", told)
		}
		// A retry of a told and of a collapsed incident.
		for id, want := range map[string]bool{"d1": true, "d5": false} {
			if ok, err := s.AdmitIncident(ctx, "sms", limit, incident(id, "shop", alert.Warning), t0.Add(time.Hour)); err != nil || ok != want {
				t.Errorf("AdmitIncident(%s) again = %v, %v; want %v", id, ok, err, want)
			}
		}
		// Held by design, the summary is no backlog (the DELIVERY alert of
		// notifications waiting 10 minutes) until it is due.
		if st, err := s.OutboxStats(ctx, t0.Add(12*time.Minute)); err != nil || st.Pending != 1 || st.Oldest > 2*time.Minute {
			t.Errorf("OutboxStats = %+v, %v; want the summary pending for 2 minutes at most", st, err)
		}
		// The summary is one outbox row, due 10 minutes after d3 collapsed.
		due, err := s.ClaimOutbox(ctx, "w", t0.Add(3*time.Second+10*time.Minute-time.Millisecond), time.Minute, 10)
		if err != nil || len(due) != 0 {
			t.Fatalf("claimed %d rows before the summary is due (%v)", len(due), err)
		}
		due, err = s.ClaimOutbox(ctx, "w", t0.Add(3*time.Second+10*time.Minute), time.Minute, 10)
		if err != nil || len(due) != 1 || due[0].Status != notify.StatusStorm || due[0].Channel != "sms" {
			t.Fatalf("claimed %+v, %v; want the one storm summary of sms", due, err)
		}
		c, err := s.StormSummary(ctx, "sms", due[0].DeliveryID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Alerts != 5 || fmt.Sprint(c.Apps) != "[shop-3 shop-4 shop-0 shop-1 shop-2]" || c.Severity != alert.Critical {
			t.Errorf("summary = %+v, want 5 alerts on shop-3, shop-4, shop-0, shop-1, shop-2, critical", c)
		}
		// What collapses after the summary was written waits for another.
		now := t0.Add(3*time.Second + 10*time.Minute)
		if ok, err := s.AdmitIncident(ctx, "sms", limit, incident("d8", "cart", alert.Warning), now.Add(-5*time.Minute)); err != nil || ok {
			t.Fatalf("AdmitIncident(d8) within the span = %v, %v; want collapsed", ok, err)
		}
		if err := s.MarkSent(ctx, due[0].ID, "w", now); err != nil {
			t.Fatal(err)
		}
		next, err := s.ClaimOutbox(ctx, "w", now.Add(-5*time.Minute+10*time.Minute), time.Minute, 10)
		if err != nil || len(next) != 1 || next[0].DeliveryID == due[0].DeliveryID {
			t.Fatalf("claimed %+v, %v; want a second summary", next, err)
		}
		if c, err := s.StormSummary(ctx, "sms", next[0].DeliveryID); err != nil || c.Alerts != 1 || fmt.Sprint(c.Apps) != "[cart]" {
			t.Errorf("second summary = %+v, %v; want 1 alert on cart", c, err)
		}
		// Ten minutes after the first three, the channel is told again.
		if ok, err := s.AdmitIncident(ctx, "sms", limit, incident("d9", "shop", alert.Warning), t0.Add(2*time.Second+10*time.Minute)); err != nil || !ok {
			t.Errorf("AdmitIncident(d9) after the span = %v, %v; want told", ok, err)
		}
		// Another channel counts its own.
		if ok, err := s.AdmitIncident(ctx, "slack", limit, incident("d5", "shop", alert.Warning), t0.Add(5*time.Second)); err != nil || !ok {
			t.Errorf("AdmitIncident on slack = %v, %v; want told", ok, err)
		}
	})
}

// Workers deciding at once never tell more than the cap between them, and
// open one summary.
func TestStormCapHoldsAcrossWorkers(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		limit := stormCap(t, "5 per 10m")
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			told int
		)
		for w := range 4 {
			wg.Go(func() {
				for i := range 10 {
					ok, err := s.AdmitIncident(ctx, "sms", limit, incident(fmt.Sprintf("w%d-%d", w, i), "shop", alert.Critical), t0)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if ok {
						told++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if told != 5 {
			t.Errorf("told %d of 40 incidents, want 5", told)
		}
		due, err := s.ClaimOutbox(ctx, "w", t0.Add(10*time.Minute), time.Minute, 10)
		if err != nil || len(due) != 1 {
			t.Fatalf("claimed %d rows (%v), want one summary", len(due), err)
		}
		if c, err := s.StormSummary(ctx, "sms", due[0].DeliveryID); err != nil || c.Alerts != 35 {
			t.Errorf("summary = %+v, %v; want 35 alerts", c, err)
		}
	})
}

package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/store"
)

// alertMessage returns the notification id about alert key saying status,
// on channel, written at t0.
func alertMessage(id, channel, key string, status alert.Status, severity alert.Severity) alert.Outgoing {
	return alert.Outgoing{DeliveryID: id, Channel: channel, App: "shop", AlertKey: key, Status: status, Severity: severity,
		CreatedAt: t0, Payload: fmt.Appendf(nil, `{"id": %q, "status": %q}`, id, status)}
}

// claimed returns the delivery ids a claim at now returns, and marks each
// with settle.
func claimed(t *testing.T, s *store.Store, holder string, now time.Time, settle func(notify.Delivery) error) []string {
	t.Helper()
	items := mustClaim(t, s, holder, now, time.Minute, 10)
	for _, it := range items {
		if settle != nil {
			if err := settle(it); err != nil {
				t.Fatalf("settling %s: %v", it.DeliveryID, err)
			}
		}
	}
	return deliveryIDs(items)
}

// TestOutboxResolvedNeverBeforeItsFiring: the rows of one alert on one
// channel go out in order, so a resolved written while its firing waits for
// its group (or for a retry, or on another worker's claim) waits for it.
func TestOutboxResolvedNeverBeforeItsFiring(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		firing := alertMessage("fire", "webhook", "r14|shop|web.1", alert.Firing, "warning")
		firing.NotBefore = t0.Add(time.Minute) // held for its group
		resolved := alertMessage("resolve", "webhook", "r14|shop|web.1", alert.Resolved, "warning")
		// The same alert on another channel, whose firing went out: not held.
		smsFiring := alertMessage("fire", "sms", "r14|shop|web.1", alert.Firing, "warning")
		if err := s.Enqueue(ctx, firing, smsFiring); err != nil {
			t.Fatal(err)
		}
		sent := func(holder string) func(notify.Delivery) error {
			return func(it notify.Delivery) error { return s.MarkSent(ctx, it.ID, holder, t0.Add(time.Hour)) }
		}
		if got := claimed(t, s, "w1", t0, sent("w1")); !cmp.Equal(got, []string{"fire"}) {
			t.Fatalf("claimed %v at once, want the sms firing", got)
		}
		if err := s.Enqueue(ctx, resolved, alertMessage("resolve", "sms", "r14|shop|web.1", alert.Resolved, "warning")); err != nil {
			t.Fatal(err)
		}
		items := mustClaim(t, s, "w1", t0.Add(time.Second), time.Minute, 10)
		if len(items) != 1 || items[0].Channel != "sms" || items[0].DeliveryID != "resolve" || !items[0].FiringHeard {
			t.Fatalf("claimed %+v before the group, want only the sms resolved, its firing heard", items)
		}
		if err := sent("w1")(items[0]); err != nil {
			t.Fatal(err)
		}
		// The group's time: the firing, claimed by w1; w2 must not overtake it.
		first := mustClaim(t, s, "w1", t0.Add(time.Minute), time.Minute, 10)
		if len(first) != 1 || first[0].DeliveryID != "fire" {
			t.Fatalf("claimed %+v when the group was due, want the firing alone", first)
		}
		if got := claimed(t, s, "w2", t0.Add(time.Minute), nil); len(got) != 0 {
			t.Fatalf("w2 claimed %v while w1 sends the firing", got)
		}
		// It fails and waits for a retry: still nothing overtakes it.
		if err := s.MarkFailed(ctx, first[0].ID, "w1", t0.Add(time.Minute), t0.Add(2*time.Minute), "503"); err != nil {
			t.Fatal(err)
		}
		if got := claimed(t, s, "w2", t0.Add(90*time.Second), nil); len(got) != 0 {
			t.Fatalf("w2 claimed %v while the firing waits for its retry", got)
		}
		if got := claimed(t, s, "w2", t0.Add(2*time.Minute), sent("w2")); !cmp.Equal(got, []string{"fire"}) {
			t.Fatalf("claimed %v at the retry, want the firing", got)
		}
		items = mustClaim(t, s, "w2", t0.Add(2*time.Minute), time.Minute, 10)
		if len(items) != 1 || items[0].DeliveryID != "resolve" || !items[0].FiringHeard {
			t.Fatalf("claimed %+v after the firing went out, want its resolved, the firing heard", items)
		}
	})
}

// TestOutboxResolvedGoesWhereTheFiringWasHeard: a resolved row says whether
// its channel heard the alert's firing: not if the firing was passed over
// (the channel's minimum severity), given up, or never written for it.
func TestOutboxResolvedGoesWhereTheFiringWasHeard(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		for _, m := range []alert.Outgoing{
			alertMessage("f1", "sms", "heard", alert.Firing, "warning"),
			alertMessage("f2", "sms", "skipped", alert.Firing, "warning"),
			alertMessage("f3", "sms", "gave-up", alert.Firing, "warning"),
		} {
			if err := s.Enqueue(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		for _, it := range mustClaim(t, s, "w", t0, time.Minute, 10) {
			var err error
			switch it.AlertKey {
			case "heard":
				err = s.MarkSent(ctx, it.ID, "w", t0)
			case "skipped":
				err = s.MarkSkipped(ctx, it.ID, "w", t0)
			case "gave-up":
				err = s.MarkFailed(ctx, it.ID, "w", t0, time.Time{}, "401")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, key := range []string{"heard", "skipped", "gave-up", "never-fired"} {
			if err := s.Enqueue(ctx, alertMessage("r-"+key, "sms", key, alert.Resolved, "warning")); err != nil {
				t.Fatal(err)
			}
		}
		heard := map[string]bool{}
		for _, it := range mustClaim(t, s, "w", t0.Add(time.Second), time.Minute, 10) {
			heard[it.AlertKey] = it.FiringHeard
		}
		want := map[string]bool{"heard": true, "skipped": false, "gave-up": false, "never-fired": false}
		if diff := cmp.Diff(want, heard); diff != "" {
			t.Fatalf("FiringHeard of each resolved (-want +got):\n%s", diff)
		}
		// A passed-over row is settled, not heard, and says nothing of the
		// channel's health.
		rows := mustOutbox(t, s, store.OutboxQuery{DeliveryID: "f2"})
		if len(rows) != 1 || rows[0].SentAt.IsZero() || rows[0].Heard {
			t.Fatalf("skipped row = %+v, want settled and not heard", rows)
		}
		if st := mustStats(t, s, t0.Add(time.Second)); st.Pending != 4 || st.FailedByChannel["sms"] != 1 {
			t.Fatalf("OutboxStats = %+v, want the 4 resolved pending and the one failure", st)
		}
	})
}

// TestOutboxLastNotified: when an alert's latest firing or reminder went
// out (its first channel's send), what reminders count from.
func TestOutboxLastNotified(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		check := func(when string, wantAt time.Time, wantPending bool) {
			t.Helper()
			// Asked with others, as the engine asks of every firing alert.
			got, err := s.LastNotified(ctx, []string{"r14|shop|web.1", "r15|shop|web.1", "never|told"})
			n := got["r15|shop|web.1"]
			if err != nil || !n.SentAt.Equal(wantAt) || n.Pending != wantPending {
				t.Fatalf("%s: LastNotified = %+v, %v; want %v, %v", when, got, err, wantAt, wantPending)
			}
			if other := got["r14|shop|web.1"]; other != (alert.Notified{SentAt: t0.Add(time.Hour)}) || len(got) > 2 {
				t.Fatalf("%s: LastNotified = %+v; want r14's sent at %v, and nothing of an alert never told of", when, got, t0.Add(time.Hour))
			}
		}
		// Another alert, told of long before: its rows are not r15's.
		if err := s.Enqueue(ctx, alertMessage("r14", "webhook", "r14|shop|web.1", alert.Firing, "critical")); err != nil {
			t.Fatal(err)
		}
		for _, it := range mustClaim(t, s, "w", t0, time.Minute, 10) {
			if err := s.MarkSent(ctx, it.ID, "w", t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		check("never notified", time.Time{}, false)
		if err := s.Enqueue(ctx, alertMessage("f", "webhook", "r15|shop|web.1", alert.Firing, "critical"),
			alertMessage("f", "sms", "r15|shop|web.1", alert.Firing, "critical")); err != nil {
			t.Fatal(err)
		}
		check("written, not sent", time.Time{}, true)
		sentAt := t0.Add(30 * time.Minute)
		for i, it := range mustClaim(t, s, "w", t0, time.Minute, 10) {
			if i == 0 {
				if err := s.MarkSent(ctx, it.ID, "w", sentAt); err != nil {
					t.Fatal(err)
				}
			}
		}
		check("sent on one channel", sentAt, false)
		if err := s.Enqueue(ctx, alertMessage("over", "webhook", "r15|shop|web.1", alert.Resolved, "critical")); err != nil {
			t.Fatal(err)
		}
		check("a resolved written after", sentAt, false)
	})
}

// TestOutboxExtendClaim: a holder working through its claim keeps its rows
// while it renews them, and loses them to another holder once it stops.
func TestOutboxExtendClaim(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		if err := s.Enqueue(ctx, message("a", "webhook", "shop"), message("b", "webhook", "shop")); err != nil {
			t.Fatal(err)
		}
		items := mustClaim(t, s, "w1", t0, time.Minute, 10)
		ids := []int64{items[0].ID, items[1].ID}
		kept, err := s.ExtendClaim(ctx, "w1", t0.Add(50*time.Second), time.Minute, ids...)
		if err != nil || len(kept) != 2 {
			t.Fatalf("ExtendClaim = %v, %v; want both rows kept", kept, err)
		}
		if got := mustClaim(t, s, "w2", t0.Add(70*time.Second), time.Minute, 10); len(got) != 0 {
			t.Fatalf("w2 claimed %v from w1's renewed claim", deliveryIDs(got))
		}
		if err := s.MarkSent(ctx, ids[0], "w1", t0.Add(70*time.Second)); err != nil {
			t.Fatal(err)
		}
		// w1 stalls past its renewed lease: w2 takes the other row, and w1
		// keeps nothing (nor the sent row).
		if got := mustClaim(t, s, "w2", t0.Add(111*time.Second), time.Minute, 10); !cmp.Equal(deliveryIDs(got), []string{"b"}) {
			t.Fatalf("w2 claimed %v after the lease, want b", deliveryIDs(got))
		}
		if kept, err := s.ExtendClaim(ctx, "w1", t0.Add(112*time.Second), time.Minute, ids...); err != nil || len(kept) != 0 {
			t.Fatalf("w1's late ExtendClaim = %v, %v; want nothing kept", kept, err)
		}
	})
}

// TestOutboxCriticalFirst: a critical page written behind thousands of
// pending warnings is claimed first; the warnings follow oldest first.
func TestOutboxCriticalFirst(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		var msgs []alert.Outgoing
		for i := range 3000 {
			m := alertMessage(fmt.Sprintf("w-%04d", i), "webhook", fmt.Sprintf("r14|app-%04d|web.1", i), alert.Firing, "warning")
			m.CreatedAt = t0.Add(time.Duration(i) * time.Millisecond)
			msgs = append(msgs, m)
		}
		info := alertMessage("i-1", "webhook", "x|y", alert.Firing, "info")
		info.CreatedAt = t0.Add(-time.Hour)
		if err := s.Enqueue(ctx, append([]alert.Outgoing{info}, msgs...)...); err != nil {
			t.Fatal(err)
		}
		crit := alertMessage("c-1", "webhook", "r15|shop|web.1", alert.Firing, "critical")
		crit.CreatedAt = t0.Add(time.Hour)
		if err := s.Enqueue(ctx, crit); err != nil {
			t.Fatal(err)
		}
		got := deliveryIDs(mustClaim(t, s, "w", t0.Add(2*time.Hour), time.Minute, 3))
		if want := []string{"c-1", "w-0000", "w-0001"}; !cmp.Equal(got, want) {
			t.Fatalf("claimed %v, want %v", got, want)
		}
	})
}

// TestOutboxUrgentBeforeEverySeverity: an R14 (a warning, but an instant
// rule's page) written behind an H-code storm's critical pages is claimed
// before them, after a more severe urgent R15; then the critical ones,
// oldest first.
func TestOutboxUrgentBeforeEverySeverity(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		var msgs []alert.Outgoing
		for i := range 2000 {
			m := alertMessage(fmt.Sprintf("h-%04d", i), "webhook", fmt.Sprintf("h_codes|app-%04d|H12", i), alert.Firing, "critical")
			m.CreatedAt = t0.Add(time.Duration(i) * time.Millisecond)
			msgs = append(msgs, m)
		}
		r14 := alertMessage("r14", "webhook", "r14|shop|web.1", alert.Firing, "warning")
		r14.Urgent, r14.CreatedAt = true, t0.Add(time.Hour)
		r15 := alertMessage("r15", "webhook", "r15|shop|web.1", alert.Firing, "critical") // urgent too, and more severe
		r15.Urgent, r15.CreatedAt = true, t0.Add(2*time.Hour)
		if err := s.Enqueue(ctx, append(msgs, r14, r15)...); err != nil {
			t.Fatal(err)
		}
		items := mustClaim(t, s, "w", t0.Add(3*time.Hour), time.Minute, 4)
		if got, want := deliveryIDs(items), []string{"r15", "r14", "h-0000", "h-0001"}; !cmp.Equal(got, want) {
			t.Fatalf("claimed %v, want %v", got, want)
		}
		if !items[0].Urgent || !items[1].Urgent || items[2].Urgent {
			t.Errorf("Urgent read back as %v, %v, %v; want true, true, false", items[0].Urgent, items[1].Urgent, items[2].Urgent)
		}
	})
}

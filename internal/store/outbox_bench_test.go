package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// BenchmarkClaimCriticalBehindBacklog: that a critical page is claimed
// first, and how long the claim takes (claim-ms), with 81,000 warnings
// pending before it (the H-code storm of issue 16), each of its own alert,
// on Postgres. An op also gives the other 49 claimed rows back.
func BenchmarkClaimCriticalBehindBacklog(b *testing.B) {
	s := storetest.MustOpenPostgres(b)
	const backlog = 81_000
	msgs := make([]alert.Outgoing, 0, 1000)
	for i := range backlog {
		msgs = append(msgs, alertMessage(fmt.Sprintf("w-%d", i), "webhook", fmt.Sprintf("h_codes|app-%d|H%d", i%200, i/200), alert.Firing, "warning"))
		if len(msgs) == cap(msgs) {
			if err := s.Enqueue(ctx, msgs...); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	n := 0
	var claiming time.Duration
	for b.Loop() {
		n++
		id := fmt.Sprintf("c-%d", n)
		if err := s.Enqueue(ctx, alertMessage(id, "webhook", fmt.Sprintf("r15|shop|web.%d", n), alert.Firing, "critical")); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		items, err := s.ClaimOutbox(ctx, "w", t0.Add(time.Minute), time.Minute, 50)
		claiming += time.Since(start)
		if err != nil || len(items) == 0 || items[0].DeliveryID != id {
			b.Fatalf("claim %d: %v, first %v; want %s first", n, err, deliveryIDs(items[:min(1, len(items))]), id)
		}
		for _, it := range items {
			if it.DeliveryID == id {
				if err := s.MarkSent(ctx, it.ID, "w", t0.Add(time.Minute)); err != nil {
					b.Fatal(err)
				}
				continue
			}
			// Give the warnings back, so that each claim sees the backlog.
			if err := s.MarkFailed(ctx, it.ID, "w", t0, t0, "busy"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(claiming.Milliseconds())/float64(n), "claim-ms")
}

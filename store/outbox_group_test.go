package store_test

import (
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/store"
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

package store

import (
	"context"
	"fmt"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// Enqueue writes notifications that are no alert's (notify.Changes: the
// releases and deploys told to PagerDuty) to the outbox, in one
// transaction. A row whose
// delivery id and channel the outbox holds already is left out, so that
// the same notification written twice is sent once.
func (s *Store) Enqueue(ctx context.Context, msgs ...alert.Outgoing) error {
	if err := validateMessages(msgs); err != nil {
		return err
	}
	if err := s.inTx(ctx, func(q querier) error { return enqueue(ctx, q, msgs) }); err != nil {
		return fmt.Errorf("store: enqueue %d notifications: %w", len(msgs), err)
	}
	return nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/notify"
)

// EnqueueChanges writes the change rows msgs (notify.Changes) to the
// outbox at now, as Enqueue does, but at most caps[channel].Max rows of one
// app on one channel within caps[channel].Per before now, those written
// before counted; a channel without a cap in caps takes them all. It
// returns the rows left out over a cap. A row the outbox holds already
// (the same line again) is neither written again nor counted. One writer
// of changes at a time, whichever dyno: on Postgres an advisory lock is
// held for the transaction, the embedded store has one writer.
func (s *Store) EnqueueChanges(ctx context.Context, msgs []alert.Outgoing, caps map[string]config.StormCap, now time.Time) ([]alert.Outgoing, error) {
	if err := validateMessages(msgs); err != nil {
		return nil, err
	}
	if now.IsZero() {
		return nil, errors.New("store: EnqueueChanges: now is zero")
	}
	var over []alert.Outgoing
	err := s.inTx(ctx, func(q querier) error {
		over = over[:0] // a retried transaction starts again
		if s.pg != nil {
			if _, err := q.exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('dynowatch.changes.' || current_schema(), 0))`); err != nil {
				return err
			}
		}
		type appChannel struct{ app, channel string }
		recent := map[appChannel]int{}
		for _, m := range msgs {
			limit := caps[m.Channel]
			if limit.Max < 1 || limit.Per <= 0 {
				if err := enqueue(ctx, q, []alert.Outgoing{m}); err != nil {
					return err
				}
				continue
			}
			var held int
			if err := q.queryRow(ctx, `SELECT count(*) FROM outbox WHERE delivery_id = $1 AND channel = $2`, m.DeliveryID, m.Channel).Scan(&held); err != nil {
				return err
			}
			if held > 0 {
				continue
			}
			k := appChannel{m.App, m.Channel}
			n, ok := recent[k]
			if !ok {
				if err := q.queryRow(ctx, `SELECT count(*) FROM outbox WHERE app = $1 AND channel = $2 AND status = $3 AND created_us > $4`,
					m.App, m.Channel, string(notify.StatusChange), micros(now.Add(-limit.Per))).Scan(&n); err != nil {
					return err
				}
			}
			if n >= limit.Max {
				over = append(over, m)
				recent[k] = n
				continue
			}
			if err := enqueue(ctx, q, []alert.Outgoing{m}); err != nil {
				return err
			}
			recent[k] = n + 1
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: enqueue %d changes: %w", len(msgs), err)
	}
	return over, nil
}

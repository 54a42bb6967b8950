package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/notify"
)

// QueryRow runs one query of a test's own on s, such as a size measurement.
func QueryRow(ctx context.Context, s *Store, sql string, dest ...any) error {
	return s.q.queryRow(ctx, sql).Scan(dest...)
}

// Exec runs one statement of a test's own on s.
func Exec(ctx context.Context, s *Store, sql string) error {
	_, err := s.q.exec(ctx, sql)
	return err
}

// Setting returns the value of a stored setting and whether there is one.
func (s *Store) Setting(ctx context.Context, name string) (string, bool, error) {
	return s.setting(ctx, name)
}

// WriteBatch writes one batch, as WriteBatches does, and reports whether it
// was a duplicate.
func (s *Store) WriteBatch(ctx context.Context, b *Batch) (duplicate bool, err error) {
	dup, err := s.WriteBatches(ctx, []*Batch{b})
	if err != nil {
		return false, err
	}
	return dup[0], nil
}

// OutboxFor returns the rows of one notification, one per channel.
func (s *Store) OutboxFor(ctx context.Context, deliveryID string) ([]notify.Delivery, error) {
	if deliveryID == "" {
		return nil, errors.New("store: OutboxFor: delivery id is empty")
	}
	return s.Outbox(ctx, OutboxQuery{DeliveryID: deliveryID, Limit: MaxAlertLimit})
}

// OutboxQuery selects outbox rows, newest first. Empty fields select all.
type OutboxQuery struct {
	App        string
	DeliveryID string
	Before     int64 // cursor: only rows with ID < Before; 0 for the newest
	Limit      int   // 0 means DefaultAlertLimit; at most MaxAlertLimit
}

// Outbox returns the rows q selects, newest (highest ID) first. To page,
// pass the ID of the last one returned as the next query's Before.
func (s *Store) Outbox(ctx context.Context, q OutboxQuery) ([]notify.Delivery, error) {
	limit, err := pageLimit("OutboxQuery.Limit", q.Limit, DefaultAlertLimit, MaxAlertLimit)
	if err != nil {
		return nil, err
	}
	f := newFilter(`SELECT ` + outboxCols + ` FROM outbox WHERE TRUE`)
	f.and(q.App != "", "app =", q.App)
	f.and(q.DeliveryID != "", "delivery_id =", q.DeliveryID)
	f.and(q.Before > 0, "id <", q.Before)
	query, args := f.page(limit)
	items, err := queryAll(ctx, s.q, scanOutbox, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: outbox: %w", err)
	}
	return items, nil
}

// Enqueue writes notifications of a test's own to the outbox, in one
// transaction, uncapped (dynowatch writes changes with EnqueueChanges). A row whose
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

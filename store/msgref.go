package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// MessageRef is where a channel told of an alert: the provider's id of the
// message (opaque here: Slack's channel and ts, a Discord message id …), so
// that the alert's later notifications edit that message, from any worker.
type MessageRef struct {
	Channel   string
	AlertKey  string
	Ref       string
	Grouped   bool // the message tells of other alerts too
	UpdatedAt time.Time
}

// MessageRef returns the ref kept for alertKey on channel, if any.
func (s *Store) MessageRef(ctx context.Context, channel, alertKey string) (MessageRef, bool, error) {
	m := MessageRef{Channel: channel, AlertKey: alertKey}
	var updated int64
	err := s.q.queryRow(ctx, `SELECT ref, grouped, updated_us FROM message_refs WHERE channel = $1 AND alert_key = $2`,
		channel, alertKey).Scan(&m.Ref, &m.Grouped, &updated)
	if isNoRows(err) {
		return MessageRef{}, false, nil
	}
	if err != nil {
		return MessageRef{}, false, fmt.Errorf("store: message ref of %s on %s: %w", alertKey, channel, err)
	}
	m.UpdatedAt = fromMicros(updated)
	return m, true, nil
}

// SaveMessageRefs keeps refs, each replacing the one of its channel and
// alert, in one transaction: a grouped message's ref is saved for all its
// alerts or none.
func (s *Store) SaveMessageRefs(ctx context.Context, refs ...MessageRef) error {
	for i, m := range refs {
		switch {
		case m.Channel == "" || m.AlertKey == "":
			return fmt.Errorf("store: MessageRef %d needs a Channel and an AlertKey", i)
		case m.Ref == "":
			return fmt.Errorf("store: MessageRef %d (%s on %s) has no Ref", i, m.AlertKey, m.Channel)
		case m.UpdatedAt.IsZero():
			return errors.New("store: MessageRef.UpdatedAt is zero")
		}
	}
	err := s.inTx(ctx, func(q querier) error {
		for _, m := range refs {
			if _, err := q.exec(ctx, `INSERT INTO message_refs (channel, alert_key, ref, grouped, updated_us) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (channel, alert_key) DO UPDATE SET ref = excluded.ref, grouped = excluded.grouped, updated_us = excluded.updated_us`,
				m.Channel, m.AlertKey, m.Ref, m.Grouped, micros(m.UpdatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save message refs: %w", err)
	}
	return nil
}

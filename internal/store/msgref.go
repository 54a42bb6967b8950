package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dynowatch/dynowatch/internal/notify"
)

// The store keeps, per channel and alert, the notify.MessageRef its channel
// returned last (the provider's id of a message, opaque here: Slack's
// channel and ts, a Discord message id …), so that the alert's later
// notifications edit that message, from any worker.

// MessageRef returns the ref kept for alertKey on channel, if any.
func (s *Store) MessageRef(ctx context.Context, channel, alertKey string) (notify.MessageRef, bool, error) {
	var m notify.MessageRef
	err := s.q.queryRow(ctx, `SELECT ref, grouped FROM message_refs WHERE channel = $1 AND alert_key = $2`,
		channel, alertKey).Scan(&m.ID, &m.Grouped)
	if isNoRows(err) {
		return notify.MessageRef{}, false, nil
	}
	if err != nil {
		return notify.MessageRef{}, false, fmt.Errorf("store: message ref of %s on %s: %w", alertKey, channel, err)
	}
	return m, true, nil
}

// SaveMessageRef keeps ref for every one of alertKeys on channel, each
// replacing the one kept, in one transaction: a grouped message's ref is
// saved for all its alerts or none. now is when, for Prune.
func (s *Store) SaveMessageRef(ctx context.Context, channel string, alertKeys []string, ref notify.MessageRef, now time.Time) error {
	switch {
	case channel == "":
		return errors.New("store: SaveMessageRef: channel is empty")
	case ref.ID == "":
		return fmt.Errorf("store: SaveMessageRef on %s: the ref has no ID", channel)
	case now.IsZero():
		return errors.New("store: SaveMessageRef: now is zero")
	}
	for i, k := range alertKeys {
		if k == "" {
			return fmt.Errorf("store: SaveMessageRef on %s: alert key %d is empty", channel, i)
		}
	}
	err := s.inTx(ctx, func(q querier) error {
		for _, k := range alertKeys {
			if _, err := q.exec(ctx, `INSERT INTO message_refs (channel, alert_key, ref, grouped, updated_us) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (channel, alert_key) DO UPDATE SET ref = excluded.ref, grouped = excluded.grouped, updated_us = excluded.updated_us`,
				channel, k, ref.ID, ref.Grouped, micros(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save message ref on %s: %w", channel, err)
	}
	return nil
}

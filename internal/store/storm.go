package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/notify"
)

// The store counts what each channel with a storm cap was told in
// storm_log, and keeps in storm_channels the summary still taking what
// collapses: see notify.Storms.

// AdmitIncident decides whether group, the firing rows of one message on
// channel, goes out at now under limit (see notify.Storms). One decision
// per channel at a time, whichever worker asks: on Postgres the channel's
// storm_channels row is locked for the transaction, the embedded store has
// one writer.
func (s *Store) AdmitIncident(ctx context.Context, channel string, limit config.StormCap, group []notify.Delivery, now time.Time) (bool, error) {
	switch {
	case channel == "":
		return false, errors.New("store: AdmitIncident: channel is empty")
	case limit.Max < 1 || limit.Per <= 0:
		return false, fmt.Errorf("store: AdmitIncident on %s: the cap %v caps nothing", channel, limit)
	case len(group) == 0:
		return false, fmt.Errorf("store: AdmitIncident on %s: the group is empty", channel)
	case now.IsZero():
		return false, errors.New("store: AdmitIncident: now is zero")
	}
	var told bool
	err := s.inTx(ctx, func(q querier) error {
		if _, err := q.exec(ctx, `INSERT INTO storm_channels (channel, summary) VALUES ($1, '') ON CONFLICT DO NOTHING`, channel); err != nil {
			return err
		}
		var open string
		if err := q.queryRow(ctx, `SELECT summary FROM storm_channels WHERE channel = $1`+s.dialect(" FOR UPDATE", ""),
			channel).Scan(&open); err != nil {
			return err
		}
		// A retry of a group decided before is decided alike: told once,
		// collapsed once.
		for _, d := range group {
			var summary string
			err := q.queryRow(ctx, `SELECT summary FROM storm_log WHERE channel = $1 AND delivery_id = $2`, channel, d.DeliveryID).Scan(&summary)
			if err == nil {
				told = summary == ""
				return nil
			}
			if !isNoRows(err) {
				return err
			}
		}
		var recent int
		if err := q.queryRow(ctx, `SELECT count(*) FROM storm_log WHERE channel = $1 AND summary = '' AND at_us > $2`,
			channel, micros(now.Add(-limit.Per))).Scan(&recent); err != nil {
			return err
		}
		if recent < limit.Max {
			told = true
			_, err := q.exec(ctx, `INSERT INTO storm_log (channel, delivery_id, app, severity, at_us, summary) VALUES ($1, $2, $3, $4, $5, '')`,
				channel, group[0].DeliveryID, group[0].App, string(group[0].Severity), micros(now))
			return err
		}
		if open == "" {
			// The storm's first collapsed incident: its summary goes out a
			// span of the cap later, with all that collapsed by then.
			open = newSummaryID()
			if err := enqueue(ctx, q, []alert.Outgoing{{DeliveryID: open, Channel: channel, Status: notify.StatusStorm,
				Severity: group[0].Severity, Payload: []byte("{}"), CreatedAt: now, NotBefore: now.Add(limit.Per)}}); err != nil {
				return err
			}
			if _, err := q.exec(ctx, `UPDATE storm_channels SET summary = $2 WHERE channel = $1`, channel, open); err != nil {
				return err
			}
		}
		for _, d := range group {
			if _, err := q.exec(ctx, `INSERT INTO storm_log (channel, delivery_id, app, severity, at_us, summary) VALUES ($1, $2, $3, $4, $5, $6)`,
				channel, d.DeliveryID, d.App, string(d.Severity), micros(now), open); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: storm cap of %s: %w", channel, err)
	}
	return told, nil
}

// StormSummary returns what collapsed into the summary summaryID of
// channel, and closes it, so that what collapses from now on waits for a
// summary of its own (a retry of this one counts the same).
func (s *Store) StormSummary(ctx context.Context, channel, summaryID string) (notify.StormCount, error) {
	var c notify.StormCount
	err := s.inTx(ctx, func(q querier) error {
		if _, err := q.exec(ctx, `UPDATE storm_channels SET summary = '' WHERE channel = $1 AND summary = $2`, channel, summaryID); err != nil {
			return err
		}
		type entry struct{ app, severity string }
		es, err := queryAll(ctx, q, func(r row) (e entry, err error) { return e, r.Scan(&e.app, &e.severity) },
			`SELECT app, severity FROM storm_log WHERE channel = $1 AND summary = $2 ORDER BY at_us, delivery_id`, channel, summaryID)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, e := range es {
			c.Alerts++
			if sev := alert.Severity(e.severity); sev.Rank() > c.Severity.Rank() {
				c.Severity = sev
			}
			if e.app != "" && !seen[e.app] {
				seen[e.app] = true
				c.Apps = append(c.Apps, e.app)
			}
		}
		return nil
	})
	if err != nil {
		return notify.StormCount{}, fmt.Errorf("store: storm summary %s of %s: %w", summaryID, channel, err)
	}
	return c, nil
}

func newSummaryID() string {
	var b [12]byte
	rand.Read(b[:])
	return "storm-" + hex.EncodeToString(b[:])
}

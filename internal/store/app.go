package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound reports an app (or a silence) the store does not know.
var ErrNotFound = errors.New("store: not found")

// App is the drain state of one monitored app.
type App struct {
	Name            string
	FirstSeen       time.Time
	LastMessage     time.Time // zero when no message came yet
	DrainToken      string    // the last Logplex-Drain-Token seen
	Messages        int64
	BadFrames       int64
	CountMismatches int64
	L10Dropped      int64
}

// Apps returns every app, sorted by name.
func (s *Store) Apps(ctx context.Context) ([]App, error) {
	apps, err := queryAll(ctx, s.q, func(r row) (a App, err error) {
		var first, last int64
		err = r.Scan(&a.Name, &first, &last, &a.DrainToken, &a.Messages, &a.BadFrames, &a.CountMismatches, &a.L10Dropped)
		a.FirstSeen, a.LastMessage = fromMicros(first), fromMicros(last)
		return a, err
	}, `SELECT name, first_seen_us, last_message_us, drain_token, messages, bad_frames, count_mismatches, l10_dropped
		FROM apps ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: apps: %w", err)
	}
	return apps, nil
}

// appTables are the tables with rows per app, apps last.
var appTables = []string{
	"events", "dedupe_keys", "rollups_minute", "rollups_hourly", "latency_minute", "latency_hourly",
	"samples_minute", "samples_hourly", "alerts", "outbox", "silences", "check_results", "check_latest", "apps",
}

// DeleteApp forgets app and all its rows, its alerts (past and current),
// sent notifications, silences and check results included. Notifications
// still to go are kept until they are sent (then pruned as any), with the
// rows of their alerts' before them: the "resolved" the engine wrote as the
// app was forgotten goes to the channels that heard the alert fire. It
// returns ErrNotFound for an app the store has no row of. An app whose drain
// is still attached comes back with its next batch, and one a check names
// with the check's next run.
func (s *Store) DeleteApp(ctx context.Context, app string) error {
	if app == "" {
		// Check results without an app have app '': they belong to no app.
		return fmt.Errorf("%w: app %q", ErrNotFound, app)
	}
	err := s.inTx(ctx, func(q querier) error {
		// An app is known by any row, not only its drain's: a check may
		// name an app that sends no logs here.
		var deleted int64
		for _, t := range appTables {
			col := "app"
			if t == "apps" {
				col = "name"
			}
			sql := fmt.Sprintf(`DELETE FROM %s WHERE %s = $1`, t, col)
			if t == "outbox" {
				sql += ` AND (sent_us <> 0 OR gave_up_us <> 0) AND NOT (alert_key <> '' AND alert_key IN
					(SELECT alert_key FROM outbox WHERE app = $1 AND sent_us = 0 AND gave_up_us = 0))`
			}
			n, err := q.exec(ctx, sql, app)
			if err != nil {
				return err
			}
			deleted += n
		}
		if deleted == 0 {
			return ErrNotFound
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: app %q", ErrNotFound, app)
	}
	if err != nil {
		return fmt.Errorf("store: delete app %s: %w", app, err)
	}
	return nil
}

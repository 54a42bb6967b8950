package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

func validateSilence(sl *alert.Silence) error {
	switch {
	case sl.App == "" && sl.Rule == "" && sl.Key == "":
		return errors.New("store: Silence needs an App, Rule or Key: it would mute everything")
	case sl.CreatedAt.IsZero():
		return errors.New("store: Silence.CreatedAt is zero")
	case !sl.Until.After(sl.CreatedAt):
		return errors.New("store: Silence.Until must be after CreatedAt")
	}
	return nil
}

// CreateSilence stores sl and sets its ID.
func (s *Store) CreateSilence(ctx context.Context, sl *alert.Silence) error {
	if err := validateSilence(sl); err != nil {
		return err
	}
	unlock := s.writeLock()
	err := s.q.queryRow(ctx, `INSERT INTO silences (app, rule, key, until_us, reason, created_by, created_us)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		sl.App, string(sl.Rule), sl.Key, micros(sl.Until), cleanText(sl.Reason), cleanText(sl.CreatedBy), micros(sl.CreatedAt)).Scan(&sl.ID)
	unlock()
	if err != nil {
		return fmt.Errorf("store: create silence: %w", err)
	}
	return nil
}

// scanSilence reads the columns id, app, rule, key, until_us, reason,
// created_by, created_us. A rule stored in another case (the API took any
// before it checked names, such as "H_CODES") is read as its name.
func scanSilence(r row) (sl alert.Silence, err error) {
	var (
		rule           string
		until, created int64
	)
	err = r.Scan(&sl.ID, &sl.App, &rule, &sl.Key, &until, &sl.Reason, &sl.CreatedBy, &created)
	sl.Rule = alert.RuleName(rule)
	if n, err := alert.ParseRuleName(rule); err == nil {
		sl.Rule = n
	}
	sl.Until, sl.CreatedAt = fromMicros(until), fromMicros(created)
	return sl, err
}

// ActiveSilences returns the silences that have not ended at now, oldest
// first.
func (s *Store) ActiveSilences(ctx context.Context, now time.Time) ([]alert.Silence, error) {
	out, err := queryAll(ctx, s.q, scanSilence, `SELECT id, app, rule, key, until_us, reason, created_by, created_us
		FROM silences WHERE until_us > $1 ORDER BY id`, micros(now))
	if err != nil {
		return nil, fmt.Errorf("store: active silences: %w", err)
	}
	return out, nil
}

// DeleteSilence ends a silence now: it removes it and returns it, for the
// audit log. It returns ErrNotFound for an id the store does not have.
func (s *Store) DeleteSilence(ctx context.Context, id int64) (alert.Silence, error) {
	unlock := s.writeLock()
	sl, err := scanSilence(s.q.queryRow(ctx, `DELETE FROM silences WHERE id = $1
		RETURNING id, app, rule, key, until_us, reason, created_by, created_us`, id))
	unlock()
	switch {
	case isNoRows(err):
		return alert.Silence{}, fmt.Errorf("%w: silence %d", ErrNotFound, id)
	case err != nil:
		return alert.Silence{}, fmt.Errorf("store: delete silence %d: %w", id, err)
	}
	return sl, nil
}

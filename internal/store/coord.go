package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// setting returns the value of a stored setting and whether there is one.
func (s *Store) setting(ctx context.Context, name string) (string, bool, error) {
	var v string
	err := s.q.queryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	switch {
	case isNoRows(err):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("store: setting %s: %w", name, err)
	}
	return v, true, nil
}

// SetSettingIfAbsent stores value under name unless a value is stored
// already, and returns the stored value: of processes racing to set it, the
// first writer wins and all get its value. dynowatch keeps a generated
// DRAIN_SECRET this way.
func (s *Store) SetSettingIfAbsent(ctx context.Context, name, value string) (string, error) {
	if name == "" {
		return "", errors.New("store: setting name is empty")
	}
	// The insert waits for a concurrent insert of the same name to commit,
	// so the select that follows sees the winner's value.
	unlock := s.writeLock()
	_, err := s.q.exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING`, name, value)
	unlock()
	if err != nil {
		return "", fmt.Errorf("store: set setting %s: %w", name, err)
	}
	v, ok, err := s.setting(ctx, name)
	if err == nil && !ok {
		err = fmt.Errorf("store: setting %s vanished after it was set", name)
	}
	return v, err
}

// AcquireLease takes the lease name for holder until now+ttl, if it is free,
// expired, or held by holder already (then it is extended). It reports
// whether holder has the lease. Holders compare times of their own clocks,
// so keep ttl well above the clock skew between dynos.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	switch {
	case name == "" || holder == "":
		return false, errors.New("store: lease name and holder must not be empty")
	case ttl <= 0:
		return false, fmt.Errorf("store: lease ttl is %v, want more than 0", ttl)
	}
	defer s.writeLock()()
	r, err := s.q.query(ctx, `INSERT INTO leases AS l (name, holder, expires_us) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_us = excluded.expires_us
		WHERE l.holder = excluded.holder OR l.expires_us <= $4
		RETURNING holder`, name, holder, now.Add(ttl).UnixMicro(), now.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %s: %w", name, err)
	}
	defer r.Close()
	got := r.Next()
	if err := r.Err(); err != nil {
		return false, fmt.Errorf("store: acquire lease %s: %w", name, err)
	}
	return got, nil
}

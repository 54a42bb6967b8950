package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/dynowatch/dynowatch/internal/checks"
)

// MaxCheckText is the most bytes of checks.Result.Error and Warning the
// store keeps.
const MaxCheckText = 2000

// Check result query limits.
const (
	DefaultCheckLimit = 100
	MaxCheckLimit     = 1000
)

func validateCheck(r *checks.Result) error {
	switch {
	case r.Check == "":
		return errors.New("store: checks.Result.Check is empty")
	case r.Kind == "":
		return errors.New("store: checks.Result.Kind is empty")
	case r.Time.IsZero():
		return errors.New("store: checks.Result.Time is zero")
	case r.Latency < 0:
		return fmt.Errorf("store: checks.Result.Latency is %v, want 0 or more", r.Latency)
	}
	return nil
}

// RecordCheck stores the result of one run and makes it its check's latest,
// unless a later run of the check is stored already.
func (s *Store) RecordCheck(ctx context.Context, r checks.Result) error {
	if err := validateCheck(&r); err != nil {
		return err
	}
	err := s.inTx(ctx, func(q querier) error {
		var id int64
		err := q.queryRow(ctx, `INSERT INTO check_results
			(name, app, kind, time_us, ok, latency_us, value, growth, cert_expires_us, warning, error, worker)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
			r.Check, r.App, r.Kind, micros(r.Time), r.OK, r.Latency.Microseconds(), r.Value, r.Growth,
			micros(r.CertExpiry), clip(r.Warning, MaxCheckText), clip(r.Error, MaxCheckText), r.Worker).Scan(&id)
		if err != nil {
			return err
		}
		_, err = q.exec(ctx, `INSERT INTO check_latest AS l (name, app, result_id, time_us) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name) DO UPDATE SET app = excluded.app, result_id = excluded.result_id, time_us = excluded.time_us
			WHERE l.time_us <= excluded.time_us`, r.Check, r.App, id, micros(r.Time))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record check %s: %w", r.Check, err)
	}
	return nil
}

const checkCols = `r.id, r.name, r.app, r.kind, r.time_us, r.ok, r.latency_us, r.value, r.growth, r.cert_expires_us, r.warning, r.error, r.worker`

// CheckResults returns the runs of check name at or after since, newest
// first. limit 0 means DefaultCheckLimit; it may be at most MaxCheckLimit.
func (s *Store) CheckResults(ctx context.Context, name string, since time.Time, limit int) ([]checks.Result, error) {
	limit, err := pageLimit("check results limit", limit, DefaultCheckLimit, MaxCheckLimit)
	if err != nil {
		return nil, err
	}
	return s.checkResults(ctx, `SELECT `+checkCols+` FROM check_results r
		WHERE r.name = $1 AND r.time_us >= $2 ORDER BY r.time_us DESC, r.id DESC LIMIT $3`, name, micros(since), limit)
}

// LatestChecks returns the latest run of every check, sorted by name. A
// check whose runs are all past their retention is not listed.
func (s *Store) LatestChecks(ctx context.Context) ([]checks.Result, error) {
	return s.checkResults(ctx, `SELECT `+checkCols+` FROM check_latest l JOIN check_results r ON r.id = l.result_id ORDER BY l.name`)
}

func (s *Store) checkResults(ctx context.Context, sql string, args ...any) ([]checks.Result, error) {
	out, err := queryAll(ctx, s.q, scanCheckResult, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("store: check results: %w", err)
	}
	return out, nil
}

func scanCheckResult(rs row) (checks.Result, error) {
	var r checks.Result
	var at, latency, cert int64
	err := rs.Scan(&r.ID, &r.Check, &r.App, &r.Kind, &at, &r.OK, &latency, &r.Value, &r.Growth, &cert,
		&r.Warning, &r.Error, &r.Worker)
	r.Time, r.Latency, r.CertExpiry = fromMicros(at), time.Duration(latency)*time.Microsecond, fromMicros(cert)
	return r, err
}

// Uptime counts the runs of a check within a window.
type Uptime struct {
	Runs int64
	OK   int64
}

// Ratio is the share of runs that passed, from 0 to 1; false when there
// were no runs.
func (u Uptime) Ratio() (float64, bool) {
	if u.Runs == 0 {
		return 0, false
	}
	return float64(u.OK) / float64(u.Runs), true
}

// CheckUptime counts the runs of check name that started from from
// (inclusive) up to to (exclusive), and those of them that passed. Every
// run weighs the same, which is what a check at a fixed interval needs.
func (s *Store) CheckUptime(ctx context.Context, name string, from, to time.Time) (Uptime, error) {
	var u Uptime
	err := s.q.queryRow(ctx, `SELECT count(*), coalesce(sum(CASE WHEN ok THEN 1 ELSE 0 END), 0) FROM check_results
		WHERE name = $1 AND time_us >= $2 AND time_us < $3`, name, micros(from), micros(to)).Scan(&u.Runs, &u.OK)
	if err != nil {
		return Uptime{}, fmt.Errorf("store: uptime of check %s: %w", name, err)
	}
	return u, nil
}

// pruneChecks deletes the check runs that started before r.Checks, and the
// latest-run entries of checks with no run since (checks removed from the
// config). It goes check by check, on the (name, time_us) index: a second
// index on time alone would cost every row ~25 bytes more.
func (s *Store) pruneChecks(ctx context.Context, now time.Time, r Retention, res *PruneResult) error {
	if r.Checks == 0 {
		return nil
	}
	cutoff := now.Add(-r.Checks).UnixMicro()
	names, err := s.checkNames(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		n, err := s.pruneChunks(ctx, `DELETE FROM check_results WHERE id IN
			(SELECT id FROM check_results WHERE name = $3 AND time_us < $1 ORDER BY time_us LIMIT $2)`, cutoff, name)
		res.Checks += n
		if err != nil {
			return err
		}
	}
	// A latest run is its check's newest, so one past the cutoff means the
	// check has none left.
	_, err = s.pruneChunks(ctx, `DELETE FROM check_latest WHERE name IN
		(SELECT name FROM check_latest WHERE time_us < $1 LIMIT $2)`, cutoff)
	return err
}

// checkNames lists the checks with stored runs.
func (s *Store) checkNames(ctx context.Context) ([]string, error) {
	names, err := queryAll(ctx, s.q, scanValue[string], `SELECT DISTINCT name FROM check_results`)
	if err != nil {
		return nil, fmt.Errorf("store: prune: %w", err)
	}
	return names, nil
}

// clip cuts s to at most n bytes, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

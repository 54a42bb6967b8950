// Package store is dynowatch's persistence: Heroku Postgres when a database
// URL is given, an embedded SQLite file otherwise, behind one API.
//
// Both backends share one schema (see migrations/) and, where the dialects
// agree, the same SQL. Times are stored as integers: rollup keys (minute,
// hour) in Unix seconds, every other time in Unix microseconds, so the same
// arithmetic works in both. The write paths that must be correct when many
// dynos write at once (WriteBatches, MergeRollups) are dialect-specific: on
// Postgres they are single round trips whose merges happen inside the upsert;
// on SQLite, which serves one process, they read, merge and write in one
// IMMEDIATE transaction. Alert state and the notification outbox share
// their SQL: a compare-and-set on a version column, and claims that take
// FOR UPDATE SKIP LOCKED on Postgres.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the embedded database driver, pure Go
)

// DefaultMaxConns is the pool size used when Config.MaxConns is 0. Heroku's
// small Postgres plans allow 20 connections for all dynos together.
const DefaultMaxConns = 5

// Config configures Open.
type Config struct {
	// DatabaseURL is a Postgres URL. Empty selects the embedded store at Path.
	// For a host other than localhost, sslmode=require is added unless the
	// URL sets sslmode itself (Heroku Postgres requires TLS). Query
	// parameters that are not libpq settings, such as search_path, are sent
	// to the server as run-time parameters.
	DatabaseURL string
	// Path is the file of the embedded store, such as dynowatch.db.
	Path string
	// MaxConns caps the connections of the pool (of either backend); 0
	// means DefaultMaxConns.
	MaxConns int32
	// Logger receives the store's few log lines (migrations applied).
	Logger *slog.Logger
}

func (c *Config) validate() error {
	switch {
	case c.Logger == nil:
		return errors.New("store: Config.Logger is required")
	case c.DatabaseURL == "" && c.Path == "":
		return errors.New("store: Config.Path is required when Config.DatabaseURL is empty")
	case c.MaxConns < 0:
		return fmt.Errorf("store: Config.MaxConns is %d, want 0 (default %d) or more", c.MaxConns, DefaultMaxConns)
	}
	return nil
}

// Store is the database of dynowatch. It is safe for concurrent use.
type Store struct {
	log  *slog.Logger
	pg   *pgxpool.Pool // Postgres, or nil
	lite *sql.DB       // SQLite, or nil
	q    querier       // pg or lite, for SQL both dialects share

	// writeMu serializes the writes of the embedded store in this process,
	// so they queue here rather than poll on SQLite's busy timeout (which
	// still covers other processes on the same file).
	writeMu sync.Mutex

	droppedRows    atomic.Int64 // rollup rows the database refused (see MergeRollups)
	droppedSamples atomic.Int64 // sample values over the name caps
	droppedLogged  atomic.Bool  // the first dropped sample was logged

	namesMu      sync.Mutex
	names        map[string]int32 // cache of sample_names (Postgres)
	refusedNames map[string]bool  // names sample_names had no room for, bounded (see sampleIDs)
}

// Open sets up the pool for Postgres, or for the embedded file (created on
// first use). It connects lazily, so it succeeds while the database is still
// down: Ping tells when it answers. It does not migrate: call Migrate.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	maxConns := cfg.MaxConns
	if maxConns == 0 {
		maxConns = DefaultMaxConns
	}
	s := &Store{log: cfg.Logger, names: map[string]int32{}, refusedNames: map[string]bool{}}
	if cfg.DatabaseURL == "" {
		db, err := openSQLite(cfg.Path, int(maxConns))
		if err != nil {
			return nil, err
		}
		s.lite, s.q = db, sqlQuerier{db}
		return s, nil
	}
	pc, err := pgxpool.ParseConfig(withSSLMode(cfg.DatabaseURL))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadDatabaseURL, parseReason(err))
	}
	pc.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	s.pg, s.q = pool, pgQuerier{pool}
	return s, nil
}

// ErrBadDatabaseURL reports a Config.DatabaseURL that can never work, such
// as one with an unknown sslmode: trying again will not help.
var ErrBadDatabaseURL = errors.New("store: Config.DatabaseURL is not a valid Postgres URL")

// parseReason is why pgx could not parse a database URL, without the URL:
// pgx's error quotes it, password masked on a best-effort basis only.
func parseReason(err error) string {
	msg := err.Error()
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		if _, after, ok := strings.Cut(msg, "`: "); ok {
			return after
		}
		return "unparsable"
	}
	return msg
}

func openSQLite(path string, maxConns int) (*sql.DB, error) {
	// IMMEDIATE transactions take the write lock up front, so two writers
	// queue on busy_timeout instead of failing on a lock upgrade.
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(0)
	if err := setWAL(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: WAL: %w", path, err)
	}
	return db, nil
}

// setWAL puts the file in WAL mode, which lets readers run beside the
// writer. The mode is kept in the file, so it is set once here rather than
// on every connection: switching a new file to WAL needs a lock that SQLite
// does not wait for, and another process opening the same file at once
// (dynowatch and a replay) may hold it for a moment, so a refusal is retried.
func setWAL(db *sql.DB) error {
	var err error
	for wait := 10 * time.Millisecond; wait < 10*time.Second; wait *= 2 {
		var mode string
		if err = db.QueryRow(`PRAGMA journal_mode=WAL`).Scan(&mode); err == nil {
			if mode != "wal" {
				return fmt.Errorf("journal mode is %q", mode)
			}
			return nil
		}
		time.Sleep(wait)
	}
	return err
}

// withSSLMode adds sslmode=require to a remote Postgres URL that sets no
// sslmode. Key=value connection strings are left alone.
func withSSLMode(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return raw
	}
	q := u.Query()
	if q.Has("sslmode") || isLocalHost(u.Hostname()) {
		return raw
	}
	q.Set("sslmode", "require")
	u.RawQuery = q.Encode()
	return u.String()
}

func isLocalHost(h string) bool {
	if h == "" || h == "localhost" || strings.HasPrefix(h, "/") {
		return true // no host means a Unix socket
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Embedded reports whether s is the embedded SQLite store.
func (s *Store) Embedded() bool { return s.lite != nil }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.pg != nil {
		return s.pg.Ping(ctx)
	}
	return s.lite.PingContext(ctx)
}

// Close closes the connections. Calls in flight may fail.
func (s *Store) Close() {
	if s.pg != nil {
		s.pg.Close()
		return
	}
	_ = s.lite.Close()
}

// dialect picks the SQL of the backend in use.
func (s *Store) dialect(pg, lite string) string {
	if s.pg != nil {
		return pg
	}
	return lite
}

// querier runs SQL that both dialects share; $1-style parameters work in both.
type querier interface {
	exec(ctx context.Context, sql string, args ...any) (int64, error)
	query(ctx context.Context, sql string, args ...any) (rows, error)
	queryRow(ctx context.Context, sql string, args ...any) row
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type row interface{ Scan(dest ...any) error }

// queryAll runs a query and scans every row of it with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(row) (T, error), sql string, args ...any) ([]T, error) {
	r, err := q.query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := []T{}
	for r.Next() {
		v, err := scan(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, r.Err()
}

// scanValue scans a row of one column.
func scanValue[T any](r row) (v T, err error) { return v, r.Scan(&v) }

// pgDB is what a pgxpool.Pool and a pgx.Tx have in common.
type pgDB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type pgQuerier struct{ db pgDB }

func (q pgQuerier) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.db.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (q pgQuerier) query(ctx context.Context, sql string, args ...any) (rows, error) {
	return q.db.Query(ctx, sql, args...)
}

func (q pgQuerier) queryRow(ctx context.Context, sql string, args ...any) row {
	return q.db.QueryRow(ctx, sql, args...)
}

// sqlDB is what a *sql.DB and a *sql.Tx have in common.
type sqlDB interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type sqlQuerier struct{ db sqlDB }

func (q sqlQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (q sqlQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	return q.db.QueryRowContext(ctx, query, args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// inTx runs fn in one transaction (IMMEDIATE on SQLite), committing when fn
// returns nil. On Postgres it retries a few times on a deadlock or
// serialization failure, which consistent lock ordering makes rare.
func (s *Store) inTx(ctx context.Context, fn func(q querier) error) error {
	if s.pg != nil {
		return retryPG(ctx, func() error {
			return pgx.BeginFunc(ctx, s.pg, func(tx pgx.Tx) error { return fn(pgQuerier{tx}) })
		})
	}
	defer s.writeLock()()
	tx, err := s.lite.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqlQuerier{tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// writeLock takes writeMu on the embedded store and returns its unlock; on
// Postgres it does nothing.
func (s *Store) writeLock() (unlock func()) {
	if s.lite == nil {
		return func() {}
	}
	s.writeMu.Lock()
	return s.writeMu.Unlock
}

// retryPG runs fn again, up to three times in all, while it fails with a
// deadlock or serialization failure.
func retryPG(ctx context.Context, fn func() error) error {
	var err error
	for try := range 3 {
		if err = fn(); !isRetryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try+1) * 10 * time.Millisecond):
		}
	}
	return err
}

func isRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// isNoRows reports whether err says a query found no row, in either dialect.
func isNoRows(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows)
}

// micros and fromMicros convert times to and from the stored Unix
// microseconds; the zero time is stored as 0.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

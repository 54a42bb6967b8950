// Package storetest opens stores on real backends for tests: a Postgres
// schema of the test's own on the local server, or an embedded file in a
// temporary directory.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dynowatch/dynowatch/redact"
	"github.com/dynowatch/dynowatch/store"
)

// DefaultPostgresURL is the local test server: trust auth, database test.
// The environment variable DYNOWATCH_TEST_DATABASE_URL overrides it.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL creates a schema of its own for tb on the test server, drops
// it in tb.Cleanup, and returns a URL whose connections use it (through the
// search_path run-time parameter). When the server cannot be reached it
// skips tb, or fails it when CI=true.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("DYNOWATCH_TEST_DATABASE_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		msg := "storetest: Postgres at " + redact.URL(base) + " is unreachable (set DYNOWATCH_TEST_DATABASE_URL): " + err.Error()
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	defer conn.Close(ctx)

	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "dw_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("storetest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("storetest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("storetest: DYNOWATCH_TEST_DATABASE_URL is not a URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// MustOpenPostgres opens a migrated store in a fresh schema of the test
// server (see PostgresURL) and closes it in tb.Cleanup.
func MustOpenPostgres(tb testing.TB) *store.Store {
	tb.Helper()
	return MustOpen(tb, store.Config{DatabaseURL: PostgresURL(tb)})
}

// MustOpenEmbedded opens a migrated embedded store in tb.TempDir() and
// closes it in tb.Cleanup.
func MustOpenEmbedded(tb testing.TB) *store.Store {
	tb.Helper()
	return MustOpen(tb, store.Config{Path: filepath.Join(tb.TempDir(), "dynowatch.db")})
}

// MustOpen opens and migrates a store with cfg (a discarding Logger when
// cfg has none) and closes it in tb.Cleanup.
func MustOpen(tb testing.TB, cfg store.Config) *store.Store {
	tb.Helper()
	s := MustOpenUnmigrated(tb, cfg)
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("storetest: migrate: %v", err)
	}
	return s
}

// MustOpenUnmigrated is MustOpen without Migrate: a second dyno on the same
// database, or one that is about to migrate.
func MustOpenUnmigrated(tb testing.TB, cfg store.Config) *store.Store {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := store.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("storetest: open: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

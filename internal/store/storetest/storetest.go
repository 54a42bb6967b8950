// Package storetest opens stores on real backends for tests: a Postgres
// schema of the test's own on the local server, or an embedded file in a
// temporary directory.
package storetest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/pgtest"
)

// MustOpenPostgres opens a migrated store in a fresh schema of the test
// server (see pgtest.URL) and closes it in tb.Cleanup.
func MustOpenPostgres(tb testing.TB) *store.Store {
	tb.Helper()
	return MustOpen(tb, store.Config{DatabaseURL: pgtest.URL(tb)})
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

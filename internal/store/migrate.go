package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migrationFS holds the schema, one directory per dialect. A migration is a
// file NNNN_name.sql; NNNN is its version. Applied versions are never edited:
// a change is a new file, in both directories.
//
//go:embed migrations
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("store: migration %s/%s is not named NNNN_name.sql", dir, e.Name())
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		// Two branches that each added "the next" migration: one of them
		// would never run on a database that has the other's number.
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("store: migrations %s/%s and %s share version %d", dir, ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// Migrate brings the schema up to date. It is safe to run from several dynos
// at once: on Postgres the migrations run in one transaction holding an
// advisory lock whose key is derived from the current schema (so separate
// schemas, such as parallel tests, do not wait on each other); on SQLite the
// IMMEDIATE transaction is the lock.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.dialect("postgres", "sqlite"))
	if err != nil {
		return err
	}
	var applied []string
	err = s.inTx(ctx, func(q querier) error {
		if s.pg != nil {
			const lock = `SELECT pg_advisory_xact_lock(hashtextextended('dynowatch.migrate.' || current_schema(), 0))`
			if _, err := q.exec(ctx, lock); err != nil {
				return err
			}
		}
		if _, err := q.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text    NOT NULL,
			applied_us bigint  NOT NULL)`); err != nil {
			return err
		}
		done, err := appliedVersions(ctx, q)
		if err != nil {
			return err
		}
		applied = applied[:0]
		for _, m := range ms {
			if done[m.version] {
				continue
			}
			if _, err := q.exec(ctx, m.sql); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
			if _, err := q.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_us) VALUES ($1, $2, $3)`,
				m.version, m.name, time.Now().UnixMicro()); err != nil {
				return err
			}
			applied = append(applied, m.name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		s.log.Info("store migrated", "applied", applied)
	}
	return nil
}

func appliedVersions(ctx context.Context, q querier) (map[int]bool, error) {
	vs, err := queryAll(ctx, q, scanValue[int], `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	done := make(map[int]bool, len(vs))
	for _, v := range vs {
		done[v] = true
	}
	return done, nil
}

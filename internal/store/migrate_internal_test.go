package store

import "testing"

// TestMigrationVersionsAreUnique: every dialect's migrations load, each
// with a version of its own (two branches once both added a 0007).
func TestMigrationVersionsAreUnique(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		ms, err := loadMigrations(dialect)
		if err != nil {
			t.Fatalf("%s: %v", dialect, err)
		}
		if len(ms) == 0 {
			t.Fatalf("%s: no migrations", dialect)
		}
	}
}

package store

import "testing"

// TestMigrationsLoad: each dialect's migrations are named NNNN_name.sql and
// no two share a version (two branches adding the same next number would
// leave one of them unrun wherever the other ran first).
func TestMigrationsLoad(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		ms, err := loadMigrations(dialect)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			t.Fatalf("%s: no migrations", dialect)
		}
	}
}

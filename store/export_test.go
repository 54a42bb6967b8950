package store

import "context"

// QueryRow runs one query of a test's own on s, such as a size measurement.
func QueryRow(ctx context.Context, s *Store, sql string, dest ...any) error {
	return s.q.queryRow(ctx, sql).Scan(dest...)
}

// Exec runs one statement of a test's own on s.
func Exec(ctx context.Context, s *Store, sql string) error {
	_, err := s.q.exec(ctx, sql)
	return err
}

package store

import (
	"fmt"
	"strings"
)

// filter builds the newest-first, cursor-paged SELECTs of the history lists
// (events, alerts, outbox): a base query, conditions ANDed to it, each with
// its own placeholder.
type filter struct {
	sb   strings.Builder
	args []any
}

// newFilter starts from base, whose WHERE clause holds args' placeholders.
func newFilter(base string, args ...any) *filter {
	f := &filter{args: args}
	f.sb.WriteString(base)
	return f
}

// and adds "AND cond $n" with v, when set is true.
func (f *filter) and(set bool, cond string, v any) {
	if !set {
		return
	}
	f.args = append(f.args, v)
	fmt.Fprintf(&f.sb, " AND %s $%d", cond, len(f.args))
}

// andIn adds "AND col IN (”, $n)" with v, when v is set: a column where
// ” means any value, such as a silence's app.
func (f *filter) andIn(col, v string) {
	if v == "" {
		return
	}
	f.args = append(f.args, v)
	fmt.Fprintf(&f.sb, " AND %s IN ('', $%d)", col, len(f.args))
}

// page finishes the query: newest first (by id), at most limit rows.
func (f *filter) page(limit int) (string, []any) {
	f.args = append(f.args, limit)
	fmt.Fprintf(&f.sb, " ORDER BY id DESC LIMIT $%d", len(f.args))
	return f.sb.String(), f.args
}

// pageLimit checks the limit of a list query, named what in its error
// ("AlertQuery.Limit"), and returns the limit to use: def for 0, the limit
// itself up to most.
func pageLimit(what string, limit, def, most int) (int, error) {
	if limit < 0 || limit > most {
		return 0, fmt.Errorf("store: %s is %d, want 0…%d", what, limit, most)
	}
	if limit == 0 {
		return def, nil
	}
	return limit, nil
}

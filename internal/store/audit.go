package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// AuditAction is what someone did, as the audit log records it.
type AuditAction string

// The actions the audit log records.
const (
	AuditSilence   AuditAction = "silence"    // created a silence
	AuditUnsilence AuditAction = "unsilence"  // ended a silence early
	AuditDeleteApp AuditAction = "delete_app" // forgot an app and its data
	AuditAck       AuditAction = "ack"        // acknowledged an alert
)

// AuditEntry is one thing someone did through the dashboard or the API.
// App, Rule and Key say what it was about; an empty one stands for any, as
// in a silence.
type AuditEntry struct {
	ID     int64 // set by the store
	At     time.Time
	Actor  string // who: the basic-auth user name
	Action AuditAction
	App    string
	Rule   alert.RuleName
	Key    string
	Reason string
	Detail string // what else there is to say, e.g. "silence 12 until 2026-11-30 18:00 UTC"
}

// AddAudit records e and sets its ID.
func (s *Store) AddAudit(ctx context.Context, e *AuditEntry) error {
	switch {
	case e.At.IsZero():
		return errors.New("store: AuditEntry.At is zero")
	case e.Action == "":
		return errors.New("store: AuditEntry.Action is empty")
	}
	unlock := s.writeLock()
	err := s.q.queryRow(ctx, `INSERT INTO audit_log (at_us, actor, action, app, rule, alert_key, reason, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		micros(e.At), cleanText(e.Actor), string(e.Action), e.App, string(e.Rule), e.Key, cleanText(e.Reason), cleanText(e.Detail)).Scan(&e.ID)
	unlock()
	if err != nil {
		return fmt.Errorf("store: add audit entry %s by %q: %w", e.Action, e.Actor, err)
	}
	return nil
}

// Audit query limits.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditQuery selects audit entries, newest first. Empty fields select all.
type AuditQuery struct {
	// About selects the entries that concern one alert: those whose app,
	// rule and key each are empty or the alert's.
	About    *alert.State
	From, To time.Time // at or after From, at or before To
	Before   int64     // cursor: only entries with ID < Before; 0 for the newest
	Limit    int       // 0 means DefaultAuditLimit; at most MaxAuditLimit
}

// Audit returns the entries q selects, newest first. To page, pass the ID
// of the last one returned as the next query's Before.
func (s *Store) Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	limit, err := pageLimit("AuditQuery.Limit", q.Limit, DefaultAuditLimit, MaxAuditLimit)
	if err != nil {
		return nil, err
	}
	f := newFilter(`SELECT id, at_us, actor, action, app, rule, alert_key, reason, detail FROM audit_log WHERE TRUE`)
	if a := q.About; a != nil {
		f.andIn("app", a.App)
		f.andIn("rule", string(a.Rule))
		f.andIn("alert_key", a.Key)
	}
	f.and(!q.From.IsZero(), "at_us >=", micros(q.From))
	f.and(!q.To.IsZero(), "at_us <=", micros(q.To))
	f.and(q.Before > 0, "id <", q.Before)
	query, args := f.page(limit)
	out, err := queryAll(ctx, s.q, func(r row) (e AuditEntry, err error) {
		var (
			at           int64
			action, rule string
		)
		err = r.Scan(&e.ID, &at, &e.Actor, &action, &e.App, &rule, &e.Key, &e.Reason, &e.Detail)
		e.At, e.Action, e.Rule = fromMicros(at), AuditAction(action), alert.RuleName(rule)
		return e, err
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	return out, nil
}

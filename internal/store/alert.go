package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// Limits of what SaveAlert keeps of an alert.State, besides its evidence
// (alert.MaxEvidence). The store keeps what package alert tells it; it
// decides nothing about the lifecycle except where an episode ends (see
// SaveAlert).
const (
	MaxTransitions = 10
	MaxRecent      = 100
)

func validateAlert(a *alert.State) error {
	switch {
	case a.Key == "":
		return errors.New("store: alert Key is empty")
	case a.Rule == "":
		return errors.New("store: alert Rule is empty")
	case a.StartedAt.IsZero():
		return errors.New("store: alert StartedAt is zero")
	case a.Phase == alert.PhaseResolved && a.ResolvedAt.IsZero():
		return errors.New("store: alert ResolvedAt is zero in phase resolved")
	case a.Ack.At.IsZero() != (a.Ack.By == ""):
		return fmt.Errorf("store: alert %s: Ack.By %q and Ack.At %v: both set or neither", a.Key, a.Ack.By, a.Ack.At)
	}
	if _, err := alert.ParseSeverity(string(a.Severity)); err != nil {
		return fmt.Errorf("store: alert %s: %w", a.Key, err)
	}
	if _, err := alert.ParsePhase(string(a.Phase)); err != nil {
		return fmt.Errorf("store: alert %s: %w", a.Key, err)
	}
	return nil
}

// alertCols are the columns SaveAlert writes, in the order of alertValues;
// reads select id first, then these.
var alertCols = []string{
	"key", "version", "rule", "app", "dyno", "code", "severity", "state", "summary", "evidence",
	"started_us", "fired_us", "resolved_us", "last_event_us", "notified_us", "notified", "flapping", "transitions", "counter",
	"recent", "acked_by", "acked_us", "ack_reason",
}

var alertSelect = "SELECT id, " + strings.Join(alertCols, ", ") + " FROM alerts"

func alertValues(a *alert.State, version int64) []any {
	ev := make([]string, 0, min(len(a.Evidence), alert.MaxEvidence))
	for _, l := range a.Evidence[:min(len(a.Evidence), alert.MaxEvidence)] {
		ev = append(ev, cleanText(l))
	}
	tr := a.Transitions[max(0, len(a.Transitions)-MaxTransitions):]
	us := make([]int64, len(tr))
	for i, t := range tr {
		us[i] = micros(t)
	}
	rec := a.Recent[max(0, len(a.Recent)-MaxRecent):]
	pairs := make([][2]int64, len(rec))
	for i, o := range rec {
		pairs[i] = [2]int64{micros(o.At), o.Count}
	}
	evJSON, _ := json.Marshal(ev) // strings and integers always marshal
	trJSON, _ := json.Marshal(us)
	recJSON, _ := json.Marshal(pairs)
	return []any{
		a.Key, version, string(a.Rule), a.App, a.Dyno, a.Code, string(a.Severity), string(a.Phase), cleanText(a.Summary), string(evJSON),
		micros(a.StartedAt), micros(a.FiredAt), micros(a.ResolvedAt), micros(a.LastEventAt), micros(a.LastNotifiedAt),
		a.Notified, a.Flapping, string(trJSON), a.Counter, string(recJSON),
		cleanText(a.Ack.By), micros(a.Ack.At), cleanText(a.Ack.Reason),
	}
}

func scanAlert(r row) (alert.State, error) {
	var (
		a                                      alert.State
		ev, tr, rec                            string
		started, fired, resolved, event, notif int64
		acked                                  int64
	)
	err := r.Scan(&a.ID, &a.Key, &a.Version, &a.Rule, &a.App, &a.Dyno, &a.Code, &a.Severity, &a.Phase, &a.Summary, &ev,
		&started, &fired, &resolved, &event, &notif, &a.Notified, &a.Flapping, &tr, &a.Counter, &rec,
		&a.Ack.By, &acked, &a.Ack.Reason)
	if err != nil {
		return a, err
	}
	a.StartedAt, a.FiredAt, a.ResolvedAt = fromMicros(started), fromMicros(fired), fromMicros(resolved)
	a.LastEventAt, a.LastNotifiedAt, a.Ack.At = fromMicros(event), fromMicros(notif), fromMicros(acked)
	var us []int64
	if err := json.Unmarshal([]byte(ev), &a.Evidence); err != nil {
		return a, fmt.Errorf("alert %s: evidence: %w", a.Key, err)
	}
	if err := json.Unmarshal([]byte(tr), &us); err != nil {
		return a, fmt.Errorf("alert %s: transitions: %w", a.Key, err)
	}
	if len(a.Evidence) == 0 {
		a.Evidence = nil
	}
	for _, u := range us {
		a.Transitions = append(a.Transitions, fromMicros(u))
	}
	var pairs [][2]int64
	if err := json.Unmarshal([]byte(rec), &pairs); err != nil {
		return a, fmt.Errorf("alert %s: recent: %w", a.Key, err)
	}
	for _, p := range pairs {
		a.Recent = append(a.Recent, alert.Occurrence{At: fromMicros(p[0]), Count: p[1]})
	}
	return a, nil
}

// Alert returns the current state of key: its latest episode, which may be
// resolved. It reports false when the key has no state (never had, or its
// last episode was pruned): then SaveAlert with expect 0 creates it.
func (s *Store) Alert(ctx context.Context, key string) (alert.State, bool, error) {
	a, err := scanAlert(s.q.queryRow(ctx, alertSelect+" WHERE key = $1 AND latest", key))
	switch {
	case isNoRows(err):
		return alert.State{}, false, nil
	case err != nil:
		return alert.State{}, false, fmt.Errorf("store: alert %s: %w", key, err)
	}
	return a, true, nil
}

// SaveAlert writes a as the state of a.Key if the stored state's Version is
// still expect (0: the key must have no state), and enqueues out in the same
// transaction, so a notification exists exactly when the state change that
// sent it does. It reports false, and writes nothing, when another writer
// changed the key first: read it again with Alert and decide anew. On
// success it sets a.ID and a.Version.
//
// An episode ends when it resolves. When the stored state is resolved and a
// is not (the alert started again), the stored episode is kept as history
// and a is written as a new one (a new ID); otherwise a replaces the stored
// state. Versions keep counting up across episodes.
//
// The rows of out are due at once unless NotBefore says otherwise.
func (s *Store) SaveAlert(ctx context.Context, a *alert.State, expect int64, out []alert.Outgoing) (bool, error) {
	if err := validateAlert(a); err != nil {
		return false, err
	}
	if expect < 0 {
		return false, fmt.Errorf("store: SaveAlert expect is %d, want 0 (new) or a Version", expect)
	}
	if err := validateMessages(out); err != nil {
		return false, err
	}
	var (
		saved bool
		id    int64
	)
	err := s.inTx(ctx, func(q querier) error {
		saved = false
		var err error
		if expect == 0 {
			id, saved, err = insertAlert(ctx, q, a, 1)
		} else {
			id, saved, err = s.updateAlert(ctx, q, a, expect)
		}
		if err != nil || !saved {
			return err
		}
		return enqueue(ctx, q, out)
	})
	if err != nil {
		return false, fmt.Errorf("store: save alert %s: %w", a.Key, err)
	}
	if saved {
		a.ID, a.Version = id, expect+1
	}
	return saved, nil
}

// insertAlert inserts a as the latest episode of its key, unless the key
// has one: the unique index on (key) WHERE latest decides between racing
// writers.
func insertAlert(ctx context.Context, q querier, a *alert.State, version int64) (int64, bool, error) {
	ph := make([]string, len(alertCols))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	r, err := q.query(ctx, `INSERT INTO alerts (latest, `+strings.Join(alertCols, ", ")+`)
		VALUES (TRUE, `+strings.Join(ph, ", ")+`) ON CONFLICT DO NOTHING RETURNING id`, alertValues(a, version)...)
	if err != nil {
		return 0, false, err
	}
	defer r.Close()
	var id int64
	if r.Next() {
		if err := r.Scan(&id); err != nil {
			return 0, false, err
		}
	}
	return id, id != 0, r.Err()
}

// updateAlert writes a over the latest episode of its key if that is at
// version expect, or starts a new episode after a resolved one.
func (s *Store) updateAlert(ctx context.Context, q querier, a *alert.State, expect int64) (int64, bool, error) {
	// On Postgres the row lock makes a racing writer wait here, then find
	// the version (or the latest flag) changed.
	var (
		id    int64
		phase alert.Phase
	)
	err := q.queryRow(ctx, `SELECT id, state FROM alerts WHERE key = $1 AND latest AND version = $2`+s.dialect(" FOR UPDATE", ""),
		a.Key, expect).Scan(&id, &phase)
	switch {
	case isNoRows(err):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	if phase == alert.PhaseResolved && a.Phase != alert.PhaseResolved {
		if _, err := q.exec(ctx, `UPDATE alerts SET latest = FALSE WHERE id = $1`, id); err != nil {
			return 0, false, err
		}
		return insertAlert(ctx, q, a, expect+1)
	}
	set := make([]string, len(alertCols))
	for i, c := range alertCols {
		set[i] = fmt.Sprintf("%s = $%d", c, i+2)
	}
	args := append([]any{id}, alertValues(a, expect+1)...)
	if _, err := q.exec(ctx, `UPDATE alerts SET `+strings.Join(set, ", ")+` WHERE id = $1`, args...); err != nil {
		return 0, false, err
	}
	return id, true, nil
}

// ActiveAlerts returns the alerts that are pending or firing, oldest
// episode first: what the worker's ticks look at.
func (s *Store) ActiveAlerts(ctx context.Context) ([]alert.State, error) {
	as, err := queryAll(ctx, s.q, scanAlert, alertSelect+" WHERE state <> '"+string(alert.PhaseResolved)+"' ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("store: active alerts: %w", err)
	}
	return as, nil
}

// Alert query limits.
const (
	DefaultAlertLimit = 100
	MaxAlertLimit     = 1000
)

// AlertQuery selects alert episodes, newest first. Empty fields select all.
type AlertQuery struct {
	Phase  alert.Phase // pending, firing or resolved
	App    string
	Key    string // the episodes of one alert
	ID     int64  // one episode
	Before int64  // cursor: only episodes with ID < Before; 0 for the newest
	Limit  int    // 0 means DefaultAlertLimit; at most MaxAlertLimit
}

// Alerts returns the alert episodes q selects, past and current, newest
// (highest ID: the latest to start) first. To page, pass the ID of the last
// one returned as the next query's Before.
func (s *Store) Alerts(ctx context.Context, q AlertQuery) ([]alert.State, error) {
	if q.Phase != "" {
		if _, err := alert.ParsePhase(string(q.Phase)); err != nil {
			return nil, fmt.Errorf("store: AlertQuery.Phase: %w", err)
		}
	}
	limit, err := pageLimit("AlertQuery.Limit", q.Limit, DefaultAlertLimit, MaxAlertLimit)
	if err != nil {
		return nil, err
	}
	f := newFilter(alertSelect + " WHERE TRUE")
	f.and(q.Phase != "", "state =", string(q.Phase))
	f.and(q.App != "", "app =", q.App)
	f.and(q.Key != "", "key =", q.Key)
	f.and(q.ID > 0, "id =", q.ID)
	f.and(q.Before > 0, "id <", q.Before)
	query, args := f.page(limit)
	as, err := queryAll(ctx, s.q, scanAlert, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: alerts: %w", err)
	}
	return as, nil
}

// LastRelease returns the line of the app's latest release event since a
// time, or else of its latest deploy, and whether there was one: the change
// an alert may have followed.
func (s *Store) LastRelease(ctx context.Context, app string, since time.Time) (string, bool, error) {
	for _, kind := range []parse.Kind{parse.KindRelease, parse.KindDeploy} {
		ev, err := s.Events(ctx, EventQuery{App: app, Kind: kind.String(), Since: since, Limit: 1})
		if err != nil {
			return "", false, err
		}
		if len(ev) > 0 {
			return ev[0].Line, true, nil
		}
	}
	return "", false, nil
}

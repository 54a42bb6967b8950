package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/notify"
)

// The outbox keeps each alert.Outgoing as a row (a notify.Delivery once
// read back). It does not read the payload; it keeps the few columns it
// needs beside it.
//
// The rows of one alert (AlertKey) on one channel go out in the order they
// were enqueued: a row waits until the ones before it are sent or given up.
// A row that follows a firing (alert.Status.Follows: a reminder, resolved or
// acknowledged) goes out
// only if the channel heard that firing (see notify.Delivery.FiringHeard).

// rank orders rows for claims: urgent ones (an instant rule's page, such as
// an R code or a crash loop) first, then by severity (critical, warning,
// info) within each.
func rank(o *alert.Outgoing) int {
	if o.Urgent {
		return urgentRanks + o.Severity.Rank()
	}
	return o.Severity.Rank()
}

// urgentRanks lifts an urgent row's rank above every other row's.
const urgentRanks = 3

// ErrClaimLost reports a MarkSent or MarkFailed by a holder that no longer
// holds the row: another holder claimed it after the lease ran out, or it is
// settled already (or gone). The row is left as it is.
var ErrClaimLost = errors.New("store: outbox claim lost")

func validateMessages(msgs []alert.Outgoing) error {
	for i, m := range msgs {
		switch {
		case m.DeliveryID == "":
			return fmt.Errorf("store: Outgoing.DeliveryID is empty (message %d)", i)
		case m.Channel == "":
			return fmt.Errorf("store: Outgoing.Channel is empty (message %d)", i)
		case !json.Valid(m.Payload):
			return fmt.Errorf("store: Outgoing.Payload is not JSON (message %d)", i)
		case m.CreatedAt.IsZero():
			return fmt.Errorf("store: Outgoing.CreatedAt is zero (message %d)", i)
		}
	}
	return nil
}

// outboxInsertRows is the number of messages per multi-row INSERT.
const outboxInsertRows = 100

func enqueue(ctx context.Context, q querier, msgs []alert.Outgoing) error {
	const cols = 10
	for len(msgs) > 0 {
		chunk := msgs[:min(len(msgs), outboxInsertRows)]
		msgs = msgs[len(chunk):]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO outbox (delivery_id, channel, app, alert_key, status, severity, rank, payload, created_us, next_us) VALUES `)
		args := make([]any, 0, cols*len(chunk))
		for i, m := range chunk {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('(')
			for c := range cols {
				if c > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, "$%d", len(args)+c+1)
			}
			sb.WriteByte(')')
			args = append(args, m.DeliveryID, m.Channel, m.App, m.AlertKey, string(m.Status), string(m.Severity), rank(&m),
				string(m.Payload), micros(m.CreatedAt), micros(m.NotBefore))
		}
		sb.WriteString(` ON CONFLICT DO NOTHING`)
		if _, err := q.exec(ctx, sb.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

const outboxCols = `id, delivery_id, channel, app, alert_key, status, severity, rank, payload, attempts, created_us, next_us, last_error,
	claimed_by, sent_us, heard, gave_up_us`

func scanOutbox(r row) (notify.Delivery, error) {
	var (
		it                          notify.Delivery
		payload                     string
		created, next, sent, gaveUp int64
		rk                          int
	)
	err := r.Scan(&it.ID, &it.DeliveryID, &it.Channel, &it.App, &it.AlertKey, &it.Status, &it.Severity, &rk, &payload, &it.Attempts,
		&created, &next, &it.LastError, &it.ClaimedBy, &sent, &it.Heard, &gaveUp)
	it.Urgent = rk > urgentRanks
	it.Payload = []byte(payload)
	it.CreatedAt, it.NextAttempt, it.SentAt, it.GaveUpAt = fromMicros(created), fromMicros(next), fromMicros(sent), fromMicros(gaveUp)
	return it, err
}

// MaxClaim caps the limit of ClaimOutbox.
const MaxClaim = 1000

// ClaimOutbox takes up to limit rows that are due at now (neither sent nor
// given up, NextAttempt at or before now, not claimed, or claimed with a
// lease that ran out, and with no earlier row of the same alert on the same
// channel still to go), marks them claimed by holder until now+lease, and
// returns them, the urgent first, then the most severe, then the longest due.
//
// Any number of workers may claim at once: each row goes to one of them
// (on Postgres, FOR UPDATE SKIP LOCKED lets each pass over the rows another
// is claiming). A worker that dies mid-send leaves its claim to run out,
// and another worker sends the row again: the one duplicate the outbox
// allows, which the delivery id lets receivers drop. A worker still sending
// keeps its rows with ExtendClaim. Holders compare times of their own
// clocks, so keep lease well above the clock skew between dynos and the
// longest send.
func (s *Store) ClaimOutbox(ctx context.Context, holder string, now time.Time, lease time.Duration, limit int) ([]notify.Delivery, error) {
	switch {
	case holder == "":
		return nil, errors.New("store: ClaimOutbox: holder is empty")
	case now.IsZero():
		return nil, errors.New("store: ClaimOutbox: now is zero")
	case lease <= 0:
		return nil, fmt.Errorf("store: ClaimOutbox: lease is %v, want more than 0", lease)
	case limit <= 0 || limit > MaxClaim:
		return nil, fmt.Errorf("store: ClaimOutbox: limit is %d, want 1…%d", limit, MaxClaim)
	}
	// A row claimed but not settled still holds back the later rows of its
	// alert, so a resolved never overtakes its firing on another worker.
	sql := `UPDATE outbox SET claimed_by = $1, claim_until_us = $2, attempts = attempts + 1
		WHERE id IN (SELECT o.id FROM outbox o
			WHERE o.sent_us = 0 AND o.gave_up_us = 0 AND o.next_us <= $3 AND o.claim_until_us <= $3
			AND NOT (o.alert_key <> '' AND EXISTS (SELECT 1 FROM outbox e
				WHERE e.alert_key = o.alert_key AND e.channel = o.channel AND e.id < o.id AND e.sent_us = 0 AND e.gave_up_us = 0))
			ORDER BY o.rank DESC, o.next_us, o.id LIMIT $4` + s.dialect(" FOR UPDATE OF o SKIP LOCKED", "") + `)
		RETURNING ` + outboxCols
	unlock := s.writeLock()
	items, err := queryAll(ctx, s.q, scanOutbox, sql, holder, now.Add(lease).UnixMicro(), now.UnixMicro(), limit)
	if err == nil {
		err = s.firingHeard(ctx, items)
	}
	unlock()
	if err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", err)
	}
	slices.SortFunc(items, func(a, b notify.Delivery) int {
		return cmp.Or(cmp.Compare(rank(&b.Outgoing), rank(&a.Outgoing)),
			a.NextAttempt.Compare(b.NextAttempt), cmp.Compare(a.ID, b.ID))
	})
	return items, nil
}

// ExtendClaim keeps the rows ids holder's until now+lease, as long as holder
// still holds them (made their latest claim, and they are not settled), and
// returns those it kept. A sender calls it before each send, so that a row
// it claimed with others is not taken over by another worker while it works
// through the ones before it on a slow channel.
func (s *Store) ExtendClaim(ctx context.Context, holder string, now time.Time, lease time.Duration, ids ...int64) ([]int64, error) {
	switch {
	case holder == "":
		return nil, errors.New("store: ExtendClaim: holder is empty")
	case now.IsZero():
		return nil, errors.New("store: ExtendClaim: now is zero")
	case lease <= 0:
		return nil, fmt.Errorf("store: ExtendClaim: lease is %v, want more than 0", lease)
	case len(ids) == 0:
		return nil, nil
	}
	var in strings.Builder
	args := []any{holder, now.Add(lease).UnixMicro()}
	for i, id := range ids {
		if i > 0 {
			in.WriteByte(',')
		}
		args = append(args, id)
		fmt.Fprintf(&in, "$%d", len(args))
	}
	unlock := s.writeLock()
	kept, err := queryAll(ctx, s.q, scanValue[int64], `UPDATE outbox SET claim_until_us = $2
		WHERE id IN (`+in.String()+`) AND claimed_by = $1 AND sent_us = 0 AND gave_up_us = 0 RETURNING id`, args...)
	unlock()
	if err != nil {
		return nil, fmt.Errorf("store: extend claim of %d rows by %s: %w", len(ids), holder, err)
	}
	return kept, nil
}

// firingHeard sets FiringHeard on the rows of items that follow a firing.
// The firing rows it reads are settled (a pending one would have held the
// claim back), and settled rows do not change.
func (s *Store) firingHeard(ctx context.Context, items []notify.Delivery) error {
	for i := range items {
		it := &items[i]
		if it.AlertKey == "" || !it.Status.Follows() {
			continue
		}
		err := s.q.queryRow(ctx, `SELECT heard FROM outbox WHERE alert_key = $1 AND channel = $2 AND id < $3
			AND status IN ('`+string(alert.Firing)+`', '`+string(alert.Flapping)+`') ORDER BY id DESC LIMIT 1`,
			it.AlertKey, it.Channel, it.ID).Scan(&it.FiringHeard)
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("the firing of %s on %s: %w", it.AlertKey, it.Channel, err)
		}
	}
	return nil
}

// MarkSent records that the row id was delivered (its channel heard it),
// and that its channel works. holder must have made the latest claim of the
// row; its lease may have run out as long as no other holder claimed the
// row since (then the send is recorded rather than repeated). Otherwise it
// returns ErrClaimLost and leaves the row to the holder that claimed it
// last.
func (s *Store) MarkSent(ctx context.Context, id int64, holder string, now time.Time) error {
	err := s.settle(ctx, id, holder, `sent_us = $3, heard = TRUE, claim_until_us = 0`, []any{micros(now)},
		`INSERT INTO outbox_channels (channel, failures, last_error, failed_us, sent_us) VALUES ($1, 0, '', 0, $2)
		ON CONFLICT (channel) DO UPDATE SET failures = 0, sent_us = excluded.sent_us`, now)
	if err != nil {
		return fmt.Errorf("store: mark sent %d: %w", id, err)
	}
	return nil
}

// MarkSkipped settles the row id without a send: its channel was not to
// hear it (narrowed to a higher severity, or a resolved whose firing it
// never heard). The row counts as done, not as heard, and says nothing of
// the channel's health. The claim rules are those of MarkSent.
func (s *Store) MarkSkipped(ctx context.Context, id int64, holder string, now time.Time) error {
	if err := s.settle(ctx, id, holder, `sent_us = $3, heard = FALSE, claim_until_us = 0`, []any{micros(now)}, "", now); err != nil {
		return fmt.Errorf("store: mark skipped %d: %w", id, err)
	}
	return nil
}

// MarkFailed records a failed attempt to deliver the row id, with its reason
// (which must hold no secret), and counts it against the channel. The row
// is due again at retryAt; a zero retryAt gives up on it for good, keeping
// the reason. The claim rules are those of MarkSent.
func (s *Store) MarkFailed(ctx context.Context, id int64, holder string, now, retryAt time.Time, reason string) error {
	reason = cleanText(reason)
	var gaveUp int64
	if retryAt.IsZero() {
		gaveUp = micros(now)
	}
	err := s.settle(ctx, id, holder,
		`next_us = $3, gave_up_us = $4, last_error = $5, claim_until_us = 0`,
		[]any{micros(retryAt), gaveUp, reason},
		`INSERT INTO outbox_channels AS c (channel, failures, last_error, failed_us, sent_us) VALUES ($1, 1, $3, $2, 0)
		ON CONFLICT (channel) DO UPDATE SET failures = c.failures + 1, last_error = excluded.last_error, failed_us = excluded.failed_us`,
		now, reason)
	if err != nil {
		return fmt.Errorf("store: mark failed %d: %w", id, err)
	}
	return nil
}

// settle updates a pending row claimed last by holder with set ($1 the id,
// $2 the holder, then setArgs), then runs channelSQL, if any, with the
// row's channel, now and channelArgs, in one transaction.
func (s *Store) settle(ctx context.Context, id int64, holder, set string, setArgs []any, channelSQL string, now time.Time, channelArgs ...any) error {
	if now.IsZero() {
		return errors.New("now is zero")
	}
	return s.inTx(ctx, func(q querier) error {
		var channel string
		err := q.queryRow(ctx, `UPDATE outbox SET `+set+`
			WHERE id = $1 AND claimed_by = $2 AND sent_us = 0 AND gave_up_us = 0 RETURNING channel`,
			append([]any{id, holder}, setArgs...)...).Scan(&channel)
		switch {
		case isNoRows(err):
			return fmt.Errorf("%w by %s", ErrClaimLost, holder)
		case err != nil || channelSQL == "":
			return err
		}
		_, err = q.exec(ctx, channelSQL, append([]any{channel, micros(now)}, channelArgs...)...)
		return err
	})
}

// LastNotified returns, for each of alertKeys that has a firing, flapping
// or reminder notification, when the latest went out: the first of its rows
// settled, sent or passed over (the clock of its sender), or Pending while
// none has and some are still to go; zero when all were given up. One
// query whatever their number: the alert engine asks it of every firing
// alert at every tick.
func (s *Store) LastNotified(ctx context.Context, alertKeys []string) (map[string]alert.Notified, error) {
	out := make(map[string]alert.Notified, len(alertKeys))
	if len(alertKeys) == 0 {
		return out, nil
	}
	keys, err := json.Marshal(alertKeys)
	if err != nil {
		return nil, fmt.Errorf("store: last notified of %d alerts: %w", len(alertKeys), err)
	}
	// The keys travel as one JSON array: thousands of them are one
	// parameter, not thousands (over SQLite's and Postgres's limits).
	type notified struct {
		key            string
		first, waiting int64
	}
	ns, err := queryAll(ctx, s.q, func(r row) (n notified, err error) { return n, r.Scan(&n.key, &n.first, &n.waiting) },
		`WITH latest AS (
			SELECT alert_key, max(id) AS id FROM outbox
			WHERE alert_key IN (`+s.dialect(`SELECT json_array_elements_text($1::json)`, `SELECT value FROM json_each($1)`)+`)
			AND status IN ('`+string(alert.Firing)+`', '`+string(alert.Flapping)+`', '`+string(alert.Reminder)+`')
			GROUP BY alert_key)
		SELECT l.alert_key, coalesce(min(nullif(o.sent_us, 0)), 0),
			coalesce(sum(CASE WHEN o.sent_us = 0 AND o.gave_up_us = 0 THEN 1 ELSE 0 END), 0)
		FROM latest l JOIN outbox d ON d.id = l.id JOIN outbox o ON o.delivery_id = d.delivery_id
		GROUP BY l.alert_key`, string(keys))
	if err != nil {
		return nil, fmt.Errorf("store: last notified of %d alerts: %w", len(alertKeys), err)
	}
	for _, n := range ns {
		if n.first != 0 {
			out[n.key] = alert.Notified{SentAt: fromMicros(n.first)}
		} else {
			out[n.key] = alert.Notified{Pending: n.waiting > 0}
		}
	}
	return out, nil
}

// AlertDeliveries returns the outbox rows of the alert key created from
// from to to (zero: no end), oldest first: where an episode was notified,
// and how each delivery went. Rows are pruned with the outbox.
func (s *Store) AlertDeliveries(ctx context.Context, key string, from, to time.Time) ([]notify.Delivery, error) {
	f := newFilter(`SELECT `+outboxCols+` FROM outbox WHERE alert_key = $1`, key)
	f.and(true, "created_us >=", micros(from))
	f.and(!to.IsZero(), "created_us <=", micros(to))
	f.sb.WriteString(" ORDER BY id LIMIT 1000")
	out, err := queryAll(ctx, s.q, scanOutbox, f.sb.String(), f.args...)
	if err != nil {
		return nil, fmt.Errorf("store: deliveries of %s: %w", key, err)
	}
	return out, nil
}

// groupScan is how many of an app's newest rows LastGroupStart looks at: a
// group's start is within its group wait, a minute or so, so it is among
// them unless a storm of other rows came after it.
const groupScan = 50

// LastGroupStart returns when the app's latest firing row of at least
// severity atLeast that was due at once (not held for a group itself) was
// written, if it was at or after since, among the app's groupScan newest
// rows: the start of the group a new firing of the app joins.
func (s *Store) LastGroupStart(ctx context.Context, app string, atLeast alert.Severity, since time.Time) (time.Time, bool, error) {
	// A row's rank is its severity's, lifted by urgentRanks when urgent.
	var created int64
	err := s.q.queryRow(ctx, `SELECT created_us FROM (
			SELECT id, status, rank, created_us, next_us FROM outbox WHERE app = $1 ORDER BY id DESC LIMIT $2) o
		WHERE o.status = $3 AND o.created_us >= $4 AND o.next_us <= o.created_us
			AND (o.rank BETWEEN $5 AND $6 OR o.rank >= $5 + $6)
		ORDER BY o.id DESC LIMIT 1`,
		app, groupScan, string(alert.Firing), micros(since), atLeast.Rank(), urgentRanks).Scan(&created)
	switch {
	case isNoRows(err):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("store: last group start of %s: %w", app, err)
	}
	return fromMicros(created), true, nil
}

// OutboxStats is what the monitor watches of its own delivery.
type OutboxStats struct {
	Pending int           // rows neither sent nor given up
	Oldest  time.Duration // how long the oldest pending row has waited; 0 when none
	// FailedByChannel counts, for each channel whose latest attempt failed,
	// the failed attempts since its last success; channels that work are
	// left out.
	FailedByChannel map[string]int
	LastError       map[string]string // the latest failure of each channel in FailedByChannel
}

// OutboxStats returns the outbox's backlog at now and the channels that keep
// failing, for the alerts "the outbox backs up" and "a channel keeps
// failing".
func (s *Store) OutboxStats(ctx context.Context, now time.Time) (OutboxStats, error) {
	st := OutboxStats{FailedByChannel: map[string]int{}, LastError: map[string]string{}}
	var oldest int64
	// A storm summary is held a span of its cap by design: it waits from
	// when it is due.
	err := s.q.queryRow(ctx, `SELECT count(*), coalesce(min(CASE WHEN status = $1 THEN next_us ELSE created_us END), 0)
		FROM outbox WHERE sent_us = 0 AND gave_up_us = 0`, string(notify.StatusStorm)).
		Scan(&st.Pending, &oldest)
	if err != nil {
		return st, fmt.Errorf("store: outbox stats: %w", err)
	}
	if oldest != 0 {
		st.Oldest = max(0, now.Sub(fromMicros(oldest)))
	}
	type failing struct {
		ch, msg string
		n       int
	}
	fs, err := queryAll(ctx, s.q, func(r row) (f failing, err error) { return f, r.Scan(&f.ch, &f.n, &f.msg) },
		`SELECT channel, failures, last_error FROM outbox_channels WHERE failures > 0`)
	if err != nil {
		return st, fmt.Errorf("store: outbox stats: %w", err)
	}
	for _, f := range fs {
		st.FailedByChannel[f.ch], st.LastError[f.ch] = f.n, f.msg
	}
	return st, nil
}

package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// AppDelta updates the per-app drain state.
type AppDelta struct {
	LastMessage     time.Time // the latest is kept
	DrainToken      string    // Logplex-Drain-Token; replaces the stored one when not empty
	Messages        int64     // added, like the counts below
	BadFrames       int64
	CountMismatches int64
	L10Dropped      int64
}

// Batch is what one drain request stores.
type Batch struct {
	App      string
	Key      string // dedupe key of a retried batch: "frame:<Logplex-Frame-Id>" or "req:<X-Request-Id>"; "" = no dedupe
	Received time.Time
	Events   []Event // Event.App is ignored: the batch's App is used
	State    AppDelta
}

func (b *Batch) validate() error {
	if b.App == "" {
		return errors.New("store: Batch.App is empty")
	}
	if b.Received.IsZero() {
		return errors.New("store: Batch.Received is zero")
	}
	return nil
}

// WriteBatches writes several batches in one transaction (group commit) and
// reports for each whether it was a duplicate and skipped: a batch whose
// Key was recorded already (a retry Logplex sent after a timeout, possibly
// to another web dyno) is not written. A duplicate key skips only its own
// batch; of two batches with the same key in bs, the later one is the
// duplicate. Keys are kept until Prune removes them (Retention.DedupeKeys,
// at least 10 minutes).
func (s *Store) WriteBatches(ctx context.Context, bs []*Batch) ([]bool, error) {
	dup := make([]bool, len(bs))
	if len(bs) == 0 {
		return dup, nil
	}
	seen := make(map[[2]string]bool, len(bs))
	for i, b := range bs {
		if err := b.validate(); err != nil {
			return nil, fmt.Errorf("%w (batch %d)", err, i)
		}
		if b.Key == "" {
			continue
		}
		k := [2]string{b.App, b.Key}
		dup[i] = seen[k]
		seen[k] = true
	}
	var err error
	if s.pg != nil {
		err = retryPG(ctx, func() error { return s.writeBatchesPG(ctx, bs, dup) })
	} else {
		err = s.writeBatchesLite(ctx, bs, dup)
	}
	if err != nil {
		return nil, fmt.Errorf("store: write batches: %w", err)
	}
	return dup, nil
}

// writeBatchesPG is one statement, so one round trip and one implicit
// transaction: it inserts the dedupe keys and writes the events and app
// state of only those batches whose key was new. Keys are inserted in
// (app, key) order and apps in name order, so concurrent writers take row
// locks in the same order and cannot deadlock each other.
const writeBatchesPG = `
WITH b AS (
	SELECT * FROM unnest($1::int4[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::text[],
	                     $7::int8[], $8::int8[], $9::int8[], $10::int8[])
		AS b(idx, app, key, received_us, last_us, token, messages, bad, mismatches, l10)
), nk AS (
	INSERT INTO dedupe_keys (app, key, seen_us)
	SELECT app, key, received_us FROM b WHERE key <> '' ORDER BY app, key
	ON CONFLICT DO NOTHING
	RETURNING app, key
), ok AS (
	SELECT * FROM b WHERE key = '' OR EXISTS (SELECT 1 FROM nk WHERE nk.app = b.app AND nk.key = b.key)
), ev AS (
	INSERT INTO events (app, time_us, kind, code, dyno, line)
	SELECT ok.app, e.time_us, e.kind, e.code, e.dyno, e.line
	FROM unnest($11::int4[], $12::int8[], $13::text[], $14::text[], $15::text[], $16::text[])
		WITH ORDINALITY AS e(idx, time_us, kind, code, dyno, line, ord)
	JOIN ok USING (idx)
	ORDER BY e.ord
), ap AS (
	INSERT INTO apps AS a (name, first_seen_us, last_message_us, drain_token, messages, bad_frames, count_mismatches, l10_dropped)
	SELECT app, min(received_us), max(last_us),
		coalesce((array_agg(token ORDER BY idx DESC) FILTER (WHERE token <> ''))[1], ''),
		sum(messages), sum(bad), sum(mismatches), sum(l10)
	FROM ok GROUP BY app ORDER BY app
	ON CONFLICT (name) DO UPDATE SET
		last_message_us  = greatest(a.last_message_us, excluded.last_message_us),
		drain_token      = CASE WHEN excluded.drain_token <> '' THEN excluded.drain_token ELSE a.drain_token END,
		messages         = a.messages + excluded.messages,
		bad_frames       = a.bad_frames + excluded.bad_frames,
		count_mismatches = a.count_mismatches + excluded.count_mismatches,
		l10_dropped      = a.l10_dropped + excluded.l10_dropped
)
SELECT idx FROM ok WHERE (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL`

// writeBatchesPG writes the batches not already marked in dup and marks
// those whose key the database knew.
func (s *Store) writeBatchesPG(ctx context.Context, bs []*Batch, dup []bool) error {
	var (
		n                                = len(bs)
		idx                              = make([]int32, 0, n)
		app, key, token                  = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		recv, last, msgs, bad, mism, l10 = make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
		eIdx                             []int32
		eTime                            []int64
		eKind, eCode, eDyno, eLine       []string
		written                          = make([]bool, n)
	)
	for i, b := range bs {
		if dup[i] {
			continue
		}
		idx = append(idx, int32(i))
		app, key, token = append(app, b.App), append(key, dedupeKey(b.Key)), append(token, b.State.DrainToken)
		recv, last = append(recv, micros(b.Received)), append(last, micros(b.State.LastMessage))
		msgs, bad = append(msgs, b.State.Messages), append(bad, b.State.BadFrames)
		mism, l10 = append(mism, b.State.CountMismatches), append(l10, b.State.L10Dropped)
		for _, e := range b.Events {
			eIdx, eTime = append(eIdx, int32(i)), append(eTime, micros(e.Time))
			eKind, eCode = append(eKind, e.Kind), append(eCode, e.Code)
			eDyno, eLine = append(eDyno, e.Dyno), append(eLine, cleanText(e.Line))
		}
	}
	// The drain waits for this commit before it answers Logplex, and a
	// synchronous commit is mostly the wait for the WAL flush. Committed
	// asynchronously, the batch survives any crash of dynowatch; only a crash
	// of the database server can lose its last fraction of a second, which
	// is less than the rollups already hold in memory (see README). The
	// statement turns synchronous_commit off for its own implicit
	// transaction (set_config's is_local), so that the whole write is one
	// round trip rather than four (BEGIN, SET LOCAL, the query, COMMIT): at
	// small batches the drain's latency is those round trips.
	r, err := s.pg.Query(ctx, writeBatchesPG, idx, app, key, recv, last, token, msgs, bad, mism, l10,
		eIdx, eTime, eKind, eCode, eDyno, eLine)
	if err != nil {
		return err
	}
	for r.Next() {
		var i int32
		if err := r.Scan(&i); err != nil {
			r.Close()
			return err
		}
		written[i] = true
	}
	r.Close()
	if err := r.Err(); err != nil {
		return err
	}
	for _, i := range idx {
		dup[i] = !written[i]
	}
	return nil
}

// maxDedupeKey is the longest dedupe key stored as it is. Logplex's
// Frame-Ids (32 hex digits) and log-shuttle's request ids (UUIDs) are far
// shorter; a longer key, which only a hand-made request carries, is stored as
// its SHA-256, so that no key can exceed the index's row size limit (about
// 2.7 kB on Postgres) and fail the other batches of its group commit.
const maxDedupeKey = 128

// dedupeKey is the form of key stored in dedupe_keys. Keys that are not
// valid UTF-8 or hold NUL bytes, which Postgres text cannot store, are
// hashed too.
func dedupeKey(key string) string {
	if len(key) <= maxDedupeKey && utf8.ValidString(key) && strings.IndexByte(key, 0) < 0 {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// cleanText removes NUL bytes, which Postgres text cannot hold (and SQLite
// is kept alike); a log line may carry anything.
func cleanText(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// eventInsertRows is the number of events per multi-row INSERT on SQLite
// (6 parameters each, far below SQLite's limit).
const eventInsertRows = 100

func (s *Store) writeBatchesLite(ctx context.Context, bs []*Batch, dup []bool) error {
	return s.inTx(ctx, func(q querier) error {
		deltas := map[string]*AppDelta{}
		first := map[string]time.Time{}
		var apps []string
		for i, b := range bs {
			if dup[i] {
				continue
			}
			if b.Key != "" {
				n, err := q.exec(ctx, `INSERT INTO dedupe_keys (app, key, seen_us) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
					b.App, dedupeKey(b.Key), micros(b.Received))
				if err != nil {
					return err
				}
				if n == 0 {
					dup[i] = true
					continue
				}
			}
			if err := insertEventsLite(ctx, q, b.App, b.Events); err != nil {
				return err
			}
			d := deltas[b.App]
			if d == nil {
				d = &AppDelta{}
				deltas[b.App] = d
				first[b.App] = b.Received
				apps = append(apps, b.App)
			}
			d.add(&b.State)
			if b.Received.Before(first[b.App]) {
				first[b.App] = b.Received
			}
		}
		for _, a := range apps {
			d := deltas[a]
			_, err := q.exec(ctx, `INSERT INTO apps AS a (name, first_seen_us, last_message_us, drain_token, messages, bad_frames, count_mismatches, l10_dropped)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (name) DO UPDATE SET
					last_message_us  = max(a.last_message_us, excluded.last_message_us),
					drain_token      = CASE WHEN excluded.drain_token <> '' THEN excluded.drain_token ELSE a.drain_token END,
					messages         = a.messages + excluded.messages,
					bad_frames       = a.bad_frames + excluded.bad_frames,
					count_mismatches = a.count_mismatches + excluded.count_mismatches,
					l10_dropped      = a.l10_dropped + excluded.l10_dropped`,
				a, micros(first[a]), micros(d.LastMessage), d.DrainToken, d.Messages, d.BadFrames, d.CountMismatches, d.L10Dropped)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// add folds o into d as the store would apply both in turn.
func (d *AppDelta) add(o *AppDelta) {
	if o.LastMessage.After(d.LastMessage) {
		d.LastMessage = o.LastMessage
	}
	if o.DrainToken != "" {
		d.DrainToken = o.DrainToken
	}
	d.Messages += o.Messages
	d.BadFrames += o.BadFrames
	d.CountMismatches += o.CountMismatches
	d.L10Dropped += o.L10Dropped
}

func insertEventsLite(ctx context.Context, q querier, app string, evs []Event) error {
	for len(evs) > 0 {
		chunk := evs[:min(len(evs), eventInsertRows)]
		evs = evs[len(chunk):]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO events (app, time_us, kind, code, dyno, line) VALUES `)
		args := make([]any, 0, 6*len(chunk))
		for i, e := range chunk {
			if i > 0 {
				sb.WriteByte(',')
			}
			n := len(args)
			fmt.Fprintf(&sb, "($%d,$%d,$%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4, n+5, n+6)
			args = append(args, app, micros(e.Time), e.Kind, e.Code, e.Dyno, cleanText(e.Line))
		}
		if _, err := q.exec(ctx, sb.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

package store

import (
	"context"
	"fmt"
	"time"
)

// Retention says how long rows are kept. Zero keeps a kind of row forever,
// except DedupeKeys, which must cover Logplex's retries.
type Retention struct {
	Events     time.Duration
	Minute     time.Duration // router rollups and latency histograms per minute
	Samples    time.Duration // metric samples per minute
	Hourly     time.Duration // router rollups, latency histograms and samples per hour
	DedupeKeys time.Duration // at least MinDedupeRetention
	Alerts     time.Duration // resolved alert episodes, outbox rows (sent or not), ended silences and the audit log
	Checks     time.Duration // status check results
}

// MinDedupeRetention is the shortest Retention.DedupeKeys: Logplex retries a
// batch within a few tens of seconds, and the issue promises ten minutes.
const MinDedupeRetention = 10 * time.Minute

// DefaultRetention returns dynowatch's defaults: 30 days of events, minute
// rollups, samples, alert history and check results, a year of hourly
// rollups, and an hour of dedupe keys (a busy drain sends several batches a
// second: a day of keys would take about 100 MB).
func DefaultRetention() Retention {
	const day = 24 * time.Hour
	return Retention{Events: 30 * day, Minute: 30 * day, Samples: 30 * day, Hourly: 365 * day, DedupeKeys: time.Hour, Alerts: 30 * day, Checks: 30 * day}
}

func (r *Retention) validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Events", r.Events}, {"Minute", r.Minute}, {"Samples", r.Samples}, {"Hourly", r.Hourly}, {"Alerts", r.Alerts}, {"Checks", r.Checks}} {
		if f.d < 0 {
			return fmt.Errorf("store: Retention.%s is %v, want 0 (forever) or more", f.name, f.d)
		}
	}
	if r.DedupeKeys < MinDedupeRetention {
		return fmt.Errorf("store: Retention.DedupeKeys is %v, want at least %v", r.DedupeKeys, MinDedupeRetention)
	}
	return nil
}

// PruneResult counts the rows Prune deleted.
type PruneResult struct {
	Events        int64
	Minute        int64 // router rollups and latency histograms per minute
	Samples       int64
	Hourly        int64 // router rollups and latency histograms per hour
	HourlySamples int64
	DedupeKeys    int64
	Alerts        int64 // resolved alert episodes
	Outbox        int64
	Silences      int64
	Checks        int64 // status check results
	MessageRefs   int64 // where channels told of alerts no longer active
	StormLog      int64 // what capped channels were told, or had collapsed, that long ago
	Audit         int64 // audit log entries
}

// pruneChunk is the most rows one DELETE removes, so no statement holds
// its locks for long.
const pruneChunk = 5000

// Prune deletes the rows older than r allows at now, in chunks of at most a
// few thousand rows per statement and transaction, app by app.
func (s *Store) Prune(ctx context.Context, now time.Time, r Retention) (PruneResult, error) {
	var res PruneResult
	if err := r.validate(); err != nil {
		return res, err
	}
	n, err := s.pruneChunks(ctx, `DELETE FROM dedupe_keys WHERE (app, key) IN
		(SELECT app, key FROM dedupe_keys WHERE seen_us < $1 LIMIT $2)`, now.Add(-r.DedupeKeys).UnixMicro())
	res.DedupeKeys = n
	if err != nil {
		return res, err
	}
	if err := s.pruneAlerts(ctx, now, r, &res); err != nil {
		return res, err
	}
	if err := s.pruneChecks(ctx, now, r, &res); err != nil {
		return res, err
	}
	apps, err := s.Apps(ctx)
	if err != nil {
		return res, err
	}
	for _, a := range apps {
		for _, p := range []struct {
			keep time.Duration
			sql  string
			unit time.Duration
			n    *int64
		}{
			{r.Events, `DELETE FROM events WHERE id IN
				(SELECT id FROM events WHERE app = $3 AND time_us < $1 ORDER BY id LIMIT $2)`, time.Microsecond, &res.Events},
			{r.Minute, `DELETE FROM rollups_minute WHERE app = $3 AND (minute, dyno) IN
				(SELECT minute, dyno FROM rollups_minute WHERE app = $3 AND minute < $1 ORDER BY minute LIMIT $2)`, time.Second, &res.Minute},
			{r.Minute, `DELETE FROM latency_minute WHERE app = $3 AND minute IN
				(SELECT minute FROM latency_minute WHERE app = $3 AND minute < $1 ORDER BY minute LIMIT $2)`, time.Second, &res.Minute},
			{r.Hourly, `DELETE FROM latency_hourly WHERE app = $3 AND hour IN
				(SELECT hour FROM latency_hourly WHERE app = $3 AND hour < $1 ORDER BY hour LIMIT $2)`, time.Second, &res.Hourly},
			{r.Hourly, `DELETE FROM rollups_hourly WHERE app = $3 AND (hour, dyno) IN
				(SELECT hour, dyno FROM rollups_hourly WHERE app = $3 AND hour < $1 ORDER BY hour LIMIT $2)`, time.Second, &res.Hourly},
			{r.Samples, `DELETE FROM samples_minute WHERE app = $3 AND (minute, kind, source) IN
				(SELECT minute, kind, source FROM samples_minute WHERE app = $3 AND minute < $1 ORDER BY minute LIMIT $2)`, time.Second, &res.Samples},
			{r.Hourly, `DELETE FROM samples_hourly WHERE app = $3 AND (hour, kind, source) IN
				(SELECT hour, kind, source FROM samples_hourly WHERE app = $3 AND hour < $1 ORDER BY hour LIMIT $2)`, time.Second, &res.HourlySamples},
		} {
			if p.keep == 0 {
				continue
			}
			cutoff := now.Add(-p.keep)
			c := cutoff.Unix()
			if p.unit == time.Microsecond {
				c = cutoff.UnixMicro()
			}
			n, err := s.pruneChunks(ctx, p.sql, c, a.Name)
			*p.n += n
			if err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// pruneAlerts deletes the alert episodes resolved, the outbox rows created
// (but the firings of alerts still active), the silences ended, the
// message refs last used (but those of alerts still active) and the audit
// entries written before r.Alerts.
func (s *Store) pruneAlerts(ctx context.Context, now time.Time, r Retention, res *PruneResult) error {
	if r.Alerts == 0 {
		return nil
	}
	cutoff := now.Add(-r.Alerts).UnixMicro()
	for _, p := range []struct {
		sql string
		n   *int64
	}{
		// A pruned latest episode takes its key's state with it: the
		// alert's next write creates the key afresh (SaveAlert, expect 0).
		{`DELETE FROM alerts WHERE id IN
			(SELECT id FROM alerts WHERE state = 'resolved' AND resolved_us < $1 ORDER BY resolved_us LIMIT $2)`, &res.Alerts},
		// Rows never delivered go too: a month-old notification is noise.
		// The firing rows of an alert still firing are kept: its resolved
		// goes to the channels that heard them.
		{`DELETE FROM outbox WHERE id IN
			(SELECT id FROM outbox WHERE created_us < $1 AND NOT (status IN ('firing', 'flapping')
				AND alert_key IN (SELECT key FROM alerts WHERE latest AND state <> 'resolved'))
			ORDER BY created_us LIMIT $2)`, &res.Outbox},
		{`DELETE FROM silences WHERE id IN
			(SELECT id FROM silences WHERE until_us < $1 ORDER BY until_us LIMIT $2)`, &res.Silences},
		// An alert still active keeps its message, however old: its
		// resolution edits it.
		{`DELETE FROM message_refs WHERE (channel, alert_key) IN
			(SELECT channel, alert_key FROM message_refs WHERE updated_us < $1
				AND alert_key NOT IN (SELECT key FROM alerts WHERE latest AND state <> 'resolved')
			ORDER BY updated_us LIMIT $2)`, &res.MessageRefs},
		// Who acted is kept as long as the alerts and silences acted on:
		// an alert's timeline reads its acks and silences from here.
		{`DELETE FROM audit_log WHERE id IN
			(SELECT id FROM audit_log WHERE at_us < $1 ORDER BY id LIMIT $2)`, &res.Audit},
		// A storm cap spans a day at most; its summaries are long sent.
		{`DELETE FROM storm_log WHERE (channel, delivery_id) IN
			(SELECT channel, delivery_id FROM storm_log WHERE at_us < $1 ORDER BY at_us LIMIT $2)`, &res.StormLog},
	} {
		n, err := s.pruneChunks(ctx, p.sql, cutoff)
		*p.n += n
		if err != nil {
			return err
		}
	}
	return nil
}

// pruneChunks runs a chunked DELETE ($1 the cutoff, $2 the chunk size, then
// args) until a chunk deletes fewer rows than it may.
func (s *Store) pruneChunks(ctx context.Context, sql string, cutoff int64, args ...any) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		unlock := s.writeLock()
		n, err := s.q.exec(ctx, sql, append([]any{cutoff, pruneChunk}, args...)...)
		unlock()
		total += n
		if err != nil {
			return total, fmt.Errorf("store: prune: %w", err)
		}
		if n < pruneChunk {
			return total, nil
		}
	}
}

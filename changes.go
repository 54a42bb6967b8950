package main

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/ingest"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/parse"
	"github.com/dynowatch/dynowatch/internal/store"
)

// changeWriter writes the releases and deploys of drained batches to the
// outbox of the channels that take them (PagerDuty's change events), off
// the drain's request path: the drain hook only queues the rows, and Run
// writes them, so that a slow store never holds up the drain's 2xx. The
// queue holds at most changeQueueRows rows; what comes while it is full is
// counted (Dropped) and logged, not kept. Each row's delivery id comes from
// its app and line (notify.Changes), so the outbox still tells of a line
// once however often, and through however many dynos, it arrives.
//
// Each channel's cap on changes (PAGERDUTY_CHANGE_CAP) is counted in the
// store, so it holds across dynos and restarts: the rows over it are not
// written, but counted (Capped) and logged once per app, channel and span.
type changeWriter struct {
	store     *store.Store
	caps      map[string]config.StormCap // by channel
	channels  []string                   // caps' keys, sorted
	dashboard string
	now       func() time.Time
	log       *slog.Logger
	queue     chan alert.Outgoing
	full      atomic.Int64 // rows turned away by a full queue
	capped    atomic.Int64 // rows over a channel's cap
	// noted says until when the cap of an app on a channel was logged as
	// reached; only the goroutine that writes reads and writes it.
	noted map[appChannel]time.Time
}

type appChannel struct{ app, channel string }

// changeQueueRows bounds the rows waiting to be written (a row is about a
// kilobyte): hours of releases, a second of a flood.
const changeQueueRows = 1000

// changeTimeout bounds one write of queued rows to the outbox.
const changeTimeout = 5 * time.Second

// changeWriteRows is the most rows one write takes from the queue.
const changeWriteRows = 100

// newChangeWriter returns the writer of changes to the channels of caps,
// each under its cap, or nil when no channel takes changes; now is the
// clock of the rows and of the caps.
func newChangeWriter(st *store.Store, caps map[string]config.StormCap, dashboard string, now func() time.Time, log *slog.Logger) *changeWriter {
	if len(caps) == 0 {
		return nil
	}
	return &changeWriter{store: st, caps: caps, channels: slices.Sorted(maps.Keys(caps)), dashboard: dashboard, now: now, log: log,
		queue: make(chan alert.Outgoing, changeQueueRows), noted: map[appChannel]time.Time{}}
}

// add queues the releases and deploys among app's entries, without
// waiting: the drain hook calls it. Replayed batches never get here.
func (w *changeWriter) add(app string, entries []parse.Entry) {
	if w == nil {
		return
	}
	out, err := notify.Changes(app, entries, w.channels, w.dashboard, w.now())
	if err != nil {
		w.log.Error("telling of a release or deploy", "app", app, "err", err)
		return
	}
	for _, o := range out {
		select {
		case w.queue <- o:
		default:
			w.full.Add(1)
		}
	}
}

// Dropped counts the rows a full queue turned away.
func (w *changeWriter) Dropped() int64 {
	if w == nil {
		return 0
	}
	return w.full.Load()
}

// Capped counts the rows left out over a channel's cap.
func (w *changeWriter) Capped() int64 {
	if w == nil {
		return 0
	}
	return w.capped.Load()
}

// Run writes what add queues until ctx is done, then what is left, within
// ingest.FinalFlushTimeout (the requests it came with were answered).
func (w *changeWriter) Run(ctx context.Context) {
	if w == nil {
		return
	}
	var logged int64 // of full, when last logged
	noteFull := func() {
		if n := w.full.Load(); n > logged {
			w.log.Warn("releases and deploys not told: the queue of changes to write was full", "dropped", n-logged)
			logged = n
		}
	}
	for {
		select {
		case o := <-w.queue:
			w.write(context.WithoutCancel(ctx), w.take(o))
			noteFull()
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), ingest.FinalFlushTimeout)
			defer cancel()
			defer noteFull()
			for {
				select {
				case o := <-w.queue:
					w.write(final, w.take(o))
				default:
					return
				}
			}
		}
	}
}

// take returns first and what else is queued, up to changeWriteRows.
func (w *changeWriter) take(first alert.Outgoing) []alert.Outgoing {
	rows := []alert.Outgoing{first}
	for len(rows) < changeWriteRows {
		select {
		case o := <-w.queue:
			rows = append(rows, o)
		default:
			return rows
		}
	}
	return rows
}

// write writes rows to the outbox under the channels' caps, within
// changeTimeout, and logs a cap reached once per span.
func (w *changeWriter) write(ctx context.Context, rows []alert.Outgoing) {
	ctx, cancel := context.WithTimeout(ctx, changeTimeout)
	defer cancel()
	now := w.now()
	over, err := w.store.EnqueueChanges(ctx, rows, w.caps, now)
	if err != nil {
		w.log.Error("telling of releases and deploys", "changes", len(rows), "app", rows[0].App, "err", err)
		return
	}
	w.capped.Add(int64(len(over)))
	maps.DeleteFunc(w.noted, func(_ appChannel, until time.Time) bool { return !now.Before(until) })
	for _, o := range over {
		k := appChannel{o.App, o.Channel}
		if _, ok := w.noted[k]; ok {
			continue
		}
		limit := w.caps[o.Channel]
		w.noted[k] = now.Add(limit.Per)
		w.log.Warn("more releases and deploys than "+strings.ToUpper(o.Channel)+"_CHANGE_CAP allows: those over it are not sent, only counted (dynowatch_changes_dropped_total)",
			"app", o.App, "channel", o.Channel, "cap", limit.String())
	}
}

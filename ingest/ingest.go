// Package ingest routes what the drain receives: notable lines become events
// written before the drain answers, router lines and metric samples are
// rolled up in memory per minute and flushed every few seconds.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dynowatch/dynowatch/drain"
	"github.com/dynowatch/dynowatch/parse"
	"github.com/dynowatch/dynowatch/store"
)

// Store is what the pipeline needs from the store.
type Store interface {
	WriteBatches(ctx context.Context, bs []*store.Batch) ([]bool, error)
	MergeRollups(ctx context.Context, r []store.Rollup, s []store.SampleRollup) error
}

// Options configures a Pipeline.
type Options struct {
	Store               Store
	Logger              *slog.Logger
	FlushEvery          time.Duration // how often rollups are written
	Committers          int           // transactions committing batches at once; 1 for the embedded store
	EventLinesPerMinute int           // raw lines kept per app, kind, code and minute
	KeepQueryStrings    bool
	KeepClientIPs       bool
	Now                 func() time.Time // optional; time.Now by default
	// Observe, if set, sees every committed batch's entries (not retries)
	// before Ingest returns: alert rules watch here. It must not block, and
	// must not keep the slice.
	Observe func(app string, entries []parse.Entry)
	Metrics Metrics // optional
}

// Metrics times the pipeline's writes, for /metrics.
type Metrics interface {
	Commit(batches int, took time.Duration, err error) // a group commit of drain batches
	Flush(took time.Duration, err error)               // a rollup flush
}

type nopMetrics struct{}

func (nopMetrics) Commit(int, time.Duration, error) {}
func (nopMetrics) Flush(time.Duration, error)       {}

func (o *Options) validate() error {
	switch {
	case o.Store == nil:
		return errors.New("ingest: Options.Store is required")
	case o.Logger == nil:
		return errors.New("ingest: Options.Logger is required")
	case o.Committers < 1:
		return fmt.Errorf("ingest: Options.Committers must be at least 1, got %d", o.Committers)
	case o.FlushEvery <= 0:
		return fmt.Errorf("ingest: Options.FlushEvery must be positive, got %v", o.FlushEvery)
	case o.EventLinesPerMinute < 0:
		return fmt.Errorf("ingest: Options.EventLinesPerMinute must not be negative, got %d", o.EventLinesPerMinute)
	}
	return nil
}

// Pipeline takes drain batches (it is a drain.Sink). Run must be running for
// Ingest to succeed.
type Pipeline struct {
	o       Options
	commits chan *commit
	done    chan struct{} // closed when Run stops taking commits

	mu      sync.Mutex
	rollups map[rollupKey]*store.Rollup
	samples map[sampleKey]*store.SampleRollup
	apps    map[string]*store.AppDelta
	lines   map[lineKey]int // event lines kept per minute, for the cap
	newest  int64           // the newest minute in lines
}

type rollupKey struct {
	app, dyno string
	minute    int64
}

type sampleKey struct {
	app, kind, source string
	minute            int64
}

type lineKey struct {
	app, kind, code string
	minute          int64
}

type commit struct {
	batch *store.Batch
	dup   bool
	err   error
	done  chan struct{}
}

// New returns a Pipeline.
func New(o Options) (*Pipeline, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	return &Pipeline{
		o:       o,
		commits: make(chan *commit),
		done:    make(chan struct{}),
		rollups: map[rollupKey]*store.Rollup{},
		samples: map[sampleKey]*store.SampleRollup{},
		apps:    map[string]*store.AppDelta{},
		lines:   map[lineKey]int{},
	}, nil
}

// ErrStopped is returned by Ingest once the pipeline has stopped.
var ErrStopped = errors.New("ingest: pipeline stopped")

// Ingest writes the batch's events and its dedupe key, and once they are
// committed adds its router lines and samples to the in-memory rollups.
func (p *Pipeline) Ingest(ctx context.Context, b *drain.Batch) (bool, error) {
	sb := p.events(b)
	c := &commit{batch: sb, done: make(chan struct{})}
	select {
	case p.commits <- c:
	case <-p.done:
		return false, ErrStopped
	case <-ctx.Done():
		return false, ctx.Err()
	}
	<-c.done // the committer always answers, even when stopping
	if c.err != nil || c.dup {
		// Nothing of this batch was kept: a retry must not use up the
		// minute's line cap, or later distinct lines would be dropped.
		p.release(sb)
		return c.dup, c.err
	}
	p.aggregate(b)
	if p.o.Observe != nil && !b.Replayed {
		p.o.Observe(b.App, b.Entries)
	}
	return false, nil
}

// events picks the lines worth keeping whole, within the per-minute cap.
func (p *Pipeline) events(b *drain.Batch) *store.Batch {
	sb := &store.Batch{App: b.App, Key: b.Key, Received: b.Received}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range b.Entries {
		e := &b.Entries[i]
		code, dyno, ok := eventOf(e)
		if !ok {
			continue
		}
		k := lineKey{b.App, e.Kind.String(), code, e.Time.Unix() / 60}
		n, seen := p.lines[k]
		if n >= p.o.EventLinesPerMinute {
			continue // counted in the rollups, not kept whole
		}
		if !seen {
			k.code = strings.Clone(code) // the key must not keep the whole line alive
			p.newest = max(p.newest, k.minute)
		}
		p.lines[k] = n + 1
		sb.Events = append(sb.Events, store.Event{
			App: b.App, Time: e.Time, Kind: e.Kind.String(), Code: code, Dyno: dyno,
			Line: e.Line(p.o.KeepQueryStrings, p.o.KeepClientIPs),
		})
	}
	return sb
}

// release gives back the line cap that events took for sb's lines.
func (p *Pipeline) release(sb *store.Batch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range sb.Events {
		ev := &sb.Events[i]
		k := lineKey{ev.App, ev.Kind, ev.Code, ev.Time.Unix() / 60}
		if n := p.lines[k]; n > 1 {
			p.lines[k] = n - 1
		} else {
			delete(p.lines, k)
		}
	}
}

// eventOf says whether e is kept as an event, and with which code and dyno.
func eventOf(e *parse.Entry) (code, dyno string, ok bool) {
	switch e.Kind {
	case parse.KindRouter:
		return e.Router.Code, e.Router.Dyno, e.Router.Code != ""
	case parse.KindDynoError:
		return e.DynoError.Code, e.Process, true
	case parse.KindLogplexError:
		return e.Logplex.Code, e.Process, true
	case parse.KindPostgresLog:
		c := e.Postgres.SQLErrorCode
		return c, e.Process, c != "" && c != "00000"
	case parse.KindMemoryUsage, parse.KindStateChange, parse.KindProcessExit, parse.KindProcessStop,
		parse.KindRelease, parse.KindDeploy, parse.KindScale:
		return "", e.Process, true
	}
	return "", "", false
}

// aggregate adds a committed batch to the in-memory rollups.
func (p *Pipeline) aggregate(b *drain.Batch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.apps[b.App]
	if d == nil {
		d = &store.AppDelta{}
		p.apps[b.App] = d
	}
	if b.Received.After(d.LastMessage) && len(b.Entries) > 0 && !b.Replayed {
		d.LastMessage = b.Received
	}
	if b.DrainToken != "" {
		d.DrainToken = b.DrainToken
	}
	d.Messages += int64(len(b.Entries))
	d.BadFrames += int64(b.BadFrames)
	if b.CountMismatch {
		d.CountMismatches++
	}
	for i := range b.Entries {
		e := &b.Entries[i]
		switch e.Kind {
		case parse.KindRouter:
			p.addRequest(b.App, e)
		case parse.KindRuntimeMetrics, parse.KindPostgresMetrics, parse.KindRedisMetrics, parse.KindPgBouncerMetrics:
			p.addSamples(b.App, e)
		case parse.KindLogplexError:
			if e.Logplex.Code == "L10" && e.Logplex.Dropped > 0 {
				d.L10Dropped += int64(e.Logplex.Dropped)
			}
		}
	}
}

func (p *Pipeline) addRequest(app string, e *parse.Entry) {
	r := &e.Router
	k := rollupKey{app, r.Dyno, e.Time.Unix() / 60}
	ru := p.rollups[k]
	if ru == nil {
		ru = &store.Rollup{App: app, Dyno: strings.Clone(r.Dyno), Minute: time.Unix(k.minute*60, 0).UTC()}
		k.dyno = ru.Dyno // don't keep the whole line alive through the map key
		p.rollups[k] = ru
	}
	ru.Requests++
	switch {
	case r.Status >= 500:
		ru.Status5xx++
	case r.Status >= 400:
		ru.Status4xx++
	case r.Status >= 300:
		ru.Status3xx++
	case r.Status >= 200:
		ru.Status2xx++
	}
	if r.Bytes > 0 {
		ru.Bytes += r.Bytes
	}
	if r.Code != "" {
		if ru.Codes == nil {
			ru.Codes = map[string]int64{}
		}
		if _, ok := ru.Codes[r.Code]; !ok {
			ru.Codes[strings.Clone(r.Code)] = 0
		}
		ru.Codes[r.Code]++
	}
	if r.ServiceMS >= 0 {
		ru.Service.Observe(r.ServiceMS)
	}
}

func (p *Pipeline) addSamples(app string, e *parse.Entry) {
	m := &e.Metrics
	source := m.Dyno
	if source == "" {
		source = m.Attachment
	}
	k := sampleKey{app, e.Kind.String(), source, e.Time.Unix() / 60}
	sr := p.samples[k]
	if sr == nil {
		sr = &store.SampleRollup{App: app, Kind: k.kind, Source: strings.Clone(source), Minute: time.Unix(k.minute*60, 0).UTC(), Values: map[string]float64{}}
		k.source = sr.Source
		p.samples[k] = sr
	}
	for _, s := range m.Samples {
		if v, ok := sr.Values[s.Name]; !ok || s.Value > v {
			sr.Values[s.Name] = s.Value
		}
	}
}

// Run commits batches as they come and flushes the rollups every
// FlushEvery. When ctx is done it refuses new batches, commits those already
// taken, flushes what it holds and returns.
//
// Commits run in Committers goroutines of their own, so that a commit never
// waits for a flush, nor for another commit in flight.
func (p *Pipeline) Run(ctx context.Context) error {
	// Writes outlive ctx: batches already taken must still be answered, and
	// what they left must be flushed (Heroku gives 30 s after SIGTERM).
	writeCtx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for range p.o.Committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.commitLoop(ctx, writeCtx)
		}()
	}
	tick := time.NewTicker(p.o.FlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			p.flush(ctx)
			continue
		case <-ctx.Done():
		}
		break
	}
	close(p.done)
	wg.Wait()
	fctx, cancel := context.WithTimeout(writeCtx, 10*time.Second)
	defer cancel()
	return p.flush(fctx)
}

// commitLoop commits groups of batches until ctx is done and no batch is
// waiting any more.
func (p *Pipeline) commitLoop(ctx, writeCtx context.Context) {
	for {
		select {
		case c := <-p.commits:
			p.commitGroup(writeCtx, c)
		case <-ctx.Done():
			for {
				select {
				case c := <-p.commits: // a request that got in before done closed
					p.commitGroup(writeCtx, c)
				default:
					return
				}
			}
		}
	}
}

// commitTimeout bounds one group commit: Logplex gives up on a request
// after 5 s, and an answer of 503 before that makes it retry sooner.
const commitTimeout = 4 * time.Second

// commitGroup commits c and every other batch already waiting in one
// transaction: no delay under light load, fewer commits under heavy load.
func (p *Pipeline) commitGroup(ctx context.Context, first *commit) {
	group := []*commit{first}
	for len(group) < 256 {
		select {
		case c := <-p.commits:
			group = append(group, c)
			continue
		default:
		}
		break
	}
	batches := make([]*store.Batch, len(group))
	for i, c := range group {
		batches[i] = c.batch
	}
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	start := time.Now()
	dups, err := p.o.Store.WriteBatches(ctx, batches)
	p.o.Metrics.Commit(len(batches), time.Since(start), err)
	for i, c := range group {
		c.err = err
		if err == nil {
			c.dup = dups[i]
		}
		close(c.done)
	}
}

// Flush writes what the pipeline holds now, rather than at the next tick:
// for a caller that runs on a clock of its own, such as a simulation.
func (p *Pipeline) Flush(ctx context.Context) error { return p.flush(ctx) }

// flush writes the rollups and app state gathered since the last flush. On
// failure they are put back, to go with the next flush.
func (p *Pipeline) flush(ctx context.Context) error {
	p.mu.Lock()
	rollups, samples, apps := p.rollups, p.samples, p.apps
	p.rollups, p.samples, p.apps = map[rollupKey]*store.Rollup{}, map[sampleKey]*store.SampleRollup{}, map[string]*store.AppDelta{}
	for k := range p.lines {
		if k.minute < p.newest-1 {
			delete(p.lines, k)
		}
	}
	p.mu.Unlock()
	if len(rollups)+len(samples)+len(apps) == 0 {
		return nil
	}

	rs := make([]store.Rollup, 0, len(rollups))
	for _, r := range rollups {
		rs = append(rs, *r)
	}
	ss := make([]store.SampleRollup, 0, len(samples))
	for _, s := range samples {
		ss = append(ss, *s)
	}
	states := make([]*store.Batch, 0, len(apps))
	now := p.o.Now()
	for app, d := range apps {
		states = append(states, &store.Batch{App: app, Received: now, State: *d})
	}
	start := time.Now()
	err := p.o.Store.MergeRollups(ctx, rs, ss)
	if err == nil {
		_, err = p.o.Store.WriteBatches(ctx, states)
	}
	p.o.Metrics.Flush(time.Since(start), err)
	if err != nil {
		p.o.Logger.Error("rollup flush failed; keeping them for the next one", "rollups", len(rs), "samples", len(ss), "err", err)
		p.restore(rollups, samples, apps)
		return err
	}
	return nil
}

// restore merges rollups that could not be written back into the current ones.
func (p *Pipeline) restore(rollups map[rollupKey]*store.Rollup, samples map[sampleKey]*store.SampleRollup, apps map[string]*store.AppDelta) {
	p.mu.Lock()
	defer p.mu.Unlock()
	mergeInto(p.rollups, rollups, (*store.Rollup).Merge)
	mergeInto(p.samples, samples, (*store.SampleRollup).Merge)
	mergeInto(p.apps, apps, mergeDelta)
}

// mergeInto merges every value of src into dst's value of the same key, or
// moves it there when dst has none.
func mergeInto[K comparable, V any](dst, src map[K]*V, merge func(into, from *V)) {
	for k, v := range src {
		if cur, ok := dst[k]; ok {
			merge(cur, v)
		} else {
			dst[k] = v
		}
	}
}

// mergeDelta adds from's counts to into; the newer last message wins, and
// into's drain token, being newer, is kept.
func mergeDelta(into, from *store.AppDelta) {
	if from.LastMessage.After(into.LastMessage) {
		into.LastMessage = from.LastMessage
	}
	if into.DrainToken == "" {
		into.DrainToken = from.DrainToken
	}
	into.Messages += from.Messages
	into.BadFrames += from.BadFrames
	into.CountMismatches += from.CountMismatches
	into.L10Dropped += from.L10Dropped
}

// Package ingest routes what the drain receives: notable lines become events
// written before the drain answers, router lines and metric samples are
// rolled up in memory per minute and flushed every few seconds.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/parse"
	"github.com/dynowatch/dynowatch/internal/store"
)

// Store is what the pipeline needs from the store.
type Store interface {
	WriteBatches(ctx context.Context, bs []*store.Batch) ([]bool, error)
	MergeRollups(ctx context.Context, r []store.Rollup, s []store.SampleRollup) error
	FoldHourly(ctx context.Context, upTo time.Time) error
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
	// RollupMemory is about how many bytes the rollups and samples held
	// between flushes may take; past it the pipeline flushes early, and
	// while a flush cannot bring it back under (the store is down) new
	// dynos and sources fold into "other". 0 means DefaultRollupMemory.
	RollupMemory int64
}

// DefaultRollupMemory is the rollups' share of a 512 MB dyno by default.
const DefaultRollupMemory = 128 << 20

// Caps on what one app may spread its counts over within a minute. What
// goes beyond is folded into the dyno, source or code "other" and counted
// (Folded), never silently dropped: a hostile or broken sender can't make an
// app's rollups, or the flush, grow without bound.
const (
	MaxDynos       = 100 // router dynos per app and minute (Heroku's limit per process type)
	MaxCodes       = 32  // H codes per dyno and minute (Heroku has about 30)
	MaxSources     = 120 // metric sources (dynos and add-on attachments) per app and minute
	MaxSampleNames = 64  // sample names per source and minute; more are counted and left out
	// Other is the dyno, source or code that overflow is folded into.
	Other = "other"
)

// MaxFlushRows is how many dyno and source rows a flush holds at most:
// beyond it, the new dynos and sources of apps that have one already fold
// into "other". Postgres merges a few thousand rows a second on a small
// plan, and a flush must fit ROLLUP_FLUSH_INTERVAL, and SIGTERM's 30 s.
// (2,000 apps × 50 dynos would be 100,000 rows each flush.)
const MaxFlushRows = 10000

// flushChunk is how many rollups go in one write: a flush of 100,000 dynos
// is many short transactions, each retried on its own when it fails, and
// never 100 MB of rows at once.
const flushChunk = 2000

// foldEvery is how often a flush folds the closed minutes into the hourly
// rollups (see store.FoldHourly): each hourly row is then written about
// once a minute instead of by every flush.
const foldEvery = time.Minute

// FinalFlushTimeout bounds the flush after Run's ctx is done. With the HTTP
// shutdown before it, it must end within Heroku's 30 s after SIGTERM.
const FinalFlushTimeout = 18 * time.Second

// Folded counts what the caps folded into "other" (or, for sample names,
// left out), by what.
type Folded struct {
	Dynos, Codes, Sources, SampleNames int64
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
	case o.RollupMemory < 0:
		return fmt.Errorf("ingest: Options.RollupMemory must not be negative, got %d", o.RollupMemory)
	}
	return nil
}

// Pipeline takes drain batches (it is a drain.Sink). Run must be running for
// Ingest to succeed.
type Pipeline struct {
	o       Options
	commits chan *commit
	done    chan struct{} // closed when Run stops taking commits

	flushNow chan struct{} // holds a token when the rollups are over RollupMemory

	mu      sync.Mutex
	minutes map[minuteKey]*appMinute
	samples map[minuteKey]*appSamples
	apps    map[string]*store.AppDelta
	lines   map[lineKey]*int // event lines kept per minute, for the cap
	newest  int64            // the newest minute in lines
	keys    recentKeys       // dedupe keys taken lately
	pending []pendingKey     // keys of batches answered without a commit, for the next flush
	closed  bool             // the final flush has begun
	bytes   int64            // about what minutes and samples take
	rows    int              // dyno and source rows in minutes and samples
	folded  Folded

	foldedAt time.Time // when flush last folded the hourly rollups; used by flush only
}

// minuteKey is an app and a minute (Unix seconds / 60).
type minuteKey struct {
	app    string
	minute int64
}

// appMinute is an app's requests in one minute: counts per router dyno, and
// one service-time histogram for all of them, which is how the store keeps
// it (a histogram is 1 KiB; one per dyno was most of the memory).
type appMinute struct {
	service store.Histogram
	dynos   map[string]*counts
}

// counts are one dyno's requests in a minute.
type counts struct {
	requests, s2xx, s3xx, s4xx, s5xx, bytes int64
	// Counted through pointers: assigning to a map entry also stores the
	// key given, and that would be a substring of the latest request body.
	codes map[string]*int64
}

// appSamples are an app's metric samples in one minute, by kind and source.
type appSamples struct {
	sources map[sourceKey]map[string]*float64 // the max of each value, through pointers as counts.codes
}

type sourceKey struct{ kind, source string }

// Rough sizes of what the maps hold, for RollupMemory: Go's map entries,
// the structs and the strings they keep.
const (
	costAppMinute = 1200
	costDyno      = 200
	costCode      = 60
	costSource    = 250
	costValue     = 60
)

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
	if o.RollupMemory == 0 {
		o.RollupMemory = DefaultRollupMemory
	}
	return &Pipeline{
		o:        o,
		commits:  make(chan *commit),
		done:     make(chan struct{}),
		flushNow: make(chan struct{}, 1),
		minutes:  map[minuteKey]*appMinute{},
		samples:  map[minuteKey]*appSamples{},
		apps:     map[string]*store.AppDelta{},
		lines:    map[lineKey]*int{},
		keys:     newRecentKeys(),
	}, nil
}

// ErrStopped is returned by Ingest once the pipeline has stopped.
var ErrStopped = errors.New("ingest: pipeline stopped")

// Ingest keeps a batch: its notable lines become events, committed with its
// dedupe key before Ingest returns; its router lines and samples are added
// to the in-memory rollups. A batch with no notable line needs no commit of
// its own: its key is remembered on this dyno and written with the next
// flush (see recentKeys).
func (p *Pipeline) Ingest(ctx context.Context, b *drain.Batch) (bool, error) {
	if b.Key != "" {
		p.mu.Lock()
		fresh := p.keys.claim(b.App, b.Key, p.o.Now())
		p.mu.Unlock()
		if !fresh {
			return true, nil
		}
	}
	sb := p.events(b)
	if len(sb.Events) == 0 {
		if !p.aggregate(b, true) {
			return false, ErrStopped
		}
		p.observe(b)
		return false, nil
	}
	dup, err := p.commit(ctx, sb)
	if err != nil || dup {
		// Nothing of this batch was kept: a retry must not use up the
		// minute's line cap, or later distinct lines would be dropped.
		p.release(sb)
		if err != nil && b.Key != "" {
			p.mu.Lock()
			p.keys.forget(b.App, b.Key)
			p.mu.Unlock()
		}
		return dup, err
	}
	p.aggregate(b, false)
	p.observe(b)
	return false, nil
}

// commit hands sb to a committer and waits for its group commit.
func (p *Pipeline) commit(ctx context.Context, sb *store.Batch) (dup bool, err error) {
	c := &commit{batch: sb, done: make(chan struct{})}
	select {
	case p.commits <- c:
	case <-p.done:
		return false, ErrStopped
	case <-ctx.Done():
		return false, ctx.Err()
	}
	<-c.done // the committer always answers, even when stopping
	return c.dup, c.err
}

func (p *Pipeline) observe(b *drain.Batch) {
	if p.o.Observe != nil && !b.Replayed {
		p.o.Observe(b.App, b.Entries)
	}
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
		n := p.lines[k]
		if n == nil {
			k.code = strings.Clone(code) // the key must not keep the whole line alive
			p.newest = max(p.newest, k.minute)
			n = new(int)
			p.lines[k] = n
		}
		if *n >= p.o.EventLinesPerMinute {
			continue // counted in the rollups, not kept whole
		}
		*n++
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
		if n := p.lines[k]; n != nil && *n > 0 {
			*n--
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

// aggregate adds a kept batch to the in-memory rollups; pending says its
// dedupe key is still to be written, with the next flush. Such a batch is
// refused (false) once the final flush has begun, which would not write it.
func (p *Pipeline) aggregate(b *drain.Batch, pending bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pending && p.closed {
		return false
	}
	if pending && b.Key != "" && len(p.pending) < maxPendingKeys {
		p.pending = append(p.pending, pendingKey{strings.Clone(b.App), strings.Clone(b.Key), b.Received})
	}
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
	var last minuteRef
	for i := range b.Entries {
		e := &b.Entries[i]
		switch e.Kind {
		case parse.KindRouter:
			p.addRequest(b.App, e, &last)
		case parse.KindRuntimeMetrics, parse.KindPostgresMetrics, parse.KindRedisMetrics, parse.KindPgBouncerMetrics:
			p.addSamples(b.App, e)
		case parse.KindLogplexError:
			if e.Logplex.Code == "L10" && e.Logplex.Dropped > 0 {
				d.L10Dropped += int64(e.Logplex.Dropped)
			}
		}
	}
	if p.bytes > p.o.RollupMemory {
		select {
		case p.flushNow <- struct{}{}:
		default:
		}
	}
	return true
}

// Folded returns what the caps have folded since the pipeline started.
func (p *Pipeline) Folded() Folded {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.folded
}

func (p *Pipeline) addRequest(app string, e *parse.Entry, last *minuteRef) {
	r := &e.Router
	m := p.minute(minuteKey{app, e.Time.Unix() / 60}, last)
	c := p.dyno(m, r.Dyno)
	// H80 is Heroku's maintenance page answering, not the app: its 503s are
	// not the app's requests nor its 5xx (5XX_RATE would page as maintenance
	// ends); only the code is counted.
	maintenance := r.Code == "H80"
	if !maintenance {
		c.requests++
	}
	switch {
	case maintenance:
	case r.Status >= 500:
		c.s5xx++
	case r.Status >= 400:
		c.s4xx++
	case r.Status >= 300:
		c.s3xx++
	case r.Status >= 200:
		c.s2xx++
	}
	if r.Bytes > 0 {
		c.bytes += r.Bytes
	}
	if r.Code != "" {
		p.addCode(c, r.Code, 1)
	}
	if r.ServiceMS >= 0 {
		m.service.Observe(r.ServiceMS)
	}
}

// minute returns an app's minute, creating it. last, if not nil, is the
// one looked up before: a batch's lines are one app's, mostly of one
// minute, so most lines need no map lookup. p.mu must be held throughout.
func (p *Pipeline) minute(k minuteKey, last *minuteRef) *appMinute {
	if last != nil && last.m != nil && last.k == k {
		return last.m
	}
	m := p.minutes[k]
	if m == nil {
		m = &appMinute{dynos: map[string]*counts{}}
		p.minutes[k] = m
		p.bytes += costAppMinute
	}
	if last != nil {
		*last = minuteRef{k, m}
	}
	return m
}

// minuteRef is an app minute looked up, with its key.
type minuteRef struct {
	k minuteKey
	m *appMinute
}

// dyno returns the counts of a dyno in an app's minute, creating them, or
// those of "other" past MaxDynos, or MaxFlushRows, or while over
// RollupMemory. The names kept are copies: a substring would keep the whole
// request body alive.
func (p *Pipeline) dyno(m *appMinute, dyno string) *counts {
	c := m.dynos[dyno]
	if c != nil {
		return c
	}
	if len(m.dynos) >= MaxDynos || (len(m.dynos) > 0 && p.full()) {
		p.folded.Dynos++
		dyno = Other
		if c = m.dynos[dyno]; c != nil {
			return c
		}
	}
	c = &counts{}
	m.dynos[strings.Clone(dyno)] = c
	p.bytes += costDyno
	p.rows++
	return c
}

// full says whether new dynos and sources go to "other" for now.
func (p *Pipeline) full() bool {
	return p.bytes > p.o.RollupMemory || p.rows >= MaxFlushRows
}

func (p *Pipeline) addCode(c *counts, code string, n int64) {
	v := c.codes[code]
	if v == nil {
		if c.codes == nil {
			c.codes = map[string]*int64{}
		}
		if len(c.codes) >= MaxCodes {
			p.folded.Codes += n
			code = Other
		}
		if v = c.codes[code]; v == nil {
			v = new(int64)
			c.codes[strings.Clone(code)] = v
			p.bytes += costCode
		}
	}
	*v += n
}

func (p *Pipeline) addSamples(app string, e *parse.Entry) {
	m := &e.Metrics
	source := m.Dyno
	if source == "" {
		source = m.Attachment
	}
	values := p.source(minuteKey{app, e.Time.Unix() / 60}, e.Kind.String(), source)
	for _, s := range m.Samples {
		p.addValue(values, s.Name, s.Value)
	}
}

// source returns the values of a metric source in an app's minute, or of
// "other" past MaxSources, or MaxFlushRows, or while over RollupMemory.
func (p *Pipeline) source(k minuteKey, kind, source string) map[string]*float64 {
	as := p.samples[k]
	if as == nil {
		as = &appSamples{sources: map[sourceKey]map[string]*float64{}}
		p.samples[k] = as
	}
	sk := sourceKey{kind, source}
	v := as.sources[sk]
	if v != nil {
		return v
	}
	if len(as.sources) >= MaxSources || (len(as.sources) > 0 && p.full()) {
		p.folded.Sources++
		sk.source = Other
		if v = as.sources[sk]; v != nil {
			return v
		}
	}
	sk.source = strings.Clone(sk.source)
	v = map[string]*float64{}
	as.sources[sk] = v
	p.bytes += costSource
	p.rows++
	return v
}

// addValue keeps the larger of a sample's values in a minute.
func (p *Pipeline) addValue(values map[string]*float64, name string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return // the store refuses them, and with them the rest of the flush
	}
	old := values[name]
	if old == nil {
		if len(values) >= MaxSampleNames {
			p.folded.SampleNames++
			return
		}
		values[strings.Clone(name)] = &v // not a substring of the body
		p.bytes += costValue
		return
	}
	if v > *old {
		*old = v
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
	var last time.Time // when the last flush ended
	for {
		select {
		case <-tick.C:
		case <-p.flushNow:
			// Over RollupMemory: flush early, but not in a loop while the
			// store is down (the tick retries then).
			if time.Since(last) < time.Second {
				continue
			}
		case <-ctx.Done():
			close(p.done)
			wg.Wait()
			p.mu.Lock()
			p.closed = true // what comes after would miss the final flush
			p.mu.Unlock()
			fctx, cancel := context.WithTimeout(writeCtx, FinalFlushTimeout)
			defer cancel()
			return p.flush(fctx)
		}
		p.flush(writeCtx)
		last = time.Now()
	}
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

// flush writes the rollups and app state gathered since the last flush,
// in chunks of flushChunk rows. A chunk that fails is put back, to go with
// the next flush; the others are written all the same.
func (p *Pipeline) flush(ctx context.Context) error {
	p.mu.Lock()
	minutes, samples, apps, pending := p.minutes, p.samples, p.apps, p.pending
	p.minutes, p.samples, p.apps, p.pending = map[minuteKey]*appMinute{}, map[minuteKey]*appSamples{}, map[string]*store.AppDelta{}, nil
	p.bytes, p.rows = 0, 0
	for k := range p.lines {
		if k.minute < p.newest-1 {
			delete(p.lines, k)
		}
	}
	p.mu.Unlock()
	now := p.o.Now()
	foldDue := now.Sub(p.foldedAt) >= foldEvery
	if len(minutes)+len(samples)+len(apps)+len(pending) == 0 && !foldDue {
		return nil
	}

	start := time.Now()
	var (
		errs      []error
		rs        []store.Rollup
		ss        []store.SampleRollup
		rows, bad int
	)
	write := func() {
		if len(rs)+len(ss) == 0 {
			return
		}
		if err := p.o.Store.MergeRollups(ctx, rs, ss); err != nil {
			errs = append(errs, err)
			bad += len(rs) + len(ss)
			p.restore(rs, ss)
		}
		rows += len(rs) + len(ss)
		rs, ss = rs[:0], ss[:0]
	}
	for k, m := range minutes {
		first := true
		for dyno, c := range m.dynos {
			r := store.Rollup{App: k.app, Dyno: dyno, Minute: time.Unix(k.minute*60, 0).UTC(), Requests: c.requests,
				Status2xx: c.s2xx, Status3xx: c.s3xx, Status4xx: c.s4xx, Status5xx: c.s5xx, Bytes: c.bytes, Codes: derefAll(c.codes)}
			if first {
				r.Service = m.service // the store merges it per app and minute anyway
				first = false
			}
			rs = append(rs, r)
			if len(rs) >= flushChunk {
				write()
			}
		}
	}
	for k, as := range samples {
		for sk, values := range as.sources {
			ss = append(ss, store.SampleRollup{App: k.app, Kind: sk.kind, Source: sk.source, Minute: time.Unix(k.minute*60, 0).UTC(), Values: derefAll(values)})
			if len(ss) >= flushChunk {
				write()
			}
		}
	}
	write()
	// The keys go with the app state, after the counts they stand for: a
	// retry on another dyno is recognised once both are written.
	states := make([]*store.Batch, 0, len(apps)+len(pending))
	for app, d := range apps {
		states = append(states, &store.Batch{App: app, Received: now, State: *d})
	}
	for _, k := range pending {
		states = append(states, k.batch())
	}
	if _, err := p.o.Store.WriteBatches(ctx, states); err != nil {
		errs = append(errs, err)
		p.restoreApps(apps)
		p.restorePending(pending)
	}
	if foldDue {
		// The minutes that ended a minute ago are closed: only a late batch
		// still adds to them (and its flush writes the hourly rows itself).
		if err := p.o.Store.FoldHourly(ctx, now.Add(-time.Minute)); err != nil {
			errs = append(errs, err)
		} else {
			p.foldedAt = now
		}
	}
	err := errors.Join(errs...)
	p.o.Metrics.Flush(time.Since(start), err)
	if err != nil {
		p.o.Logger.Error("rollup flush failed in part; keeping what failed for the next one", "rows", rows, "failed", bad, "apps", len(apps), "err", err)
		return err
	}
	return nil
}

// restore adds rollups and samples that could not be written back to the
// current ones.
func (p *Pipeline) restore(rs []store.Rollup, ss []store.SampleRollup) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range rs {
		r := &rs[i]
		m := p.minute(minuteKey{r.App, r.Minute.Unix() / 60}, nil)
		c := p.dyno(m, r.Dyno)
		c.requests += r.Requests
		c.s2xx += r.Status2xx
		c.s3xx += r.Status3xx
		c.s4xx += r.Status4xx
		c.s5xx += r.Status5xx
		c.bytes += r.Bytes
		for code, n := range r.Codes {
			p.addCode(c, code, n)
		}
		m.service.Merge(&r.Service)
	}
	for i := range ss {
		s := &ss[i]
		values := p.source(minuteKey{s.App, s.Minute.Unix() / 60}, s.Kind, s.Source)
		for name, v := range s.Values {
			p.addValue(values, name, v)
		}
	}
}

// restoreApps merges app state that could not be written back.
func (p *Pipeline) restoreApps(apps map[string]*store.AppDelta) {
	p.mu.Lock()
	defer p.mu.Unlock()
	mergeInto(p.apps, apps, mergeDelta)
}

// restorePending puts back keys that could not be written, within
// maxPendingKeys.
func (p *Pipeline) restorePending(keys []pendingKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	room := max(0, maxPendingKeys-len(p.pending))
	p.pending = append(p.pending, keys[:min(room, len(keys))]...)
}

// derefAll returns m with its values rather than pointers to them; nil for
// an empty m.
func derefAll[V any](m map[string]*V) map[string]V {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = *v
	}
	return out
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

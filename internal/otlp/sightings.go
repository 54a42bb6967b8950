package otlp

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// What the sightings keep. Fir's exact shapes are unpublished, so the intake
// remembers what it has seen, per app, for people to compare with what it
// reads. Each web process gathers in memory what its requests held (a write
// to the store per request would cost the drain path a round trip) and
// merges it into the store every SightingsFlushEvery, where every web dyno
// reads what all of them saw, across restarts. The caps bound both what a
// process gathers and what the store keeps.
const (
	// SightingsWindow is how long a sighting is shown after it was last seen.
	SightingsWindow = 24 * time.Hour
	// MaxSightingApps is how many apps are kept, besides "no app"; a
	// space drain of more apps keeps the first ones seen in the window.
	MaxSightingApps = 100
	// MaxSightingsPerApp is how many names (keys, scopes, metrics, body
	// kinds together) one app keeps; the first ones seen in the window.
	MaxSightingsPerApp = 128
	// maxSightedPerRequest is how many names one request notes: the rest of
	// a huge request goes unseen, and its next requests note them.
	maxSightedPerRequest = 256
	// DefaultSightingsFlushEvery is how often a web process merges what it
	// gathered into the store: a page is at most this late with what other
	// dynos saw, and the store takes one small transaction per dyno per period.
	DefaultSightingsFlushEvery = 5 * time.Second
	// sightingsFlushTimeout bounds one merge into the store, the last one
	// too: well within the 30 s Heroku gives after SIGTERM.
	sightingsFlushTimeout = 5 * time.Second
)

// SightingKind is what a sighted name is, as the store names it.
type SightingKind string

const (
	SightResourceKey SightingKind = "resource_key"
	SightScope       SightingKind = "scope"
	SightMetric      SightingKind = "metric"
	SightLogBody     SightingKind = "log_body"
	SightSpan        SightingKind = "span"             // a span's component and kind: "heroku-router server"
	SightSpanAttr    SightingKind = "span_attribute"   // an attribute key of a platform component's span
	SightRecordAttr  SightingKind = "record_attribute" // an attribute key of a router log record
)

// sighting is one name seen in one request.
type sighting struct {
	app        string // "" for records of no app
	kind       SightingKind
	name, unit string
	understood bool
}

type sightingKey struct {
	kind       SightingKind
	name, unit string
}

type sightingVal struct {
	understood bool
	count      int64 // requests it was seen in
	last       time.Time
}

// Sighted is one app's name as the store keeps it: the requests of every
// web dyno that held it, and the last of them.
type Sighted struct {
	App  string // "" for records of no app
	Kind SightingKind
	Sighting
}

// SightingsStore keeps the sightings of every web dyno (store.Store).
type SightingsStore interface {
	// MergeSightings adds seen, each name once with the requests it was
	// seen in since the last merge, and dropped (names the caps left out)
	// at now.
	// Names last seen before the window go; past the caps, the first names
	// seen in the window are kept and the rest counted as dropped.
	MergeSightings(ctx context.Context, seen []Sighted, dropped int64, now time.Time) error
	// ReadSightings returns the names seen in the window before now, and
	// how many names the caps left out in it.
	ReadSightings(ctx context.Context, now time.Time) (seen []Sighted, dropped int64, err error)
}

// Sightings remembers the shapes of telemetry seen, per app, within the
// caps. Its zero value is not ready: use newSightings.
type Sightings struct {
	mu      sync.Mutex
	apps    map[string]map[sightingKey]*sightingVal // guarded by mu
	dropped int64                                   // names not kept for the caps; guarded by mu
}

func newSightings() *Sightings {
	return &Sightings{apps: map[string]map[sightingKey]*sightingVal{}}
}

// add notes one request's sightings at now, under one lock.
func (s *Sightings) add(now time.Time, seen []sighting) {
	if len(seen) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range seen {
		s.merge(now, x.app, sightingKey{x.kind, x.name, x.unit}, sightingVal{understood: x.understood, count: 1, last: now})
	}
}

// addSighted merges names seen over many requests, such as the store's,
// and names dropped, at now.
func (s *Sightings) addSighted(now time.Time, seen []Sighted, dropped int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropped += dropped
	for _, x := range seen {
		s.merge(now, x.App, sightingKey{x.Kind, x.Name, x.Unit}, sightingVal{understood: x.Understood, count: x.Requests, last: x.LastSeen})
	}
}

// merge adds x to app's name k within the caps; s.mu is held. The name
// reads as it did when it was last seen.
func (s *Sightings) merge(now time.Time, appName string, k sightingKey, x sightingVal) {
	app := s.apps[appName]
	if app == nil {
		if appName != "" && len(s.apps) >= MaxSightingApps {
			s.pruneApps(now)
		}
		if appName != "" && len(s.apps) >= MaxSightingApps {
			s.dropped++
			return
		}
		app = map[sightingKey]*sightingVal{}
		s.apps[appName] = app
	}
	v := app[k]
	if v == nil {
		if len(app) >= MaxSightingsPerApp {
			prune(app, now)
		}
		if len(app) >= MaxSightingsPerApp {
			s.dropped++
			return
		}
		v = &sightingVal{}
		app[k] = v
	}
	if !x.last.Before(v.last) {
		v.understood, v.last = x.understood, x.last
	}
	v.count += x.count
}

// list returns what was gathered, and empties s if empty is set.
func (s *Sightings) list(empty bool) (seen []Sighted, dropped int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, app := range s.apps {
		for k, v := range app {
			seen = append(seen, Sighted{App: name, Kind: k.kind, Sighting: Sighting{Name: k.name, Unit: k.unit, Understood: v.understood, Requests: v.count, LastSeen: v.last}})
		}
	}
	dropped = s.dropped
	if empty {
		s.apps, s.dropped = map[string]map[sightingKey]*sightingVal{}, 0
	}
	return seen, dropped
}

// prune removes what was last seen before the window.
func prune(app map[sightingKey]*sightingVal, now time.Time) {
	for k, v := range app {
		if now.Sub(v.last) > SightingsWindow {
			delete(app, k)
		}
	}
}

func (s *Sightings) pruneApps(now time.Time) {
	for name, app := range s.apps {
		if prune(app, now); len(app) == 0 {
			delete(s.apps, name)
		}
	}
}

// Sighting is one name seen in the window.
type Sighting struct {
	Name       string    `json:"name"`
	Unit       string    `json:"unit,omitempty"` // a metric's
	Understood bool      `json:"understood"`     // dynowatch reads it
	Requests   int64     `json:"requests"`       // how many requests held it
	LastSeen   time.Time `json:"last_seen"`
}

// AppSightings are the names seen in one app's telemetry.
type AppSightings struct {
	App          string     `json:"app"` // "" for records of no app
	ResourceKeys []Sighting `json:"resource_keys"`
	Scopes       []Sighting `json:"scopes"`
	Metrics      []Sighting `json:"metrics"`
	LogBodies    []Sighting `json:"log_bodies"` // string, kvlist, int, double, bool, bytes, array, empty
	// Spans are by component and kind ("heroku-router server", "app
	// client"), never by name: a span's name may hold a path's values.
	Spans []Sighting `json:"spans"`
	// SpanAttributes are the attribute keys of the platform's spans
	// (heroku-…), RecordAttributes those of the router's log records.
	SpanAttributes   []Sighting `json:"span_attributes"`
	RecordAttributes []Sighting `json:"record_attributes"`
}

// SightingsReport is what GET /api/v1/otlp/sightings answers.
type SightingsReport struct {
	Window  string         `json:"window"`
	Scope   string         `json:"scope"`
	Dropped int64          `json:"dropped"` // names not kept for the caps
	Apps    []AppSightings `json:"apps"`
}

// lists are a's lists by the kind of name they hold.
func (a *AppSightings) lists() map[SightingKind]*[]Sighting {
	return map[SightingKind]*[]Sighting{
		SightResourceKey: &a.ResourceKeys, SightScope: &a.Scopes, SightMetric: &a.Metrics, SightLogBody: &a.LogBodies,
		SightSpan: &a.Spans, SightSpanAttr: &a.SpanAttributes, SightRecordAttr: &a.RecordAttributes,
	}
}

// Report returns what was seen in the window before now, apps by name
// ("no app" first), names sorted.
func (s *Sightings) Report(now time.Time, scope string) SightingsReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneApps(now)
	r := SightingsReport{Window: "24h", Scope: scope, Dropped: s.dropped, Apps: []AppSightings{}}
	for name, app := range s.apps {
		a := AppSightings{App: name}
		lists := a.lists()
		for _, l := range lists {
			*l = []Sighting{} // [] rather than null in the JSON
		}
		for k, v := range app {
			if l := lists[k.kind]; l != nil {
				*l = append(*l, Sighting{Name: k.name, Unit: k.unit, Understood: v.understood, Requests: v.count, LastSeen: v.last.UTC()})
			}
		}
		for _, l := range lists {
			slices.SortFunc(*l, func(x, y Sighting) int { return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Unit, y.Unit)) })
		}
		r.Apps = append(r.Apps, a)
	}
	slices.SortFunc(r.Apps, func(x, y AppSightings) int { return cmp.Compare(x.App, y.App) })
	return r
}

// Scopes of a report: whose sightings it shows.
const (
	scopeStore   = "every web dyno, merged in the store"
	scopeProcess = "this web process"
)

// ServeSightings handles "GET /api/v1/otlp/sightings"; the caller puts it
// behind the dashboard's password.
func (h *Handler) ServeSightings(w http.ResponseWriter, r *http.Request) {
	report, err := h.Sightings(r.Context())
	if err != nil {
		h.log.Error("sightings not read", "err", err)
		http.Error(w, "the sightings can't be read right now; retry", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(report)
}

// Sightings returns what the intake has seen in the window: with a store,
// what every web dyno merged into it and what this one gathered since its
// last flush; without, this process's own.
func (h *Handler) Sightings(ctx context.Context) (SightingsReport, error) {
	now := h.now()
	if h.store == nil {
		return h.sightings.Report(now, scopeProcess), nil
	}
	// Under flushMu a flush is either wholly in the store or wholly in
	// memory: a name is never counted in both, nor missed.
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	kept, dropped, err := h.store.ReadSightings(ctx, now)
	if err != nil {
		return SightingsReport{}, fmt.Errorf("otlp: reading the sightings at %s: %w", now.UTC().Format(time.RFC3339), err)
	}
	all := newSightings()
	all.addSighted(now, kept, dropped)
	pending, pendingDropped := h.sightings.list(false)
	all.addSighted(now, pending, pendingDropped)
	return all.Report(now, scopeStore), nil
}

// Run merges what the intake gathered into the store every flush period
// until ctx is done, then once more. Without a store there is nothing to
// write, and it returns at once.
func (h *Handler) Run(ctx context.Context) error {
	if h.store == nil {
		return nil
	}
	writeCtx := context.WithoutCancel(ctx)
	tick := time.NewTicker(h.flushEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			// Bounded, as a page waits for a flush under way to read.
			fctx, cancel := context.WithTimeout(writeCtx, sightingsFlushTimeout)
			err := h.flushSightings(fctx)
			cancel()
			if err != nil {
				h.log.Warn("sightings not written; they are kept for the next try", "err", err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(writeCtx, sightingsFlushTimeout)
			defer cancel()
			return h.flushSightings(fctx)
		}
	}
}

// flushSightings merges what was gathered since the last flush into the
// store. What a failed write held goes back, within the caps, for the next.
func (h *Handler) flushSightings(ctx context.Context) error {
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	seen, dropped := h.sightings.list(true)
	if len(seen) == 0 && dropped == 0 {
		return nil
	}
	now := h.now()
	if err := h.store.MergeSightings(ctx, seen, dropped, now); err != nil {
		h.sightings.addSighted(now, seen, dropped)
		return fmt.Errorf("otlp: merging %d sightings into the store: %w", len(seen), err)
	}
	return nil
}

// noteResource notes a resource's keys and a scope's name for app.
func (h *Handler) noteResource(bs *batches, app string, attrs []*commonpb.KeyValue, scope string) {
	for _, kv := range attrs {
		bs.see(sighting{app: app, kind: SightResourceKey, name: kv.GetKey(), understood: h.keys.understood(kv.GetKey())})
	}
	if scope != "" {
		bs.see(sighting{app: app, kind: SightScope, name: scope, understood: isComponent(scope)})
	}
}

// spanKinds name the span kinds as the sightings show them.
var spanKinds = map[tracepb.Span_SpanKind]string{
	tracepb.Span_SPAN_KIND_UNSPECIFIED: "unspecified", tracepb.Span_SPAN_KIND_INTERNAL: "internal", tracepb.Span_SPAN_KIND_SERVER: "server",
	tracepb.Span_SPAN_KIND_CLIENT: "client", tracepb.Span_SPAN_KIND_PRODUCER: "producer", tracepb.Span_SPAN_KIND_CONSUMER: "consumer",
}

// noteSpan notes a span's component and kind, understood when it is a
// router request, and the attribute keys of a platform component's span,
// understood when dynowatch reads them on a router request. noted holds
// what the scope's spans noted already.
func (h *Handler) noteSpan(bs *batches, noted map[notedKey]bool, o Origin, sp *tracepb.Span, router bool) {
	component := o.Component
	if component == "" {
		component = "app"
	}
	kind, ok := spanKinds[sp.GetKind()]
	if !ok {
		kind = "unknown"
	}
	if shape := (notedKey{o.App, component, kind}); !noted[shape] {
		noted[shape] = true
		bs.see(sighting{app: o.App, kind: SightSpan, name: component + " " + kind, understood: router})
	}
	if o.Component == "" {
		return // the app's own spans: their keys are the app's business, and many
	}
	for _, kv := range sp.GetAttributes() {
		if k := (notedKey{app: o.App, name: kv.GetKey()}); !noted[k] {
			noted[k] = true
			bs.see(sighting{app: o.App, kind: SightSpanAttr, name: kv.GetKey(), understood: h.keys.understoodOfRequest(kv.GetKey())})
		}
	}
}

// notedKey is what a scope's spans were noted as: an app's span shape
// (component and kind) or attribute key (name). A struct, not a joined
// string, so that looking one up allocates nothing.
type notedKey struct{ app, name, kind string }

// noteRecordAttrs notes the attribute keys of a router log record that
// noted does not hold yet.
func (h *Handler) noteRecordAttrs(bs *batches, noted map[string]bool, app string, attrs []*commonpb.KeyValue) {
	for _, kv := range attrs {
		if !noted[kv.GetKey()] {
			noted[kv.GetKey()] = true
			bs.see(sighting{app: app, kind: SightRecordAttr, name: kv.GetKey(), understood: h.keys.understoodOfRequest(kv.GetKey())})
		}
	}
}

// see notes x once per request, up to maxSightedPerRequest.
func (bs *batches) see(x sighting) {
	if len(bs.seen) >= maxSightedPerRequest || slices.Contains(bs.seen, x) {
		return
	}
	bs.seen = append(bs.seen, x)
}

// bodyKinds are the kinds of log body by bit, as the sightings name them.
var bodyKinds = [...]string{"empty", "string", "kvlist", "int", "double", "bool", "bytes", "array"}

// bodyKind returns the bit of v's kind in bodyKinds.
func bodyKind(v *commonpb.AnyValue) uint8 {
	switch v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return 1 << 1
	case *commonpb.AnyValue_KvlistValue:
		return 1 << 2
	case *commonpb.AnyValue_IntValue:
		return 1 << 3
	case *commonpb.AnyValue_DoubleValue:
		return 1 << 4
	case *commonpb.AnyValue_BoolValue:
		return 1 << 5
	case *commonpb.AnyValue_BytesValue:
		return 1 << 6
	case *commonpb.AnyValue_ArrayValue:
		return 1 << 7
	}
	return 1
}

// noteBodies notes the body kinds of a scope's records, a bitmask of bodyKind.
func noteBodies(bs *batches, app string, kinds uint8) {
	for i, name := range bodyKinds {
		if kinds&(1<<i) != 0 {
			bs.see(sighting{app: app, kind: SightLogBody, name: name, understood: i >= 1 && i <= 5})
		}
	}
}

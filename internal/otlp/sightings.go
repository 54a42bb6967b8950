package otlp

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// What the sightings keep. Fir's exact shapes are unpublished, so the intake
// remembers what it has seen, per app, for people to compare with what it
// reads: in memory, per web process (a sighting is cheap to lose, and a
// write to the store per request is not), bounded by these caps.
const (
	// SightingsWindow is how long a sighting is shown after it was last seen.
	SightingsWindow = 24 * time.Hour
	// maxSightingApps is how many apps are kept, besides "no app"; a
	// space drain of more apps keeps the first ones seen in the window.
	maxSightingApps = 100
	// maxSightingsPerApp is how many names (keys, scopes, metrics, body
	// kinds together) one app keeps.
	maxSightingsPerApp = 128
	// maxSightedPerRequest is how many names one request notes: the rest of
	// a huge request goes unseen, and its next requests note them.
	maxSightedPerRequest = 256
)

// sightingKind is what a name is.
type sightingKind uint8

const (
	sightResourceKey sightingKind = iota
	sightScope
	sightMetric
	sightLogBody
	sightSpan       // a span's component and kind: "heroku-router server"
	sightSpanAttr   // an attribute key of a platform component's span
	sightRecordAttr // an attribute key of a router log record
)

// sighting is one name seen in one request.
type sighting struct {
	app        string // "" for records of no app
	kind       sightingKind
	name, unit string
	understood bool
}

type sightingKey struct {
	kind       sightingKind
	name, unit string
}

type sightingVal struct {
	understood bool
	count      int64 // requests it was seen in
	last       time.Time
}

// Sightings remembers the shapes of telemetry seen, per app. Its zero
// value is not ready: use newSightings.
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
		app := s.apps[x.app]
		if app == nil {
			if x.app != "" && len(s.apps) >= maxSightingApps {
				s.pruneApps(now)
			}
			if x.app != "" && len(s.apps) >= maxSightingApps {
				s.dropped++
				continue
			}
			app = map[sightingKey]*sightingVal{}
			s.apps[x.app] = app
		}
		k := sightingKey{x.kind, x.name, x.unit}
		v := app[k]
		if v == nil {
			if len(app) >= maxSightingsPerApp {
				prune(app, now)
			}
			if len(app) >= maxSightingsPerApp {
				s.dropped++
				continue
			}
			v = &sightingVal{}
			app[k] = v
		}
		v.understood, v.last = x.understood, now
		v.count++
	}
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

// Report returns what was seen in the window before now, apps by name
// ("no app" first), names sorted.
func (s *Sightings) Report(now time.Time) SightingsReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneApps(now)
	r := SightingsReport{Window: "24h", Scope: "this web process: each web dyno keeps its own", Dropped: s.dropped, Apps: []AppSightings{}}
	for name, app := range s.apps {
		a := AppSightings{App: name, ResourceKeys: []Sighting{}, Scopes: []Sighting{}, Metrics: []Sighting{}, LogBodies: []Sighting{},
			Spans: []Sighting{}, SpanAttributes: []Sighting{}, RecordAttributes: []Sighting{}}
		for k, v := range app {
			x := Sighting{Name: k.name, Unit: k.unit, Understood: v.understood, Requests: v.count, LastSeen: v.last.UTC()}
			switch k.kind {
			case sightResourceKey:
				a.ResourceKeys = append(a.ResourceKeys, x)
			case sightScope:
				a.Scopes = append(a.Scopes, x)
			case sightMetric:
				a.Metrics = append(a.Metrics, x)
			case sightLogBody:
				a.LogBodies = append(a.LogBodies, x)
			case sightSpan:
				a.Spans = append(a.Spans, x)
			case sightSpanAttr:
				a.SpanAttributes = append(a.SpanAttributes, x)
			case sightRecordAttr:
				a.RecordAttributes = append(a.RecordAttributes, x)
			}
		}
		for _, l := range [][]Sighting{a.ResourceKeys, a.Scopes, a.Metrics, a.LogBodies, a.Spans, a.SpanAttributes, a.RecordAttributes} {
			slices.SortFunc(l, func(x, y Sighting) int { return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Unit, y.Unit)) })
		}
		r.Apps = append(r.Apps, a)
	}
	slices.SortFunc(r.Apps, func(x, y AppSightings) int { return cmp.Compare(x.App, y.App) })
	return r
}

// ServeSightings handles "GET /api/v1/otlp/sightings"; the caller puts it
// behind the dashboard's password.
func (h *Handler) ServeSightings(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(h.sightings.Report(h.now()))
}

// Sightings returns what the intake has seen, for the dashboard.
func (h *Handler) Sightings() SightingsReport { return h.sightings.Report(h.now()) }

// noteResource notes a resource's keys and a scope's name for app.
func (h *Handler) noteResource(bs *batches, app string, attrs []*commonpb.KeyValue, scope string) {
	for _, kv := range attrs {
		bs.see(sighting{app: app, kind: sightResourceKey, name: kv.GetKey(), understood: h.keys.understood(kv.GetKey())})
	}
	if scope != "" {
		bs.see(sighting{app: app, kind: sightScope, name: scope, understood: isComponent(scope)})
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
		bs.see(sighting{app: o.App, kind: sightSpan, name: component + " " + kind, understood: router})
	}
	if o.Component == "" {
		return // the app's own spans: their keys are the app's business, and many
	}
	for _, kv := range sp.GetAttributes() {
		if k := (notedKey{app: o.App, name: kv.GetKey()}); !noted[k] {
			noted[k] = true
			bs.see(sighting{app: o.App, kind: sightSpanAttr, name: kv.GetKey(), understood: h.keys.understoodOfRequest(kv.GetKey())})
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
			bs.see(sighting{app: app, kind: sightRecordAttr, name: kv.GetKey(), understood: h.keys.understoodOfRequest(kv.GetKey())})
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
			bs.see(sighting{app: app, kind: sightLogBody, name: name, understood: i >= 1 && i <= 5})
		}
	}
}

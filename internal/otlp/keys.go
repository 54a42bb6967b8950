package otlp

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// Map is OTLP_MAP: the attribute keys and metric names a user says carry a
// field dynowatch reads, for a Fir shape it does not know yet, so that it
// is read without a release. A mapped key is tried before the built-in ones.
type Map struct {
	Attrs   map[string][]string // by field: app, dyno, process_type, release, component, router_code
	Metrics map[string]string   // metric name → the sample it becomes
}

// attrFields are the fields an attribute key can be mapped onto.
var attrFields = []string{"app", "dyno", "process_type", "release", "component", "router_code"}

const mapExample = `app=my.app.attr,dyno=my.instance.attr,memory_rss_mb=my.mem.metric`

// Decode reads "FIELD=NAME,FIELD=NAME": FIELD one of app, dyno,
// process_type, release, component (NAME a resource attribute key),
// router_code (a router span's or record's attribute key holding the H code) or
// memory_rss_mb, memory_quota_mb, cpu_percent (NAME a metric name).
func (m *Map) Decode(value string) error {
	*m = Map{}
	samples := sampleNames()
	for pair := range strings.SplitSeq(value, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		field, name, ok := strings.Cut(pair, "=")
		field, name = strings.TrimSpace(field), strings.TrimSpace(name)
		switch {
		case !ok || name == "":
			return fmt.Errorf("%q is no FIELD=NAME pair; want such as %q", pair, mapExample)
		case len(name) > 255 || strings.ContainsAny(name, "\"=") || strings.IndexFunc(name, unicode.IsSpace) >= 0:
			return fmt.Errorf("%q: a name is up to 255 characters, no spaces, quotes or '='; want such as %q", name, mapExample)
		case slices.Contains(attrFields, field):
			if m.Attrs == nil {
				m.Attrs = map[string][]string{}
			}
			m.Attrs[field] = append(m.Attrs[field], name)
		case slices.Contains(samples, field):
			if m.Metrics == nil {
				m.Metrics = map[string]string{}
			}
			if prev, dup := m.Metrics[name]; dup && prev != field {
				return fmt.Errorf("metric %s is mapped onto both %s and %s", name, prev, field)
			}
			m.Metrics[name] = field
		default:
			return fmt.Errorf("unknown field %q in %q: want one of %s or %s; such as %q",
				field, pair, strings.Join(attrFields, ", "), strings.Join(samples, ", "), mapExample)
		}
	}
	return nil
}

// String writes m back as OTLP_MAP reads it, in a fixed order.
func (m Map) String() string {
	var pairs []string
	for _, f := range attrFields {
		for _, k := range m.Attrs[f] {
			pairs = append(pairs, f+"="+k)
		}
	}
	var metrics []string
	for name, sample := range m.Metrics {
		metrics = append(metrics, sample+"="+name)
	}
	slices.Sort(metrics)
	return strings.Join(append(pairs, metrics...), ",")
}

// sampleNames are the samples a metric can become.
func sampleNames() []string {
	var names []string
	for _, k := range knownMetrics {
		if !slices.Contains(names, k.sample) {
			names = append(names, k.sample)
		}
	}
	slices.Sort(names)
	return names
}

var errNoSample = errors.New("otlp: no such sample")

// keys are the attribute keys read for each field and the metrics read,
// the built-in ones after those of a Map.
type keys struct {
	app, dyno, processType, release, component []string
	routerCode                                 []string // a router request's attributes
	metrics                                    map[string]knownMetric
}

// newKeys returns the built-in keys with m's before them.
func newKeys(m Map) (*keys, error) {
	k := &keys{
		app:         append(slices.Clone(m.Attrs["app"]), appKeys...),
		dyno:        append(slices.Clone(m.Attrs["dyno"]), dynoKeys...),
		processType: append(slices.Clone(m.Attrs["process_type"]), processTypeKeys...),
		release:     append(slices.Clone(m.Attrs["release"]), releaseKeys...),
		component:   append(slices.Clone(m.Attrs["component"]), componentKeys...),
		routerCode:  append(slices.Clone(m.Attrs["router_code"]), codeKeys...),
		metrics:     map[string]knownMetric{},
	}
	for name, km := range knownMetrics {
		k.metrics[name] = km
	}
	for name, sample := range m.Metrics {
		km, ok := metricOfSample(sample)
		if !ok {
			return nil, fmt.Errorf("%w: %s (metric %s)", errNoSample, sample, name)
		}
		k.metrics[name] = km
	}
	return k, nil
}

func metricOfSample(sample string) (knownMetric, bool) {
	for _, km := range knownMetrics {
		if km.sample == sample {
			return km, true
		}
	}
	return knownMetric{}, false
}

// understood reports whether key is an attribute dynowatch reads.
func (k *keys) understood(key string) bool {
	for _, ks := range [][]string{k.app, k.dyno, k.processType, k.release, k.component} {
		if slices.Contains(ks, key) {
			return true
		}
	}
	return false
}

// understoodOfRequest reports whether key is an attribute dynowatch reads
// on a router request (a span's or a record's): the request's fields, its
// dyno and its component.
func (k *keys) understoodOfRequest(key string) bool {
	for _, ks := range append(k.routerKeys(), k.dyno, k.component) {
		if slices.Contains(ks, key) {
			return true
		}
	}
	return false
}

// dynoOf returns the dyno that attrs name, or "".
func (k *keys) dynoOf(attrs []*commonpb.KeyValue) string { return first(attrs, k.dyno, validDyno) }

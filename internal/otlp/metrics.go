package otlp

import (
	"math"
	"time"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// A known metric becomes a runtime sample of its dyno, the one Cedar's
// log-runtime-metrics gives, so the memory chart and the MEMORY rule work
// alike; CPU is a sample of its own (Fir shows CPU where Cedar had load).
type knownMetric struct {
	sample string // the runtime sample it becomes
	unit   unitKind
}

type unitKind uint8

const (
	unitBytes unitKind = iota // By, KiBy, MiBy, GiBy: the sample is in MB (MiB, as Heroku's)
	unitRatio                 // 1 (a fraction, 0 to 1) or %: the sample is in percent
)

// knownMetrics are the metrics dynowatch reads, by the OpenTelemetry
// semantic conventions' names (Fir's own are unpublished: see the README).
// Any other metric, and http.server.request.duration (the router's requests
// are counted from its log lines, and counting both would count each twice),
// is counted as unknown and reported back in the response's partial success.
var knownMetrics = map[string]knownMetric{
	"process.memory.usage":       {"memory_rss_mb", unitBytes},
	"container.memory.usage":     {"memory_rss_mb", unitBytes},
	"k8s.container.memory_limit": {"memory_quota_mb", unitBytes},
	"k8s.container.memory.limit": {"memory_quota_mb", unitBytes},
	"process.cpu.utilization":    {"cpu_percent", unitRatio},
	"container.cpu.utilization":  {"cpu_percent", unitRatio},
	"system.cpu.utilization":     {"cpu_percent", unitRatio},
}

// factor returns what a value in unit is multiplied by to give the sample,
// or false for a unit the metric can't be in.
func (k knownMetric) factor(unit string) (float64, bool) {
	switch k.unit {
	case unitBytes:
		switch unit {
		case "By":
			return 1.0 / (1 << 20), true
		case "KiBy":
			return 1.0 / (1 << 10), true
		case "MiBy":
			return 1, true
		case "GiBy":
			return 1 << 10, true
		}
	case unitRatio:
		switch unit {
		case "1", "":
			return 100, true
		case "%":
			return 1, true
		}
	}
	return 0, false
}

// countPoints returns how many data points req holds.
func countPoints(req *colmetricspb.ExportMetricsServiceRequest) int {
	n := 0
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				n += points(m)
			}
		}
	}
	return n
}

// points returns how many data points m holds.
func points(m *metricspb.Metric) int {
	switch {
	case m.GetGauge() != nil:
		return len(m.GetGauge().GetDataPoints())
	case m.GetSum() != nil:
		return len(m.GetSum().GetDataPoints())
	case m.GetHistogram() != nil:
		return len(m.GetHistogram().GetDataPoints())
	case m.GetExponentialHistogram() != nil:
		return len(m.GetExponentialHistogram().GetDataPoints())
	case m.GetSummary() != nil:
		return len(m.GetSummary().GetDataPoints())
	}
	return 0
}

// sampleKey is one runtime-metrics entry: the samples of a dyno at one time,
// together, as one log-runtime-metrics line holds them (the MEMORY rule
// needs rss and quota side by side).
type sampleKey struct {
	app, dyno string
	at        int64
}

// addMetrics adds the data points of the metrics dynowatch knows to bs as
// runtime samples, and counts the rest.
func (h *Handler) addMetrics(req *colmetricspb.ExportMetricsServiceRequest, urlApp string, bs *batches) {
	entries := map[sampleKey]int{} // index in the app's batch
	for _, rm := range req.GetResourceMetrics() {
		attrs := rm.GetResource().GetAttributes()
		for _, sm := range rm.GetScopeMetrics() {
			o := h.keys.resolve(urlApp, attrs, sm.GetScope().GetName())
			h.noteResource(bs, o.App, attrs, sm.GetScope().GetName())
			for _, m := range sm.GetMetrics() {
				n := points(m)
				known, ok := h.keys.metrics[m.GetName()]
				factor, unitOK := known.factor(m.GetUnit())
				var dps []*metricspb.NumberDataPoint
				switch {
				case m.GetGauge() != nil:
					dps = m.GetGauge().GetDataPoints()
				case m.GetSum() != nil:
					dps = m.GetSum().GetDataPoints()
				}
				understood := ok && unitOK && len(dps) == n
				bs.see(sighting{app: o.App, kind: SightMetric, name: m.GetName(), unit: m.GetUnit(), understood: understood})
				if !understood {
					bs.unknown += n
					h.noteMetric(m.GetName(), m.GetUnit())
					continue
				}
				if o.App == "" {
					bs.unattributed += n
					h.noteUnattributed(attrs)
					continue
				}
				b := bs.batch(o.App)
				for _, dp := range dps {
					dyno := o.Dyno
					if dyno == "" {
						dyno = h.keys.dynoOf(dp.GetAttributes())
					}
					v := value(dp) * factor
					at := recordTime(dp.GetTimeUnixNano(), 0, bs.received)
					switch {
					case dyno == "":
						bs.unattributed++
						continue
					case math.IsNaN(v) || math.IsInf(v, 0) || at.IsZero():
						b.BadFrames++
						bs.bad++
						continue
					}
					addSample(b, entries, sampleKey{o.App, dyno, at.UnixNano()}, at, parse.Sample{Name: known.sample, Value: v})
					bs.used++
				}
			}
		}
	}
}

// addSample adds s to the runtime-metrics entry of k in b, creating it.
func addSample(b *drain.Batch, entries map[sampleKey]int, k sampleKey, at time.Time, s parse.Sample) {
	i, ok := entries[k]
	if !ok {
		at = at.UTC()
		b.Entries = append(b.Entries, parse.Entry{Time: at, Stamp: at.Format(parse.StampLayout), Source: parse.SourceHeroku,
			Process: k.dyno, Kind: parse.KindRuntimeMetrics, Metrics: parse.Metrics{Dyno: k.dyno}})
		i = len(b.Entries) - 1
		entries[k] = i
	}
	m := &b.Entries[i].Metrics
	for j := range m.Samples {
		if m.Samples[j].Name == s.Name { // two metrics of one sample (process and container memory): the larger
			m.Samples[j].Value = max(m.Samples[j].Value, s.Value)
			return
		}
	}
	m.Samples = append(m.Samples, s)
}

func value(dp *metricspb.NumberDataPoint) float64 {
	if v, ok := dp.GetValue().(*metricspb.NumberDataPoint_AsInt); ok {
		return float64(v.AsInt)
	}
	return dp.GetAsDouble()
}

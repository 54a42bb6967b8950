package otlp

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// update rewrites the fixtures under testdata from the builders below and
// the .golden files from what the handler makes of them:
// go test ./internal/otlp -run Fixture -update
var update = flag.Bool("update", false, "rewrite testdata from the builders and the handler's output")

// fixtureTime is when the fixtures' records happened.
var fixtureTime = time.Date(2026, 11, 30, 12, 0, 3, 250000000, time.UTC)

func ns(t time.Time) uint64 { return uint64(t.UnixNano()) }

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func resource(kvs ...*commonpb.KeyValue) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: kvs}
}

// line is a log record whose body is one line of text.
func line(at time.Time, text string, attrs ...*commonpb.KeyValue) *logspb.LogRecord {
	return &logspb.LogRecord{TimeUnixNano: ns(at), ObservedTimeUnixNano: ns(at.Add(time.Millisecond)), SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_INFO,
		Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: text}}, Attributes: attrs}
}

func resourceLogs(res *resourcepb.Resource, scope string, records ...*logspb.LogRecord) *logspb.ResourceLogs {
	return &logspb.ResourceLogs{Resource: res, ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: scope}, LogRecords: records}}}
}

// spaceLogs is a space drain's request as Fir may send it, with each of the
// shapes dynowatch reads: two apps told apart by their resources (Heroku's
// keys on one, the semantic conventions' on the other), the router's lines
// as logfmt text and as a structured body, the runtime's R14 and crash,
// a release from the API, the app's own output (l2met metrics and a line
// that fakes an R14, which must stay app output), and a resource of no app.
func spaceLogs() *collogspb.ExportLogsServiceRequest {
	t := fixtureTime
	router := func(kvs ...*commonpb.KeyValue) *logspb.LogRecord {
		return &logspb.LogRecord{TimeUnixNano: ns(t), Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}}}
	}
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{
		resourceLogs(resource(str("heroku.app.name", "fir-shop"), str("service.name", "heroku-router"), str("cloud.provider", "heroku")), "heroku-router",
			line(t, `at=info method=GET path="/products?page=2" host=fir-shop.herokuapp.com request_id=5e0c6f1a fwd="203.0.113.9" dyno=web-5d8f7c9b4-x7k2p connect=0ms service=23ms status=200 bytes=5120 protocol=http2.0 tls=true tls_version=tls1.3`),
			line(t, `at=error code=H12 desc="Request timeout" method=POST path="/checkout" host=fir-shop.herokuapp.com request_id=7b1d2e3f fwd="203.0.113.9" dyno=web-5d8f7c9b4-x7k2p connect=0ms service=30000ms status=503 bytes=0 protocol=http1.1 tls=true tls_version=tls1.3`),
			router(str("at", "info"), str("method", "GET"), str("path", "/health"), str("host", "fir-shop.herokuapp.com"), str("dyno", "web-5d8f7c9b4-q2w3e"),
				str("connect", "1ms"), str("service", "4ms"), num("status", 200), num("bytes", 2)),
			// the request in the record's attributes, by the HTTP semantic
			// conventions, and a body that is no router line
			line(t, "GET /cart", str("http.request.method", "GET"), str("url.path", "/cart"), num("http.response.status_code", 502),
				str("heroku.dyno", "web-5d8f7c9b4-q2w3e"), str("heroku.router.code", "H13"), num("http.response.body.size", 0)),
		),
		resourceLogs(resource(str("service.name", "fir-shop"), str("k8s.pod.name", "web-5d8f7c9b4-x7k2p"), str("service.instance.id", "5b0f4c4e-8d6a-4a43-9a0e-3c8e1f2a7b9d")), "",
			line(t, "Error R14 (Memory quota exceeded)", str("heroku.source", "heroku-runtime")),
			line(t, "State changed from up to crashed", str("heroku.source", "heroku-runtime")),
			line(t, "Error R14 (Memory quota exceeded)"),
			line(t, "measure#checkout.duration=412ms count#orders=1 at=info msg=\"order placed\""),
		),
		resourceLogs(resource(str("service.name", "fir-blog"), str("service.version", "v12")), "heroku-api",
			line(t, "Release v12 created by user dev@example.com"),
		),
		resourceLogs(resource(str("service.name", "fir-blog"), str("heroku.dyno", "worker-6c9d8e7f5-abcde")), "",
			line(t, "Processed job 42 in 1.2s\n"),
		),
		resourceLogs(resource(str("service.name", "heroku-router"), str("cloud.provider", "heroku")), "heroku-router",
			line(t, `at=info method=GET path="/" host=unknown.example.com dyno=web-5d8f7c9b4-zzzzz connect=0ms service=1ms status=200 bytes=1`),
		),
	}}
}

// appLogs is an app-level drain's request to /otlp/fir-shop/v1/logs,
// whose resource names no app: the URL does.
func appLogs() *collogspb.ExportLogsServiceRequest {
	t := fixtureTime
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{
		resourceLogs(resource(str("service.name", "heroku-router")), "",
			line(t, `at=error code=H12 desc="Request timeout" method=GET path="/slow" host=fir-shop.herokuapp.com request_id=9a8b dyno=web-5d8f7c9b4-x7k2p connect=0ms service=30001ms status=503 bytes=0`),
		),
		resourceLogs(resource(str("heroku.dyno.name", "web-5d8f7c9b4-x7k2p")), "",
			line(t, "Started GET \"/slow\" for 203.0.113.9"),
		),
	}}
}

func num(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

// span is a span of kind that ran for took before end.
func span(kind tracepb.Span_SpanKind, end time.Time, took time.Duration, id byte, attrs ...*commonpb.KeyValue) *tracepb.Span {
	return &tracepb.Span{TraceId: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, id}, SpanId: []byte{0xa1, 0xb2, 0xc3, 0xd4, 0, 0, 0, id},
		Name: "router", Kind: kind, StartTimeUnixNano: ns(end.Add(-took)), EndTimeUnixNano: ns(end), Attributes: attrs}
}

func resourceSpans(res *resourcepb.Resource, scope string, spans ...*tracepb.Span) *tracepb.ResourceSpans {
	return &tracepb.ResourceSpans{Resource: res, ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: scope}, Spans: spans}}}
}

// routerSpans is a space drain's traces as Fir's router may send its
// requests: server spans by the HTTP semantic conventions' stable keys and
// by the older ones, an H12 with the span's error status, the router's
// client span of a request (its call to the dyno, no second request), the
// app's own server span (no router request), a router span of no app, and
// an error.type that is no H code.
func routerSpans() *coltracepb.ExportTraceServiceRequest {
	t := fixtureTime
	h12 := span(tracepb.Span_SPAN_KIND_SERVER, t, 30*time.Second, 2, str("http.request.method", "POST"), str("url.path", "/checkout"),
		str("server.address", "fir-shop.herokuapp.com"), num("http.response.status_code", 503), str("error.type", "H12"), str("heroku.dyno", "web-5d8f7c9b4-x7k2p"))
	h12.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "Request timeout"}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
		resourceSpans(resource(str("heroku.app.name", "fir-shop"), str("service.name", "heroku-router"), str("cloud.provider", "heroku")), "heroku-router",
			span(tracepb.Span_SPAN_KIND_SERVER, t, 23*time.Millisecond, 1, str("http.request.method", "GET"), str("url.path", "/products"), str("url.query", "page=2"),
				str("server.address", "fir-shop.herokuapp.com"), str("client.address", "203.0.113.9"), num("http.response.status_code", 200), num("http.response.body.size", 5120),
				str("network.protocol.version", "2"), str("heroku.dyno", "web-5d8f7c9b4-x7k2p"),
				&commonpb.KeyValue{Key: "http.request.header.x-request-id", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{{Value: &commonpb.AnyValue_StringValue{StringValue: "5e0c6f1a"}}}}}}}),
			h12,
			span(tracepb.Span_SPAN_KIND_CLIENT, t, 29*time.Second, 3, str("http.request.method", "POST"), str("url.path", "/checkout"), num("http.response.status_code", 503)),
			span(tracepb.Span_SPAN_KIND_SERVER, t, 4*time.Millisecond, 4, str("http.method", "GET"), str("http.target", "/health"), str("http.status_code", "200"),
				str("http.flavor", "1.1"), str("heroku.dyno", "web-5d8f7c9b4-q2w3e")),
		),
		resourceSpans(resource(str("service.name", "fir-shop"), str("k8s.pod.name", "web-5d8f7c9b4-x7k2p")), "opentelemetry.instrumentation.rack",
			span(tracepb.Span_SPAN_KIND_SERVER, t, 20*time.Millisecond, 5, str("http.request.method", "GET"), str("url.path", "/products"), num("http.response.status_code", 200)),
		),
		resourceSpans(resource(str("service.name", "fir-blog"), str("heroku.source", "heroku-router")), "",
			span(tracepb.Span_SPAN_KIND_SERVER, t, 5*time.Second, 6, str("http.request.method", "GET"), str("url.path", "/feed"), num("http.response.status_code", 504),
				str("error.type", "timeout"), str("heroku.dyno", "web-6c9d8e7f5-abcde")),
		),
		resourceSpans(resource(str("service.name", "heroku-router")), "heroku-router",
			span(tracepb.Span_SPAN_KIND_SERVER, t, time.Millisecond, 7, str("http.request.method", "GET"), num("http.response.status_code", 200)),
		),
	}}
}

func gauge(name, unit string, points ...*metricspb.NumberDataPoint) *metricspb.Metric {
	return &metricspb.Metric{Name: name, Unit: unit, Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: points}}}
}

func intPoint(at time.Time, v int64, attrs ...*commonpb.KeyValue) *metricspb.NumberDataPoint {
	return &metricspb.NumberDataPoint{TimeUnixNano: ns(at), Value: &metricspb.NumberDataPoint_AsInt{AsInt: v}, Attributes: attrs}
}

func doublePoint(at time.Time, v float64) *metricspb.NumberDataPoint {
	return &metricspb.NumberDataPoint{TimeUnixNano: ns(at), Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}
}

// dynoMetrics is a request of one Fir dyno's memory and CPU, beside a
// router histogram and a runtime metric dynowatch does not read.
func dynoMetrics() *colmetricspb.ExportMetricsServiceRequest {
	t := fixtureTime
	return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{
		{Resource: resource(str("service.name", "fir-shop"), str("k8s.pod.name", "web-5d8f7c9b4-x7k2p")),
			ScopeMetrics: []*metricspb.ScopeMetrics{{Scope: &commonpb.InstrumentationScope{Name: "heroku-runtime"}, Metrics: []*metricspb.Metric{
				gauge("process.memory.usage", "By", intPoint(t, 496<<20)),
				gauge("k8s.container.memory.limit", "By", intPoint(t, 512<<20)),
				gauge("process.cpu.utilization", "1", doublePoint(t, 0.375)),
				gauge("jvm.memory.used", "By", intPoint(t, 200<<20)),
				{Name: "http.server.request.duration", Unit: "s", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
					AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
					DataPoints:             []*metricspb.HistogramDataPoint{{TimeUnixNano: ns(t), Count: 3, ExplicitBounds: []float64{0.1, 1}, BucketCounts: []uint64{2, 0, 1}}}}}},
			}}}},
		{Resource: resource(str("service.name", "fir-blog")),
			ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
				gauge("container.memory.usage", "MiBy", intPoint(t, 300, str("k8s.pod.name", "worker-6c9d8e7f5-abcde"))),
				gauge("container.memory.usage", "MiBy", intPoint(t, 310)), // no dyno anywhere
			}}}},
	}}
}

// fixture is one request body in testdata and where it is posted.
type fixture struct {
	name string // file name without extension
	path string
	req  proto.Message
}

func fixtures() []fixture {
	return []fixture{
		{"space-logs", "/otlp/v1/logs", spaceLogs()},
		{"app-logs", "/otlp/fir-shop/v1/logs", appLogs()},
		{"dyno-metrics", "/otlp/v1/metrics", dynoMetrics()},
		{"router-spans", "/otlp/v1/traces", routerSpans()},
	}
}

// readFixture returns the body of a fixture file in testdata, written by
// -update from the builders with the official types' own encoders.
func readFixture(t testing.TB, f fixture, ext string) []byte {
	t.Helper()
	path := filepath.Join("testdata", f.name+ext)
	if *update {
		var b []byte
		var err error
		if ext == ".json" {
			// protojson varies its whitespace from build to build on
			// purpose; the file is indented afresh so that it does not.
			var out bytes.Buffer
			if b, err = protojson.Marshal(f.req); err == nil {
				err = json.Indent(&out, b, "", "  ")
			}
			b = append(out.Bytes(), '\n')
		} else {
			b, err = proto.MarshalOptions{Deterministic: true}.Marshal(f.req)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The fixture files are what the builders make: a change to either shows.
func TestFixturesAreTheBuildersOutput(t *testing.T) {
	for _, f := range fixtures() {
		pb := readFixture(t, f, ".pb")
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(f.req)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pb, want) {
			t.Errorf("testdata/%s.pb is not what %s's builder makes: run go test ./internal/otlp -run Fixture -update", f.name, f.name)
		}
		got := f.req.ProtoReflect().New().Interface()
		if err := protojson.Unmarshal(readFixture(t, f, ".json"), got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, f.req) {
			t.Errorf("testdata/%s.json is not what %s's builder makes", f.name, f.name)
		}
	}
}

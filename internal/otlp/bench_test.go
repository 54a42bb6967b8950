package otlp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/dynowatch/dynowatch/internal/drain"
)

type nopSink struct{}

func (nopSink) Ingest(context.Context, *drain.Batch) (bool, error) { return false, nil }

// benchLines are 300 router lines of one Fir dyno, a third of them H12s.
func benchLines() []string {
	lines := make([]string, 300)
	for i := range lines {
		if i%3 == 0 {
			lines[i] = fmt.Sprintf(`at=error code=H12 desc="Request timeout" method=POST path="/checkout/%d" host=fir-shop.herokuapp.com request_id=7b1d2e3f-%d fwd="203.0.113.9" dyno=web-5d8f7c9b4-x7k2p connect=0ms service=30000ms status=503 bytes=0 protocol=http1.1 tls=true tls_version=tls1.3`, i, i)
			continue
		}
		lines[i] = fmt.Sprintf(`at=info method=GET path="/products/%d" host=fir-shop.herokuapp.com request_id=5e0c6f1a-%d fwd="203.0.113.9" dyno=web-5d8f7c9b4-x7k2p connect=0ms service=%dms status=200 bytes=5120 protocol=http2.0 tls=true tls_version=tls1.3`, i, i, i%97)
	}
	return lines
}

// BenchmarkSameLines posts the same 300 router lines as an OTLP/HTTP
// request (protobuf and JSON) and as a Logplex drain body, each through its
// handler to a sink that keeps nothing: the intakes' cost per message.
//
//	go test -run '^$' -bench SameLines -benchmem ./internal/otlp/
func BenchmarkSameLines(b *testing.B) {
	lines := benchLines()
	sl := &logspb.ScopeLogs{}
	for _, l := range lines {
		sl.LogRecords = append(sl.LogRecords, line(fixtureTime, l))
	}
	req := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{
		{Resource: resource(str("heroku.app.name", "fir-shop"), str("service.name", "heroku-router")), ScopeLogs: []*logspb.ScopeLogs{sl}}}}
	pb, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	js, err := protojson.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	var logplex strings.Builder
	for _, l := range lines {
		msg := fmt.Sprintf("<158>1 2026-11-30T12:00:03.250000+00:00 host heroku router - %s", l)
		fmt.Fprintf(&logplex, "%d %s", len(msg), msg)
	}
	otlpH := newServer(b, nopSink{}, Options{})
	drainH, err := drain.NewHandler(drain.Options{Secrets: []string{"s"}, Sink: nopSink{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, body []byte, send func(*bytes.Reader) int) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		r := bytes.NewReader(body)
		for b.Loop() {
			r.Reset(body)
			if code := send(r); code/100 != 2 {
				b.Fatalf("status %d", code)
			}
		}
		b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "msgs/s")
		b.ReportMetric(0, "ns/op")
	}
	otlp := func(contentType string) func(*bytes.Reader) int {
		return func(r *bytes.Reader) int {
			req := httptest.NewRequest("POST", "/otlp/v1/logs", r)
			req.Header.Set("Content-Type", contentType)
			req.Header.Set("Authorization", "Bearer s")
			w := httptest.NewRecorder()
			otlpH.ServeHTTP(w, req)
			return w.Code
		}
	}
	b.Run("otlp-protobuf", func(b *testing.B) { run(b, pb, otlp("application/x-protobuf")) })
	b.Run("otlp-json", func(b *testing.B) { run(b, js, otlp("application/json")) })
	b.Run("logplex", func(b *testing.B) {
		run(b, []byte(logplex.String()), func(r *bytes.Reader) int {
			req := httptest.NewRequest("POST", "/drain/fir-shop", r)
			req.SetPathValue("app", "fir-shop")
			req.SetBasicAuth("dynowatch", "s")
			req.Header.Set("Content-Type", "application/logplex-1")
			w := httptest.NewRecorder()
			drainH.ServeHTTP(w, req)
			return w.Code
		})
	})
}

// BenchmarkRouterSpans posts 300 of the router's requests as server spans
// (a third of them H12s), through the handler to a sink that keeps
// nothing: the cost per request of writing each as its router line.
//
//	go test -run '^$' -bench RouterSpans -benchmem ./internal/otlp/
func BenchmarkRouterSpans(b *testing.B) {
	var spans []*tracepb.Span
	for i := range 300 {
		attrs := []*commonpb.KeyValue{str("http.request.method", "GET"), str("url.path", fmt.Sprintf("/products/%d", i)), str("server.address", "fir-shop.herokuapp.com"),
			str("client.address", "203.0.113.9"), num("http.response.status_code", 200), num("http.response.body.size", 5120), str("network.protocol.version", "2"),
			str("heroku.dyno", "web-5d8f7c9b4-x7k2p")}
		if i%3 == 0 {
			attrs = append(attrs, str("error.type", "H12"))
			attrs[4] = num("http.response.status_code", 503)
		}
		spans = append(spans, span(tracepb.Span_SPAN_KIND_SERVER, fixtureTime, time.Duration(i%97)*time.Millisecond, byte(i), attrs...))
	}
	body, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
		resourceSpans(resource(str("heroku.app.name", "fir-shop"), str("service.name", "heroku-router")), "heroku-router", spans...)}})
	if err != nil {
		b.Fatal(err)
	}
	h := newServer(b, nopSink{}, Options{})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if w := post(h, "/otlp/v1/traces", "application/x-protobuf", body); w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.N*len(spans))/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(0, "ns/op")
}

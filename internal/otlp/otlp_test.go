package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/dynowatch/dynowatch/internal/drain"
)

// sink keeps what it is handed, as text; err, if set, fails every batch.
type sink struct {
	mu    sync.Mutex
	got   []string
	keys  map[string]bool
	err   error
	block chan struct{} // if set, Ingest waits for it
}

func (s *sink) Ingest(ctx context.Context, b *drain.Batch) (bool, error) {
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	if s.keys == nil {
		s.keys = map[string]bool{}
	}
	if s.keys[b.App+" "+b.Key] {
		return true, nil
	}
	s.keys[b.App+" "+b.Key] = true
	s.got = append(s.got, fmt.Sprintf("batch %s: %d entries, %d bad", b.App, len(b.Entries), b.BadFrames))
	for i := range b.Entries {
		s.got = append(s.got, string(b.Entries[i].AppendJSON(nil)))
	}
	return false, nil
}

func (s *sink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.got, "\n") + "\n"
}

// newServer serves the OTLP routes as dynowatch mounts them, with secret "s".
func newServer(t testing.TB, sk drain.Sink, o Options) http.Handler {
	t.Helper()
	o.Secrets, o.Sink = []string{"old", "s"}, sk
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h, err := NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/otlp", "/otlp/{app}"} {
		mux.HandleFunc("POST "+p+"/v1/logs", h.ServeLogs)
		mux.HandleFunc("POST "+p+"/v1/metrics", h.ServeMetrics)
		mux.HandleFunc("POST "+p+"/v1/traces", h.ServeTraces)
	}
	return mux
}

// post sends body as an OTLP exporter does, with the bearer token secret.
func post(h http.Handler, path, contentType string, body []byte, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("Authorization", "Bearer s")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func gzipped(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Each fixture, in protobuf and JSON, gzipped or not, gives the entries of
// its .golden file and the partial success its unused records call for.
func TestFixturesGiveTheirGoldenEntries(t *testing.T) {
	rejected := map[string]int64{"space-logs": 1, "app-logs": 0, "dyno-metrics": 3, "router-spans": 1}
	for _, f := range fixtures() {
		for _, enc := range []struct{ ext, contentType string }{{".pb", "application/x-protobuf"}, {".json", "application/json"}} {
			for _, gz := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s%s gzip=%v", f.name, enc.ext, gz), func(t *testing.T) {
					body := readFixture(t, f, enc.ext)
					var header []string
					if gz {
						body, header = gzipped(t, body), []string{"Content-Encoding", "gzip"}
					}
					sk := &sink{}
					w := post(newServer(t, sk, Options{}), f.path, enc.contentType, body, header...)
					if w.Code != http.StatusOK {
						t.Fatalf("status %d: %s", w.Code, w.Body)
					}
					if got := w.Header().Get("Content-Type"); got != enc.contentType {
						t.Errorf("answer's Content-Type %q, want %q", got, enc.contentType)
					}
					n, msg := partialSuccess(t, f.path, enc.contentType, w.Body.Bytes())
					if n != rejected[f.name] || (n > 0) != (msg != "") {
						t.Errorf("partial success rejects %d (%q), want %d with a reason", n, msg, rejected[f.name])
					}
					golden := filepath.Join("testdata", f.name+".golden")
					if *update && enc.ext == ".pb" && !gz {
						if err := os.WriteFile(golden, []byte(sk.text()), 0o644); err != nil {
							t.Fatal(err)
						}
					}
					want, err := os.ReadFile(golden)
					if err != nil {
						t.Fatal(err)
					}
					if got := sk.text(); got != string(want) {
						t.Errorf("entries:\n%s\nwant (%s):\n%s", got, golden, want)
					}
				})
			}
		}
	}
}

// partialSuccess decodes an OTLP answer with the official types.
func partialSuccess(t *testing.T, path, contentType string, body []byte) (int64, string) {
	t.Helper()
	unmarshal := proto.Unmarshal
	if contentType == "application/json" {
		unmarshal = protojson.Unmarshal
	}
	if strings.HasSuffix(path, "/metrics") {
		var resp colmetricspb.ExportMetricsServiceResponse
		if err := unmarshal(body, &resp); err != nil {
			t.Fatal(err)
		}
		return resp.GetPartialSuccess().GetRejectedDataPoints(), resp.GetPartialSuccess().GetErrorMessage()
	}
	if strings.HasSuffix(path, "/traces") {
		var resp coltracepb.ExportTraceServiceResponse
		if err := unmarshal(body, &resp); err != nil {
			t.Fatal(err)
		}
		return resp.GetPartialSuccess().GetRejectedSpans(), resp.GetPartialSuccess().GetErrorMessage()
	}
	var resp collogspb.ExportLogsServiceResponse
	if err := unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	return resp.GetPartialSuccess().GetRejectedLogRecords(), resp.GetPartialSuccess().GetErrorMessage()
}

// A retried request (same body) is recognised by the sink and not counted again.
func TestRetriedRequestIsOneBatch(t *testing.T) {
	sk := &sink{}
	h := newServer(t, sk, Options{})
	body := readFixture(t, fixtures()[1], ".pb")
	for range 2 {
		if w := post(h, "/otlp/fir-shop/v1/logs", "application/x-protobuf", body); w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	if got := strings.Count(sk.text(), "batch "); got != 1 {
		t.Errorf("%d batches stored, want 1:\n%s", got, sk.text())
	}
}

// Every refusal is the status OTLP/HTTP asks for, with a google.rpc.Status
// body, and Retry-After on those the exporter should retry.
func TestRefusalsAreOTLPStatuses(t *testing.T) {
	good := readFixture(t, fixtures()[1], ".pb")
	huge := bytes.Repeat([]byte{0x0a, 0x00}, MaxBody/2+1) // empty ResourceLogs, one byte over MaxBody
	bomb := gzipped(t, make([]byte, MaxBody+1))
	manyObjects := bytes.Repeat([]byte{0x0a, 0x00}, MaxObjects+1) // as many empty ResourceLogs
	var many collogspb.ExportLogsServiceRequest
	sl := &logspb.ScopeLogs{}
	for range MaxRecords + 1 {
		sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{})
	}
	many.ResourceLogs = []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{sl}}}
	manyRecords, err := proto.Marshal(&many)
	if err != nil {
		t.Fatal(err)
	}
	v := &commonpb.AnyValue{}
	for range maxDepth {
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{v}}}}
	}
	deep, err := proto.Marshal(&collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{
		{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{{Body: v}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		path        string
		contentType string
		body        []byte
		header      []string
		sinkErr     error
		want        int
		retry       bool
	}{
		{"no credentials", "/otlp/v1/logs", "application/x-protobuf", good, []string{"Authorization", ""}, nil, http.StatusUnauthorized, false},
		{"wrong bearer", "/otlp/v1/logs", "application/x-protobuf", good, []string{"Authorization", "Bearer x"}, nil, http.StatusUnauthorized, false},
		{"a prefix of the secret", "/otlp/v1/logs", "application/x-protobuf", good, []string{"Authorization", "Bearer "}, nil, http.StatusUnauthorized, false},
		{"old secret still taken", "/otlp/v1/logs", "application/x-protobuf", good, []string{"Authorization", "Bearer old"}, nil, http.StatusOK, false},
		{"basic auth", "/otlp/v1/logs", "application/x-protobuf", good, []string{"Authorization", "Basic ZHlub3dhdGNoOnM="}, nil, http.StatusOK, false},
		{"not an app name", "/otlp/Not_An_App/v1/logs", "application/x-protobuf", good, nil, nil, http.StatusNotFound, false},
		{"text", "/otlp/v1/logs", "text/plain", good, nil, nil, http.StatusUnsupportedMediaType, false},
		{"brotli", "/otlp/v1/logs", "application/x-protobuf", good, []string{"Content-Encoding", "br"}, nil, http.StatusUnsupportedMediaType, false},
		{"not protobuf", "/otlp/v1/logs", "application/x-protobuf", []byte("hello"), nil, nil, http.StatusBadRequest, false},
		{"not JSON", "/otlp/v1/metrics", "application/json", []byte(`{"resourceMetrics":[`), nil, nil, http.StatusBadRequest, false},
		{"JSON of another type", "/otlp/v1/logs", "application/json", []byte(`{"resourceLogs":"x"}`), nil, nil, http.StatusBadRequest, false},
		{"bad gzip", "/otlp/v1/logs", "application/x-protobuf", good, []string{"Content-Encoding", "gzip"}, nil, http.StatusBadRequest, false},
		{"over MaxBody", "/otlp/v1/logs", "application/x-protobuf", huge, nil, nil, http.StatusRequestEntityTooLarge, false},
		{"over MaxBody unzipped", "/otlp/v1/logs", "application/x-protobuf", bomb, []string{"Content-Encoding", "gzip"}, nil, http.StatusRequestEntityTooLarge, false},
		{"over MaxObjects", "/otlp/v1/logs", "application/x-protobuf", manyObjects, nil, nil, http.StatusRequestEntityTooLarge, false},
		{"nested too deep", "/otlp/v1/logs", "application/x-protobuf", deep, nil, nil, http.StatusBadRequest, false},
		{"over MaxRecords", "/otlp/v1/logs", "application/x-protobuf", manyRecords, nil, nil, http.StatusRequestEntityTooLarge, false},
		{"store down", "/otlp/fir-shop/v1/logs", "application/x-protobuf", good, nil, errors.New("db down"), http.StatusServiceUnavailable, true},
		{"JSON with hex ids, as OTLP/JSON writes them", "/otlp/fir-shop/v1/logs", "application/json", []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1764504003250000000","severityNumber":9,"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","body":{"stringValue":"hi"},"unknownField":1}]}]}]}`), nil, nil, http.StatusOK, false},
		{"empty request", "/otlp/v1/logs", "application/x-protobuf", nil, nil, nil, http.StatusOK, false},
		{"traces are taken", "/otlp/v1/traces", "application/json", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"GET /"}]}]}]}`), nil, nil, http.StatusOK, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newServer(t, &sink{err: tt.sinkErr}, Options{})
			w := post(h, tt.path, tt.contentType, tt.body, tt.header...)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if got := w.Header().Get("Retry-After") != ""; got != tt.retry {
				t.Errorf("Retry-After %q, want one: %v", w.Header().Get("Retry-After"), tt.retry)
			}
			if w.Code == http.StatusOK {
				return
			}
			var st spb.Status
			unmarshal := proto.Unmarshal
			if w.Header().Get("Content-Type") == "application/json" {
				unmarshal = protojson.Unmarshal
			}
			if err := unmarshal(w.Body.Bytes(), &st); err != nil || st.GetMessage() == "" {
				t.Errorf("body is no google.rpc.Status with a message (%v): %q", err, w.Body)
			}
		})
	}
}

// A request that finds no turn within slotWait gets a 503 with Retry-After,
// and the turn is given back when the request ahead finishes.
func TestBusyIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sk := &sink{block: make(chan struct{})}
		h := newServer(t, sk, Options{MaxInFlight: 1})
		body := readFixture(t, fixtures()[1], ".pb")
		done := make(chan int)
		go func() { done <- post(h, "/otlp/fir-shop/v1/logs", "application/x-protobuf", body).Code }()
		synctest.Wait() // the first request holds the only turn, in the sink
		w := post(h, "/otlp/fir-shop/v1/logs", "application/x-protobuf", append(body, 0x0a, 0x00))
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
			t.Errorf("second request: status %d, Retry-After %q; want 503 and 1", w.Code, w.Header().Get("Retry-After"))
		}
		close(sk.block)
		if code := <-done; code != http.StatusOK {
			t.Errorf("first request: status %d", code)
		}
		if w := post(h, "/otlp/fir-shop/v1/logs", "application/x-protobuf", append(body, 0x0a, 0x00)); w.Code != http.StatusOK {
			t.Errorf("after the first: status %d", w.Code)
		}
	})
}

// The dyno names of both generations are read, and their process types.
func TestProcessType(t *testing.T) {
	for in, want := range map[string]string{
		"web.1": "web", "run.1234": "run", "web-1234abcde-123ab": "web", "my-worker-5d8f7c9b4-x7k2p": "my-worker",
		"web": "", "web.": "", "web.x": "", "web-1234abcde-123a": "", "web-1234abcde-123AB": "", "-abc-12345": "",
		"5b0f4c4e-8d6a-4a43-9a0e-3c8e1f2a7b9d": "", "ip-10-0-0-1.ec2.internal": "",
	} {
		if got := processType(in); got != want {
			t.Errorf("processType(%q) = %q, want %q", in, got, want)
		}
	}
}

// The app of a resource is the first of its keys that holds an app name;
// a platform component's service.name is none.
func TestResolveApp(t *testing.T) {
	for _, tt := range []struct {
		attrs []*commonpb.KeyValue
		want  string
	}{
		{[]*commonpb.KeyValue{str("service.name", "shop"), str("heroku.app.name", "fir-shop")}, "fir-shop"},
		{[]*commonpb.KeyValue{str("heroku.app.name", "Bad Name"), str("service.name", "shop")}, "shop"},
		{[]*commonpb.KeyValue{str("service.name", "heroku-router")}, ""},
		{[]*commonpb.KeyValue{str("heroku.app.id", "5b0f4c4e-8d6a-4a43-9a0e-3c8e1f2a7b9d")}, ""},
	} {
		if got := defaultKeys(t).resolve("", tt.attrs, "").App; got != tt.want {
			t.Errorf("app of %v = %q, want %q", tt.attrs, got, tt.want)
		}
	}
}

// An app's router requests that arrive both as router log records and as
// spans are counted once, from the logs: its spans are not counted while
// its router logs arrive, nor for RouterLogsHold after the last. An app
// that sends only spans has its spans counted throughout.
func TestRouterSpansOfAnAppWithRouterLogsAreNotCountedTwice(t *testing.T) {
	now := fixtureTime
	sk := &sink{}
	h := newServer(t, sk, Options{Now: func() time.Time { return now }})
	spans := readFixture(t, fixture{name: "router-spans"}, ".pb")
	routerLines := func() int { return strings.Count(sk.text(), `"kind":"router"`) }
	// another request of the same spans: empty resources after them make its body, and so its key, differ
	another := func(n int) []byte { return append(bytes.Clone(spans), bytes.Repeat([]byte{0x0a, 0x00}, n)...) }

	if w := post(h, "/otlp/v1/traces", "application/x-protobuf", spans); w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if got := routerLines(); got != 4 { // fir-shop's 3 server spans, fir-blog's 1
		t.Fatalf("spans of apps that send no router logs: %d requests, want 4:\n%s", got, sk.text())
	}
	if w := post(h, "/otlp/fir-shop/v1/logs", "application/x-protobuf", readFixture(t, fixtures()[1], ".pb")); w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if got := routerLines(); got != 5 {
		t.Fatalf("after fir-shop's router log: %d requests, want 5", got)
	}
	for i, after := range []time.Duration{time.Minute, RouterLogsHold} {
		now = fixtureTime.Add(after)
		before := sk.text()
		if w := post(h, "/otlp/v1/traces", "application/x-protobuf", another(i+1)); w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		added := strings.TrimPrefix(sk.text(), before)
		if strings.Contains(added, "batch fir-shop") || !strings.Contains(added, "batch fir-blog: 1 entries") {
			t.Errorf("%v after fir-shop's router log, its spans are counted again, or fir-blog's not:\n%s", after, added)
		}
	}
	now = fixtureTime.Add(RouterLogsHold + time.Second)
	before := sk.text()
	if w := post(h, "/otlp/v1/traces", "application/x-protobuf", another(3)); w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if added := strings.TrimPrefix(sk.text(), before); !strings.Contains(added, "batch fir-shop: 3 entries") {
		t.Errorf("fir-shop sent no router log for over RouterLogsHold, and its spans are still not counted:\n%s", added)
	}
}

// OTLP_MAP's router_code names the attribute that holds a router
// request's H code, read before the built-in keys.
func TestMapRouterCode(t *testing.T) {
	var m Map
	if err := m.Decode("router_code=fir.router.error"); err != nil {
		t.Fatal(err)
	}
	sk := &sink{}
	h := newServer(t, sk, Options{Map: m})
	sp := span(tracepb.Span_SPAN_KIND_SERVER, fixtureTime, time.Second, 1, str("http.request.method", "GET"), num("http.response.status_code", 503),
		str("fir.router.error", "H18"), str("error.type", "H12"))
	body, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
		resourceSpans(resource(str("heroku.app.name", "fir-shop"), str("service.name", "heroku-router")), "", sp)}})
	if err != nil {
		t.Fatal(err)
	}
	if w := post(h, "/otlp/v1/traces", "application/x-protobuf", body); w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if !strings.Contains(sk.text(), `"at":"error","code":"H18"`) {
		t.Errorf("the mapped key's H18 is not read:\n%s", sk.text())
	}
}

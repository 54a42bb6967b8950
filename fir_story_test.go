package main

// Stories of Fir apps, whose logs and metrics come through a telemetry
// drain (OTLP/HTTP) instead of Logplex: the same lines must page through
// the same rules, with the same evidence.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/dynowatch/dynowatch/internal/otlp"
)

const firDyno = "web-5d8f7c9b4-x7k2p"

func otlpStr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// telemetry posts req to the story's telemetry drain at path, as Heroku's
// otlphttp exporter does (protobuf, the drain secret as a bearer token).
func (s *story) telemetry(path string, req proto.Message) {
	s.t.Helper()
	if s.otlp == nil {
		// One handler for the story, as one web dyno has: it remembers
		// which apps send router logs.
		h, err := otlp.NewHandler(otlp.Options{Secrets: []string{"s"}, Sink: s.pipe, Logger: s.logger, Now: s.now})
		if err != nil {
			s.t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("POST /otlp/v1/logs", h.ServeLogs)
		mux.HandleFunc("POST /otlp/v1/metrics", h.ServeMetrics)
		mux.HandleFunc("POST /otlp/v1/traces", h.ServeTraces)
		s.otlp = mux
	}
	body, err := proto.Marshal(req)
	if err != nil {
		s.t.Fatal(err)
	}
	r := httptest.NewRequest("POST", path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-protobuf")
	r.Header.Set("Authorization", "Bearer s")
	w := httptest.NewRecorder()
	s.otlp.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		s.t.Fatalf("telemetry drain %s: %d %s", path, w.Code, w.Body)
	}
}

// firLogs is a space drain's request of app's records: each component's
// lines under a resource of its own, as the platform's collector sends them.
func (s *story) firLogs(app string, byComponent map[string][]string) *collogspb.ExportLogsServiceRequest {
	req := &collogspb.ExportLogsServiceRequest{}
	for _, component := range slices.Sorted(func(yield func(string) bool) {
		for c := range byComponent {
			if !yield(c) {
				return
			}
		}
	}) {
		sl := &logspb.ScopeLogs{Scope: &commonpb.InstrumentationScope{Name: component}}
		for _, text := range byComponent[component] {
			sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{TimeUnixNano: uint64(s.now().UnixNano()),
				Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: text}}})
		}
		req.ResourceLogs = append(req.ResourceLogs, &logspb.ResourceLogs{
			Resource:  &resourcepb.Resource{Attributes: []*commonpb.KeyValue{otlpStr("service.name", app), otlpStr("k8s.pod.name", firDyno)}},
			ScopeLogs: []*logspb.ScopeLogs{sl}})
	}
	return req
}

// A Fir app's R14 and H12, arriving over its telemetry drain, page at once
// through the same rules as a Cedar app's over Logplex, naming its dyno,
// with the same evidence lines.
func TestStoryFirR14AndH12PageLikeCedar(t *testing.T) {
	t.Parallel()
	s := newStory(t, "ALERT_GROUP_WAIT=0s")
	h12 := func(dyno string) string {
		return `at=error code=H12 desc="Request timeout" method=POST path="/checkout" host=shop.example.com dyno=` + dyno + ` connect=0ms service=30000ms status=503 bytes=0`
	}
	s.log("shop", "heroku[web.1]: Error R14 (Memory quota exceeded)", "heroku[router]: "+h12("web.1"))
	s.telemetry("/otlp/v1/logs", s.firLogs("fir-shop", map[string][]string{
		"heroku-runtime": {"Error R14 (Memory quota exceeded)"},
		"heroku-router":  {h12(firDyno)},
	}))
	s.send() // no time passes: R14 and H12 go out the moment their lines are committed
	s.expectAlerts("firing r14 R14 web.1", "firing h_codes H12 web.1", "firing r14 R14 "+firDyno, "firing h_codes H12 "+firDyno)
	evidence := map[string][]string{}
	for _, r := range s.received() {
		for _, a := range r.Alerts {
			var lines []string
			for _, l := range a.Evidence {
				_, rest, _ := strings.Cut(l, " ") // the stamps' forms differ: Logplex's as sent, OTLP's as parse writes it
				lines = append(lines, strings.ReplaceAll(rest, firDyno, "web.1"))
			}
			evidence[a.App+" "+a.Code] = lines
		}
	}
	for _, code := range []string{"R14", "H12"} {
		cedar, fir := evidence["shop "+code], evidence["fir-shop "+code]
		if len(cedar) == 0 || !slices.Equal(cedar, fir) {
			t.Errorf("%s evidence:\n Cedar %q\n Fir   %q", code, cedar, fir)
		}
	}
}

// A Fir dyno's memory, as the telemetry drain's process.memory.usage
// against its container's limit, warns through MEMORY after three samples
// at 90% of the quota, as log-runtime-metrics does on Cedar.
func TestStoryFirMemoryMetricsWarnLikeRuntimeMetrics(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	memory := func(usedMB int64) *colmetricspb.ExportMetricsServiceRequest {
		gauge := func(name string, v int64) *metricspb.Metric {
			return &metricspb.Metric{Name: name, Unit: "By", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
				{TimeUnixNano: uint64(s.now().UnixNano()), Value: &metricspb.NumberDataPoint_AsInt{AsInt: v}}}}}}
		}
		return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{otlpStr("heroku.app.name", "fir-shop"), otlpStr("k8s.pod.name", firDyno)}},
			ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
				gauge("process.memory.usage", usedMB<<20), gauge("k8s.container.memory.limit", 512<<20)}}}}}}
	}
	for range 2 {
		s.telemetry("/otlp/v1/metrics", memory(480))
		s.advance(20 * time.Second)
	}
	s.expect()
	s.telemetry("/otlp/v1/metrics", memory(490)) // the third in a row
	s.advance(20 * time.Second)
	s.expectAlerts("firing memory " + firDyno)
	code, body := s.call("GET", "/api/v1/apps/fir-shop/series?metric=memory_rss_mb&from=2h", "")
	if code != http.StatusOK || !strings.Contains(body, `"dyno":"`+firDyno+`"`) {
		t.Errorf("memory_rss_mb series: %d %s", code, body)
	}
	// Its coverage counts the telemetry drain's metrics as Fir's, and asks
	// for no labs:enable, which Fir has no use for.
	code, body = s.call("GET", "/api/v1/apps/fir-shop/coverage", "")
	if code != http.StatusOK || !strings.Contains(body, `{"name":"fir","ok":true,`) || strings.Contains(body, "labs:enable") {
		t.Errorf("coverage: %d %s", code, body)
	}
}

// A Fir dyno's CPU, as the telemetry drain's process.cpu.utilization,
// warns through CPU after three samples in a row over the threshold the
// app's config var sets, and resolves after three under it; the alert's
// evidence holds the samples it judged.
func TestStoryFirCPUWarnsAndResolves(t *testing.T) {
	t.Parallel()
	s := newStory(t, "ALERT_CPU_THRESHOLD__FIR_SHOP=80")
	cpu := func(fraction float64) *colmetricspb.ExportMetricsServiceRequest {
		return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{otlpStr("heroku.app.name", "fir-shop"), otlpStr("k8s.pod.name", firDyno)}},
			ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{Name: "process.cpu.utilization", Unit: "1",
				Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
					{TimeUnixNano: uint64(s.now().UnixNano()), Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: fraction}}}}}}}}}}}}
	}
	for _, f := range []float64{0.85, 0.95, 0.5, 0.85, 0.9} { // a dip breaks the run: two, then two again
		s.telemetry("/otlp/v1/metrics", cpu(f))
		s.advance(20 * time.Second)
	}
	s.expect()
	s.telemetry("/otlp/v1/metrics", cpu(0.88)) // the third in a row over 80%, under the default 90%
	s.advance(20 * time.Second)
	s.expectAlerts("firing cpu " + firDyno)
	a := s.received()[0].Alerts[0]
	if !strings.Contains(a.Summary, firDyno+" CPU 88%") || len(a.Evidence) == 0 ||
		!strings.HasSuffix(a.Evidence[len(a.Evidence)-1], "heroku["+firDyno+"]: source="+firDyno+" sample#cpu_percent=88") {
		t.Errorf("cpu alert: summary %q, evidence %q", a.Summary, a.Evidence)
	}
	for range 3 {
		s.telemetry("/otlp/v1/metrics", cpu(0.2))
		s.advance(20 * time.Second)
	}
	s.expectAlerts("firing cpu "+firDyno, "resolved cpu "+firDyno)
}

// routerSpans is a telemetry drain's traces of app's requests as Fir's
// router may send them: one server span each, by the HTTP semantic
// conventions, ending now; took is their service time. A status of 503
// carries the router's H12.
func (s *story) routerSpans(app string, took time.Duration, statuses ...int) *coltracepb.ExportTraceServiceRequest {
	var spans []*tracepb.Span
	for i, status := range statuses {
		sp := &tracepb.Span{TraceId: bytes.Repeat([]byte{byte(i + 1)}, 16), SpanId: []byte{0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)}, Name: "GET",
			Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: uint64(s.now().Add(-took).UnixNano()), EndTimeUnixNano: uint64(s.now().UnixNano()),
			Attributes: []*commonpb.KeyValue{otlpStr("http.request.method", "GET"), otlpStr("url.path", "/report"), otlpStr("heroku.dyno", firDyno),
				{Key: "http.response.status_code", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(status)}}}}}
		if status == 503 {
			sp.Attributes = append(sp.Attributes, otlpStr("error.type", "H12"))
			sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "Request timeout"}
		}
		spans = append(spans, sp)
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{otlpStr("heroku.app.name", app), otlpStr("service.name", "heroku-router")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "heroku-router"}, Spans: spans}}}}}
}

// statuses returns n statuses, the first failed of them 503 and the rest 200.
func statuses(n, failed int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = map[bool]int{true: 503, false: 200}[i < failed]
	}
	return out
}

// A Fir app whose telemetry drain sends traces and no logs is judged on
// its router's spans: its H12s page with the span as evidence, and its 5xx
// share and p95 service time fire 5XX_RATE and SLOW_REQUESTS over the
// rollups as a Cedar app's router lines do; and they resolve.
func TestStoryFirRouterSpansAloneFireTheRouterRules(t *testing.T) {
	t.Parallel()
	s := newStory(t, "ALERT_GROUP_WAIT=0s")
	for range 3 {
		s.telemetry("/otlp/v1/traces", s.routerSpans("fir-api", 6*time.Second, statuses(20, 4)...)) // 20% failed, all slow
		s.advance(time.Minute)
	}
	s.expectAlerts("firing h_codes H12 "+firDyno, "firing 5xx_rate", "firing slow_requests")
	// The README shows this evidence line.
	shown := regexp.MustCompile("`(heroku\\[router\\]: at=error code=H12 [^`]*)`").FindStringSubmatch(readme(t))
	if shown == nil {
		t.Fatal("README.md no longer shows the evidence of an H12 from a span; this test checks it")
	}
	for _, r := range s.received() {
		for _, a := range r.Alerts {
			if a.Rule == "h_codes" && (len(a.Evidence) == 0 || !strings.HasSuffix(a.Evidence[0], " "+shown[1])) {
				t.Errorf("H12 evidence %q, want the router line of its span, as the README shows it: %q", a.Evidence, shown[1])
			}
		}
	}
	for range 8 {
		s.telemetry("/otlp/v1/traces", s.routerSpans("fir-api", 20*time.Millisecond, statuses(40, 0)...))
		s.advance(time.Minute)
	}
	var resolved []string
	for _, r := range s.received() {
		if r.Status == "resolved" {
			resolved = append(resolved, r.Rule)
		}
	}
	slices.Sort(resolved)
	if strings.Join(resolved, " ") != "5xx_rate h_codes slow_requests" {
		t.Errorf("resolved %q, want 5xx_rate, h_codes and slow_requests", resolved)
	}
}

// A Fir app whose telemetry drain sends its router's requests both as log
// records and as spans has each request counted once, from the logs.
func TestStoryFirRouterLogsAndSpansCountOnce(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	var lines []string
	for i := range 10 {
		lines = append(lines, fmt.Sprintf(`at=info method=GET path="/report" host=fir-shop.herokuapp.com dyno=%s connect=0ms service=%dms status=200 bytes=10`, firDyno, 20+i))
	}
	for minute := range 3 {
		s.telemetry("/otlp/v1/logs", s.firLogs("fir-shop", map[string][]string{"heroku-router": lines}))
		s.telemetry("/otlp/v1/traces", s.routerSpans("fir-shop", 20*time.Millisecond, statuses(10, 0)...)) // the same 10 requests
		if minute == 0 {
			s.telemetry("/otlp/v1/traces", s.routerSpans("fir-api", 20*time.Millisecond, statuses(7, 0)...)) // an app of spans alone
		}
		s.advance(time.Minute)
	}
	for app, want := range map[string]float64{"fir-shop": 30, "fir-api": 7} {
		code, body := s.call("GET", "/api/v1/apps/"+app+"/series?metric=requests&from=1h", "")
		var series struct {
			Series []struct {
				Points [][]any `json:"points"`
			} `json:"series"`
		}
		if err := json.Unmarshal([]byte(body), &series); code != http.StatusOK || err != nil {
			t.Fatalf("%s series: %d %v %s", app, code, err, body)
		}
		total := 0.0
		for _, sr := range series.Series {
			for _, p := range sr.Points {
				total += p[1].(float64)
			}
		}
		if total != want {
			t.Errorf("%s: %v requests counted, want %v", app, total, want)
		}
	}
}

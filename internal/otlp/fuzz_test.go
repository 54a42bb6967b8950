package otlp

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// checkSink checks what a fuzzed request hands on: every entry has a time
// and a kind, and its names are within parse's bounds.
type checkSink struct{ t *testing.T }

func (s checkSink) Ingest(_ context.Context, b *drain.Batch) (bool, error) {
	for i := range b.Entries {
		e := &b.Entries[i]
		if e.Time.IsZero() || e.Stamp == "" || len(e.Process) > 140 {
			s.t.Errorf("entry %d of %s: time %v, stamp %q, process of %d bytes", i, b.App, e.Time, e.Stamp, len(e.Process))
		}
	}
	return false, nil
}

// FuzzIntake posts any body as logs, metrics or traces, in protobuf or
// JSON: the answer is 200 with an OTLP response, 400 or 413, never a
// panic, and what is handed on is well formed.
func FuzzIntake(f *testing.F) {
	for _, fx := range fixtures() {
		signal := map[string]uint8{"dyno-metrics": 1, "router-spans": 2}[fx.name]
		f.Add(readFixture(f, fx, ".pb"), signal, false)
		f.Add(readFixture(f, fx, ".json"), signal, true)
	}
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{}]}]}]}`), uint8(2), true)
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00}, uint8(0), false)
	f.Fuzz(func(t *testing.T, body []byte, signal uint8, json bool) {
		h := newServer(t, checkSink{t}, Options{Now: func() time.Time { return fixtureTime }})
		path := []string{"/otlp/v1/logs", "/otlp/fir-shop/v1/metrics", "/otlp/v1/traces"}[signal%3]
		contentType := "application/x-protobuf"
		if json {
			contentType = "application/json"
		}
		w := post(h, path, contentType, body)
		switch w.Code {
		case http.StatusOK:
			resp := []proto.Message{&collogspb.ExportLogsServiceResponse{}, &colmetricspb.ExportMetricsServiceResponse{}, &coltracepb.ExportTraceServiceResponse{}}[signal%3]
			unmarshal := proto.Unmarshal
			if json {
				unmarshal = protojson.Unmarshal
			}
			if err := unmarshal(w.Body.Bytes(), resp); err != nil {
				t.Errorf("200 with a body that is no OTLP response: %v", err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Errorf("status %d: %s", w.Code, w.Body)
		}
	})
}

// OTLP_MAP's reader never panics, and what it accepts it writes back as a
// value it reads the same.
func FuzzMapDecode(f *testing.F) {
	for _, s := range []string{"", "app=my.app.attr,dyno=my.instance.attr,memory_rss_mb=my.mem.metric", " dyno = a ,,cpu_percent=c",
		"app", "app=", "colour=x", "app=a b", "memory_rss_mb=m,cpu_percent=m", "release=v=1", "router_code=heroku.router.error_code,app=a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var m Map
		if m.Decode(s) != nil {
			return
		}
		var again Map
		if err := again.Decode(m.String()); err != nil || again.String() != m.String() {
			t.Fatalf("%q reads as %q, which reads as %q (%v)", s, m.String(), again.String(), err)
		}
		if _, err := newKeys(m); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	})
}

// The router line written from a request's attributes parses as a router
// line whatever the attributes hold, and keeps their values: a quote, a
// space or an '=' in a path or a host can't shift the fields after it.
func FuzzRouterLine(f *testing.F) {
	f.Add("GET", "/products", "page=2", "fir-shop.herokuapp.com", "203.0.113.9", "H12", "Request timeout", int64(503))
	f.Add("POST", `/a "b"=c d`, "", "h =x", "", "timeout", `say "hi"`, int64(200))
	f.Add("", "", "", "", "", "", "", int64(-1))
	k, err := newKeys(Map{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, query, host, client, code, desc string, status int64) {
		attrs := []*commonpb.KeyValue{str("http.request.method", method), str("url.path", path), str("url.query", query),
			str("server.address", host), str("client.address", client), str("error.type", code), num("http.response.status_code", status)}
		line := k.routerLine(attrs, "web-5d8f7c9b4-x7k2p", desc, 12, "a1b2")
		var e parse.Entry
		err := parse.FromParts(&e, fixtureTime, parse.SourceHeroku, "router", line)
		if !utf8.ValidString(line) {
			if err == nil {
				t.Errorf("%q is no UTF-8 and parses", line)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		r := e.Router
		clean := func(s string) string { return unquote.Replace(s) }
		wantPath := clean(path)
		if query != "" && !strings.Contains(path, "?") {
			wantPath = clean(path + "?" + query)
		}
		if e.Kind != parse.KindRouter || r.Method != clean(method) || r.Path != wantPath || r.Host != clean(host) || r.Fwd != clean(client) ||
			r.Dyno != "web-5d8f7c9b4-x7k2p" || r.ServiceMS != 12 {
			t.Errorf("%q reads as %+v", line, r)
		}
		wantCode, wantStatus := "", parse.Absent
		if isHCode(code) {
			wantCode = code
		}
		if status >= 100 && status <= 999 {
			wantStatus = int(status)
		}
		if r.Code != wantCode || r.Status != wantStatus {
			t.Errorf("%q: code %q status %d read as %q %d", line, code, status, r.Code, r.Status)
		}
	})
}

package otlp

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"

	"github.com/dynowatch/dynowatch/internal/drain"
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
		signal := uint8(0)
		if fx.name == "dyno-metrics" {
			signal = 1
		}
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
			var resp proto.Message = &collogspb.ExportLogsServiceResponse{}
			if signal%3 == 1 {
				resp = &colmetricspb.ExportMetricsServiceResponse{}
			}
			unmarshal := proto.Unmarshal
			if json {
				unmarshal = protojson.Unmarshal
			}
			if signal%3 != 2 {
				if err := unmarshal(w.Body.Bytes(), resp); err != nil {
					t.Errorf("200 with a body that is no OTLP response: %v", err)
				}
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
		"app", "app=", "colour=x", "app=a b", "memory_rss_mb=m,cpu_percent=m", "release=v=1"} {
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

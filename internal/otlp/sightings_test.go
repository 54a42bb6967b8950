package otlp

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
)

func defaultKeys(t testing.TB) *keys {
	t.Helper()
	k, err := newKeys(Map{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sightingsServer serves the OTLP routes and the sightings as dynowatch
// mounts them, with OTLP_MAP set to otlpMap.
func sightingsServer(t testing.TB, sk *sink, otlpMap string, now func() time.Time) http.Handler {
	t.Helper()
	var m Map
	if err := m.Decode(otlpMap); err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(Options{Secrets: []string{"s"}, Sink: sk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Map: m, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/otlp", "/otlp/{app}"} {
		mux.HandleFunc("POST "+p+"/v1/logs", h.ServeLogs)
		mux.HandleFunc("POST "+p+"/v1/metrics", h.ServeMetrics)
	}
	mux.HandleFunc("GET /api/v1/otlp/sightings", h.ServeSightings)
	return mux
}

func getSightings(t testing.TB, h http.Handler) SightingsReport {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/otlp/sightings", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("sightings: status %d: %s", w.Code, w.Body)
	}
	var r SightingsReport
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatalf("sightings: %v\n%s", err, w.Body)
	}
	return r
}

// summary writes a report as one line per name: "APP KIND NAME[ UNIT] understood|unknown".
func summary(r SightingsReport) string {
	var sb strings.Builder
	for _, a := range r.Apps {
		app := a.App
		if app == "" {
			app = "(no-app)"
		}
		for _, l := range []struct {
			kind string
			s    []Sighting
		}{{"key", a.ResourceKeys}, {"scope", a.Scopes}, {"metric", a.Metrics}, {"body", a.LogBodies}} {
			for _, s := range l.s {
				name := s.Name
				if s.Unit != "" {
					name += " " + s.Unit
				}
				u := "unknown"
				if s.Understood {
					u = "understood"
				}
				fmt.Fprintf(&sb, "%s %s %s %s\n", app, l.kind, name, u)
			}
		}
	}
	return sb.String()
}

// The fixtures' shapes show in the sightings, per app and for no app, with
// what dynowatch reads told apart from what it does not.
func TestSightingsOfFixtures(t *testing.T) {
	now := fixtureTime
	h := sightingsServer(t, &sink{}, "", func() time.Time { return now })
	for _, f := range fixtures() {
		if w := post(h, f.path, "application/x-protobuf", readFixture(t, f, ".pb")); w.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", f.name, w.Code, w.Body)
		}
	}
	r := getSightings(t, h)
	got := summary(r)
	for _, want := range []string{
		"fir-shop key service.name understood",
		"fir-shop key k8s.pod.name understood",
		"fir-shop scope heroku-runtime understood",
		"fir-shop metric process.memory.usage By understood",
		"fir-shop metric jvm.memory.used By unknown",
		"fir-shop metric http.server.request.duration s unknown",
		"fir-shop body string understood",
		"fir-blog metric container.memory.usage MiBy understood",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("sightings lack %q:\n%s", want, got)
		}
	}
	if !strings.Contains(got, "(no-app) key ") {
		t.Errorf("the space drain's resource of no app is not sighted:\n%s", got)
	}
	if r.Window != "24h" || r.Apps[0].App != "" {
		t.Errorf("window %q, first app %q; want 24h and no app first", r.Window, r.Apps[0].App)
	}
	now = now.Add(SightingsWindow + time.Second)
	if r := getSightings(t, h); len(r.Apps) != 0 {
		t.Errorf("after 24 h the sightings still show %d apps", len(r.Apps))
	}
}

// firShape is a Fir shape dynowatch does not know: the app and dyno under
// keys of their own and memory under a metric name of its own.
func firShape() *colmetricspb.ExportMetricsServiceRequest {
	return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: resource(str("my.app.attr", "fir-shop"), str("my.instance.attr", "web-5d8f7c9b4-x7k2p")),
		ScopeMetrics: []*metricspb.ScopeMetrics{{Scope: &commonpb.InstrumentationScope{Name: "heroku-runtime"},
			Metrics: []*metricspb.Metric{gauge("my.mem.metric", "By", intPoint(fixtureTime, 300<<20))}}},
	}}}
}

// OTLP_MAP makes an unknown shape read without a release: the same request
// is refused as unknown without it and becomes a memory sample with it.
func TestMapReadsAnUnknownShape(t *testing.T) {
	body, err := proto.Marshal(firShape())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, otlpMap, entries, sighted string
		rejected                        int64
	}{
		{"unmapped", "", "", "fir-shop metric my.mem.metric By unknown", 1},
		{"mapped", "app=my.app.attr, dyno=my.instance.attr, memory_rss_mb=my.mem.metric",
			`"dyno":"web-5d8f7c9b4-x7k2p"`, "fir-shop metric my.mem.metric By understood", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sk := &sink{}
			h := sightingsServer(t, sk, tt.otlpMap, func() time.Time { return fixtureTime })
			w := post(h, "/otlp/v1/metrics", "application/x-protobuf", body)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if n, msg := partialSuccess(t, "/otlp/v1/metrics", "application/x-protobuf", w.Body.Bytes()); n != tt.rejected {
				t.Errorf("rejected %d (%q), want %d", n, msg, tt.rejected)
			}
			if got := sk.text(); !strings.Contains(got, tt.entries) || !strings.Contains(got, "memory_rss_mb") != (tt.entries == "") {
				t.Errorf("entries:\n%s\nwant %q", got, tt.entries)
			}
			got := summary(getSightings(t, h))
			if tt.otlpMap == "" {
				got = strings.ReplaceAll(got, "(no-app)", "fir-shop") // no app without the map
			}
			if !strings.Contains(got, tt.sighted+"\n") {
				t.Errorf("sightings lack %q:\n%s", tt.sighted, got)
			}
		})
	}
}

func TestMapDecode(t *testing.T) {
	for _, tt := range []struct{ value, want, err string }{
		{"", "", ""},
		{"app=my.app.attr,dyno=my.instance.attr,memory_rss_mb=my.mem.metric", "app=my.app.attr,dyno=my.instance.attr,memory_rss_mb=my.mem.metric", ""},
		{" dyno = a , dyno=b,cpu_percent=c", "dyno=a,dyno=b,cpu_percent=c", ""},
		{"app", "", "no FIELD=NAME pair"},
		{"app=", "", "no FIELD=NAME pair"},
		{"colour=x", "", `unknown field "colour"`},
		{"app=a b", "", "no spaces"},
		{"memory_rss_mb=m,cpu_percent=m", "", "both"},
	} {
		var m Map
		err := m.Decode(tt.value)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.value, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "app=") && !strings.Contains(err.Error(), "both")):
			t.Errorf("%q: error %v, want one saying %q with an example", tt.value, err, tt.err)
		case err == nil && m.String() != tt.want:
			t.Errorf("%q reads as %q, want %q", tt.value, m.String(), tt.want)
		}
	}
}

// The sightings keep at most their caps, and count what they leave out.
func TestSightingsCaps(t *testing.T) {
	s := newSightings()
	now := fixtureTime
	var seen []sighting
	for i := range MaxSightingsPerApp + 10 {
		seen = append(seen, sighting{app: "fir-shop", kind: SightMetric, name: fmt.Sprint("m", i)})
	}
	for i := range MaxSightingApps + 5 {
		seen = append(seen, sighting{app: fmt.Sprint("app-", i), kind: SightScope, name: "s"})
	}
	s.add(now, seen)
	r := s.Report(now, scopeProcess)
	last := r.Apps[len(r.Apps)-1]
	if len(r.Apps) != MaxSightingApps || last.App != "fir-shop" || len(last.Metrics) != MaxSightingsPerApp {
		t.Errorf("%d apps kept, the last %s of %d metrics; want %d, fir-shop (the first seen) of %d", len(r.Apps), last.App, len(last.Metrics), MaxSightingApps, MaxSightingsPerApp)
	}
	if r.Dropped != 10+6 {
		t.Errorf("dropped %d, want 16", r.Dropped)
	}
	// A day later the old names make room.
	s.add(now.Add(SightingsWindow+time.Minute), []sighting{{app: "fir-new", kind: SightScope, name: "s"}})
	if r := s.Report(now.Add(SightingsWindow+time.Minute), scopeProcess); len(r.Apps) != 1 || r.Apps[0].App != "fir-new" {
		t.Errorf("a day later: %+v", r.Apps)
	}
}

package otlp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/otlp"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/pgtest"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// eachStore runs fn on a fresh migrated store of each backend.
func eachStore(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, storetest.MustOpenEmbedded(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, storetest.MustOpenPostgres(t)) })
}

// clock is a time the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type discard struct{}

func (discard) Ingest(context.Context, *drain.Batch) (bool, error) { return false, nil }

// dyno is one web dyno's OTLP routes, as dynowatch mounts them, on st,
// with its flush running until stop.
type dyno struct {
	mux  *http.ServeMux
	stop func() error // ends Run and returns what its final flush returned
}

func startDyno(t *testing.T, st *store.Store, c *clock, flushEvery time.Duration) *dyno {
	t.Helper()
	return startDynoLogging(t, st, c, flushEvery, io.Discard)
}

// startDynoLogging is startDyno with the dyno's log lines written to logs.
func startDynoLogging(t *testing.T, st *store.Store, c *clock, flushEvery time.Duration, logs io.Writer) *dyno {
	t.Helper()
	h, err := otlp.NewHandler(otlp.Options{Secrets: []string{"s"}, Sink: discard{}, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Now: c.now, Store: st, SightingsFlushEvery: flushEvery})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /otlp/{app}/v1/logs", h.ServeLogs)
	mux.HandleFunc("POST /otlp/{app}/v1/metrics", h.ServeMetrics)
	mux.HandleFunc("GET /api/v1/otlp/sightings", h.ServeSightings)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return &dyno{mux: mux, stop: stop}
}

func (d *dyno) post(t *testing.T, path string, m proto.Message) {
	t.Helper()
	body, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Authorization", "Bearer s")
	w := httptest.NewRecorder()
	d.mux.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, w.Code, w.Body)
	}
}

// names returns the API's sightings as lines "APP KIND NAME REQUESTS".
func (d *dyno) names(t *testing.T) (string, otlp.SightingsReport) {
	t.Helper()
	w := httptest.NewRecorder()
	d.mux.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/otlp/sightings", nil))
	var r otlp.SightingsReport
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &r) != nil {
		t.Fatalf("GET sightings: %d %s", w.Code, w.Body)
	}
	var sb strings.Builder
	for _, a := range r.Apps {
		for kind, l := range map[string][]otlp.Sighting{"key": a.ResourceKeys, "scope": a.Scopes, "metric": a.Metrics, "body": a.LogBodies} {
			for _, s := range l {
				fmt.Fprintf(&sb, "%s %s %s %d\n", a.App, kind, s.Name, s.Requests)
			}
		}
	}
	return sb.String(), r
}

func kv(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// memory is a metrics request of app's web.1 using 300 MB, with the
// attribute keys given.
func memory(at time.Time, keys ...string) *colmetricspb.ExportMetricsServiceRequest {
	attrs := []*commonpb.KeyValue{kv("service.instance.id", "web.1")}
	for _, k := range keys {
		attrs = append(attrs, kv(k, "x"))
	}
	return &colmetricspb.ExportMetricsServiceRequest{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: attrs},
		ScopeMetrics: []*metricspb.ScopeMetrics{{Scope: &commonpb.InstrumentationScope{Name: "heroku-runtime"}, Metrics: []*metricspb.Metric{{
			Name: "process.memory.usage", Unit: "By", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{
				TimeUnixNano: uint64(at.UnixNano()), Value: &metricspb.NumberDataPoint_AsInt{AsInt: 300 << 20}}}}}}}}},
	}}}
}

// r14 is a logs request of an R14 line of app's web.1.
func r14(at time.Time) *collogspb.ExportLogsServiceRequest {
	return &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.instance.id", "web.1")}},
		ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: "heroku-runtime"}, LogRecords: []*logspb.LogRecord{{
			TimeUnixNano: uint64(at.UnixNano()),
			Body:         &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "Error R14 (Memory quota exceeded)"}}}}}},
	}}}
}

// Two web dynos on one store: each one's API shows what both were sent,
// within a few flushes, requests of a name added up.
func TestSightingsSharedByWebDynos(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store) {
		c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
		a, b := startDyno(t, st, c, 20*time.Millisecond), startDyno(t, st, c, 20*time.Millisecond)
		a.post(t, "/otlp/fir-shop/v1/metrics", memory(c.now(), "only.on.dyno.a"))
		b.post(t, "/otlp/fir-shop/v1/metrics", memory(c.now(), "only.on.dyno.b"))
		b.post(t, "/otlp/fir-blog/v1/logs", r14(c.now()))
		want := []string{"fir-shop key only.on.dyno.a 1", "fir-shop key only.on.dyno.b 1", "fir-shop metric process.memory.usage 2",
			"fir-blog scope heroku-runtime 1", "fir-blog body string 1"}
		for _, d := range []*dyno{a, b} {
			var got string
			var r otlp.SightingsReport
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if got, r = d.names(t); containsAll(got, want) {
					break
				}
			}
			if !containsAll(got, want) {
				t.Fatalf("a dyno's sightings:\n%s\nwant both dynos' names:\n%s", got, strings.Join(want, "\n"))
			}
			if !strings.Contains(r.Scope, "every web dyno") {
				t.Errorf("scope %q, want every web dyno's", r.Scope)
			}
		}
	})
}

// What a dyno gathered is written when it stops, so the dyno that replaces
// it shows it; a day later it is gone.
func TestSightingsSurviveARestartFor24h(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store) {
		c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
		old := startDyno(t, st, c, time.Hour) // no flush but the final one
		old.post(t, "/otlp/fir-shop/v1/metrics", memory(c.now(), "my.app.attr"))
		old.post(t, "/otlp/fir-shop/v1/logs", r14(c.now()))
		if err := old.stop(); err != nil {
			t.Fatalf("the final flush: %v", err)
		}
		c.add(time.Minute)
		restarted := startDyno(t, st, c, time.Hour)
		want := []string{"fir-shop key my.app.attr 1", "fir-shop metric process.memory.usage 1", "fir-shop scope heroku-runtime 2", "fir-shop body string 1"}
		if got, _ := restarted.names(t); !containsAll(got, want) {
			t.Fatalf("after a restart:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
		}
		c.add(24*time.Hour - time.Minute)
		if got, _ := restarted.names(t); !containsAll(got, want) {
			t.Fatalf("24 h after they were seen:\n%s\nwant still:\n%s", got, strings.Join(want, "\n"))
		}
		c.add(time.Second)
		if got, r := restarted.names(t); got != "" || len(r.Apps) != 0 {
			t.Errorf("past 24 h the sightings still show:\n%s", got)
		}
	})
}

// What a dyno could not write while the database refused it is written by
// a later flush, once, requests not counted twice.
func TestSightingsWrittenAfterAFailedFlush(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	st := storetest.MustOpen(t, store.Config{DatabaseURL: url})
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	logs := &syncBuffer{}
	d := startDynoLogging(t, st, c, 20*time.Millisecond, logs)
	exec(`ALTER TABLE otlp_sightings RENAME TO otlp_sightings_away`)
	d.post(t, "/otlp/fir-shop/v1/metrics", memory(c.now(), "my.app.attr"))
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "sightings not written") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "sightings not written") {
		t.Fatalf("no flush failed while the table was away; logs:\n%s", logs)
	}
	exec(`ALTER TABLE otlp_sightings_away RENAME TO otlp_sightings`)
	d.post(t, "/otlp/fir-shop/v1/metrics", memory(c.now(), "my.app.attr"))
	if err := d.stop(); err != nil {
		t.Fatalf("the final flush: %v", err)
	}
	want := []string{"fir-shop key my.app.attr 2", "fir-shop metric process.memory.usage 2"}
	if got, _ := startDyno(t, st, c, time.Hour).names(t); !containsAll(got, want) {
		t.Errorf("after the failed flush and a restart:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// syncBuffer is a log both the dyno and the test use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func containsAll(s string, lines []string) bool {
	for _, l := range lines {
		if !strings.Contains(s, l+"\n") {
			return false
		}
	}
	return true
}

package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/store"
)

var minute = time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)

// TestKeptNamesDoNotPinTheRequestBody: the dyno, code, source and sample
// names that the rollups and the event line cap keep past the request are
// copies, not substrings of the body (one such substring keeps a chunk of it
// alive). The second batch matters: assigning to a map entry that exists
// stores the key given again.
func TestKeptNamesDoNotPinTheRequestBody(t *testing.T) {
	p, _, stop := newPipeline(t, Options{EventLinesPerMinute: 10})
	defer stop()
	lines := []string{
		router(1, 503, 30001, "web.1", "H12"),
		"2024-03-15T12:00:06Z heroku[web.1]: Error R14 (Memory quota exceeded)",
		"2024-03-15T12:00:07Z heroku[web.1]: source=web.1 dyno=heroku.1.a sample#memory_rss=100.00MB sample#memory_quota=512.00MB",
		"2024-03-15T12:00:08Z app[heroku-redis]: source=REDIS addon=redis-cubed-11 sample#active-connections=3 sample#hit-rate=0.9",
	}
	var body map[unsafe.Pointer]string
	for range 2 {
		b := batch(t, "shop", "", lines...)
		body = map[unsafe.Pointer]string{}
		for i := range b.Entries {
			e := &b.Entries[i]
			for _, s := range []string{e.Router.Dyno, e.Router.Code, e.DynoError.Code, e.Metrics.Dyno, e.Metrics.Attachment} {
				body[unsafe.Pointer(unsafe.StringData(s))] = s
			}
			for _, s := range e.Metrics.Samples {
				body[unsafe.Pointer(unsafe.StringData(s.Name))] = s.Name
			}
		}
		if _, err := p.Ingest(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	var kept []string
	p.mu.Lock()
	for k := range p.lines {
		kept = append(kept, k.code)
	}
	for _, m := range p.minutes {
		for dyno, c := range m.dynos {
			kept = append(kept, dyno)
			for code := range c.codes {
				kept = append(kept, code)
			}
		}
	}
	for _, as := range p.samples {
		for sk, values := range as.sources {
			kept = append(kept, sk.source)
			for name := range values {
				kept = append(kept, name)
			}
		}
	}
	p.mu.Unlock()
	if len(kept) < 10 {
		t.Fatalf("kept %q: the batches were not rolled up", kept)
	}
	for _, s := range kept {
		if s != "" && body[unsafe.Pointer(unsafe.StringData(s))] != "" {
			t.Errorf("%q is kept as a substring of the request body", s)
		}
	}
}

// TestCapsFoldIntoOtherAndCount: one app spreading its requests over more
// dynos and codes, and its samples over more sources and names, than the
// caps allow: every request is still counted, the overflow under "other",
// and what was folded is counted.
func TestCapsFoldIntoOtherAndCount(t *testing.T) {
	ctx := context.Background()
	p, st, stop := newPipeline(t, Options{})
	var lines []string
	for d := range MaxDynos + 20 {
		lines = append(lines, router(1, 503, 10, fmt.Sprintf("web.%d", d+1), "H12"))
	}
	for c := range MaxCodes + 5 {
		lines = append(lines, router(2, 503, 10, "web.1", fmt.Sprintf("H%d", 40+c)))
	}
	names := make([]string, MaxSampleNames+6)
	for i := range names {
		names[i] = fmt.Sprintf("sample#m%d=1", i)
	}
	lines = append(lines, "2024-03-15T12:00:07Z heroku[web.1]: source=web.1 dyno=heroku.1.a "+strings.Join(names, " "))
	for s := range MaxSources + 3 {
		lines = append(lines, fmt.Sprintf("2024-03-15T12:00:08Z heroku[web.%d]: source=web.%d dyno=heroku.1.a sample#memory_rss=%d.00MB", s+2, s+2, s+1))
	}
	if _, err := p.Ingest(ctx, batch(t, "shop", "", lines...)); err != nil {
		t.Fatal(err)
	}
	want := Folded{Dynos: 20, Codes: 6, Sources: 4, SampleNames: 6} // web.1 has an H12 and is a source already
	if got := p.Folded(); got != want {
		t.Errorf("Folded = %+v, want %+v", got, want)
	}
	stop()

	ws, err := st.WindowStats(ctx, "shop", minute, minute.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if n := int64(MaxDynos + 20 + MaxCodes + 5); ws.Requests != n || ws.Codes["other"] != 6 || ws.Codes["H12"] != MaxDynos+20 {
		t.Errorf("window = %d requests, codes %v; want %d, 6 under other", ws.Requests, ws.Codes, n)
	}
	series, err := st.Series(ctx, store.SeriesQuery{App: "shop", Metric: "requests_by_dyno", From: minute, To: minute.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	byDyno := map[string]float64{}
	for _, s := range series {
		for _, pt := range s.Points {
			byDyno[s.Dyno] += pt.Value
		}
	}
	if len(byDyno) != MaxDynos+1 || byDyno["other"] != 20 {
		t.Errorf("%d dynos stored, other %v; want %d and 20", len(byDyno), byDyno["other"], MaxDynos+1)
	}
	rss, err := st.Series(ctx, store.SeriesQuery{App: "shop", Metric: "memory_rss_mb", From: minute, To: minute.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rss {
		if s.Dyno == "other" && s.Points[0].Value != float64(MaxSources+3) {
			t.Errorf("other's memory_rss_mb = %v, want the largest of the folded, %d", s.Points[0].Value, MaxSources+3)
		}
	}
	if len(rss) != MaxSources { // web.1 sent no memory_rss
		t.Errorf("%d memory series, want %d (other included)", len(rss), MaxSources)
	}
}

// TestRollupsOverTheirMemoryFlushEarly: past RollupMemory the pipeline
// writes what it holds without waiting for ROLLUP_FLUSH_INTERVAL.
func TestRollupsOverTheirMemoryFlushEarly(t *testing.T) {
	ctx := context.Background()
	p, st, stop := newPipeline(t, Options{RollupMemory: 1}) // flushes every hour
	defer stop()
	if _, err := p.Ingest(ctx, batch(t, "shop", "", router(1, 200, 10, "web.1", ""))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ws, err := st.WindowStats(ctx, "shop", minute, minute.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if ws.Requests == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("not flushed within 5 s of going over RollupMemory")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// slowStore takes perRow to write each row, as Postgres does, and gives up
// when its context ends.
type slowStore struct {
	perRow         time.Duration
	rows, requests int64
}

func (s *slowStore) WriteBatches(_ context.Context, bs []*store.Batch) ([]bool, error) {
	return make([]bool, len(bs)), nil
}

func (s *slowStore) FoldHourly(context.Context, time.Time) error { return nil }

func (s *slowStore) MergeRollups(ctx context.Context, r []store.Rollup, sr []store.SampleRollup) error {
	select {
	case <-time.After(time.Duration(len(r)+len(sr)) * s.perRow):
		s.rows += int64(len(r) + len(sr))
		for i := range r {
			s.requests += r[i].Requests
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestSIGTERMWritesEveryDynosCounts: 2,000 apps × 15 dynos acknowledged,
// then the pipeline is stopped as on SIGTERM, on a store that takes 0.5 ms
// a row (15 s for one row per dyno): the final flush writes every request
// within Heroku's 30 s, rather than giving up on all of them after 10 s.
func TestSIGTERMWritesEveryDynosCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &slowStore{perRow: 500 * time.Microsecond}
		_, stop := manyAppsAndDynos(t, st, 2000, 15)
		start := time.Now()
		if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("final flush: %v", err)
		}
		if took := time.Since(start); took > 25*time.Second || st.requests != 30000 {
			t.Fatalf("final flush wrote %d of 30,000 requests in %v", st.requests, took)
		}
	})
}

// TestFlushRowsAreBounded: 2,000 apps × 50 dynos in one minute would be
// 100,000 rows a flush, more than Postgres writes within the flush interval.
// Past MaxFlushRows the dynos of apps that have a row already fold into
// "other": every request is written, in at most MaxFlushRows rows plus two
// per app (its first dyno and "other").
func TestFlushRowsAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &slowStore{}
		p, stop := manyAppsAndDynos(t, st, 2000, 50)
		if err := stop(); err != nil {
			t.Fatalf("final flush: %v", err)
		}
		if st.requests != 100000 || st.rows > MaxFlushRows+2*2000 {
			t.Fatalf("flushed %d requests in %d rows; want 100,000 in at most %d", st.requests, st.rows, MaxFlushRows+2*2000)
		}
		if f := p.Folded(); f.Dynos == 0 {
			t.Error("no dyno counted as folded")
		}
	})
}

// manyAppsAndDynos runs a pipeline on st and ingests one request from each
// of dynos router dynos of each of apps apps; stop stops the pipeline as
// SIGTERM does and returns what its final flush returned.
func manyAppsAndDynos(t *testing.T, st Store, apps, dynos int) (p *Pipeline, stop func() error) {
	t.Helper()
	p, err := New(Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), FlushEvery: time.Hour, Committers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	var lines []string
	for d := range dynos {
		lines = append(lines, router(1, 200, 10, fmt.Sprintf("web.%d", d+1), ""))
	}
	b := batch(t, "", "", lines...)
	for a := range apps {
		if _, err := p.Ingest(ctx, &drain.Batch{App: fmt.Sprint("app-", a), Received: b.Received, Entries: b.Entries}); err != nil {
			t.Fatal(err)
		}
	}
	return p, func() error { cancel(); return <-done }
}

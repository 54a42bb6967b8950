package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/parse"
	"github.com/dynowatch/dynowatch/internal/store"
)

// newPipeline runs a pipeline on an embedded store in a temp dir.
func newPipeline(t *testing.T, o Options) (*Pipeline, *store.Store, func()) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Path: filepath.Join(t.TempDir(), "ingest.db"), MaxConns: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	o.Store = st
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	o.Committers = 1
	if o.FlushEvery == 0 {
		o.FlushEvery = time.Hour // tests flush by stopping
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- p.Run(runCtx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("final flush: %v", err)
		}
	}
	return p, st, stop
}

// batch parses plain lines into a drain batch.
func batch(t *testing.T, app, key string, lines ...string) *drain.Batch {
	t.Helper()
	b := &drain.Batch{App: app, Key: key, Received: time.Date(2024, 3, 15, 12, 0, 30, 0, time.UTC)}
	s := parse.NewScanner(strings.NewReader(strings.Join(lines, "\n")), parse.FormPlain)
	for s.Scan() {
		e, err := s.Entry()
		if err != nil {
			t.Fatal(err)
		}
		b.Entries = append(b.Entries, *e)
	}
	return b
}

func router(sec, status, ms int, dyno, code string) string {
	c := ""
	if code != "" {
		c = " code=" + code + ` desc="x"`
	}
	return fmt.Sprintf(`2024-03-15T12:00:%02dZ heroku[router]: at=info%s method=GET path="/p?secret=1" host=h fwd="9.9.9.9" dyno=%s connect=1ms service=%dms status=%d bytes=10`, sec, c, dyno, ms, status)
}

func TestPipeline(t *testing.T) {
	ctx := context.Background()
	p, st, stop := newPipeline(t, Options{EventLinesPerMinute: 2})
	b := batch(t, "shop", "frame:1",
		router(1, 200, 10, "web.1", ""),
		router(2, 500, 20, "web.1", ""),
		router(3, 503, 30001, "web.2", "H12"),
		router(4, 503, 30002, "web.2", "H12"),
		router(5, 503, 30003, "web.2", "H12"), // over the cap of 2 lines a minute
		"2024-03-15T12:00:06Z heroku[worker.1]: Error R14 (Memory quota exceeded)",
		"2024-03-15T12:00:07Z heroku[web.1]: source=web.1 dyno=heroku.1.a sample#memory_rss=100.00MB sample#memory_quota=512.00MB",
		"2024-03-15T12:00:27Z heroku[web.1]: source=web.1 dyno=heroku.1.a sample#memory_rss=300.00MB",
		"2024-03-15T12:00:08Z app[web.1]: hello",
	)
	b.DrainToken, b.BadFrames, b.CountMismatch = "d.tok", 2, true
	if dup, err := p.Ingest(ctx, b); err != nil || dup {
		t.Fatalf("Ingest = %v, %v", dup, err)
	}
	if dup, err := p.Ingest(ctx, batch(t, "shop", "frame:1", router(9, 200, 1, "web.1", ""))); err != nil || !dup {
		t.Fatalf("retried batch: Ingest = %v, %v; want a duplicate", dup, err)
	}
	stop()

	events, err := st.Events(ctx, store.EventQuery{App: "shop", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, e := range events {
		codes = append(codes, e.Code)
		if strings.Contains(e.Line, "secret=1") || strings.Contains(e.Line, "9.9.9.9") {
			t.Errorf("event line keeps private data: %s", e.Line)
		}
	}
	if got := strings.Join(codes, ","); got != "R14,H12,H12" {
		t.Errorf("event codes newest first = %s, want R14,H12,H12 (the third H12 only counted)", got)
	}

	from, to := time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC), time.Date(2024, 3, 15, 12, 1, 0, 0, time.UTC)
	ws, err := st.WindowStats(ctx, "shop", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if ws.Requests != 5 || ws.Status5xx != 4 || ws.Codes["H12"] != 3 {
		t.Errorf("window stats = %+v, want 5 requests, 4 5xx, 3 H12 (the duplicate batch not counted)", ws)
	}
	rss, err := st.Series(ctx, store.SeriesQuery{App: "shop", Metric: "memory_rss_mb", From: from, To: to, Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss) != 1 || rss[0].Dyno != "web.1" || len(rss[0].Points) != 1 || rss[0].Points[0].Value != 300 {
		t.Errorf("memory_rss_mb = %+v, want web.1 at the minute's max, 300", rss)
	}
	apps, err := st.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].DrainToken != "d.tok" || apps[0].Messages != 9 || apps[0].BadFrames != 2 || apps[0].CountMismatches != 1 {
		t.Errorf("apps = %+v", apps)
	}
}

func TestObserveSeesCommittedBatchesOnce(t *testing.T) {
	var seen []string
	p, _, stop := newPipeline(t, Options{Observe: func(app string, entries []parse.Entry) {
		for _, e := range entries {
			seen = append(seen, app+" "+e.Kind.String())
		}
	}})
	defer stop()
	b := batch(t, "shop", "frame:9", "2024-03-15T12:00:06Z heroku[worker.1]: Error R14 (Memory quota exceeded)")
	for i := 0; i < 2; i++ { // the second is Logplex retrying
		if _, err := p.Ingest(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(seen, ",") != "shop dyno_error" {
		t.Errorf("observed %v, want the R14 once", seen)
	}
}

func TestIngestAfterStop(t *testing.T) {
	p, _, stop := newPipeline(t, Options{})
	stop()
	if _, err := p.Ingest(context.Background(), batch(t, "shop", "", router(1, 200, 1, "web.1", ""))); err != ErrStopped {
		t.Fatalf("Ingest after stop = %v, want ErrStopped", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("no error without a store")
	}
}

// flakyStore is the real store whose first rollup flush fails.
type flakyStore struct {
	*store.Store
	fails int
}

func (f *flakyStore) MergeRollups(ctx context.Context, r []store.Rollup, s []store.SampleRollup) error {
	if f.fails > 0 {
		f.fails--
		return errors.New("database restarting")
	}
	return f.Store.MergeRollups(ctx, r, s)
}

// TestFailedFlushIsKept: rollups that could not be written go with the next
// flush, merged with what came in between.
func TestFailedFlushIsKept(t *testing.T) {
	ctx := context.Background()
	_, st, stop := newPipeline(t, Options{})
	stop()
	flaky := &flakyStore{Store: st, fails: 1}
	p, err := New(Options{Store: flaky, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), FlushEvery: time.Hour, Committers: 1})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	if _, err := p.Ingest(ctx, batch(t, "shop", "", router(1, 500, 10, "web.1", ""))); err != nil {
		t.Fatal(err)
	}
	if err := p.flush(ctx); err == nil {
		t.Fatal("the first flush did not fail")
	}
	if _, err := p.Ingest(ctx, batch(t, "shop", "", router(2, 200, 10, "web.1", ""))); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("final flush: %v", err)
	}
	ws, err := st.WindowStats(ctx, "shop", time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC), time.Date(2024, 3, 15, 12, 1, 0, 0, time.UTC))
	if err != nil || ws.Requests != 2 || ws.Status5xx != 1 {
		t.Fatalf("window = %+v, %v; want both requests, the failed flush's included", ws, err)
	}
	apps, _ := st.Apps(ctx)
	if len(apps) != 1 || apps[0].Messages != 2 {
		t.Fatalf("apps = %+v, want 2 messages", apps)
	}
}

// failingBatches is the real store whose first WriteBatches calls fail, as
// a database restarting does: the drain answers 503 and Logplex retries.
type failingBatches struct {
	*store.Store
	fails int
}

func (f *failingBatches) WriteBatches(ctx context.Context, bs []*store.Batch) ([]bool, error) {
	if f.fails > 0 {
		f.fails--
		return nil, errors.New("database restarting")
	}
	return f.Store.WriteBatches(ctx, bs)
}

// TestRetriedBatchesDoNotUseUpTheLineCap: neither a batch that got a 503
// nor a retry of a stored one takes a place of EVENT_LINES_PER_MINUTE, so
// the minute's later distinct lines are kept.
func TestRetriedBatchesDoNotUseUpTheLineCap(t *testing.T) {
	ctx := context.Background()
	_, st, stop := newPipeline(t, Options{})
	stop()
	p, err := New(Options{Store: &failingBatches{Store: st, fails: 1}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		FlushEvery: time.Hour, Committers: 1, EventLinesPerMinute: 2})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	h12 := func(sec int) string { return router(sec, 503, 30000, "web.1", "H12") }
	first := batch(t, "shop", "frame:1", h12(1))
	if _, err := p.Ingest(ctx, first); err == nil {
		t.Fatal("the first commit did not fail")
	}
	for _, b := range []*drain.Batch{first, first, batch(t, "shop", "frame:2", h12(2))} { // Logplex's retry, a second retry, a new line
		if _, err := p.Ingest(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	evs, err := st.Events(ctx, store.EventQuery{App: "shop", Code: "H12", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Errorf("stored %d H12 lines, want 2 (the retried one once and the new one)", len(evs))
	}
}

// foldStore records the FoldHourly calls of a pipeline.
type foldStore struct {
	slowStore
	folds []time.Time
}

func (f *foldStore) FoldHourly(_ context.Context, upTo time.Time) error {
	f.folds = append(f.folds, upTo)
	return nil
}

// TestFlushFoldsClosedMinutesOnceAMinute: the hourly rollups are folded
// from the minutes that ended a minute ago, by one flush a minute, with
// or without rollups to write, not by every flush.
func TestFlushFoldsClosedMinutesOnceAMinute(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 30, 0, time.UTC)
	st := &foldStore{}
	p, err := New(Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), FlushEvery: time.Hour, Committers: 1,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var want []time.Time
	for _, step := range []struct {
		after time.Duration
		folds bool
	}{{0, true}, {5 * time.Second, false}, {50 * time.Second, false}, {5 * time.Second, true}, {2 * time.Minute, true}} {
		now = now.Add(step.after)
		if step.folds {
			want = append(want, now.Add(-time.Minute))
		}
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(st.folds, want) {
		t.Errorf("folded up to %v, want %v", st.folds, want)
	}
}

package ingest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/loadgen"
	"github.com/dynowatch/dynowatch/internal/parse"
	"github.com/dynowatch/dynowatch/internal/store"
)

type nopStore struct{}

func (nopStore) WriteBatches(_ context.Context, bs []*store.Batch) ([]bool, error) {
	return make([]bool, len(bs)), nil
}
func (nopStore) MergeRollups(context.Context, []store.Rollup, []store.SampleRollup) error { return nil }
func (nopStore) FoldHourly(context.Context, time.Time) error                              { return nil }

// BenchmarkAggregate is the in-memory part of the drain path: one app's
// 300-message batch (loadgen's) added to the rollups.
//
//	go test -run=XXX -bench=Aggregate ./ingest
func BenchmarkAggregate(b *testing.B) {
	p, err := New(Options{Store: nopStore{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), FlushEvery: time.Hour, Committers: 1})
	if err != nil {
		b.Fatal(err)
	}
	body := loadgen.Body(rand.New(rand.NewPCG(1, 2)), time.Now(), 300)
	batch := &drain.Batch{App: "shop", Received: time.Now()}
	s := parse.NewScanner(bytes.NewReader(body), parse.FormLogplex)
	for s.Scan() {
		if e, err := s.Entry(); err == nil {
			batch.Entries = append(batch.Entries, *e)
		}
	}
	for b.Loop() {
		p.aggregate(batch, false)
	}
	b.ReportMetric(float64(b.N*len(batch.Entries))/b.Elapsed().Seconds(), "msgs/s")
}

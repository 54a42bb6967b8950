package store

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The stored histograms hold bucket indexes: the edges must never change.
func TestHistogramEdgesAreFixed(t *testing.T) {
	if got, want := len(histEdges), 114; got != want {
		t.Fatalf("len(histEdges)=%d, want %d", got, want)
	}
	for _, c := range []struct{ i, want int }{{0, 1}, {9, 10}, {10, 11}, {20, 22}, {50, 312}, {100, 36194}, {113, 124941}} {
		if got := histEdges[c.i]; got != c.want {
			t.Errorf("histEdges[%d]=%d, want %d", c.i, got, c.want)
		}
	}
	if numBuckets > numHistBuckets {
		t.Fatalf("numBuckets=%d exceeds the array size %d", numBuckets, numHistBuckets)
	}
	for i := 1; i < len(histEdges); i++ {
		lo, hi := histEdges[i-1], histEdges[i]
		if w := hi - 1 - lo; w > 0 && float64(w) > 0.1*float64(lo) {
			t.Errorf("bucket [%d,%d) is wider than 10%%", lo, hi)
		}
	}
}

func TestBucketOf(t *testing.T) {
	for _, c := range []struct{ ms, want int }{
		{-5, 0}, {0, 0}, {1, 1}, {2, 2}, {10, 10}, {11, 11}, {20, 20}, {21, 20}, {22, 21}, {124940, 113}, {124941, 114}, {1 << 40, 114},
	} {
		if got := bucketOf(c.ms); got != c.want {
			t.Errorf("bucketOf(%d)=%d, want %d", c.ms, got, c.want)
		}
	}
	for ms := range 200_000 {
		b := bucketOf(ms)
		lo, hi := bucketRange(b)
		if b == numBuckets-1 {
			hi = math.MaxInt
		}
		if ms > 0 && (ms < lo || ms > hi) {
			t.Fatalf("bucketOf(%d)=%d with range [%d,%d]", ms, b, lo, hi)
		}
	}
}

// distributions of service times like the ones the router reports.
var distributions = map[string]func(r *rand.Rand) int{
	"lognormal": func(r *rand.Rand) int { return int(math.Exp(4 + 1.2*r.NormFloat64())) },
	"uniform":   func(r *rand.Rand) int { return r.IntN(3000) },
	"bimodal": func(r *rand.Rand) int {
		if r.IntN(10) == 0 {
			return 30000 + r.IntN(100) // H12 timeouts
		}
		return 5 + r.IntN(40)
	},
	"small":    func(r *rand.Rand) int { return r.IntN(12) },
	"overflow": func(r *rand.Rand) int { return 100_000 + r.IntN(100_000) },
}

// Property: every estimated quantile lies in the bucket of the exact
// nearest-rank quantile, so the error is within the bucket's width.
func TestHistogramQuantileWithinBucket(t *testing.T) {
	for name, gen := range distributions {
		t.Run(name, func(t *testing.T) {
			for seed := range uint64(20) {
				r := rand.New(rand.NewPCG(seed, 7))
				n := 1 + r.IntN(5000)
				vals := make([]int, n)
				var h Histogram
				for i := range vals {
					vals[i] = gen(r)
					h.Observe(vals[i])
				}
				slices.Sort(vals)
				if got := h.Count(); got != int64(n) {
					t.Fatalf("Count()=%d, want %d", got, n)
				}
				for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
					rank := max(int(math.Ceil(q*float64(n))), 1)
					exact := max(vals[rank-1], 0)
					lo, hi := bucketRange(bucketOf(exact))
					got := h.Quantile(q)
					if got < float64(lo) || got > float64(hi) {
						t.Fatalf("seed %d n %d: Quantile(%v)=%v, exact %d, want within its bucket [%d,%d]", seed, n, q, got, exact, lo, hi)
					}
					if exact >= 10 && exact < histMaxMS && math.Abs(got-float64(exact)) > 0.1*float64(exact) {
						t.Fatalf("seed %d: Quantile(%v)=%v is more than 10%% off %d", seed, q, got, exact)
					}
				}
			}
		})
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	if got := h.Quantile(0.5); !math.IsNaN(got) {
		t.Fatalf("Quantile of empty = %v, want NaN", got)
	}
	if h.pgArray() != "" || h.blob() != nil {
		t.Fatalf("empty histogram encodes as %q / %v", h.pgArray(), h.blob())
	}
}

func randomHistogram(r *rand.Rand) Histogram {
	var h Histogram
	gen := distributions["lognormal"]
	for range r.IntN(1000) {
		h.Observe(gen(r))
	}
	return h
}

func TestHistogramMergeAssociativeAndCommutative(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		a, b, c := randomHistogram(r), randomHistogram(r), randomHistogram(r)
		ab := a
		ab.Merge(&b)
		abc1 := ab // (a+b)+c
		abc1.Merge(&c)
		bc := b
		bc.Merge(&c)
		abc2 := a // a+(b+c)
		abc2.Merge(&bc)
		cba := c // (c+b)+a
		cba.Merge(&b)
		cba.Merge(&a)
		if abc1 != abc2 || abc1 != cba {
			t.Fatal("Merge is not associative and commutative")
		}
		if got, want := abc1.Count(), a.Count()+b.Count()+c.Count(); got != want {
			t.Fatalf("Count()=%d, want %d", got, want)
		}
	}
}

func TestHistogramEncodings(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 50 {
		h := randomHistogram(r)
		if i == 0 {
			h.Observe(0)
			h.Observe(1 << 30)
		}
		var fromBlob Histogram
		if err := fromBlob.setBlob(h.blob()); err != nil || fromBlob != h {
			t.Fatalf("blob round trip: %v, equal %v", err, fromBlob == h)
		}
		var ints []int32
		if a := h.pgArray(); a != "" {
			first, end := h.bounds()
			ints = append(ints, int32(first))
			for b := first; b < end; b++ {
				ints = append(ints, int32(h.counts[b]))
			}
		}
		var fromInts Histogram
		if err := fromInts.setInt32s(ints); err != nil || fromInts != h {
			t.Fatalf("int4[] round trip: %v", err)
		}
	}
	var h Histogram
	for _, bad := range [][]byte{{200}, {0x80}, {113, 1, 1, 1}} {
		if err := h.setBlob(bad); err == nil {
			t.Errorf("setBlob(%v) succeeded", bad)
		}
	}
	if err := h.setInt32s([]int32{114, 1, 1}); err == nil {
		t.Error("setInt32s past the last bucket succeeded")
	}
}

func BenchmarkHistogramObserve(b *testing.B) {
	var h Histogram
	r := rand.New(rand.NewPCG(1, 1))
	vals := make([]int, 1024)
	for i := range vals {
		vals[i] = distributions["lognormal"](r)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.Observe(vals[i&1023])
	}
}

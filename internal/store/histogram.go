package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Histogram buckets. Service times are whole milliseconds, so the buckets are
// ranges of integers: [edge[j-1], edge[j]) for j = 1…len(edges)-1, where each
// edge is the previous one plus a tenth of it (at least 1). That makes every
// bucket from 1 ms up exactly one integer wide until 10 ms and at most 10% of
// its lower bound wide above, up to 120 s. Bucket 0 holds 0 ms (and anything
// below), the last bucket everything from the last edge up.
//
// The edges are stored in the database as bucket indexes, so they must never
// change: TestHistogramEdgesAreFixed pins them.
const (
	histMaxMS = 120_000
)

// histEdges are the bucket edges in ms. It is computed once and only read.
var histEdges = makeHistEdges()

// numBuckets is the number of buckets: underflow, the ranges between edges,
// and overflow.
var numBuckets = len(histEdges) + 1

func makeHistEdges() []int {
	edges := []int{1}
	for e := 1; e < histMaxMS; {
		e += max(1, e/10)
		edges = append(edges, e)
	}
	return edges
}

// bucketOf returns the bucket of a service time in ms.
func bucketOf(ms int) int {
	if ms < 1 {
		return 0
	}
	if ms <= 10 {
		return ms // edges 1…11 are consecutive integers
	}
	// Binary search for the first edge greater than ms; the bucket below it.
	lo, hi := 0, len(histEdges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if histEdges[m] <= ms {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// bucketRange returns the smallest and largest whole ms bucket b holds; the
// overflow bucket reports its lower bound for both.
func bucketRange(b int) (lo, hi int) {
	switch {
	case b == 0:
		return 0, 0
	case b >= len(histEdges):
		e := histEdges[len(histEdges)-1]
		return e, e
	}
	return histEdges[b-1], histEdges[b] - 1
}

// numHistBuckets is an upper bound of numBuckets, for a fixed-size array.
const numHistBuckets = 128

// Histogram is a mergeable distribution of service times in ms with fixed,
// log-spaced buckets about 10% wide between 1 ms and 120 s, plus an underflow
// (0 ms) and an overflow bucket. The zero value is empty and ready to use.
// Histograms of different dynos and minutes merge exactly by adding buckets.
type Histogram struct {
	counts [numHistBuckets]int64
	n      int64
}

// Observe adds one service time in ms.
func (h *Histogram) Observe(ms int) {
	h.counts[bucketOf(ms)]++
	h.n++
}

// Merge adds the observations of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i := range numBuckets {
		h.counts[i] += o.counts[i]
	}
	h.n += o.n
}

// Count returns the number of observations.
func (h *Histogram) Count() int64 { return h.n }

// Quantile returns an estimate of the q-quantile (0 ≤ q ≤ 1) in ms, using the
// nearest-rank definition: the value of rank ceil(q·n) among the n sorted
// observations. The estimate lies in the same bucket as the true value, so
// it is off by at most the bucket's width (under 10% above 10 ms, exact
// below). It returns NaN for an empty histogram.
func (h *Histogram) Quantile(q float64) float64 {
	if h.n == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	q = min(max(q, 0), 1)
	rank := max(int64(math.Ceil(q*float64(h.n))), 1)
	var cum int64
	for b := range numBuckets {
		c := h.counts[b]
		if c == 0 || cum+c < rank {
			cum += c
			continue
		}
		lo, hi := bucketRange(b)
		if lo == hi {
			return float64(lo)
		}
		// Spread the bucket's observations evenly over its range.
		pos := (float64(rank-cum) - 0.5) / float64(c)
		return float64(lo) + pos*float64(hi-lo)
	}
	lo, _ := bucketRange(numBuckets - 1)
	return float64(lo)
}

// bounds returns the first and one past the last non-empty bucket.
func (h *Histogram) bounds() (first, end int) {
	first, end = -1, 0
	for b := range numBuckets {
		if h.counts[b] != 0 {
			if first < 0 {
				first = b
			}
			end = b + 1
		}
	}
	return max(first, 0), end
}

// errBadHistogram reports a stored histogram that cannot be decoded.
var errBadHistogram = errors.New("store: bad stored histogram")

// pgArray encodes h as the Postgres int4[] literal it is stored as: the index
// of the first non-empty bucket, then the counts from there to the last
// non-empty one. An empty histogram is "" (stored as NULL). Counts of one
// row (one dyno, one hour at most) fit int4 by far.
func (h *Histogram) pgArray() string {
	if h.n == 0 {
		return ""
	}
	first, end := h.bounds()
	var sb strings.Builder
	sb.Grow(2 + 4*(end-first+1))
	sb.WriteByte('{')
	sb.WriteString(strconv.Itoa(first))
	for b := first; b < end; b++ {
		sb.WriteByte(',')
		sb.WriteString(strconv.FormatInt(h.counts[b], 10))
	}
	sb.WriteByte('}')
	return sb.String()
}

// setInt32s sets h from the stored int4[] form (see pgArray).
func (h *Histogram) setInt32s(a []int32) error {
	*h = Histogram{}
	if len(a) == 0 {
		return nil
	}
	first := int(a[0])
	if first < 0 || first+len(a)-1 > numBuckets {
		return fmt.Errorf("%w: %d buckets from %d", errBadHistogram, len(a)-1, first)
	}
	for i, c := range a[1:] {
		h.counts[first+i] = int64(c)
		h.n += int64(c)
	}
	return nil
}

// blob encodes h compactly for SQLite: uvarints of the first non-empty
// bucket, then the counts up to the last non-empty one. Empty is nil (NULL).
func (h *Histogram) blob() []byte {
	if h.n == 0 {
		return nil
	}
	first, end := h.bounds()
	buf := make([]byte, 0, 1+2*(end-first))
	buf = binary.AppendUvarint(buf, uint64(first))
	for b := first; b < end; b++ {
		buf = binary.AppendUvarint(buf, uint64(h.counts[b]))
	}
	return buf
}

// setBlob sets h from the SQLite form (see blob).
func (h *Histogram) setBlob(p []byte) error {
	*h = Histogram{}
	if len(p) == 0 {
		return nil
	}
	first, n := binary.Uvarint(p)
	if n <= 0 || first >= uint64(numBuckets) {
		return errBadHistogram
	}
	p = p[n:]
	for b := int(first); len(p) > 0; b++ {
		c, n := binary.Uvarint(p)
		if n <= 0 || b >= numBuckets || c > math.MaxInt64 {
			return errBadHistogram
		}
		h.counts[b] = int64(c)
		h.n += int64(c)
		p = p[n:]
	}
	return nil
}

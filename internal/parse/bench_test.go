package parse

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/heroku/x/logplex/encoding"
)

// batch builds a realistic router-heavy drain body of 75 messages: 60 requests,
// 3 H errors, 6 runtime metrics, 2 Postgres and Redis metrics, 1 R14, 3 app lines.
func batch() (body []byte, msgs int) {
	var b bytes.Buffer
	add := func(app, proc, msg string) {
		m := fmt.Sprintf("<158>1 2024-03-15T12:00:%02d.%06d+00:00 host %s %s - %s\n", msgs%60, msgs*7919%1000000, app, proc, msg)
		fmt.Fprintf(&b, "%d %s", len(m), m)
		msgs++
	}
	paths := []string{"/", "/api/v1/orders?page=3", "/assets/application-5f3e.css", "/users/42/edit", "/health"}
	for i := 0; i < 60; i++ {
		status := []int{200, 200, 200, 304, 201, 302, 404, 500}[i%8]
		add("heroku", "router", fmt.Sprintf(`at=info method=GET path="%s" host=shop.example.com request_id=%08x-b23e-4621-934d-496a62f5cedd fwd="124.183.%d.40" dyno=web.%d connect=%dms service=%dms status=%d bytes=%d protocol=https`,
			paths[i%len(paths)], i*2654435761, i, i%4+1, i%3, 5+i*37%900, status, 100+i*131))
		if i%20 == 10 {
			add("heroku", "router", `at=error code=H12 desc="Request timeout" method=GET path="/slow" host=shop.example.com request_id=ef4c3d68-b23e-4621-934d-496a62f5cedd fwd="17.17.17.17" dyno=web.1 connect=6ms service=30001ms status=503 bytes=0 protocol=https`)
		}
		if i%10 == 5 {
			n := i/10 + 1
			add("heroku", fmt.Sprintf("web.%d", n), fmt.Sprintf("source=web.%d dyno=heroku.2808254.d97d0ea7-cf3d-411b-b453-d2943a50b456 sample#memory_total=421.00MB sample#memory_rss=401.22MB sample#memory_cache=10.00MB sample#memory_swap=0.00MB sample#memory_pgpgin=348836pages sample#memory_pgpgout=343403pages sample#memory_quota=512.00MB", n))
		}
	}
	add("app", "heroku-postgres", "source=DATABASE addon=postgresql-opaque-12345 sample#current_transaction=11618849366 sample#db_size=147391814791bytes sample#tables=67 sample#active-connections=41 sample#waiting-connections=0 sample#index-cache-hit-rate=0.99625 sample#table-cache-hit-rate=0.99686 sample#load-avg-1m=0.3575 sample#load-avg-5m=0.3275 sample#load-avg-15m=0.2475 sample#read-iops=302.48 sample#write-iops=351.78 sample#tmp-disk-used=542765056 sample#tmp-disk-available=72436027392 sample#memory-total=31328356kB sample#memory-free=242328kB sample#memory-cached=29518708kB sample#memory-postgres=367856kB")
	add("app", "heroku-redis", "source=REDIS addon=redis-metric-98068 sample#active-connections=404 sample#load-avg-1m=0.115 sample#load-avg-5m=0.075 sample#load-avg-15m=0.07 sample#read-iops=0 sample#write-iops=54.758 sample#memory-total=15405660kB sample#memory-free=12639520kB sample#memory-cached=1911724kB sample#memory-redis=343477584bytes sample#hit-rate=0.7 sample#evicted-keys=0")
	add("heroku", "worker.1", "Error R14 (Memory quota exceeded)")
	add("app", "web.1", `Started GET "/users/42/edit" for 124.183.145.40 at 2024-03-15 12:01:09 +0000`)
	add("app", "web.2", `at=info msg="order placed" order_id=981 measure#checkout.duration=231ms`)
	add("app", "worker.1", "Processed job 42 in 12ms")
	for msgs < 75 {
		add("heroku", "router", `at=info method=POST path="/api/v1/events" host=shop.example.com request_id=0b27af66-8bee-4f7f-bca9-96a7b3851130 fwd="115.96.38.61" dyno=web.2 connect=1ms service=40ms status=202 bytes=18 protocol=https`)
	}
	return b.Bytes(), msgs
}

// BenchmarkDrainBody compares our scanner with heroku/x's NewDrainScanner on
// the same body, in the same run:
//
//	go test -run=XXX -bench=DrainBody -count=5 ./internal/parse/
//
// "alternating" parses the body with each in turn, body after body, and
// reports the median time of a body with each and their ratio: on a shared
// machine, whose load changes from one second to the next and takes the CPU
// away for milliseconds at a time, it is the ratio to trust.
func BenchmarkDrainBody(b *testing.B) {
	body, msgs := batch()
	b.Run("dynowatch", func(b *testing.B) {
		perMessage(b, msgs, len(body), func() int { return scanDynowatch(b, bytes.NewReader(body)) })
	})
	// The same body through a reader that does not tell its length, as an
	// HTTP request body does not: the Scanner reads it into 16 kB buffers
	// (the drain's Content-Length hint only makes them smaller).
	b.Run("dynowatch-stream", func(b *testing.B) {
		perMessage(b, msgs, len(body), func() int { return scanDynowatch(b, struct{ io.Reader }{bytes.NewReader(body)}) })
	})
	b.Run("herokux", func(b *testing.B) {
		perMessage(b, msgs, len(body), func() int { return scanHerokux(b, body) })
	})
	b.Run("alternating", func(b *testing.B) {
		var ours, theirs []time.Duration
		for b.Loop() {
			start := time.Now()
			n := scanDynowatch(b, bytes.NewReader(body))
			mid := time.Now()
			n += scanHerokux(b, body)
			ours, theirs = append(ours, mid.Sub(start)), append(theirs, time.Since(mid))
			if n != 2*msgs {
				b.Fatalf("scanned %d messages, want %d twice", n, msgs)
			}
		}
		slices.Sort(ours)
		slices.Sort(theirs)
		o, t := ours[len(ours)/2], theirs[len(theirs)/2]
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(float64(o.Nanoseconds())/float64(msgs), "dynowatch-ns/msg")
		b.ReportMetric(float64(t.Nanoseconds())/float64(msgs), "herokux-ns/msg")
		b.ReportMetric(float64(t)/float64(o), "x")
	})
}

func scanDynowatch(b *testing.B, r io.Reader) int {
	s := NewScanner(r, FormLogplex)
	n := 0
	for s.Scan() {
		if _, err := s.Entry(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	return n
}

func scanHerokux(b *testing.B, body []byte) int {
	s := encoding.NewDrainScanner(bytes.NewReader(body))
	n := 0
	for s.Scan() {
		_ = s.Message()
		n++
	}
	if err := s.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

func perMessage(b *testing.B, msgs, size int, scan func() int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		if n := scan(); n != msgs {
			b.Fatalf("scanned %d messages, want %d", n, msgs)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	total := float64(b.N * msgs)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/msg")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/msg")
}

// TestAllocsPerMessage holds the bound: at most 2 allocations for a
// router or metrics message. Parsing a frame allocates only a metrics line's
// samples; the text is copied once per buffer by the Scanner (see
// BenchmarkDrainBody's allocs/msg for the whole).
func TestAllocsPerMessage(t *testing.T) {
	for name, msg := range map[string]string{
		"router":   routerFrame,
		"router H": "<158>1 2024-03-15T12:00:00+00:00 host heroku router - at=error code=H12 desc=\"Request timeout\" method=GET path=\"/\" host=h fwd=\"1.2.3.4\" dyno=web.1 connect=6ms service=30001ms status=503 bytes=0\n",
		"runtime":  "<45>1 2024-03-15T12:00:00+00:00 host heroku web.1 - source=web.1 dyno=heroku.1.u sample#memory_total=21.00MB sample#memory_rss=21.22MB sample#memory_cache=0.00MB sample#memory_swap=0.00MB sample#memory_pgpgin=348836pages sample#memory_pgpgout=343403pages sample#memory_quota=512.00MB\n",
		"postgres": "<134>1 2024-03-15T12:00:00+00:00 host app heroku-postgres - source=DATABASE addon=p sample#db_size=1bytes sample#active-connections=41 sample#memory-total=31328356kB sample#tmp-disk-used=5\n",
		"redis":    "<134>1 2024-03-15T12:00:00+00:00 host app heroku-redis - source=REDIS addon=r sample#memory-redis=1bytes sample#hit-rate=0.7\n",
	} {
		frame := msg
		var e Entry
		allocs := testing.AllocsPerRun(100, func() {
			e = Entry{}
			if err := parseFrame(&e, frame, &stampCache{}); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 1 {
			t.Errorf("%s: %.0f allocations per message, want at most 1", name, allocs)
		}
	}
}

// BenchmarkParseFrame times the header and classification of one frame of
// each common kind, without the Scanner's framing and copying:
// go test -run=XXX -bench=ParseFrame ./internal/parse/
func BenchmarkParseFrame(b *testing.B) {
	body, _ := batch()
	frames := map[string]string{}
	s := NewScanner(bytes.NewReader(body), FormLogplex)
	for s.Scan() {
		e, err := s.Entry()
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := frames[e.Kind.String()]; !ok {
			frames[e.Kind.String()] = string(s.tok)
		}
	}
	for _, kind := range []string{"router", "runtime_metrics", "postgres_metrics", "app"} {
		frame := frames[kind]
		b.Run(kind, func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			var e Entry
			var c stampCache
			for b.Loop() {
				e.reset()
				if err := parseFrame(&e, frame, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

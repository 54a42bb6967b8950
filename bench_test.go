package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heroku/x/logplex/encoding"

	"github.com/dynowatch/dynowatch/internal/loadgen"
	"github.com/dynowatch/dynowatch/internal/store/pgtest"
)

// BenchmarkDrainPath posts router-heavy Logplex batches of 1, 10, 75 and 300
// messages from 16 concurrent senders over loopback TCP through the whole
// path (HTTP → auth → parse → aggregate → Postgres), and, in the same run, to
// a receiver that only counts the messages with heroku/x's NewDrainScanner:
//
//	go test -run=XXX -bench=DrainPath -benchtime=5s -count=3 .
//
// Each batch size runs both receivers back to back, so their msgs/s compare
// under the same load of the machine; p50-ms and p99-ms are the senders'
// request times. Quiet apps send batches of 1–10 lines, busy ones 75–300.
// The sustained 60 s figure and RSS come from `dynowatch loadgen` against a
// separate `dynowatch web` (see README).
func BenchmarkDrainPath(b *testing.B) {
	base, _, stop := startServer(b, map[string]string{
		"DATABASE_URL": pgtest.URL(b), "DRAIN_SECRET": "bench", "DASHBOARD_PASSWORD": "bench",
		"ROLLUP_FLUSH_INTERVAL": "5s", // the default, not startServer's test-speed 200ms
	})
	defer stop()
	var counted atomic.Int64
	countOnly := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := encoding.NewDrainScanner(r.Body)
		n := 0
		for s.Scan() {
			n++
		}
		counted.Add(int64(n))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer countOnly.Close()

	rnd := rand.New(rand.NewPCG(1, 2))
	for _, perBatch := range []int{1, 10, 75, 300} {
		bodies := make([][]byte, 32)
		for i := range bodies {
			bodies[i] = loadgen.Body(rnd, time.Now(), perBatch)
		}
		b.Run(fmt.Sprintf("batch=%d/dynowatch", perBatch), func(b *testing.B) {
			postParallel(b, base+"/drain/bench", bodies, perBatch)
		})
		b.Run(fmt.Sprintf("batch=%d/herokux-count-only", perBatch), func(b *testing.B) {
			before := counted.Load()
			postParallel(b, countOnly.URL+"/drain/bench", bodies, perBatch)
			if counted.Load() == before {
				b.Fatal("the count-only receiver counted nothing")
			}
		})
	}
}

// drainSenders is how many requests are in flight at once, as in the
// issue's measurement (Logplex itself sends one batch at a time per drain,
// but a dyno of dynowatch serves many drains).
const drainSenders = 16

func postParallel(b *testing.B, url string, bodies [][]byte, perBatch int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var frame, retries atomic.Int64
	run := rand.Uint64()
	var mu sync.Mutex
	var took []time.Duration
	b.SetParallelism(max(1, drainSenders/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		defer func() {
			mu.Lock()
			took = append(took, mine...)
			mu.Unlock()
		}()
		for pb.Next() {
			n := frame.Add(1)
			start := time.Now()
			// As Logplex does, a 429 or 503 (the drain's limits: 16 senders
			// are exactly one app's share of turns) is sent again, at once
			// here, and counted.
			for {
				req, _ := http.NewRequest("POST", url, bytes.NewReader(bodies[n%int64(len(bodies))]))
				req.Header.Set("Content-Type", "application/logplex-1")
				req.Header.Set("Logplex-Frame-Id", fmt.Sprintf("%016x%016x", run, n))
				req.Header.Set("Logplex-Msg-Count", strconv.Itoa(perBatch))
				req.SetBasicAuth("dynowatch", "bench")
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
					retries.Add(1)
					continue
				}
				if resp.StatusCode != http.StatusNoContent {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				break
			}
			mine = append(mine, time.Since(start))
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(retries.Load()), "retries")
	if len(took) > 0 {
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkR14ToWebhook measures an alert's whole way: an R14 posted to the
// drain until its webhook arrives, through the engine, the outbox and the
// worker (embedded store, `dynowatch all`):
//
//	go test -run=XXX -bench=R14ToWebhook -benchtime=50x .
func BenchmarkR14ToWebhook(b *testing.B) {
	arrived := make(chan string, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n struct{ Dyno string }
		json.NewDecoder(r.Body).Decode(&n)
		arrived <- n.Dyno
	}))
	defer hook.Close()
	base, _, stop := startServer(b, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw", "ALERT_WEBHOOK_URL": hook.URL})
	defer stop()
	var latencies []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dyno := fmt.Sprintf("worker.%d", i+1) // a new alert each time
		start := time.Now()
		body := frame("<45>1 " + start.UTC().Format(time.RFC3339Nano) + " host heroku " + dyno + " - Error R14 (Memory quota exceeded)\n")
		if code := post(b, base+"/drain/shop", "s", body, nil); code != 204 {
			b.Fatalf("status %d", code)
		}
		for got := ""; got != dyno; {
			select {
			case got = <-arrived:
			case <-time.After(10 * time.Second):
				b.Fatalf("no webhook for %s within 10 s", dyno)
			}
		}
		latencies = append(latencies, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Milliseconds()), "p99-ms")
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heroku/x/logplex/encoding"

	"github.com/dynowatch/dynowatch/internal/loadgen"
	"github.com/dynowatch/dynowatch/internal/store/pgtest"
)

// BenchmarkDrainPath posts router-heavy Logplex batches of 300 messages
// concurrently through the whole path (HTTP → parse → aggregate → Postgres)
// and, in the same run, to a receiver that only counts messages with
// heroku/x's NewDrainScanner:
//
//	go test -run=XXX -bench=DrainPath -benchtime=20s .
//
// The sustained 60 s figure, p99 and RSS come from `dynowatch loadgen`
// against a separate `dynowatch web` (see README).
func BenchmarkDrainPath(b *testing.B) {
	const perBatch = 300
	bodies := make([][]byte, 32)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range bodies {
		bodies[i] = loadgen.Body(rnd, time.Now(), perBatch)
	}

	b.Run("dynowatch", func(b *testing.B) {
		base, _, stop := startServer(b, map[string]string{
			"DATABASE_URL": pgtest.URL(b), "DRAIN_SECRET": "bench", "DASHBOARD_PASSWORD": "bench",
		})
		defer stop()
		postParallel(b, base+"/drain/bench", bodies, perBatch)
	})
	b.Run("herokux-count-only", func(b *testing.B) {
		var count atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := encoding.NewDrainScanner(r.Body)
			n := 0
			for s.Scan() {
				n++
			}
			count.Add(int64(n))
			w.WriteHeader(http.StatusNoContent)
		}))
		defer srv.Close()
		postParallel(b, srv.URL+"/drain/bench", bodies, perBatch)
		if count.Load() == 0 {
			b.Fatal("nothing counted")
		}
	})
}

func postParallel(b *testing.B, url string, bodies [][]byte, perBatch int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var frame atomic.Int64
	run := rand.Uint64()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := frame.Add(1)
			req, _ := http.NewRequest("POST", url, bytes.NewReader(bodies[n%int64(len(bodies))]))
			req.Header.Set("Content-Type", "application/logplex-1")
			req.Header.Set("Logplex-Frame-Id", fmt.Sprintf("%016x%016x", run, n))
			req.SetBasicAuth("dynowatch", "bench")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "msgs/s")
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

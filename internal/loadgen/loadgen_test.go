package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/parse"
)

func TestBodyParses(t *testing.T) {
	body := Body(rand.New(rand.NewPCG(1, 2)), time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC), 300)
	s := parse.NewScanner(bytes.NewReader(body), parse.FormLogplex)
	n, routers := 0, 0
	for s.Scan() {
		e, err := s.Entry()
		if err != nil {
			t.Fatalf("message %d: %v", n+1, err)
		}
		n++
		if e.Kind == parse.KindRouter {
			routers++
		}
	}
	if n != 300 || routers < 250 {
		t.Errorf("%d messages, %d router lines; want 300, router-heavy", n, routers)
	}
}

func TestRun(t *testing.T) {
	var batches atomic.Int64
	seen := map[string]bool{}
	var dup atomic.Bool
	ch := make(chan string, 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/logplex-1" || r.Header.Get("Logplex-Msg-Count") != "10" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		batches.Add(1)
		ch <- r.Header.Get("Logplex-Frame-Id")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Concurrency: 2, Rate: 50, Duration: 500 * time.Millisecond, Messages: 10})
	if err != nil {
		t.Fatal(err)
	}
	close(ch)
	for id := range ch {
		if seen[id] {
			dup.Store(true)
		}
		seen[id] = true
	}
	if res.Failed != 0 || res.Batches != batches.Load() || res.Messages != 10*res.Batches || dup.Load() {
		t.Fatalf("result %+v, server saw %d batches, duplicate frame ids %v", res, batches.Load(), dup.Load())
	}
	// 50 batches a second for half a second, with some slack for the start.
	if res.Batches < 15 || res.Batches > 30 {
		t.Errorf("%d batches at 50/s for 0.5 s", res.Batches)
	}
}

func TestShapedBodyHasItsDynosAndCodes(t *testing.T) {
	body := ShapedBody(rand.New(rand.NewPCG(1, 2)), time.Now(), Shape{Messages: 3000, Dynos: 50, HCodes: 23})
	s := parse.NewScanner(bytes.NewReader(body), parse.FormLogplex)
	dynos, codes := map[string]bool{}, map[string]bool{}
	for s.Scan() {
		e, err := s.Entry()
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == parse.KindRouter {
			dynos[e.Router.Dyno] = true
			if e.Router.Code != "" {
				codes[e.Router.Code] = true
			}
		}
	}
	if len(dynos) != 50 || len(codes) != 23 {
		t.Errorf("%d dynos, %d codes; want 50 and 23", len(dynos), len(codes))
	}
}

func TestTinyAndHostileBodies(t *testing.T) {
	tiny := ShapedBody(rand.New(rand.NewPCG(1, 2)), time.Now(), Shape{Messages: 1000, Tiny: true})
	s := parse.NewScanner(bytes.NewReader(tiny), parse.FormLogplex)
	n := 0
	for s.Scan() {
		if _, err := s.Entry(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1000 || len(tiny) > 70*1000 {
		t.Errorf("%d tiny frames in %d bytes; want 1000 of under 70 bytes", n, len(tiny))
	}
	hostile := HostileBody(rand.New(rand.NewPCG(1, 2)), time.Now(), 8)
	if !bytes.Contains(hostile, []byte("dyno=web.")) || len(hostile) < 4*3000 {
		t.Errorf("hostile body of %d bytes lacks its long fields", len(hostile))
	}
}

// TestRunManyAppsR14sAndFlushes runs the tool against a fake drain that
// pages every R14 to the tool's webhook receiver and serves flush metrics.
func TestRunManyAppsR14sAndFlushes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hook := ln.Addr().String()
	ln.Close()
	var (
		mu      sync.Mutex
		apps    = map[string]bool{}
		scrapes atomic.Int64
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			n := scrapes.Add(1) // 0.2 s flushes: two before the run, five after
			fmt.Fprintf(w, "dynowatch_store_flush_seconds_bucket{result=\"ok\",le=\"0.128\"} %d\ndynowatch_store_flush_seconds_bucket{result=\"ok\",le=\"0.256\"} %d\n", 0, 2+3*(n-1))
			fmt.Fprintf(w, "dynowatch_store_flush_seconds_sum{result=\"ok\"} %g\ndynowatch_store_flush_seconds_count{result=\"ok\"} %d\n", 0.2*float64(2+3*(n-1)), 2+3*(n-1))
			return
		}
		app := strings.TrimPrefix(r.URL.Path, "/drain/")
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte("Error R14")) {
			go http.Post("http://"+hook, "application/json", strings.NewReader(`{"status":"firing","alerts":[{"rule":"r14","app":"`+app+`"}]}`))
		} else {
			mu.Lock()
			apps[app] = true
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL + "/drain/load", Concurrency: 2, Rate: 200, Duration: time.Second, Messages: 10,
		Apps: 20, Dynos: 50, HCodes: 23, Hostile: true, R14s: 3, WebhookAddr: hook, MetricsURL: srv.URL + "/metrics", Settle: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 20 || !apps["load-0"] || !apps["load-19"] {
		t.Errorf("batches went to %d apps, want load-0 … load-19", len(apps))
	}
	if res.R14 == nil || res.R14.Sent != 3 || res.R14.Paged != 3 || res.R14.Max <= 0 || res.R14.Max > time.Second {
		t.Errorf("R14 pages %+v, want 3 of 3 timed", res.R14)
	}
	if f := res.Flushes; f == nil || f.Count != 3 || f.Mean.Round(time.Millisecond) != 200*time.Millisecond || f.Max != 0.256 {
		t.Errorf("flushes %+v, want 3 of 200 ms, all within 0.256 s", f)
	}
}

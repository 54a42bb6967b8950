package loadgen

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/parse"
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

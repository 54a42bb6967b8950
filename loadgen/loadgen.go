// Package loadgen posts realistic Logplex batches to a drain, concurrently
// and at a chosen rate, and measures how the drain keeps up.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options says what load to send.
type Options struct {
	URL         string        // the drain URL, with its credentials
	Concurrency int           // requests in flight at most
	Rate        int           // batches a second; 0 sends as fast as the drain answers
	Duration    time.Duration // how long to send
	Messages    int           // messages a batch (Logplex sends up to ~100 KiB, about 300 router lines)
	WatchPID    int           // optional: a local process whose RSS is sampled (the drain)
	Client      *http.Client  // optional
}

// Result is what a run measured.
type Result struct {
	Batches, Messages, Failed int64
	Elapsed                   time.Duration
	P50, P99, Max             time.Duration // response times
	MaxRSS                    int64         // bytes, of WatchPID; 0 when not watched
}

// MessagesPerSecond is the sustained rate of messages accepted.
func (r Result) MessagesPerSecond() float64 { return float64(r.Messages) / r.Elapsed.Seconds() }

func (r Result) String() string {
	s := fmt.Sprintf("%d batches, %d messages in %v: %.0f messages/s, %.0f batches/s; %d failed; response p50 %v p99 %v max %v",
		r.Batches, r.Messages, r.Elapsed.Round(time.Millisecond), r.MessagesPerSecond(), float64(r.Batches)/r.Elapsed.Seconds(),
		r.Failed, r.P50, r.P99, r.Max)
	if r.MaxRSS > 0 {
		s += fmt.Sprintf("; drain RSS max %d MB", r.MaxRSS>>20)
	}
	return s
}

// Run sends load until the duration is over or ctx is done.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.URL == "" || o.Concurrency < 1 || o.Duration <= 0 || o.Messages < 1 {
		return Result{}, errors.New("loadgen: URL, Concurrency, Duration and Messages are required")
	}
	client := o.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency}, Timeout: 10 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()

	bodies := newBodies(o.Messages)
	go bodies.refresh(ctx)

	var (
		res       Result
		frameID   atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		maxRSS    atomic.Int64
	)
	if o.WatchPID > 0 {
		go watchRSS(ctx, o.WatchPID, &maxRSS)
	}
	tokens := make(chan struct{}, o.Concurrency)
	if o.Rate > 0 {
		go pace(ctx, o.Rate, tokens)
	}
	// Frame ids unique across runs: the drain dedupes retries on them.
	run := rand.Uint64()
	start := time.Now()
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() { mu.Lock(); latencies = append(latencies, mine...); mu.Unlock() }()
			for ctx.Err() == nil {
				if o.Rate > 0 {
					select {
					case <-tokens:
					case <-ctx.Done():
						return
					}
				}
				body := bodies.get()
				req, err := http.NewRequestWithContext(ctx, "POST", o.URL, bytes.NewReader(body))
				if err != nil {
					atomic.AddInt64(&res.Failed, 1)
					return
				}
				req.Header.Set("Content-Type", "application/logplex-1")
				req.Header.Set("Logplex-Msg-Count", strconv.Itoa(o.Messages))
				req.Header.Set("Logplex-Frame-Id", fmt.Sprintf("%016x%016x", run, frameID.Add(1)))
				req.Header.Set("User-Agent", "Logplex/dynowatch-loadgen")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						atomic.AddInt64(&res.Failed, 1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					atomic.AddInt64(&res.Failed, 1)
					continue
				}
				mine = append(mine, time.Since(t0))
				atomic.AddInt64(&res.Batches, 1)
				atomic.AddInt64(&res.Messages, int64(o.Messages))
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.MaxRSS = maxRSS.Load()
	if len(latencies) > 0 {
		slices.Sort(latencies)
		res.P50 = latencies[len(latencies)/2]
		res.P99 = latencies[len(latencies)*99/100]
		res.Max = latencies[len(latencies)-1]
	}
	return res, nil
}

// pace hands out rate tokens a second, in small steps so that batches are
// spread over the second rather than sent in a burst.
func pace(ctx context.Context, rate int, tokens chan<- struct{}) {
	const step = 10 * time.Millisecond
	tick := time.NewTicker(step)
	defer tick.Stop()
	start, sent := time.Now(), 0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			due := int(now.Sub(start).Seconds() * float64(rate))
			for ; sent < due; sent++ {
				select {
				case tokens <- struct{}{}:
				default: // every sender busy: the drain is not keeping up, and the request is not made
				}
			}
		}
	}
}

func watchRSS(ctx context.Context, pid int, maxRSS *atomic.Int64) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if rss := rssOf(pid); rss > maxRSS.Load() {
				maxRSS.Store(rss)
			}
		}
	}
}

// rssOf reads a process's resident set size from /proc.
func rssOf(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// bodies keeps a pool of drain bodies stamped with the current second.
type bodies struct {
	messages int
	mu       sync.RWMutex
	pool     [][]byte
	next     atomic.Uint64
}

func newBodies(messages int) *bodies {
	b := &bodies{messages: messages}
	b.build(time.Now())
	return b
}

func (b *bodies) get() []byte {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.pool[b.next.Add(1)%uint64(len(b.pool))]
}

func (b *bodies) refresh(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			b.build(now)
		}
	}
}

func (b *bodies) build(now time.Time) {
	rnd := rand.New(rand.NewPCG(uint64(now.Unix()), 1))
	pool := make([][]byte, 16)
	for i := range pool {
		pool[i] = Body(rnd, now, b.messages)
	}
	b.mu.Lock()
	b.pool = pool
	b.mu.Unlock()
}

var paths = []string{"/", "/api/v1/orders", "/api/v1/orders/4711?expand=items", "/assets/application-5f3e.css", "/users/42/edit", "/health", "/search?q=shoes"}

// Body returns a router-heavy Logplex body of n messages: mostly requests,
// some 5xx and H12s, runtime metrics now and then, a few app lines.
func Body(rnd *rand.Rand, now time.Time, n int) []byte {
	var b bytes.Buffer
	ts := now.UTC().Format("2006-01-02T15:04:05.000000+00:00")
	add := func(app, proc, msg string) {
		m := "<158>1 " + ts + " host " + app + " " + proc + " - " + msg + "\n"
		b.WriteString(strconv.Itoa(len(m)))
		b.WriteByte(' ')
		b.WriteString(m)
	}
	for i := 0; i < n; i++ {
		dyno := "web." + strconv.Itoa(rnd.IntN(4)+1)
		switch r := rnd.IntN(100); {
		case r < 93:
			status := 200
			switch s := rnd.IntN(100); {
			case s < 3:
				status = 500
			case s < 8:
				status = 404
			case s < 15:
				status = 304
			}
			add("heroku", "router", fmt.Sprintf(`at=info method=GET path="%s" host=shop.example.com request_id=%08x-b23e-4621-934d-%012x fwd="124.183.%d.%d" dyno=%s connect=%dms service=%dms status=%d bytes=%d protocol=https`,
				paths[rnd.IntN(len(paths))], rnd.Uint32(), rnd.Uint64()&0xffffffffffff, rnd.IntN(256), rnd.IntN(256), dyno, rnd.IntN(3), 5+int(rnd.ExpFloat64()*80), status, 100+rnd.IntN(20000)))
		case r < 94:
			add("heroku", "router", fmt.Sprintf(`at=error code=H12 desc="Request timeout" method=GET path="/slow" host=shop.example.com request_id=%08x-b23e-4621-934d-496a62f5cedd fwd="17.17.17.17" dyno=%s connect=1ms service=30001ms status=503 bytes=0 protocol=https`, rnd.Uint32(), dyno))
		case r < 95:
			add("heroku", dyno, fmt.Sprintf("source=%s dyno=heroku.2808254.d97d0ea7-cf3d-411b-b453-d2943a50b456 sample#memory_total=%.2fMB sample#memory_rss=%.2fMB sample#memory_cache=10.00MB sample#memory_swap=0.00MB sample#memory_pgpgin=348836pages sample#memory_pgpgout=343403pages sample#memory_quota=512.00MB", dyno, 300+rnd.Float64()*100, 290+rnd.Float64()*100))
		default:
			add("app", dyno, fmt.Sprintf(`at=info msg="order placed" order_id=%d measure#checkout.duration=%dms`, rnd.IntN(100000), rnd.IntN(500)))
		}
	}
	return b.Bytes()
}

// Package loadgen posts realistic Logplex batches to a drain, concurrently
// and at a chosen rate, and measures how the drain keeps up.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynowatch/dynowatch/internal/redact"
	"github.com/dynowatch/dynowatch/internal/store"
)

// Options says what load to send.
type Options struct {
	URL         string        // the drain URL, with its credentials; its last segment is the app
	Concurrency int           // requests in flight at most
	Rate        int           // batches a second; 0 sends as fast as the drain answers
	Duration    time.Duration // how long to send
	Messages    int           // messages a batch (Logplex sends up to ~100 KiB, about 300 router lines)
	WatchPID    int           // optional: a local process whose RSS is sampled (the drain)
	Client      *http.Client  // optional

	Apps    int  // apps the batches are spread over, APP-0 … APP-(n-1) after the URL's APP; 0 or 1: the URL's app only
	Dynos   int  // router dynos of each app, web.1 …; 0 means 4
	HCodes  int  // an H-code storm: a third of the router lines are errors spread over this many codes; 0: a trickle of H12s
	Hostile bool // every tenth batch is hostile: 3,000-byte dyno names and sources, random sample names; half of them a 3,000-byte Frame-Id
	Tiny    bool // batches of minimal frames (with -messages 100000, a 100,000-frame flood)

	R14s        int           // R14 lines sent over the run, each from an app of its own (APP-r0 …)
	WebhookAddr string        // listen here for the drain's ALERT_WEBHOOK_URL and time each R14 to its page
	StoreURL    string        // the drain's DATABASE_URL: count what it stored against what it acknowledged
	MetricsURL  string        // the drain's /metrics, with credentials: flush times during the run
	Settle      time.Duration // wait this long after sending for flushes and pages before counting
}

// Result is what a run measured.
type Result struct {
	Batches, Messages, Failed int64
	Elapsed                   time.Duration
	P50, P99, Max             time.Duration // response times
	MaxRSS                    int64         // bytes, of WatchPID; 0 when not watched

	Stored  *Stored   // with StoreURL
	Flushes *Flushes  // with MetricsURL
	R14     *R14Pages // with R14s and WebhookAddr
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
	if r.Stored != nil {
		s += "\n" + r.Stored.String()
	}
	if r.Flushes != nil {
		s += "\n" + r.Flushes.String()
	}
	if r.R14 != nil {
		s += "\n" + r.R14.String()
	}
	return s
}

// Run sends load until the duration is over or ctx is done.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.URL == "" || o.Concurrency < 1 || o.Duration <= 0 || o.Messages < 1 {
		return Result{}, errors.New("loadgen: URL, Concurrency, Duration and Messages are required")
	}
	if o.R14s > 0 && o.WebhookAddr == "" {
		return Result{}, errors.New("loadgen: R14s needs WebhookAddr, where the drain's webhook posts")
	}
	base, app, ok := cutApp(o.URL)
	if !ok {
		if o.Apps > 1 || o.R14s > 0 || o.StoreURL != "" {
			return Result{}, fmt.Errorf("loadgen: URL %q does not end in /drain/APP", o.URL)
		}
		base = o.URL // one app, whatever the path
	}
	apps := []string{app}
	if o.Apps > 1 {
		apps = make([]string, o.Apps)
		for i := range apps {
			apps[i] = app + "-" + strconv.Itoa(i)
		}
	}
	if o.Dynos < 1 {
		o.Dynos = 4
	}
	client := o.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency}, Timeout: 10 * time.Second}
	}
	var (
		before   *storeCounts
		flushes0 flushHistogram
		pages    *webhook
		err      error
	)
	if o.StoreURL != "" {
		if before, err = countStored(ctx, o.StoreURL, app); err != nil {
			return Result{}, err
		}
	}
	if o.MetricsURL != "" {
		if flushes0, err = scrapeFlushes(ctx, client, o.MetricsURL); err != nil {
			return Result{}, err
		}
	}
	if o.WebhookAddr != "" {
		if pages, err = listenWebhook(o.WebhookAddr); err != nil {
			return Result{}, err
		}
		defer pages.close()
	}
	var acked sync.Map // app → *atomic.Int64 of messages acknowledged
	ack := func(app string, n int64) {
		v, _ := acked.LoadOrStore(app, new(atomic.Int64))
		v.(*atomic.Int64).Add(n)
	}

	sendCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()

	bodies := newBodies(Shape{Messages: o.Messages, Dynos: o.Dynos, HCodes: o.HCodes, Tiny: o.Tiny})
	go bodies.refresh(sendCtx)
	if o.R14s > 0 {
		go sendR14s(sendCtx, client, base, app, o.R14s, o.Duration, pages)
	}
	var next atomic.Uint64 // round robin over the apps

	var (
		res       Result
		frameID   atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		maxRSS    atomic.Int64
	)
	if o.WatchPID > 0 {
		go watchRSS(sendCtx, o.WatchPID, &maxRSS)
	}
	tokens := make(chan struct{}, o.Concurrency)
	if o.Rate > 0 {
		go pace(sendCtx, o.Rate, tokens)
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
			for sendCtx.Err() == nil {
				if o.Rate > 0 {
					select {
					case <-tokens:
					case <-sendCtx.Done():
						return
					}
				}
				n := next.Add(1)
				app := apps[n%uint64(len(apps))]
				id := fmt.Sprintf("%016x%016x", run, frameID.Add(1))
				body, msgs := bodies.get(), o.Messages
				if o.Hostile && n%10 == 0 {
					body, msgs = HostileBody(rand.New(rand.NewPCG(n, run)), time.Now(), o.Messages), o.Messages
					if n%20 == 0 {
						// Only half with a 3,000-byte Frame-Id: the drain refuses
						// those whole (400), and the fields of the others must
						// reach the parser.
						id = strings.Repeat(id, 3000/len(id))
					}
				}
				// A request sent runs to its answer after the duration: one
				// cancelled then may have been stored all the same, and would
				// count as stored but not acknowledged.
				req, err := http.NewRequestWithContext(ctx, "POST", base+app, bytes.NewReader(body))
				if err != nil {
					atomic.AddInt64(&res.Failed, 1)
					return
				}
				req.Header.Set("Content-Type", "application/logplex-1")
				req.Header.Set("Logplex-Msg-Count", strconv.Itoa(msgs))
				req.Header.Set("Logplex-Frame-Id", id)
				req.Header.Set("User-Agent", "Logplex/dynowatch-loadgen")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					atomic.AddInt64(&res.Failed, 1)
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
				atomic.AddInt64(&res.Messages, int64(msgs))
				ack(app, int64(msgs))
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if len(latencies) > 0 {
		res.P50, res.P99, res.Max = quantiles(latencies)
	}
	if o.Settle > 0 {
		// The drain's RSS matters while it flushes and pages too.
		settleCtx, cancel := context.WithTimeout(ctx, o.Settle)
		if o.WatchPID > 0 {
			go watchRSS(settleCtx, o.WatchPID, &maxRSS)
		}
		<-settleCtx.Done()
		cancel()
	}
	res.MaxRSS = maxRSS.Load()
	if before != nil {
		after, err := countStored(ctx, o.StoreURL, app)
		if err != nil {
			return res, err
		}
		res.Stored = &Stored{}
		acked.Range(func(k, v any) bool {
			res.Stored.Acknowledged += v.(*atomic.Int64).Load()
			res.Stored.Stored += after.messages[k.(string)] - before.messages[k.(string)]
			return true
		})
	}
	if o.MetricsURL != "" {
		f1, err := scrapeFlushes(ctx, client, o.MetricsURL)
		if err != nil {
			return res, err
		}
		res.Flushes = f1.since(flushes0)
	}
	if pages != nil {
		res.R14 = pages.result()
	}
	return res, nil
}

// quantiles returns the median, 99th percentile and maximum of ds, which it sorts.
func quantiles(ds []time.Duration) (p50, p99, maxD time.Duration) {
	slices.Sort(ds)
	return ds[len(ds)/2], ds[len(ds)*99/100], ds[len(ds)-1]
}

// cutApp splits a drain URL into everything up to its app, and the app.
func cutApp(u string) (base, app string, ok bool) {
	i := strings.LastIndex(u, "/drain/")
	if i < 0 || strings.Contains(u[i+len("/drain/"):], "/") {
		return "", "", false
	}
	return u[:i+len("/drain/")], u[i+len("/drain/"):], true
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

// Shape is what the bodies of a run look like.
type Shape struct {
	Messages int
	Dynos    int  // router dynos, web.1 …
	HCodes   int  // an H-code storm over this many codes; 0: a trickle of H12s
	Tiny     bool // minimal frames
}

// bodies keeps a pool of drain bodies stamped with the current second.
type bodies struct {
	shape Shape
	mu    sync.RWMutex
	pool  [][]byte
	next  atomic.Uint64
}

func newBodies(shape Shape) *bodies {
	b := &bodies{shape: shape}
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
		pool[i] = ShapedBody(rnd, now, b.shape)
	}
	b.mu.Lock()
	b.pool = pool
	b.mu.Unlock()
}

var paths = []string{"/", "/api/v1/orders", "/api/v1/orders/4711?expand=items", "/assets/application-5f3e.css", "/users/42/edit", "/health", "/search?q=shoes"}

// hCodes are the router error codes a storm is made of, most common first.
var hCodes = []string{"H12", "H10", "H13", "H11", "H14", "H15", "H17", "H18", "H19", "H20", "H21", "H22", "H23", "H24",
	"H25", "H26", "H27", "H28", "H31", "H81", "H82", "H83", "H99"}

// Body returns a router-heavy Logplex body of n messages from 4 dynos:
// mostly requests, some 5xx and H12s, runtime metrics now and then, a few
// app lines.
func Body(rnd *rand.Rand, now time.Time, n int) []byte {
	return ShapedBody(rnd, now, Shape{Messages: n, Dynos: 4})
}

// frames writes Logplex frames stamped now.
type frames struct {
	b  bytes.Buffer
	ts string
}

func newFrames(now time.Time) *frames {
	return &frames{ts: now.UTC().Format("2006-01-02T15:04:05.000000+00:00")}
}

func (f *frames) add(pri, app, proc, msg string) {
	m := "<" + pri + ">1 " + f.ts + " host " + app + " " + proc + " - " + msg + "\n"
	f.b.WriteString(strconv.Itoa(len(m)))
	f.b.WriteByte(' ')
	f.b.WriteString(m)
}

// ShapedBody returns a body of the given shape: as Body, with sh.Dynos
// dynos, and in a storm a third of the router lines errors over sh.HCodes
// codes; or, Tiny, minimal app lines.
func ShapedBody(rnd *rand.Rand, now time.Time, sh Shape) []byte {
	f := newFrames(now)
	for i := 0; i < sh.Messages; i++ {
		dyno := "web." + strconv.Itoa(rnd.IntN(max(sh.Dynos, 1))+1)
		if sh.Tiny {
			f.add("190", "app", dyno, "x")
			continue
		}
		switch r := rnd.IntN(100); {
		case sh.HCodes > 0 && r < 31:
			code := hCodes[rnd.IntN(min(sh.HCodes, len(hCodes)))]
			f.add("158", "heroku", "router", fmt.Sprintf(`at=error code=%s desc="Request timeout" method=GET path="/slow" host=shop.example.com request_id=%08x-b23e-4621-934d-496a62f5cedd fwd="17.17.17.17" dyno=%s connect=1ms service=30001ms status=503 bytes=0 protocol=https`, code, rnd.Uint32(), dyno))
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
			f.add("158", "heroku", "router", fmt.Sprintf(`at=info method=GET path="%s" host=shop.example.com request_id=%08x-b23e-4621-934d-%012x fwd="124.183.%d.%d" dyno=%s connect=%dms service=%dms status=%d bytes=%d protocol=https`,
				paths[rnd.IntN(len(paths))], rnd.Uint32(), rnd.Uint64()&0xffffffffffff, rnd.IntN(256), rnd.IntN(256), dyno, rnd.IntN(3), 5+int(rnd.ExpFloat64()*80), status, 100+rnd.IntN(20000)))
		case r < 94:
			f.add("158", "heroku", "router", fmt.Sprintf(`at=error code=H12 desc="Request timeout" method=GET path="/slow" host=shop.example.com request_id=%08x-b23e-4621-934d-496a62f5cedd fwd="17.17.17.17" dyno=%s connect=1ms service=30001ms status=503 bytes=0 protocol=https`, rnd.Uint32(), dyno))
		case r < 95:
			f.add("158", "heroku", dyno, fmt.Sprintf("source=%s dyno=heroku.2808254.d97d0ea7-cf3d-411b-b453-d2943a50b456 sample#memory_total=%.2fMB sample#memory_rss=%.2fMB sample#memory_cache=10.00MB sample#memory_swap=0.00MB sample#memory_pgpgin=348836pages sample#memory_pgpgout=343403pages sample#memory_quota=512.00MB", dyno, 300+rnd.Float64()*100, 290+rnd.Float64()*100))
		default:
			f.add("190", "app", dyno, fmt.Sprintf(`at=info msg="order placed" order_id=%d measure#checkout.duration=%dms`, rnd.IntN(100000), rnd.IntN(500)))
		}
	}
	return f.b.Bytes()
}

// HostileBody returns n messages as someone holding the drain secret might
// send them: router lines with 3,000-byte dyno names, runtime metrics with
// 3,000-byte sources and random sample names, add-on metrics with long
// names, app output faking a platform error.
func HostileBody(rnd *rand.Rand, now time.Time, n int) []byte {
	f := newFrames(now)
	long := func(prefix string) string { return prefix + strings.Repeat(strconv.Itoa(rnd.IntN(10)), 3000) }
	for i := 0; i < n; i++ {
		switch i % 4 {
		case 0:
			f.add("158", "heroku", "router", fmt.Sprintf(`at=info method=GET path="/" host=h request_id=x fwd="1.2.3.4" dyno=%s connect=1ms service=5ms status=200 bytes=10 protocol=https`, long("web.")))
		case 1:
			f.add("158", "heroku", "web.1", fmt.Sprintf("source=%s dyno=heroku.1.a sample#memory_rss=1.00MB sample#n%08x=1", long("web."), rnd.Uint32()))
		case 2:
			f.add("158", "app", "heroku-redis", fmt.Sprintf("source=REDIS addon=redis-x sample#%s=1 sample#r%08x=2", long("k"), rnd.Uint32()))
		default:
			f.add("190", "app", "web.1", "Error R15 (Memory quota vastly exceeded)")
		}
	}
	return f.b.Bytes()
}

// sendR14s posts n R14 lines over d, each from an app of its own so that no
// other alert of the app holds its page for a group, and notes when each was
// posted.
func sendR14s(ctx context.Context, client *http.Client, base, app string, n int, d time.Duration, pages *webhook) {
	every := d / time.Duration(n+1)
	for i := range n {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		name := app + "-r" + strconv.Itoa(i)
		f := newFrames(time.Now())
		f.add("45", "heroku", "web.1", "Error R14 (Memory quota exceeded)")
		req, err := http.NewRequestWithContext(ctx, "POST", base+name, bytes.NewReader(f.b.Bytes()))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/logplex-1")
		// Noted before posting: the page may come before the answer does.
		pages.sent(name, time.Now())
		resp, err := client.Do(req)
		if err != nil {
			pages.failed(name)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			pages.failed(name)
		}
	}
}

// webhook receives the drain's alert webhooks and times R14 pages.
type webhook struct {
	srv    *http.Server
	mu     sync.Mutex
	sentAt map[string]time.Time // app → when its R14 was posted
	took   map[string]time.Duration
}

func listenWebhook(addr string) (*webhook, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: webhook receiver on %s: %w", addr, err)
	}
	w := &webhook{sentAt: map[string]time.Time{}, took: map[string]time.Duration{}}
	w.srv = &http.Server{Handler: w, ReadHeaderTimeout: 5 * time.Second}
	go w.srv.Serve(ln)
	return w, nil
}

// ServeHTTP takes one notification: {"status":…,"alerts":[{"rule":…,"app":…}]}.
func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	at := time.Now()
	var n struct {
		Status string `json:"status"`
		Alerts []struct{ Rule, App string }
	}
	if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range n.Alerts {
		if sent, ok := w.sentAt[a.App]; ok && a.Rule == "r14" && n.Status == "firing" {
			if _, seen := w.took[a.App]; !seen {
				w.took[a.App] = at.Sub(sent)
			}
		}
	}
	rw.WriteHeader(http.StatusNoContent)
}

func (w *webhook) sent(app string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sentAt[app] = at
}

func (w *webhook) failed(app string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.sentAt, app)
}

func (w *webhook) close() { w.srv.Close() }

// R14Pages is how long R14s took from their post to the drain to the webhook.
type R14Pages struct {
	Sent, Paged   int
	P50, P99, Max time.Duration
}

func (r *R14Pages) String() string {
	return fmt.Sprintf("R14 → webhook: %d of %d paged; p50 %v p99 %v max %v", r.Paged, r.Sent, r.P50, r.P99, r.Max)
}

func (w *webhook) result() *R14Pages {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := &R14Pages{Sent: len(w.sentAt), Paged: len(w.took)}
	var ds []time.Duration
	for _, d := range w.took {
		ds = append(ds, d)
	}
	if len(ds) > 0 {
		r.P50, r.P99, r.Max = quantiles(ds)
	}
	return r
}

// Stored compares what the drain acknowledged with what its store counts.
type Stored struct {
	Acknowledged, Stored int64 // messages
}

func (s *Stored) String() string {
	return fmt.Sprintf("messages acknowledged %d, stored %d (%.2f%%)", s.Acknowledged, s.Stored, 100*float64(s.Stored)/float64(max(s.Acknowledged, 1)))
}

type storeCounts struct{ messages map[string]int64 }

// countStored reads the messages the store counts for app and APP-….
func countStored(ctx context.Context, url, app string) (*storeCounts, error) {
	st, err := store.Open(ctx, store.Config{DatabaseURL: url, MaxConns: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("loadgen: opening the drain's store: %w", err)
	}
	defer st.Close()
	apps, err := st.Apps(ctx)
	if err != nil {
		return nil, fmt.Errorf("loadgen: reading the drain's apps: %w", err)
	}
	c := &storeCounts{messages: map[string]int64{}}
	for _, a := range apps {
		if a.Name == app || strings.HasPrefix(a.Name, app+"-") {
			c.messages[a.Name] = a.Messages
		}
	}
	return c, nil
}

// Flushes are the drain's rollup flushes during the run, from /metrics.
type Flushes struct {
	Count  int64
	Mean   time.Duration
	Max    float64 // seconds: the upper bound of the histogram bucket of the slowest
	Failed int64
}

func (f *Flushes) String() string {
	return fmt.Sprintf("rollup flushes %d (%d failed), mean %v, all within %gs", f.Count, f.Failed, f.Mean.Round(time.Millisecond), f.Max)
}

// flushHistogram is dynowatch_store_flush_seconds as scraped.
type flushHistogram struct {
	count, failed int64
	sum           float64
	buckets       map[float64]int64 // le → cumulative count
}

func scrapeFlushes(ctx context.Context, client *http.Client, url string) (flushHistogram, error) {
	h := flushHistogram{buckets: map[float64]int64{}}
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return h, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return h, fmt.Errorf("loadgen: scraping %s: %w", redact.URL(req.URL.String()), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("loadgen: scraping %s: %s", redact.URL(req.URL.String()), resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return h, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		name, rest, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(name, "dynowatch_store_flush_seconds") {
			continue
		}
		v, err := strconv.ParseFloat(rest, 64)
		if err != nil {
			continue
		}
		failed := strings.Contains(name, `result="error"`)
		switch {
		case strings.HasPrefix(name, "dynowatch_store_flush_seconds_count"):
			h.count += int64(v)
			if failed {
				h.failed += int64(v)
			}
		case strings.HasPrefix(name, "dynowatch_store_flush_seconds_sum"):
			h.sum += v
		case strings.HasPrefix(name, "dynowatch_store_flush_seconds_bucket"):
			_, le, _ := strings.Cut(name, `le="`)
			le, _, _ = strings.Cut(le, `"`)
			if b, err := strconv.ParseFloat(le, 64); err == nil {
				h.buckets[b] += int64(v)
			}
		}
	}
	return h, nil
}

// since is what happened between an earlier scrape and h.
func (h flushHistogram) since(before flushHistogram) *Flushes {
	f := &Flushes{Count: h.count - before.count, Failed: h.failed - before.failed}
	if f.Count == 0 {
		return f
	}
	f.Mean = time.Duration((h.sum - before.sum) / float64(f.Count) * float64(time.Second))
	f.Max = math.Inf(1)
	for le, n := range h.buckets {
		if n-before.buckets[le] == f.Count && le < f.Max {
			f.Max = le
		}
	}
	return f
}

package logsession

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKey is the API key the tests use; no error or log may show it.
const testKey = "hrku-TESTKEY-0123456789abcdef"

// sessionSecret is in every session URL the fake hands out; no error or log
// may show it either.
const sessionSecret = "s3ss10n-capability"

// request is what the fake Heroku received.
type request struct {
	Host, Method, Path, Query string
	Header                    http.Header
	Body                      string
}

// fakeHeroku answers like the Platform API and Logplex: GET /apps/{app}
// tells the app's generation, POST /apps/{app}/log-sessions hands out
// /sessions/{n}, and GET /sessions/{n} is served by stream.
type fakeHeroku struct {
	*httptest.Server
	t *testing.T

	// generation is the app's generation: "fir", or Cedar when empty.
	generation string
	// appStatus answers the nth GET /apps/{app} (from 0); the app when nil
	// or when it returns 0.
	appStatus func(n int) int

	// createStatus answers the nth create (from 0); 201 and a session when
	// nil or when it returns 0.
	createStatus func(n int) int
	// stream serves the nth session's URL.
	stream func(n int, w http.ResponseWriter, r *http.Request)
	// create, if set, answers log-session requests instead.
	create http.HandlerFunc
	// wrap, if set, wraps the whole server's handler.
	wrap func(http.Handler) http.Handler
	// inMemory serves over an in-process network (memNet) rather than
	// loopback, for tests in a synctest bubble. Every host name then reaches
	// the fake, and a Fir app's sessions stream from telemetry.heroku.test,
	// another host than the API's, as Heroku's do.
	inMemory bool

	mu      sync.Mutex
	apps    []request
	creates []request
	streams []request
	arrived chan int // the number of each stream request, as it arrives
}

func newFakeHeroku(t *testing.T, f *fakeHeroku) *fakeHeroku {
	t.Helper()
	f.t = t
	f.arrived = make(chan int, 100)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apps/{app}", f.handleApp)
	if f.create != nil {
		mux.HandleFunc("POST /apps/{app}/log-sessions", f.create)
	} else {
		mux.HandleFunc("POST /apps/{app}/log-sessions", f.handleCreate)
	}
	mux.HandleFunc("GET /sessions/{n}", f.handleStream)
	var handler http.Handler = mux
	if f.wrap != nil {
		handler = f.wrap(mux)
	}
	if !f.inMemory {
		f.Server = httptest.NewServer(handler)
		t.Cleanup(f.Close)
		return f
	}
	f.Server = httptest.NewUnstartedServer(handler)
	f.Listener.Close()
	m := &memNet{conns: make(chan net.Conn), closed: make(chan struct{})}
	f.Listener = m
	f.Start()
	f.Client().Transport.(*http.Transport).DialContext = m.dial
	t.Cleanup(f.Close)
	return f
}

// memNet is an in-process network: a listener, and a dialer whose every
// connection reaches it. In a synctest bubble a goroutine blocked on a
// loopback socket is not durably blocked and would keep fake time from
// moving; one blocked on a net.Pipe is.
type memNet struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (m *memNet) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.closed:
		return nil, net.ErrClosed
	}
}

func (m *memNet) Close() error {
	m.once.Do(func() { close(m.closed) })
	return nil
}

func (m *memNet) Addr() net.Addr { return memAddr{} }

func (m *memNet) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case m.conns <- server:
		return client, nil
	case <-m.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "api.heroku.test" }

// handleApp handles "GET /apps/{app}" with the answer's fields that matter
// here, shaped as version=3 shapes them (the generation an object).
func (f *fakeHeroku) handleApp(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n := len(f.apps)
	f.apps = append(f.apps, request{r.Host, r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), ""})
	f.mu.Unlock()
	status := 0
	if f.appStatus != nil {
		status = f.appStatus(n)
	}
	if status != 0 {
		apiErrorAnswer(w, status)
		return
	}
	gen, genID := "cedar", "b1c2d3e4-0000-4000-8000-0000000000c1"
	if f.generation == "fir" {
		gen, genID = "fir", "b1c2d3e4-0000-4000-8000-0000000000f1"
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"8d76ca49-b876-41af-8ace-915d300804a6","name":"%s","generation":{"id":"%s","name":"%s"},"build_stack":{"id":"e626530c-23db-4376-bd80-bcd298cb4ea6","name":"heroku-24"},"region":{"id":"9afb627b-d4de-483a-9589-ff664a19fe9b","name":"us"},"created_at":"2025-03-01T09:00:00Z"}`,
		r.PathValue("app"), genID, gen)
}

// handleCreate handles "POST /apps/{app}/log-sessions".
func (f *fakeHeroku) handleCreate(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.creates)
	f.creates = append(f.creates, request{r.Host, r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
	f.mu.Unlock()
	status := 0
	if f.createStatus != nil {
		status = f.createStatus(n)
	}
	switch status {
	case 0, http.StatusCreated, http.StatusOK:
		if status == 0 {
			status = http.StatusCreated
		}
		streamURL := f.URL
		if f.inMemory && f.generation == "fir" {
			streamURL = "http://telemetry.heroku.test"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"id":"01234567-89ab-cdef-0123-456789abcdef","logplex_url":"%s/sessions/%d?srv=1325419200&sig=%s","created_at":"2025-03-14T09:00:00Z","updated_at":"2025-03-14T09:00:00Z"}`,
			streamURL, n, sessionSecret)
	default:
		apiErrorAnswer(w, status)
	}
}

// apiErrorAnswer writes the Platform API's answer for an error status.
func apiErrorAnswer(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	switch status {
	case http.StatusUnauthorized:
		w.WriteHeader(status)
		io.WriteString(w, `{"id":"unauthorized","message":"Invalid credentials provided."}`)
	case http.StatusForbidden:
		w.WriteHeader(status)
		io.WriteString(w, `{"id":"forbidden","message":"You do not have access to the app shop."}`)
	case http.StatusNotFound:
		w.WriteHeader(status)
		io.WriteString(w, `{"id":"not_found","message":"Couldn't find that app.","resource":"app"}`)
	default:
		w.WriteHeader(status)
		io.WriteString(w, `{"id":"service_unavailable","message":"API is temporarily unavailable."}`)
	}
}

// handleStream handles "GET /sessions/{n}".
func (f *fakeHeroku) handleStream(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("n"))
	f.mu.Lock()
	f.streams = append(f.streams, request{r.Host, r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), ""})
	f.mu.Unlock()
	f.arrived <- n
	if f.stream == nil {
		holdOpen(f.t, r)
		return
	}
	f.stream(n, w, r)
}

// waitStream waits until the nth session's stream is asked for.
func (f *fakeHeroku) waitStream(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case got := <-f.arrived:
			if got == n {
				return
			}
		case <-deadline:
			t.Fatalf("session %d was not streamed within 5 s", n)
		}
	}
}

func (f *fakeHeroku) appRequests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.apps...)
}

func (f *fakeHeroku) requests() (creates, streams []request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.creates...), append([]request(nil), f.streams...)
}

// writePlain sends lines as a plain chunked stream, flushing each.
func writePlain(w http.ResponseWriter, lines ...string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, l := range lines {
		io.WriteString(w, l+"\n")
		http.NewResponseController(w).Flush()
	}
}

// holdOpen keeps a stream open until the client goes or the test ends.
func holdOpen(t *testing.T, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-t.Context().Done():
	}
}

// syncBuffer is a bytes.Buffer for a logger that other goroutines write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a Client on a fake Heroku whose sleeps are recorded, not slept.
type harness struct {
	c     *Client
	f     *fakeHeroku
	logs  *syncBuffer
	clock *fakeClock

	mu     sync.Mutex
	sleeps []time.Duration
	// onSleep, if set, runs at each sleep with the number of sleeps so far.
	onSleep func(n int)
}

// newHarness returns a client of f with o's tuning; the API, key, HTTP
// client, logger and clock are filled in.
func newHarness(t *testing.T, f *fakeHeroku, o Options) *harness {
	t.Helper()
	h := &harness{f: f, logs: &syncBuffer{}, clock: &fakeClock{t: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}}
	o.APIURL, o.APIKey, o.Now = f.URL, testKey, h.clock.Now
	if o.HTTPClient == nil {
		o.HTTPClient = f.Client()
	}
	o.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.FlushAfter == 0 {
		o.FlushAfter = 20 * time.Millisecond
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		h.mu.Lock()
		h.sleeps = append(h.sleeps, d)
		n := len(h.sleeps)
		h.mu.Unlock()
		h.clock.Advance(d)
		if h.onSleep != nil {
			h.onSleep(n)
		}
		return ctx.Err()
	}
	h.c = c
	t.Cleanup(func() {
		logs := h.logs.String()
		if strings.Contains(logs, testKey) || strings.Contains(logs, sessionSecret) || strings.Contains(logs, "/sessions/") {
			t.Errorf("the logs show a secret:\n%s", logs)
		}
	})
	return h
}

func (h *harness) sleepsSoFar() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.sleeps...)
}

// collector gathers what Follow delivers.
type collector struct {
	mu      sync.Mutex
	batches []string
	all     bytes.Buffer
	lines   int
	changed chan struct{} // signalled after each batch
}

func newCollector() *collector { return &collector{changed: make(chan struct{}, 1000)} }

func (c *collector) deliver(ctx context.Context, lines []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delivered with a done context: %w", err)
	}
	c.mu.Lock()
	c.batches = append(c.batches, string(lines))
	c.all.Write(lines)
	c.lines += bytes.Count(lines, []byte("\n"))
	c.mu.Unlock()
	c.changed <- struct{}{}
	return nil
}

// waitLines waits until n lines have been delivered.
func (c *collector) waitLines(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		got := c.lines
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("%d lines delivered after 5 s, want %d", got, n)
		}
	}
}

func (c *collector) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.all.String()
}

// startFollow runs Follow on its own goroutine. The returned channel gets
// its result; the test fails if Follow has not returned by the test's end.
func startFollow(t *testing.T, ctx context.Context, c *Client, app string, deliver func(context.Context, []byte) error) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Follow(ctx, app, deliver) }()
	return done
}

// waitDone waits for Follow's result.
func waitDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return within 5 s")
		return nil
	}
}

// checkCreate checks one log-session request of a Cedar app against
// Heroku's contract.
func checkCreate(t *testing.T, r request, app, body string) {
	t.Helper()
	checkCreateExact(t, r, app, body)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil || m["tail"] != true {
		t.Errorf("create request's body %s is not JSON with tail true", r.Body)
	}
}

// checkCreateExact checks one log-session request's method, path, headers
// and exact body.
func checkCreateExact(t *testing.T, r request, app, body string) {
	t.Helper()
	if r.Method != http.MethodPost || r.Path != "/apps/"+app+"/log-sessions" {
		t.Errorf("create request is %s %s, want POST /apps/%s/log-sessions", r.Method, r.Path, app)
	}
	for h, want := range map[string]string{
		"Authorization": "Bearer " + testKey,
		"Accept":        "application/vnd.heroku+json; version=3",
		"Content-Type":  "application/json",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("create request's %s is %q, want %q", h, got, want)
		}
	}
	if r.Body != body {
		t.Errorf("create request's body is %s, want %s", r.Body, body)
	}
}

// checkApp checks one request for an app's generation.
func checkApp(t *testing.T, r request, app string) {
	t.Helper()
	if r.Method != http.MethodGet || r.Path != "/apps/"+app {
		t.Errorf("app request is %s %s, want GET /apps/%s", r.Method, r.Path, app)
	}
	for h, want := range map[string]string{
		"Authorization": "Bearer " + testKey,
		"Accept":        "application/vnd.heroku+json; version=3",
		"Content-Type":  "",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("app request's %s is %q, want %q", h, got, want)
		}
	}
}

// checkStream checks one request for a session's stream.
func checkStream(t *testing.T, r request, n int) {
	t.Helper()
	if want := fmt.Sprintf("/sessions/%d", n); r.Method != http.MethodGet || r.Path != want {
		t.Errorf("stream request is %s %s, want GET %s", r.Method, r.Path, want)
	}
	if !strings.Contains(r.Query, "sig="+sessionSecret) {
		t.Errorf("stream request's query %q lost the session URL's own", r.Query)
	}
	if got := r.Header.Get("Authorization"); got != "" {
		t.Errorf("stream request sends Authorization %q; the URL is the capability", got)
	}
	if got, want := r.Header.Get("Accept"), "text/event-stream, text/plain"; got != want {
		t.Errorf("stream request's Accept is %q, want %q", got, want)
	}
}

// checkNoSecret fails if text shows the API key or a session URL's path.
func checkNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range []string{testKey, sessionSecret, "/sessions/"} {
		if strings.Contains(text, s) {
			t.Errorf("%s shows %q: %s", what, s, text)
		}
	}
}

package drain

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// blockingSink holds the batches of one app until release is closed.
type blockingSink struct {
	app     string
	entered chan struct{}
	release chan struct{}
}

func (s *blockingSink) Ingest(ctx context.Context, b *Batch) (bool, error) {
	if b.App != s.app {
		return false, nil
	}
	select {
	case <-s.release:
	case s.entered <- struct{}{}:
		<-s.release
	}
	return false, nil
}

// serve runs a drain handler with o on a real HTTP server.
func serve(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	o.Secrets = []string{"s"}
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /drain/{app}", h)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadTimeout = time.Minute // as dynowatch's server has it
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// rawRequest opens a connection and sends a drain request's headers,
// announcing a body of bodyLen bytes, and the first bytes of the body.
func rawRequest(t *testing.T, srv *httptest.Server, pass string, bodyLen int, start string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req, _ := http.NewRequest("POST", srv.URL+"/drain/my-app", nil)
	req.SetBasicAuth("dynowatch", pass)
	fmt.Fprintf(conn, "POST /drain/my-app HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/logplex-1\r\nContent-Length: %d\r\n\r\n%s",
		req.Header.Get("Authorization"), bodyLen, start)
	return conn, bufio.NewReader(conn)
}

// closedSoon reports whether the server closes conn within d.
func closedSoon(conn net.Conn, r *bufio.Reader, d time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, r)
	// EOF (err nil) or a reset: the server closed it. A reset comes when the
	// client was still writing what the server had stopped reading.
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestSlowBodyIsCutOffAtTheDeadline: a client with the right password that
// sends its body a byte at a time gets a 408 once BodyTimeout has passed,
// and its connection is closed.
func TestSlowBodyIsCutOffAtTheDeadline(t *testing.T) {
	srv := serve(t, Options{Sink: &recordingSink{}, BodyTimeout: 300 * time.Millisecond})
	conn, r := rawRequest(t, srv, "s", 1000, "9")
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // a byte every 50 ms
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := conn.Write([]byte("9")); err != nil {
					return
				}
			}
		}
	}()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status %d, want 408", resp.StatusCode)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("answered after %v, want about 300 ms", took)
	}
	if !closedSoon(conn, r, 2*time.Second) {
		t.Error("connection still open after the 408")
	}
}

// TestWrongPasswordClosesTheConnection: a 401 is sent before the body is
// read, and the connection is closed rather than the body drained, so a
// client without the secret can't hold a connection by sending slowly.
func TestWrongPasswordClosesTheConnection(t *testing.T) {
	// Go's server itself reads up to 256 KB of an unread body before it
	// closes: both sides of that line are tried.
	for _, length := range []int{100_000, 1_000_000} {
		t.Run(fmt.Sprint(length), func(t *testing.T) {
			srv := serve(t, Options{Sink: &recordingSink{}})
			conn, r := rawRequest(t, srv, "wrong", length, "99 <1")
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			if !closedSoon(conn, r, 2*time.Second) {
				t.Error("connection still open after the 401, waiting for the body")
			}
		})
	}
}

// TestTooManyRequestsInFlightGet503AndOneAppGets429: beyond MaxInFlight
// requests the drain answers 503 with Retry-After (Logplex retries), and an
// app over its share gets 429 while another app is still served.
func TestTooManyRequestsInFlightGet503AndOneAppGets429(t *testing.T) {
	post := func(srv *httptest.Server, app string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/drain/"+app, strings.NewReader(frame(routerLine)))
		req.Header.Set("Content-Type", "application/logplex-1")
		req.SetBasicAuth("dynowatch", "s")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		name             string
		maxIn, maxPerApp int
		blocked          int // requests of the hog held in flight
		want             int
	}{
		{name: "all slots taken", maxIn: 2, maxPerApp: 3, blocked: 2, want: http.StatusServiceUnavailable},
		{name: "the app's share taken", maxIn: 4, maxPerApp: 2, blocked: 2, want: http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &blockingSink{app: "hog", entered: make(chan struct{}), release: make(chan struct{})}
			// All requests come from this test's address: no per-client cap here.
			srv := serve(t, Options{Sink: sink, MaxInFlight: tc.maxIn, MaxInFlightPerApp: tc.maxPerApp, MaxInFlightPerClient: tc.maxIn})
			var wg sync.WaitGroup
			for range tc.blocked {
				wg.Add(1)
				go func() { defer wg.Done(); post(srv, "hog") }()
				<-sink.entered
			}
			resp := post(srv, "hog")
			if resp.StatusCode != tc.want || resp.Header.Get("Retry-After") == "" {
				t.Errorf("hog's next request: %d with Retry-After %q, want %d with one", resp.StatusCode, resp.Header.Get("Retry-After"), tc.want)
			}
			other := post(srv, "other")
			if want := map[bool]int{true: http.StatusNoContent, false: http.StatusServiceUnavailable}[tc.maxIn > tc.blocked]; other.StatusCode != want {
				t.Errorf("another app's request: %d, want %d", other.StatusCode, want)
			}
			close(sink.release)
			wg.Wait()
			if resp := post(srv, "hog"); resp.StatusCode != http.StatusNoContent {
				t.Errorf("after the others finished: %d, want 204", resp.StatusCode)
			}
		})
	}
}

// TestSlowClientHoldsNoMoreThanItsShareOfSlots: a client with the secret
// opening slow requests over many app names holds at most a quarter of the
// slots until their bodies time out; its requests beyond get a 503 with
// Retry-After at once, and another client is served meanwhile. On Heroku the
// client is the last X-Forwarded-For hop, the one the router appends (the
// earlier ones are the client's to forge); elsewhere the header is ignored.
func TestSlowClientHoldsNoMoreThanItsShareOfSlots(t *testing.T) {
	const hostile, router = "203.0.113.9", "10.1.2.3"
	slow := func(t *testing.T, srv *httptest.Server, app, xff string) (net.Conn, *bufio.Reader) {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		req, _ := http.NewRequest("POST", srv.URL, nil)
		req.SetBasicAuth("dynowatch", "s")
		fmt.Fprintf(conn, "POST /drain/%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nX-Forwarded-For: %s\r\n"+
			"Content-Type: application/logplex-1\r\nContent-Length: 1000\r\n\r\n9", app, req.Header.Get("Authorization"), xff)
		return conn, bufio.NewReader(conn)
	}
	post := func(t *testing.T, srv *httptest.Server, xff string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/drain/fair-app", strings.NewReader(frame(routerLine)))
		req.Header.Set("Content-Type", "application/logplex-1")
		req.Header.Set("X-Forwarded-For", xff)
		req.SetBasicAuth("dynowatch", "s")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name      string
		trust     bool
		other     string // X-Forwarded-For of another client's request
		wantOther int
	}{
		{"on Heroku, another client", true, "198.51.100.7, " + router, http.StatusNoContent},
		{"on Heroku, the same client forging an earlier hop", true, "198.51.100.7, " + hostile, http.StatusServiceUnavailable},
		{"off Heroku the header is the client's to write", false, "198.51.100.7", http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const slots = 8 // a quarter: 2 for each client
			srv := serve(t, Options{Sink: &recordingSink{}, MaxInFlight: slots, TrustForwardedFor: tc.trust, BodyTimeout: time.Minute})
			xff := hostile
			if !tc.trust {
				xff = "192.0.2.1" // ignored: every request is this test's address
			}
			var refused int
			for i := range slots {
				conn, r := slow(t, srv, fmt.Sprintf("app-%d", i), xff)
				conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					continue // no answer: the request holds a slot, reading its body
				}
				refused++
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
					t.Errorf("slow request %d: %d with Retry-After %q, want 503 with one", i, resp.StatusCode, resp.Header.Get("Retry-After"))
				}
			}
			if refused != slots-slots/4 {
				t.Errorf("%d of %d slow requests refused, want all but the client's share of %d", refused, slots, slots/4)
			}
			if got := post(t, srv, tc.other); got != tc.wantOther {
				t.Errorf("request with X-Forwarded-For %q: %d, want %d", tc.other, got, tc.wantOther)
			}
		})
	}
}

// floodSink holds the batches of the apps named hog… until release.
type floodSink struct {
	entered chan struct{}
	release chan struct{}
}

func (s *floodSink) Ingest(ctx context.Context, b *Batch) (bool, error) {
	if strings.HasPrefix(b.App, "hog") {
		s.entered <- struct{}{}
		<-s.release
	}
	return false, nil
}

// TestTinyFrameFloodsStayWithinTheMessageBudget: the parsed messages held
// by requests in flight are bounded, whatever the flood of tiny frames. One
// app holding its share (MaxMessagesPerApp) gets 429s for more while other
// apps are served; apps holding MaxMessagesInFlight between them leave no
// room, and the next request gets a 503 with Retry-After (Logplex retries
// both); a request of more than MaxMessagesPerApp is a 413; once the floods
// are stored, the retries are taken.
func TestTinyFrameFloodsStayWithinTheMessageBudget(t *testing.T) {
	sink := &floodSink{entered: make(chan struct{}), release: make(chan struct{})}
	// Parsing 50,000 frames under -race on a busy machine can take longer
	// than the default BodyTimeout, which is not what this test is about.
	srv := serve(t, Options{Sink: sink, BodyTimeout: time.Minute})
	tiny := frame("<158>1 2024-03-15T12:00:00Z h app web.1 - x")
	flood := func(n int) string { return strings.Repeat(tiny, n) }
	// A test that fails while floods are held must release them first, or
	// the server's Close waits for their handlers forever.
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(sink.release) }) }
	t.Cleanup(release)
	do := func(app, body string) (*http.Response, error) {
		req, _ := http.NewRequest("POST", srv.URL+"/drain/"+app, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/logplex-1")
		req.SetBasicAuth("dynowatch", "s")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return resp, nil
	}
	post := func(app, body string) *http.Response {
		resp, err := do(app, body)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	expect := func(what string, resp *http.Response, want int) {
		t.Helper()
		if resp.StatusCode != want || (want != http.StatusNoContent && want != http.StatusRequestEntityTooLarge && resp.Header.Get("Retry-After") == "") {
			t.Errorf("%s: %d, Retry-After %q; want %d", what, resp.StatusCode, resp.Header.Get("Retry-After"), want)
		}
	}
	big := flood(30 * messageChunk) // 30,720 messages: within an app's share, not two of them
	var wg sync.WaitGroup
	hold := func(app string) {
		done := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			resp, err := do(app, big)
			if err != nil {
				t.Errorf("%s's held flood: %v", app, err)
				return
			}
			expect(app+"'s held flood", resp, http.StatusNoContent)
		}()
		select {
		case <-sink.entered:
		case <-done:
			t.Fatalf("%s's flood was answered before the sink held it", app)
		}
	}
	hold("hog-1")
	expect("hog-1's second flood", post("hog-1", big), http.StatusTooManyRequests)
	expect("a small batch of another app", post("shop", flood(300)), http.StatusNoContent)
	expect("one request over an app's share", post("shop", flood(MaxMessagesPerApp+1)), http.StatusRequestEntityTooLarge)
	for _, app := range []string{"hog-2", "hog-3"} { // with hog-1's, 90 of MaxMessagesInFlight's 100 chunks
		hold(app)
	}
	expect("a flood with the budget taken", post("shop", big), http.StatusServiceUnavailable)
	release()
	wg.Wait()
	expect("the retry once the floods were stored", post("shop", big), http.StatusNoContent)
}

package logsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/heroku"
	"github.com/dynowatch/dynowatch/internal/parse"
)

func TestFollowReconnectsInOrder(t *testing.T) {
	// The first session ends after three lines, as Heroku ends them; the
	// second speaks server-sent events and stays open.
	f := newFakeHeroku(t, &fakeHeroku{stream: func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 0:
			writePlain(w, herokuLines[:3]...)
		case 1:
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, ": hello\n\ndata: "+herokuLines[3]+"\ndata: "+herokuLines[4]+"\n\n")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "id: 2\ndata: "+herokuLines[5]+"\n\n")
			http.NewResponseController(w).Flush()
			holdOpen(t, r)
		default:
			t.Errorf("session %d opened", n)
		}
	}})
	h := newHarness(t, f, Options{})
	got := newCollector()
	ctx, cancel := context.WithCancel(t.Context())
	done := startFollow(t, ctx, h.c, "shop", got.deliver)
	got.waitLines(t, 6)
	cancel()
	if err := waitDone(t, done); err != nil {
		t.Fatalf("Follow: %v", err)
	}

	if want := strings.Join(herokuLines, "\n") + "\n"; got.text() != want {
		t.Errorf("delivered\n%s\nwant\n%s", got.text(), want)
	}
	creates, streams := f.requests()
	if len(creates) != 2 || len(streams) != 2 {
		t.Fatalf("%d creates and %d streams, want 2 and 2", len(creates), len(streams))
	}
	for i := range 2 {
		checkCreate(t, creates[i], "shop", `{"tail":true}`)
		checkStream(t, streams[i], i)
	}
	// A short session backs off 1 s before the next.
	if s := h.sleepsSoFar(); !slices.Equal(s, []time.Duration{time.Second}) {
		t.Errorf("slept %v, want [1s]", s)
	}
	if strings.Contains(h.logs.String(), "level=WARN") {
		t.Errorf("a session ending is routine, but it was logged as a warning:\n%s", h.logs)
	}

	// What Follow delivers is what parse reads as `heroku logs` lines.
	s := parse.NewScanner(strings.NewReader(got.text()), parse.FormPlain)
	var kinds []string
	for s.Scan() {
		e, err := s.Entry()
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, e.Kind.String()+" "+e.Source+"["+e.Process+"]")
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"router heroku[router]", "app app[web.1]", "state_change heroku[web.2]", "dyno_error heroku[web.1]", "release app[api]", "router heroku[router]"}
	if !slices.Equal(kinds, want) {
		t.Errorf("parsed\n%q\nwant\n%q", kinds, want)
	}
}

func TestFollowExpiredSession(t *testing.T) {
	f := newFakeHeroku(t, &fakeHeroku{stream: func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			w.WriteHeader(http.StatusNotFound) // not streamed in time
			return
		}
		writePlain(w, herokuLines[:2]...)
		holdOpen(t, r)
	}})
	h := newHarness(t, f, Options{})
	got := newCollector()
	ctx, cancel := context.WithCancel(t.Context())
	done := startFollow(t, ctx, h.c, "shop", got.deliver)
	got.waitLines(t, 2)
	cancel()
	if err := waitDone(t, done); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if want := strings.Join(herokuLines[:2], "\n") + "\n"; got.text() != want {
		t.Errorf("delivered\n%s\nwant\n%s", got.text(), want)
	}
	creates, _ := f.requests()
	if len(creates) != 2 {
		t.Errorf("%d sessions created, want 2", len(creates))
	}
	if s := h.sleepsSoFar(); !slices.Equal(s, []time.Duration{time.Second}) {
		t.Errorf("slept %v, want [1s]", s)
	}
	if strings.Contains(h.logs.String(), "level=WARN") {
		t.Errorf("one expired session is routine, but it was logged as a warning:\n%s", h.logs)
	}
}

func TestFollowStopsOnBadKey(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   error
	}{
		{http.StatusUnauthorized, heroku.ErrUnauthorized},
		{http.StatusForbidden, heroku.ErrUnauthorized},
		{http.StatusNotFound, heroku.ErrNoApp},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			f := newFakeHeroku(t, &fakeHeroku{createStatus: func(int) int { return tc.status }})
			h := newHarness(t, f, Options{})
			err := waitDone(t, startFollow(t, t.Context(), h.c, "shop", newCollector().deliver))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Follow returned %v, want %v", err, tc.want)
			}
			if tc.want == heroku.ErrUnauthorized && !strings.Contains(err.Error(), "HEROKU_API_KEY") {
				t.Errorf("error %q does not say to check HEROKU_API_KEY", err)
			}
			checkNoSecret(t, "the error", err.Error())
			if creates, _ := f.requests(); len(creates) != 1 {
				t.Errorf("%d sessions asked for, want 1: retrying does not help", len(creates))
			}
			if s := h.sleepsSoFar(); len(s) != 0 {
				t.Errorf("slept %v before giving up", s)
			}
		})
	}
}

func TestFollowBackoff(t *testing.T) {
	// Eight failures, then a session that streams for two minutes, then
	// failures again: the backoff doubles to a minute, and starts over after
	// a good session, which is followed by the next at once.
	delivered := make(chan struct{})
	f := newFakeHeroku(t, &fakeHeroku{
		createStatus: func(n int) int {
			if n == 8 {
				return 0
			}
			return http.StatusServiceUnavailable
		},
		stream: func(n int, w http.ResponseWriter, r *http.Request) {
			writePlain(w, herokuLines[0])
			<-delivered
		},
	})
	h := newHarness(t, f, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	h.onSleep = func(n int) {
		if n == 9 {
			cancel()
		}
	}
	got := newCollector()
	deliver := func(ctx context.Context, lines []byte) error {
		h.clock.Advance(2 * time.Minute)
		close(delivered)
		return got.deliver(ctx, lines)
	}
	if err := waitDone(t, startFollow(t, ctx, h.c, "shop", deliver)); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	s := time.Second
	want := []time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 60 * s, 60 * s, s}
	if got := h.sleepsSoFar(); !slices.Equal(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
	if creates, _ := f.requests(); len(creates) != 10 {
		t.Errorf("%d sessions asked for, want 10", len(creates))
	}
	if got.text() != herokuLines[0]+"\n" {
		t.Errorf("delivered %q", got.text())
	}
	if logs := h.logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "503") {
		t.Errorf("API failures were not logged as warnings:\n%s", logs)
	}
}

func TestFollowSlowOpenIsNoGoodSession(t *testing.T) {
	// A create that takes minutes and then fails is a failure, not a
	// session that lasted: the backoff goes on doubling.
	var clock *fakeClock
	f := newFakeHeroku(t, &fakeHeroku{create: func(w http.ResponseWriter, r *http.Request) {
		clock.Advance(2 * time.Minute)
		w.WriteHeader(http.StatusGatewayTimeout)
	}})
	h := newHarness(t, f, Options{})
	clock = h.clock
	ctx, cancel := context.WithCancel(t.Context())
	h.onSleep = func(n int) {
		if n == 3 {
			cancel()
		}
	}
	if err := waitDone(t, startFollow(t, ctx, h.c, "shop", newCollector().deliver)); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if got, want := h.sleepsSoFar(), []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
}

func TestFollowBatches(t *testing.T) {
	more := make(chan struct{})
	var many []string
	for i := range 1200 {
		many = append(many, fmt.Sprintf("2025-03-14T09:26:03.%06d+00:00 app[web.1]: line %d", i, i))
	}
	slow := "2025-03-14T09:27:00.000000+00:00 app[worker.1]: a slow line"
	f := newFakeHeroku(t, &fakeHeroku{stream: func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Join(many, "\n")+"\n")
		http.NewResponseController(w).Flush()
		<-more
		writePlain(w, slow)
		holdOpen(t, r)
	}})
	h := newHarness(t, f, Options{FlushAfter: 50 * time.Millisecond})
	got := newCollector()
	ctx, cancel := context.WithCancel(t.Context())
	done := startFollow(t, ctx, h.c, "shop", got.deliver)

	// The stream is still open: the last lines come by the flush timer.
	got.waitLines(t, 1200)
	close(more)
	got.waitLines(t, 1201)
	cancel()
	if err := waitDone(t, done); err != nil {
		t.Fatalf("Follow: %v", err)
	}

	if want := strings.Join(append(many, slow), "\n") + "\n"; got.text() != want {
		t.Errorf("delivered %d bytes, want the %d sent", len(got.text()), len(want))
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	for i, b := range got.batches {
		if n := strings.Count(b, "\n"); n > 500 || !strings.HasSuffix(b, "\n") {
			t.Errorf("batch %d has %d lines, or does not end in a newline", i, n)
		}
	}
	if n := len(got.batches); n < 4 || strings.Count(got.batches[0], "\n") != 500 || strings.Count(got.batches[1], "\n") != 500 {
		t.Errorf("%d batches, want 500 lines, 500, the rest, and the slow line", n)
	}
}

func TestFollowCatchUp(t *testing.T) {
	line := func(s string) string { return "2025-03-14T09:26:03.000000+00:00 app[web.1]: " + s }
	f := newFakeHeroku(t, &fakeHeroku{stream: func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 0:
			writePlain(w, line("a"), line("b"), line("c"), line("d"))
		case 1:
			// The replay: two lines already delivered and one logged while
			// no session was open; then new lines, one the same as an old.
			writePlain(w, line("c"), line("d"), line("x"), line("y"), line("d"))
			holdOpen(t, r)
		}
	}})
	h := newHarness(t, f, Options{CatchUp: 3})
	got := newCollector()
	ctx, cancel := context.WithCancel(t.Context())
	done := startFollow(t, ctx, h.c, "shop", got.deliver)
	got.waitLines(t, 7)
	cancel()
	if err := waitDone(t, done); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	var want string
	for _, s := range []string{"a", "b", "c", "d", "x", "y", "d"} {
		want += line(s) + "\n"
	}
	if got.text() != want {
		t.Errorf("delivered\n%s\nwant\n%s", got.text(), want)
	}
	creates, _ := f.requests()
	checkCreate(t, creates[0], "shop", `{"tail":true}`)
	checkCreate(t, creates[1], "shop", `{"tail":true,"lines":3}`)
}

func TestFollowMaxSession(t *testing.T) {
	f := newFakeHeroku(t, &fakeHeroku{stream: func(n int, w http.ResponseWriter, r *http.Request) {
		writePlain(w, herokuLines[n%len(herokuLines)])
		holdOpen(t, r) // open, but silent
	}})
	h := newHarness(t, f, Options{MaxSession: 100 * time.Millisecond})
	got := newCollector()
	ctx, cancel := context.WithCancel(t.Context())
	done := startFollow(t, ctx, h.c, "shop", got.deliver)
	got.waitLines(t, 2)
	cancel()
	if err := waitDone(t, done); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if !strings.HasPrefix(got.text(), herokuLines[0]+"\n"+herokuLines[1]+"\n") {
		t.Errorf("delivered\n%s", got.text())
	}
	if strings.Contains(h.logs.String(), "level=WARN") {
		t.Errorf("reaching MaxSession was logged as a warning:\n%s", h.logs)
	}
}

func TestFollowCancel(t *testing.T) {
	t.Run("streaming", func(t *testing.T) {
		closed := make(chan struct{})
		f := newFakeHeroku(t, &fakeHeroku{stream: func(n int, w http.ResponseWriter, r *http.Request) {
			writePlain(w, herokuLines[0])
			<-r.Context().Done()
			close(closed)
		}})
		h := newHarness(t, f, Options{})
		got := newCollector()
		ctx, cancel := context.WithCancel(t.Context())
		done := startFollow(t, ctx, h.c, "shop", got.deliver)
		got.waitLines(t, 1)
		cancel()
		if err := waitDone(t, done); err != nil {
			t.Fatalf("Follow: %v", err)
		}
		// Follow waits for its reader; the connection is closed, not leaked.
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("the stream's connection is still open")
		}
	})
	t.Run("backing off", func(t *testing.T) {
		f := newFakeHeroku(t, &fakeHeroku{createStatus: func(int) int { return http.StatusServiceUnavailable }})
		h := newHarness(t, f, Options{})
		ctx, cancel := context.WithCancel(t.Context())
		h.c.sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			return sleep(ctx, time.Hour)
		}
		if err := waitDone(t, startFollow(t, ctx, h.c, "shop", newCollector().deliver)); err != nil {
			t.Fatalf("Follow: %v", err)
		}
	})
	t.Run("creating", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f := newFakeHeroku(t, &fakeHeroku{create: func(w http.ResponseWriter, r *http.Request) {
			cancel()
			holdOpen(t, r)
		}})
		h := newHarness(t, f, Options{})
		if err := waitDone(t, startFollow(t, ctx, h.c, "shop", newCollector().deliver)); err != nil {
			t.Fatalf("Follow: %v", err)
		}
	})
	t.Run("lines read are delivered", func(t *testing.T) {
		// ctx ends as soon as the first bytes are read; they are still
		// delivered, with a context that is not done.
		ctx, cancel := context.WithCancel(t.Context())
		f := newFakeHeroku(t, &fakeHeroku{stream: func(n int, w http.ResponseWriter, r *http.Request) {
			writePlain(w, herokuLines[0])
			holdOpen(t, r)
		}})
		client := f.Client()
		client.Transport = cancelOnRead{client.Transport, cancel}
		h := newHarness(t, f, Options{HTTPClient: client, FlushAfter: time.Hour})
		got := newCollector()
		if err := waitDone(t, startFollow(t, ctx, h.c, "shop", got.deliver)); err != nil {
			t.Fatalf("Follow: %v", err)
		}
		if got.text() != herokuLines[0]+"\n" {
			t.Errorf("delivered %q", got.text())
		}
	})
}

// cancelOnRead cancels a context once a stream's first bytes are read.
type cancelOnRead struct {
	rt     http.RoundTripper
	cancel context.CancelFunc
}

func (c cancelOnRead) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	if err == nil && strings.HasPrefix(r.URL.Path, "/sessions/") { // the stream, not the app
		resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: c.cancel}
	}
	return resp, err
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
	once   sync.Once
}

func (b *cancelBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.once.Do(b.cancel)
	}
	return n, err
}

func TestFollowDeliverError(t *testing.T) {
	f := newFakeHeroku(t, &fakeHeroku{stream: func(n int, w http.ResponseWriter, r *http.Request) {
		writePlain(w, herokuLines...)
		holdOpen(t, r)
	}})
	h := newHarness(t, f, Options{})
	full := errors.New("store is full")
	err := waitDone(t, startFollow(t, t.Context(), h.c, "shop", func(context.Context, []byte) error { return full }))
	if !errors.Is(err, full) {
		t.Errorf("Follow returned %v, want deliver's error", err)
	}
}

func TestFollowLines(t *testing.T) {
	// Over-long lines are skipped, blank lines and CRs dropped, and a line
	// cut off by the end of a session is not delivered.
	long := strings.Repeat("x", maxLine+1)
	f := newFakeHeroku(t, &fakeHeroku{stream: func(n int, w http.ResponseWriter, r *http.Request) {
		if n > 0 {
			holdOpen(t, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		for _, s := range []string{"one\n", "\n", "  \n", long[:1000], long[1000:], "\ntwo\r\n", "thr", "ee\n", "four"} {
			io.WriteString(w, s)
			http.NewResponseController(w).Flush()
		}
	}})
	h := newHarness(t, f, Options{})
	got := newCollector()
	ctx, cancel := context.WithCancel(t.Context())
	done := startFollow(t, ctx, h.c, "shop", got.deliver)
	got.waitLines(t, 3)
	f.waitStream(t, 1) // the first session has ended
	cancel()
	if err := waitDone(t, done); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if got.text() != "one\ntwo\nthree\n" {
		t.Errorf("delivered %q", got.text())
	}
	if !strings.Contains(h.logs.String(), "over-long") {
		t.Errorf("the skipped line was not logged:\n%s", h.logs)
	}
}

func TestRecent(t *testing.T) {
	r := newRecent(2)
	r.add(1)
	r.add(2)
	r.add(1)
	if !r.has(1) || !r.has(2) {
		t.Error("forgot a line too soon")
	}
	r.add(3) // pushes out the 2, then the 1 added second
	r.add(4)
	if r.has(1) || r.has(2) || !r.has(3) || !r.has(4) || r.len() != 2 {
		t.Errorf("recent holds %v", r.count)
	}
	if newRecent(0).len() != 0 {
		t.Error("a nil recent has lines")
	}
}

// BenchmarkFollowerAdd measures cutting a stream into lines and batching
// them: a Cedar app's without memory, and a Fir app's, which remembers the
// last maxOverlap lines to deliver a renewal's overlap once.
func BenchmarkFollowerAdd(b *testing.B) {
	var chunk []byte
	for i := range 1000 {
		chunk = fmt.Appendf(chunk, "2025-03-14T09:26:03.%06d+00:00 heroku[router]: at=info method=GET path=\"/items/%d\" host=shop.herokuapp.com request_id=1b2c fwd=\"203.0.113.9\" dyno=web-1234abcde-123ab connect=0ms service=12ms status=200 bytes=1043 protocol=http2.0 tls=true\n", i, i)
	}
	for _, bc := range []struct {
		name   string
		memory int
	}{{"cedar", 0}, {"fir", maxOverlap}} {
		b.Run(bc.name, func(b *testing.B) {
			c := &Client{batch: 500}
			f := &follower{c: c, app: "shop", seen: newRecent(bc.memory), deliver: func(context.Context, []byte) error { return nil }}
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				if err := f.add(context.Background(), chunk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

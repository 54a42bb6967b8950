package logsession

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynowatch/dynowatch/internal/heroku"
)

// firLog is a Fir app's log as its log sessions see it: there is no
// history, so a stream carries the lines logged while it is open, from the
// moment it was provisioned.
type firLog struct {
	// provision is how long a stream takes to answer once asked for.
	provision time.Duration

	mu   sync.Mutex
	subs map[chan string]bool
}

// emit logs one line: every stream open now carries it.
func (l *firLog) emit(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs {
		ch <- line
	}
}

// serve is a fakeHeroku stream: server-sent events, as Fir's are, of the
// lines logged from the moment it is provisioned until the client goes.
func (l *firLog) serve(_ int, w http.ResponseWriter, r *http.Request) {
	time.Sleep(l.provision)
	ch := make(chan string, 100)
	l.mu.Lock()
	if l.subs == nil {
		l.subs = map[chan string]bool{}
	}
	l.subs[ch] = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	http.NewResponseController(w).Flush()
	for {
		select {
		case line := <-ch:
			w.Write([]byte("id: 1\ndata: " + line + "\n\n"))
			http.NewResponseController(w).Flush()
		case <-r.Context().Done():
			return
		}
	}
}

// firClient is a client of f as pull mode makes one, on the bubble's clock
// and with its real sleeps, which in a bubble take no time.
func firClient(t *testing.T, f *fakeHeroku, o Options) (*Client, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	o.APIURL, o.APIKey, o.HTTPClient = f.URL, testKey, f.Client()
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkNoSecret(t, "the logs", logs.String()) })
	return c, logs
}

func firLine(s string) string {
	return "2025-03-14T09:26:03.000000+00:00 app[web-1234abcde-123ab]: " + s
}

// TestFollowFirRenewsEvery15Minutes: a Fir app's session is replaced every
// 15 minutes, as the Heroku CLI does, by opening the next while the old one
// still streams. A line logged while the next is provisioned (only the old
// one carries it) is not lost, and lines both carry are delivered once.
func TestFollowFirRenewsEvery15Minutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &firLog{provision: 3 * time.Second}
		f := newFakeHeroku(t, &fakeHeroku{inMemory: true, generation: "fir", stream: log.serve})
		// CatchUp is set, as for a Cedar app: a Fir app has no history, so
		// no lines are asked for all the same.
		c, logs := firClient(t, f, Options{CatchUp: 100})
		got := newCollector()
		ctx, cancel := context.WithCancel(t.Context())
		done := startFollow(t, ctx, c, "fir-shop", got.deliver)
		start := time.Now()

		time.Sleep(log.provision) // the first stream is provisioned
		synctest.Wait()
		log.emit(firLine("a"))
		time.Sleep(10 * time.Minute)
		log.emit(firLine("b"))
		// At 15 minutes of the first session the next is asked for, and
		// provisioned 3 s later. Meanwhile c is logged: only the old one
		// carries it.
		time.Sleep(start.Add(log.provision + 15*time.Minute + time.Second).Sub(time.Now()))
		log.emit(firLine("c"))
		time.Sleep(2 * time.Second) // the next one is provisioned
		synctest.Wait()
		if creates, streams := f.requests(); len(creates) != 2 || len(streams) != 2 {
			t.Fatalf("at 15 min: %d sessions created and %d streamed, want 2 and 2", len(creates), len(streams))
		}
		// Both stream now: d and e are carried twice.
		log.emit(firLine("d"))
		time.Sleep(time.Second)
		log.emit(firLine("e"))
		time.Sleep(5 * time.Second) // the old one is closed
		log.emit(firLine("f"))
		time.Sleep(time.Minute)
		log.emit(firLine("g"))

		var want string
		for _, s := range []string{"a", "b", "c", "d", "e", "f", "g"} {
			want += firLine(s) + "\n"
		}
		got.waitLines(t, 7)
		synctest.Wait()
		if got.text() != want {
			t.Errorf("delivered\n%s\nwant\n%s", got.text(), want)
		}

		// And again 15 minutes later.
		time.Sleep(15 * time.Minute)
		synctest.Wait()
		cancel()
		if err := waitDone(t, done); err != nil {
			t.Fatalf("Follow: %v", err)
		}
		apps := f.appRequests()
		creates, streams := f.requests()
		if len(apps) != 1 || len(creates) != 3 || len(streams) != 3 {
			t.Fatalf("%d app reads, %d sessions created and %d streamed, want 1, 3 and 3", len(apps), len(creates), len(streams))
		}
		checkApp(t, apps[0], "fir-shop")
		for i, r := range creates {
			checkCreateExact(t, r, "fir-shop", `{}`)
			checkStream(t, streams[i], i)
			if streams[i].Host != "telemetry.heroku.test" {
				t.Errorf("session %d streamed from %s, want the logplex_url's host", i, streams[i].Host)
			}
		}
		if strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("renewing a Fir session is routine, but it was logged as a warning:\n%s", logs)
		}
	})
}

// TestFollowFirRenewalFails: when the next session cannot be had, the old
// one is kept while it streams, and the next is asked for again with
// backoff. A refused key stops Follow.
func TestFollowFirRenewalFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &firLog{}
		f := newFakeHeroku(t, &fakeHeroku{inMemory: true, generation: "fir", stream: log.serve,
			createStatus: func(n int) int {
				switch n {
				case 1, 2:
					return http.StatusServiceUnavailable
				case 4:
					return http.StatusUnauthorized
				}
				return 0
			}})
		c, logs := firClient(t, f, Options{})
		got := newCollector()
		done := startFollow(t, t.Context(), c, "fir-shop", got.deliver)
		start := time.Now()
		synctest.Wait()
		log.emit(firLine("a"))

		// The renewals at 15:00 and 15:01 fail; the old session still
		// streams, and the one at 15:03 succeeds.
		time.Sleep(15*time.Minute + 2*time.Second)
		synctest.Wait()
		if creates, _ := f.requests(); len(creates) != 3 {
			t.Fatalf("by 15:02, %d sessions created, want the first and two renewals", len(creates))
		}
		log.emit(firLine("b"))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if creates, streams := f.requests(); len(creates) != 4 || len(streams) != 2 {
			t.Fatalf("by 15:04, %d sessions created and %d streamed, want 4 and 2", len(creates), len(streams))
		}
		time.Sleep(5 * time.Second)
		log.emit(firLine("c"))
		got.waitLines(t, 3)
		if want := firLine("a") + "\n" + firLine("b") + "\n" + firLine("c") + "\n"; got.text() != want {
			t.Errorf("delivered\n%s\nwant\n%s", got.text(), want)
		}
		if n := strings.Count(logs.String(), "renewing the log session failed; retrying"); n != 2 {
			t.Errorf("%d renewal failures logged, want 2:\n%s", n, logs)
		}

		// The next renewal, 15 minutes on, is refused: Follow stops with
		// the reason.
		time.Sleep(start.Add(31 * time.Minute).Sub(time.Now()))
		err := waitDone(t, done)
		if !errors.Is(err, heroku.ErrUnauthorized) || time.Since(start) < 30*time.Minute {
			t.Errorf("Follow returned %v after %v, want heroku.ErrUnauthorized after 30 min", err, time.Since(start))
		}
	})
}

// TestFollowFirSessionEnds: a Fir app's stream that times out (the stream
// URL answering 404, which the Heroku CLI reports as "Log stream timed
// out") or ends is replaced by a new session, with backoff when it was
// short; an API that cannot tell the generation yet is asked again with
// backoff.
func TestFollowFirSessionEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &firLog{}
		f := newFakeHeroku(t, &fakeHeroku{inMemory: true, generation: "fir",
			appStatus: func(n int) int {
				if n == 0 {
					return http.StatusServiceUnavailable
				}
				return 0
			},
			stream: func(n int, w http.ResponseWriter, r *http.Request) {
				switch n {
				case 0:
					w.WriteHeader(http.StatusNotFound)
				case 1:
					// The platform ends this one after 20 minutes.
					ctx, cancel := context.WithTimeout(r.Context(), 20*time.Minute)
					defer cancel()
					log.serve(n, w, r.WithContext(ctx))
				default:
					log.serve(n, w, r)
				}
			}})
		c, logs := firClient(t, f, Options{})
		got := newCollector()
		ctx, cancel := context.WithCancel(t.Context())
		done := startFollow(t, ctx, c, "fir-shop", got.deliver)
		synctest.Wait()
		// 0 s: the generation cannot be read; 1 s: session 0 has expired;
		// 2 s: session 1 streams.
		countAt := func(when string, apps, sessions int) {
			t.Helper()
			creates, _ := f.requests()
			if a := f.appRequests(); len(a) != apps || len(creates) != sessions {
				t.Fatalf("%s: %d app reads and %d sessions, want %d and %d", when, len(a), len(creates), apps, sessions)
			}
		}
		countAt("at once", 1, 0)
		time.Sleep(time.Second)
		synctest.Wait()
		countAt("at 1 s", 2, 1)
		time.Sleep(time.Second)
		synctest.Wait()
		countAt("at 2 s", 2, 2)
		log.emit(firLine("a"))
		// Session 1 ends at 20:02, and session 2 is opened at once.
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		countAt("at 20:02", 2, 3)
		log.emit(firLine("b"))
		got.waitLines(t, 2)
		cancel()
		if err := waitDone(t, done); err != nil {
			t.Fatalf("Follow: %v", err)
		}
		if want := firLine("a") + "\n" + firLine("b") + "\n"; got.text() != want {
			t.Errorf("delivered\n%s\nwant\n%s", got.text(), want)
		}
		creates, streams := f.requests()
		if len(creates) != 3 || len(streams) != 3 {
			t.Fatalf("%d sessions created and %d streamed, want 3 and 3", len(creates), len(streams))
		}
		for _, r := range creates {
			checkCreateExact(t, r, "fir-shop", `{}`)
		}
		if !strings.Contains(logs.String(), "reading the app's generation failed; retrying") {
			t.Errorf("the generation's failure is not logged:\n%s", logs)
		}
	})
}

// TestFollowGenerationRefused: a key the API refuses, or an app it does
// not know, stops Follow at the generation, before any session.
func TestFollowGenerationRefused(t *testing.T) {
	for status, want := range map[int]error{http.StatusUnauthorized: heroku.ErrUnauthorized, http.StatusForbidden: heroku.ErrUnauthorized, http.StatusNotFound: heroku.ErrNoApp} {
		f := newFakeHeroku(t, &fakeHeroku{appStatus: func(int) int { return status }})
		h := newHarness(t, f, Options{})
		err := waitDone(t, startFollow(t, t.Context(), h.c, "shop", newCollector().deliver))
		if !errors.Is(err, want) || !strings.Contains(err.Error(), "shop") {
			t.Errorf("%d: Follow returned %v, want %v naming the app", status, err, want)
		}
		checkNoSecret(t, "the error", err.Error())
		if creates, _ := f.requests(); len(creates) != 0 {
			t.Errorf("%d: %d sessions created, want none", status, len(creates))
		}
	}
}

package logsession

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/heroku"
)

// Lines as a log session sends them: `heroku logs` form, no syslog framing.
var herokuLines = []string{
	`2025-03-14T09:26:03.123456+00:00 heroku[router]: at=info method=GET path="/" host=shop.herokuapp.com request_id=1b2c fwd="203.0.113.9" dyno=web.1 connect=0ms service=12ms status=200 bytes=1043 protocol=https`,
	`2025-03-14T09:26:03.400000+00:00 app[web.1]: Completed 200 OK in 11ms`,
	`2025-03-14T09:26:04.000000+00:00 heroku[web.2]: State changed from starting to up`,
	`2025-03-14T09:26:05.000000+00:00 heroku[web.1]: Error R14 (Memory quota exceeded)`,
	`2025-03-14T09:26:06.000000+00:00 app[api]: Release v42 created by user ops@example.com`,
	`2025-03-14T09:26:07.000000+00:00 heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/slow" host=shop.herokuapp.com request_id=9f8e fwd="203.0.113.9" dyno=web.2 connect=0ms service=30000ms status=503 bytes=0 protocol=https`,
}

func TestOpenPlainStream(t *testing.T) {
	next := make(chan struct{})
	f := newFakeHeroku(t, &fakeHeroku{stream: func(n int, w http.ResponseWriter, r *http.Request) {
		writePlain(w, herokuLines[0])
		<-next // the first line must reach the reader before the stream goes on
		writePlain(w, herokuLines[1:3]...)
	}})
	h := newHarness(t, f, Options{})

	rc, err := h.c.Open(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	first, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	close(next)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := first+string(rest), strings.Join(herokuLines[:3], "\n")+"\n"; got != want {
		t.Errorf("stream read\n%s\nwant\n%s", got, want)
	}

	creates, streams := f.requests()
	if len(creates) != 1 || len(streams) != 1 {
		t.Fatalf("%d creates and %d stream requests, want 1 and 1", len(creates), len(streams))
	}
	apps := f.appRequests()
	if len(apps) != 1 {
		t.Fatalf("%d app requests, want 1: the generation is read first", len(apps))
	}
	checkApp(t, apps[0], "shop")
	checkCreate(t, creates[0], "shop", `{"tail":true}`)
	checkStream(t, streams[0], 0)
}

func TestOpenEventStream(t *testing.T) {
	f := newFakeHeroku(t, &fakeHeroku{stream: func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		for _, piece := range []string{
			": connected\n\n",
			"id: 1\nevent: message\ndata: " + herokuLines[0] + "\ndata: " + herokuLines[1] + "\n\n",
			"retry: 3000\n\n",
			"event: heartbeat\ndata: not a log line\n\n",
			"data:" + herokuLines[2] + "\r\n\r\n", // no space after the colon; CRLF
			"data: " + herokuLines[3] + "\n",
			"data: \n", // an empty line inside an event
			"data: " + herokuLines[4] + "\n\n",
			": keep-alive\n\n",
			"data: " + herokuLines[5] + "\n", // cut off before its blank line: dropped
		} {
			io.WriteString(w, piece)
			http.NewResponseController(w).Flush()
		}
	}})
	h := newHarness(t, f, Options{})

	rc, err := h.c.Open(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if want := strings.Join(herokuLines[:5], "\n") + "\n"; string(got) != want {
		t.Errorf("stream read\n%s\nwant\n%s", got, want)
	}
	_, streams := f.requests()
	checkStream(t, streams[0], 0)
}

func TestOpenAcceptsOK(t *testing.T) {
	// The API documents 201; the Heroku CLI's tests mock 200.
	f := newFakeHeroku(t, &fakeHeroku{
		createStatus: func(int) int { return http.StatusOK },
		stream:       func(n int, w http.ResponseWriter, r *http.Request) { writePlain(w, herokuLines[0]) },
	})
	h := newHarness(t, f, Options{})
	rc, err := h.c.Open(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); string(got) != herokuLines[0]+"\n" {
		t.Errorf("stream read %q", got)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name         string
		createStatus int
		streamStatus int
		want         error  // a sentinel the error wraps, or nil for none
		mention      string // text the error must contain
	}{
		{name: "bad key", createStatus: 401, want: heroku.ErrUnauthorized, mention: "HEROKU_API_KEY"},
		{name: "forbidden", createStatus: 403, want: heroku.ErrUnauthorized, mention: "HEROKU_API_KEY"},
		{name: "no app", createStatus: 404, want: heroku.ErrNoApp, mention: "Couldn't find that app"},
		{name: "API down", createStatus: 503, mention: "503"},
		{name: "session expired", streamStatus: 404, want: ErrSessionExpired, mention: "expired"},
		{name: "session refused", streamStatus: 403, want: ErrSessionExpired, mention: "expired"},
		{name: "stream server error", streamStatus: 500, mention: "500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHeroku(t, &fakeHeroku{
				createStatus: func(int) int { return tc.createStatus },
				stream:       func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(tc.streamStatus) },
			})
			h := newHarness(t, f, Options{})
			rc, err := h.c.Open(t.Context(), "shop")
			if err == nil {
				rc.Close()
				t.Fatal("Open succeeded")
			}
			for _, s := range []error{heroku.ErrUnauthorized, heroku.ErrNoApp, ErrSessionExpired} {
				if got, want := errors.Is(err, s), s == tc.want; got != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, got, want)
				}
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
			checkNoSecret(t, "the error", err.Error())
		})
	}
}

func TestOpenAPIErrorDetail(t *testing.T) {
	f := newFakeHeroku(t, &fakeHeroku{createStatus: func(int) int { return 401 }})
	h := newHarness(t, f, Options{})
	_, err := h.c.Open(t.Context(), "shop")
	var ae *heroku.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *heroku.APIError", err)
	}
	if ae.Status != 401 || ae.ID != "unauthorized" || ae.Message != "Invalid credentials provided." {
		t.Errorf("heroku.APIError is %+v", *ae)
	}
}

func TestOpenHidesEchoedKey(t *testing.T) {
	// A proxy in front of the API may quote the request back.
	f := newFakeHeroku(t, &fakeHeroku{create: func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"id":"unauthorized","message":"bad header: `+r.Header.Get("Authorization")+`"}`)
	}})
	h := newHarness(t, f, Options{})
	_, err := h.c.Open(t.Context(), "shop")
	if !errors.Is(err, heroku.ErrUnauthorized) {
		t.Fatalf("error %v, want heroku.ErrUnauthorized", err)
	}
	checkNoSecret(t, "the error", err.Error())
}

func TestOpenUnreachableSession(t *testing.T) {
	// net/http's errors quote the URL, which is a capability.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	f := newFakeHeroku(t, &fakeHeroku{create: func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"logplex_url":"`+dead+`/sessions/7?sig=`+sessionSecret+`"}`)
	}})
	h := newHarness(t, f, Options{})
	_, err = h.c.Open(t.Context(), "shop")
	if err == nil {
		t.Fatal("Open succeeded")
	}
	if !strings.Contains(err.Error(), dead) {
		t.Errorf("error %q does not name the host", err)
	}
	checkNoSecret(t, "the error", err.Error())
}

func TestOpenBadAnswers(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"no logplex_url", `{"id":"01234567-89ab-cdef-0123-456789abcdef"}`},
		{"not a URL", `{"logplex_url":"logplex.heroku.com/sessions/1"}`},
		{"not JSON", `<html>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeHeroku(t, &fakeHeroku{create: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, tc.body)
			}})
			h := newHarness(t, f, Options{})
			if _, err := h.c.Open(t.Context(), "shop"); err == nil {
				t.Fatal("Open succeeded")
			}
		})
	}
	t.Run("no app", func(t *testing.T) {
		h := newHarness(t, newFakeHeroku(t, &fakeHeroku{}), Options{})
		if _, err := h.c.Open(t.Context(), ""); err == nil {
			t.Fatal("Open succeeded")
		}
	})
}

func TestNew(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	ok := Options{APIKey: testKey, Logger: logger}
	for _, tc := range []struct {
		name    string
		change  func(o *Options)
		mention string // "" when the options are good
	}{
		{"defaults", func(o *Options) {}, ""},
		{"no key", func(o *Options) { o.APIKey = "" }, "APIKey"},
		{"key with newline", func(o *Options) { o.APIKey += "\n" }, "HEROKU_API_KEY"},
		{"no logger", func(o *Options) { o.Logger = nil }, "Logger"},
		{"client timeout", func(o *Options) { o.HTTPClient = &http.Client{Timeout: time.Minute} }, "Timeout"},
		{"negative batch", func(o *Options) { o.BatchLines = -1 }, "BatchLines"},
		{"negative flush", func(o *Options) { o.FlushAfter = -time.Second }, "FlushAfter"},
		{"negative session", func(o *Options) { o.MaxSession = -time.Second }, "MaxSession"},
		{"catch-up too long", func(o *Options) { o.CatchUp = 1501 }, "CatchUp"},
		{"API URL not http", func(o *Options) { o.APIURL = "ftp://api.heroku.com" }, "APIURL"},
		{"API URL with password", func(o *Options) { o.APIURL = "ftp://user:hunter2@api.heroku.com?token=abc" }, "APIURL"},
		{"API URL of a proxy", func(o *Options) { o.APIURL = "https://proxy.example.com/heroku/" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.change(&o)
			c, err := New(o)
			if tc.mention == "" {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New accepted the options")
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %s", err, tc.mention)
			}
			for _, secret := range []string{testKey, "hunter2", "abc"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows %q", err, secret)
				}
			}
		})
	}
	c, _ := New(ok)
	if c.apiURL != DefaultAPIURL || c.batch != 500 || c.flush != time.Second || c.maxSess != time.Hour || c.http == nil {
		t.Errorf("defaults: api %s batch %d flush %v session %v", c.apiURL, c.batch, c.flush, c.maxSess)
	}
}

func TestProxyAPIURL(t *testing.T) {
	// A path in the API URL is kept, as for a proxy in front of the API.
	paths := make(chan string, 1)
	f := newFakeHeroku(t, &fakeHeroku{
		wrap: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					paths <- r.URL.Path
				}
				r.URL.Path = strings.TrimPrefix(r.URL.Path, "/heroku")
				next.ServeHTTP(w, r)
			})
		},
		stream: func(n int, w http.ResponseWriter, r *http.Request) {},
	})
	h := newHarness(t, f, Options{})
	h.c.apiURL = f.URL + "/heroku"
	rc, err := h.c.Open(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if got := <-paths; got != "/heroku/apps/shop/log-sessions" {
		t.Errorf("create request's path is %s", got)
	}
}

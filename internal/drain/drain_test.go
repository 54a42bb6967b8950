package drain

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingSink keeps copies of what it is given and can be made to fail.
type recordingSink struct {
	mu      sync.Mutex
	batches []Batch
	seen    map[string]bool
	err     error
}

func (s *recordingSink) Ingest(_ context.Context, b *Batch) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	if b.Key != "" && s.seen[b.Key] {
		return true, nil
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[b.Key] = true
	c := *b
	c.Entries = append(c.Entries[:0:0], b.Entries...)
	s.batches = append(s.batches, c)
	return false, nil
}

func newTestHandler(t *testing.T, sink Sink) *http.ServeMux {
	t.Helper()
	h, err := NewHandler(Options{
		Secrets: []string{"old-secret", "new-secret"},
		Sink:    sink,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:     func() time.Time { return time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /drain/{app}", h)
	return mux
}

func frame(msg string) string { return fmt.Sprintf("%d %s", len(msg), msg) }

const (
	routerLine = "<158>1 2024-03-15T12:00:00.1+00:00 host heroku router - at=info method=GET path=\"/\" host=h dyno=web.1 connect=1ms service=5ms status=200 bytes=10\n"
	r14Line    = "<45>1 2024-03-15T12:00:01+00:00 host heroku worker.1 - Error R14 (Memory quota exceeded)\n"
)

type request struct {
	path, user, pass, contentType, encoding string
	headers                                 map[string]string
	body                                    []byte
}

func (rq request) do(t *testing.T, mux http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	if rq.path == "" {
		rq.path = "/drain/my-app"
	}
	if rq.contentType == "" {
		rq.contentType = "application/logplex-1"
	}
	r := httptest.NewRequest("POST", rq.path, bytes.NewReader(rq.body))
	r.Header.Set("Content-Type", rq.contentType)
	if rq.encoding != "" {
		r.Header.Set("Content-Encoding", rq.encoding)
	}
	if rq.pass != "" || rq.user != "" {
		r.SetBasicAuth(rq.user, rq.pass)
	}
	for k, v := range rq.headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestHandler(t *testing.T) {
	good := []byte(frame(routerLine) + frame(r14Line))
	tests := []struct {
		name        string
		req         request
		wantStatus  int
		wantEntries int // in the one stored batch; -1 for none stored
		wantBad     int
		check       func(t *testing.T, b Batch)
	}{
		{"good body", request{user: "dynowatch", pass: "new-secret", body: good, headers: map[string]string{"Logplex-Msg-Count": "2", "Logplex-Frame-Id": "09C557EAFCFB6CF2740EE62F62971098", "Logplex-Drain-Token": "d.fc6b856b"}},
			http.StatusNoContent, 2, 0, func(t *testing.T, b Batch) {
				if b.App != "my-app" || b.Key != "frame:09C557EAFCFB6CF2740EE62F62971098" || b.DrainToken != "d.fc6b856b" || b.CountMismatch {
					t.Errorf("batch = %+v", b)
				}
				if b.Entries[1].DynoError.Code != "R14" {
					t.Errorf("second entry = %+v", b.Entries[1])
				}
			}},
		{"old secret still accepted, any user", request{user: "whoever", pass: "old-secret", body: good}, http.StatusNoContent, 2, 0, nil},
		{"no credentials", request{body: good}, http.StatusUnauthorized, -1, 0, nil},
		{"wrong password", request{user: "dynowatch", pass: "new-secret2", body: good}, http.StatusUnauthorized, -1, 0, nil},
		{"empty password", request{user: "new-secret", body: good}, http.StatusUnauthorized, -1, 0, nil},
		{"not an app name", request{path: "/drain/My_App", pass: "new-secret", body: good}, http.StatusNotFound, -1, 0, nil},
		{"wrong content type", request{pass: "new-secret", contentType: "application/json", body: good}, http.StatusUnsupportedMediaType, -1, 0, nil},
		{"gzip from log-shuttle", request{pass: "new-secret", encoding: "gzip", headers: map[string]string{"X-Request-Id": "abc", "User-Agent": "log-shuttle/0.17"},
			body: gzipped(t, []byte(frame("<190>1 2024-03-15T12:00:01Z shuttle app web.1 - - hello\n")))},
			http.StatusNoContent, 1, 0, func(t *testing.T, b Batch) {
				if b.Key != "req:abc" || b.Entries[0].Message != "hello" {
					t.Errorf("batch = %+v", b)
				}
			}},
		{"corrupt gzip", request{pass: "new-secret", encoding: "gzip", body: good}, http.StatusBadRequest, -1, 0, nil},
		{"unknown encoding", request{pass: "new-secret", encoding: "br", body: good}, http.StatusBadRequest, -1, 0, nil},
		{"gzip bomb", request{pass: "new-secret", encoding: "gzip", body: gzipped(t, bytes.Repeat([]byte(frame(routerLine)), MaxBody/len(frame(routerLine))+10))},
			http.StatusRequestEntityTooLarge, -1, 0, nil},
		{"body over the cap", request{pass: "new-secret", body: bytes.Repeat([]byte(frame(routerLine)), MaxBody/len(frame(routerLine))+10)},
			http.StatusRequestEntityTooLarge, -1, 0, nil},
		{"partly bad body keeps the good frames", request{pass: "new-secret", body: []byte("garbage!" + frame(routerLine) + "5 <1>1 x" + frame(r14Line)), headers: map[string]string{"Logplex-Msg-Count": "4"}},
			http.StatusNoContent, 2, 2, func(t *testing.T, b Batch) {
				if b.CountMismatch {
					t.Error("count mismatch with bad frames counted in")
				}
			}},
		{"count mismatch", request{pass: "new-secret", body: good, headers: map[string]string{"Logplex-Msg-Count": "3"}}, http.StatusNoContent, 2, 0,
			func(t *testing.T, b Batch) {
				if !b.CountMismatch {
					t.Error("no count mismatch")
				}
			}},
		{"all garbage", request{pass: "new-secret", body: []byte("this is not a drain body")}, http.StatusBadRequest, -1, 0, nil},
		{"plain lines", request{pass: "new-secret", contentType: "text/plain; charset=utf-8", body: []byte("2024-03-15T12:00:00Z heroku[web.1]: Error R14 (Memory quota exceeded)\n2024-03-15T12:00:01Z app[web.1]: hi\n")},
			http.StatusNoContent, 2, 0, nil},
		{"empty body", request{pass: "new-secret"}, http.StatusNoContent, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recordingSink{}
			w := tt.req.do(t, newTestHandler(t, sink))
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tt.wantStatus, w.Body.String())
			}
			if tt.wantEntries < 0 {
				if len(sink.batches) != 0 {
					t.Fatalf("stored %d batches, want none", len(sink.batches))
				}
				return
			}
			if len(sink.batches) != 1 {
				t.Fatalf("stored %d batches, want 1", len(sink.batches))
			}
			b := sink.batches[0]
			if len(b.Entries) != tt.wantEntries || b.BadFrames != tt.wantBad {
				t.Fatalf("batch has %d entries and %d bad frames, want %d and %d", len(b.Entries), b.BadFrames, tt.wantEntries, tt.wantBad)
			}
			if tt.check != nil {
				tt.check(t, b)
			}
		})
	}
}

func TestRetryIsStoredOnce(t *testing.T) {
	sink := &recordingSink{}
	mux := newTestHandler(t, sink)
	body, err := os.ReadFile("../../testdata/samples.logplex") // the repository's sample, shared with parse's tests
	if err != nil {
		t.Fatal(err)
	}
	req := request{pass: "new-secret", body: body, headers: map[string]string{"Logplex-Frame-Id": "F1", "Logplex-Msg-Count": "25"}}
	for i := 0; i < 3; i++ {
		if w := req.do(t, mux); w.Code != http.StatusNoContent {
			t.Fatalf("attempt %d: status %d", i+1, w.Code)
		}
	}
	if len(sink.batches) != 1 || len(sink.batches[0].Entries) != 25 {
		t.Fatalf("stored %d batches, want 1 of 25 entries", len(sink.batches))
	}
}

func TestSinkFailureAsksForRetry(t *testing.T) {
	sink := &recordingSink{err: errors.New("database down")}
	w := request{pass: "new-secret", body: []byte(frame(routerLine))}.do(t, newTestHandler(t, sink))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503 so that Logplex retries", w.Code)
	}
	if strings.Contains(w.Body.String(), "database down") {
		t.Error("internal error shown to the client")
	}
}

func TestOptionsValidate(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for name, o := range map[string]Options{
		"no secrets":   {Sink: &recordingSink{}, Logger: logger},
		"empty secret": {Secrets: []string{"a", ""}, Sink: &recordingSink{}, Logger: logger},
		"no sink":      {Secrets: []string{"a"}, Logger: logger},
		"no logger":    {Secrets: []string{"a"}, Sink: &recordingSink{}},
	} {
		if _, err := NewHandler(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzHandler posts arbitrary bodies and headers: never a panic, never a 5xx
// for garbage (the sink here always works).
func FuzzHandler(f *testing.F) {
	f.Add([]byte(frame(routerLine)+frame(r14Line)), "application/logplex-1", "", "2")
	f.Add([]byte("garbage"), "text/plain", "", "")
	f.Add([]byte("-3 <1>1"), "application/logplex-1", "gzip", "x")
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff}, "application/logplex-1", "gzip", "1")
	// A length prefix past the body and the frame cap, good frames after it.
	f.Add([]byte("9999999 "+r14Line+frame(routerLine)+frame(r14Line)), "application/logplex-1", "", "3")
	f.Add(gzipped(f, []byte("70000 "+r14Line+frame(routerLine))), "application/logplex-1", "gzip", "2")
	f.Fuzz(func(t *testing.T, body []byte, contentType, encoding, count string) {
		mux := newTestHandler(t, &recordingSink{})
		r := httptest.NewRequest("POST", "/drain/fuzz-app", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("Content-Encoding", encoding)
		r.Header.Set("Logplex-Msg-Count", count)
		r.SetBasicAuth("u", "new-secret")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("status %d for garbage", w.Code)
		}
	})
}

// bodyOf returns router frames padded with one app frame to exactly n bytes.
func bodyOf(t *testing.T, n int) []byte {
	t.Helper()
	f := frame(routerLine)
	var b bytes.Buffer
	for b.Len()+len(f)+200 < n {
		b.WriteString(f)
	}
	head := "<190>1 2024-03-15T12:00:01Z host app web.1 - "
	pad := n - b.Len() - len(head) - 1 - 4 // the prefix of the last frame is "NNN " (3 digits)
	b.WriteString(frame(head + strings.Repeat("p", pad) + "\n"))
	if b.Len() != n {
		t.Fatalf("body of %d bytes, want %d", b.Len(), n)
	}
	return b.Bytes()
}

// TestBodyOfExactlyMaxBodyIsAccepted: "over 4 MiB" is the rule, for a plain
// body and for one that decompresses to exactly 4 MiB.
func TestBodyOfExactlyMaxBodyIsAccepted(t *testing.T) {
	body := bodyOf(t, MaxBody)
	for name, rq := range map[string]request{
		"plain": {pass: "new-secret", body: body},
		"gzip":  {pass: "new-secret", encoding: "gzip", body: gzipped(t, body)},
	} {
		t.Run(name, func(t *testing.T) {
			sink := &recordingSink{}
			if w := rq.do(t, newTestHandler(t, sink)); w.Code != http.StatusNoContent {
				t.Fatalf("status %d, want 204 (body %q)", w.Code, w.Body.String())
			}
			if n := len(sink.batches[0].Entries); n != bytes.Count(body, []byte(" <")) {
				t.Errorf("%d entries stored", n)
			}
		})
	}
	over := append(bodyOf(t, MaxBody), '\n')
	if w := (request{pass: "new-secret", encoding: "gzip", body: gzipped(t, over)}).do(t, newTestHandler(t, &recordingSink{})); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("one byte over: status %d, want 413", w.Code)
	}
}

// TestHugeLengthPrefixStillStoresTheGoodFrames: a first frame claiming
// 9,999,999 bytes is one bad frame, and the three good ones after it are
// stored with a 2xx (a 400 would make Logplex drop them all).
func TestHugeLengthPrefixStillStoresTheGoodFrames(t *testing.T) {
	sink := &recordingSink{}
	body := "9999999 " + r14Line + frame(routerLine) + frame(r14Line) + frame(routerLine)
	w := request{pass: "new-secret", body: []byte(body), headers: map[string]string{"Logplex-Msg-Count": "4"}}.do(t, newTestHandler(t, sink))
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d, want 204 (body %q)", w.Code, w.Body.String())
	}
	if b := sink.batches[0]; len(b.Entries) != 3 || b.BadFrames != 1 {
		t.Errorf("%d entries and %d bad frames, want 3 and 1", len(b.Entries), b.BadFrames)
	}
}

// TestLongFrameIDIsRefused: a hand-made Logplex-Frame-Id (or request id or
// drain token) longer than MaxHeaderID is refused with a 400 that says why,
// before it reaches the store.
func TestLongFrameIDIsRefused(t *testing.T) {
	good := []byte(frame(routerLine))
	for _, name := range []string{"Logplex-Frame-Id", "X-Request-Id", "Logplex-Drain-Token"} {
		sink := &recordingSink{}
		w := request{pass: "new-secret", body: good, headers: map[string]string{name: strings.Repeat("f", 3000)}}.do(t, newTestHandler(t, sink))
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), name) || len(sink.batches) != 0 {
			t.Errorf("%s of 3000 bytes: status %d %q, %d batches; want 400 naming the header", name, w.Code, w.Body.String(), len(sink.batches))
		}
	}
	sink := &recordingSink{}
	id := strings.Repeat("f", MaxHeaderID)
	if w := (request{pass: "new-secret", body: good, headers: map[string]string{"Logplex-Frame-Id": id}}).do(t, newTestHandler(t, sink)); w.Code != http.StatusNoContent || sink.batches[0].Key != "frame:"+id {
		t.Errorf("Frame-Id of %d bytes: status %d, want 204 with the key", MaxHeaderID, w.Code)
	}
}

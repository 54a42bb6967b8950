package logsession_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	herokuapi "github.com/dynowatch/dynowatch/internal/heroku"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/logsession"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// batchSink is a drain.Sink that keeps what it takes.
type batchSink struct {
	mu      sync.Mutex
	entries []string
	bad     int
	got     chan struct{}
}

func (s *batchSink) Ingest(_ context.Context, b *drain.Batch) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.App != "shop" || b.Key != "" || b.Replayed {
		panic("batch of the wrong app, with a dedupe key, or replayed")
	}
	for _, e := range b.Entries {
		s.entries = append(s.entries, e.Message)
	}
	s.bad += b.BadFrames
	if len(s.entries) >= 3 {
		close(s.got)
	}
	return false, nil
}

// Tail hands a session's lines to a drain sink as batches, and shows each
// message it parsed.
func TestTail(t *testing.T) {
	t.Parallel()
	heroku := exampleHeroku()
	t.Cleanup(heroku.Close)
	c, err := logsession.New(logsession.Options{APIURL: heroku.URL, APIKey: "k", Logger: slog.New(slog.DiscardHandler), FlushAfter: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sink := &batchSink{got: make(chan struct{})}
	var shown []string
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- c.Tail(ctx, "shop", sink, func(e *parse.Entry) { shown = append(shown, e.Message) })
	}()
	select {
	case <-sink.got:
	case <-time.After(10 * time.Second):
		t.Fatal("3 messages not taken within 10 s")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	const r14 = "Error R14 (Memory quota exceeded)"
	if len(sink.entries) != 3 || sink.entries[1] != "Completed 200 OK in 11ms" || sink.entries[2] != r14 || sink.bad != 0 {
		t.Errorf("sink took %q and %d bad, want the 3 messages", sink.entries, sink.bad)
	}
	if len(shown) != 3 || shown[2] != r14 {
		t.Errorf("shown %q, want the 3 messages", shown)
	}
}

// TestJobsStopOnAnUnknownApp: the worker job of an app of TAIL_APPS the key
// cannot see ends with the reason, naming the app, rather than asking for a
// session again while its lease is held.
func TestJobsStopOnAnUnknownApp(t *testing.T) {
	t.Parallel()
	heroku := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"id":"not_found","message":"Couldn't find that app."}`))
	}))
	t.Cleanup(heroku.Close)
	c, err := logsession.New(logsession.Options{APIURL: heroku.URL, APIKey: "k", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	jobs := c.Jobs([]string{"shop", "cart"}, &batchSink{})
	if len(jobs) != 2 || jobs[1].Name != "tail:cart" || jobs[1].Lease != logsession.TailLease {
		t.Fatalf("jobs %+v, want tail:shop and tail:cart with the TailLease", jobs)
	}
	err = jobs[0].Run(t.Context())
	if !errors.Is(err, herokuapi.ErrNoApp) || !strings.Contains(err.Error(), "app shop") {
		t.Errorf("Run returned %v, want heroku.ErrNoApp naming app shop", err)
	}
}

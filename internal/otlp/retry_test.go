package otlp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/ingest"
	"github.com/dynowatch/dynowatch/internal/otlp"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// downStore fails every write, as a database that is down.
type downStore struct{ *store.Store }

func (downStore) WriteBatches(context.Context, []*store.Batch) ([]bool, error) {
	return nil, context.DeadlineExceeded
}

// A space drain's request carries several apps; when one app's batch can't
// be stored the request gets a 503 and the exporter retries it whole,
// possibly to another web dyno. The apps stored the first time must be
// recognised there, not counted again: a 503 is no 2xx lost, it comes each
// time the database can't take a batch with notable lines.
func TestRetryOfASpaceRequestCountsEachAppOnce(t *testing.T) {
	const body = `{"resourceLogs":[
{"resource":{"attributes":[{"key":"heroku.app.name","value":{"stringValue":"fir-blog"}},{"key":"service.name","value":{"stringValue":"heroku-router"}}]},
 "scopeLogs":[{"scope":{"name":"heroku-router"},"logRecords":[{"timeUnixNano":"1796040003250000000","body":{"stringValue":"at=info method=GET path=\"/\" host=fir-blog.herokuapp.com request_id=1 fwd=\"203.0.113.9\" dyno=web-5d8f7c9b4-x7k2p connect=0ms service=23ms status=200 bytes=5120 protocol=http2.0"}}]}]},
{"resource":{"attributes":[{"key":"heroku.app.name","value":{"stringValue":"fir-shop"}},{"key":"service.name","value":{"stringValue":"heroku-router"}}]},
 "scopeLogs":[{"scope":{"name":"heroku-router"},"logRecords":[{"timeUnixNano":"1796040003250000000","body":{"stringValue":"at=error code=H12 desc=\"Request timeout\" method=POST path=\"/checkout\" host=fir-shop.herokuapp.com request_id=2 fwd=\"203.0.113.9\" dyno=web-5d8f7c9b4-x7k2p connect=0ms service=30000ms status=503 bytes=0 protocol=http1.1"}}]}]}
]}`
	const secret = "0123456789abcdef0123456789abcdef"
	for name, open := range map[string]func(testing.TB) *store.Store{"postgres": storetest.MustOpenPostgres, "embedded": storetest.MustOpenEmbedded} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			requests := func(app string) int64 {
				t.Helper()
				ws, err := st.WindowStats(ctx, app, time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 12, 1, 0, 0, time.UTC))
				if err != nil {
					t.Fatal(err)
				}
				return ws.Requests
			}
			// Each dyno gets its own pipeline; the first sees the database down.
			for i, s := range []ingest.Store{downStore{st}, st} {
				p, err := ingest.New(ingest.Options{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Committers: 1, FlushEvery: time.Hour, EventLinesPerMinute: 10})
				if err != nil {
					t.Fatal(err)
				}
				runCtx, cancel := context.WithCancel(ctx)
				done := make(chan error)
				go func() { done <- p.Run(runCtx) }()
				h, err := otlp.NewHandler(otlp.Options{Secrets: []string{secret}, Sink: p, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
				if err != nil {
					t.Fatal(err)
				}
				r := httptest.NewRequest("POST", "/otlp/v1/logs", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Authorization", "Bearer "+secret)
				w := httptest.NewRecorder()
				h.ServeLogs(w, r)
				want := []int{http.StatusServiceUnavailable, http.StatusOK}[i]
				if w.Code != want {
					t.Errorf("dyno %d: status %d, want %d: %s", i+1, w.Code, want, w.Body)
				}
				cancel()
				<-done // the first dyno's fails in part: the database is down
			}
			if got := requests("fir-blog"); got != 1 {
				t.Errorf("fir-blog: %d requests counted, want 1", got)
			}
			if got := requests("fir-shop"); got != 1 {
				t.Errorf("fir-shop: %d requests counted, want 1", got)
			}
		})
	}
}

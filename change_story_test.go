package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/parse"
	"github.com/dynowatch/dynowatch/internal/store"
)

// TestStoryReleasesArePagerDutyChangeEventsOnce: the README's release line
// reaches PagerDuty as the change event the README names, once, though
// Logplex delivers its batch twice and two workers send; a release of
// another app PAGERDUTY_APPS leaves out, and a replayed release, send none.
func TestStoryReleasesArePagerDutyChangeEventsOnce(t *testing.T) {
	t.Parallel()
	m := regexp.MustCompile("the line\\s+`(app\\[api\\]: Release [^`]+)` of the app `([a-z-]+)`\\s+becomes the change `([^`]+)`").FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md no longer shows the release line and the change event it becomes")
	}
	line, app, summary := m[1], m[2], m[3]
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		var (
			mu    sync.Mutex
			heard []string
		)
		pd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			if r.Method != http.MethodPost || r.URL.Path != "/v2/change/enqueue" || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("PagerDuty got %s %s (%s), want POST /v2/change/enqueue of JSON", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			}
			mu.Lock()
			heard = append(heard, string(b))
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"status":"success","message":"Change event processed"}`)
		}))
		defer pd.Close()
		const key = "0123456789abcdef0123456789abcdef"
		s := newStoryOn(t, st, "PAGERDUTY_ROUTING_KEY="+key, "PAGERDUTY_API_URL="+pd.URL, "PAGERDUTY_APPS="+app,
			"DYNOWATCH_URL=https://dynowatch.example.com", "ALERT_SILENCE_ENABLED=false")
		at := s.now().Add(-3 * time.Second)
		s.logAt(app, at, line)
		s.logAt(app, at, line) // the same batch again, under a new Frame-Id
		s.logAt("staging", at, line)
		// A replayed release goes through the pipeline as `dynowatch replay`
		// sends it.
		b := &drain.Batch{App: app, Replayed: true, Key: "replay:1", Received: s.now()}
		if err := drain.ScanBatch(b, strings.NewReader(frame("<190>1 "+at.Add(-time.Hour).Format(time.RFC3339)+" host app api - Release v137 created by ops@example.com")),
			parse.FormLogplex, func(*drain.Batch) error { return nil }, func(error) {}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.pipe.Ingest(s.ctx, b); err != nil {
			t.Fatal(err)
		}
		other := s.newSender("worker.2")
		s.send()
		if _, _, err := other.SendDue(s.ctx, 50); err != nil {
			t.Fatal(err)
		}
		s.advance(time.Minute)

		mu.Lock()
		defer mu.Unlock()
		if len(heard) != 1 {
			t.Fatalf("PagerDuty got %d change events, want 1:\n%s", len(heard), strings.Join(heard, "\n"))
		}
		want, _ := json.Marshal(map[string]any{
			"routing_key": key,
			"payload": map[string]any{"summary": summary, "timestamp": at.UTC().Format(time.RFC3339), "source": app,
				"custom_details": map[string]string{"app": app, "kind": "release", "version": "v138", "user": "ops@example.com",
					"line": strings.TrimPrefix(line, "app[api]: ")}},
			"links": []map[string]string{{"href": "https://dynowatch.example.com/apps/" + app, "text": "Open " + app + " in dynowatch"}},
		})
		if !jsonEqual(t, heard[0], string(want)) {
			t.Errorf("PagerDuty got\n  %s\nwant\n  %s", heard[0], want)
		}
	})
}

// jsonEqual says whether a and b are the same JSON value.
func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHandlerShowsWhatWasCounted scrapes /metrics as Prometheus does after
// a drain request, a commit, a notification and a check run.
func TestHandlerShowsWhatWasCounted(t *testing.T) {
	t.Parallel()
	m := New()
	m.Request("ok", 3, 1, true)
	m.Commit(1, 2*time.Millisecond, errors.New("store down"))
	m.Delivered("slack", false)
	m.CheckRan("api", true)
	m.Gauge("dynowatch_test_depth", "A depth.", func() float64 { return 7 })
	m.Counter("dynowatch_test_total", "A count.", map[string]string{"what": "dyno"}, func() float64 { return 2 })

	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	for _, want := range []string{
		`dynowatch_drain_requests_total{result="ok"} 1`,
		`dynowatch_drain_messages_total{result="parsed"} 3`,
		`dynowatch_drain_messages_total{result="bad"} 1`,
		`dynowatch_drain_count_mismatches_total 1`,
		`dynowatch_store_commit_seconds_count{result="error"} 1`,
		`dynowatch_notifications_total{channel="slack",result="failed"} 1`,
		`dynowatch_check_runs_total{check="api",result="ok"} 1`,
		`dynowatch_test_depth 7`,
		`dynowatch_test_total{what="dyno"} 2`,
		`go_goroutines `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

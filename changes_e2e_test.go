package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dynowatch/dynowatch/internal/store/pgtest"
)

// TestDrainAnswersWhileTheChangeWriteWaits: with the outbox locked (a slow
// or busy database), a drain batch with a release line is answered at
// once, and the change event reaches PagerDuty once the database answers
// again. The release used to be written on the drain's request path, which
// then waited up to 5 s and lost the change.
func TestDrainAnswersWhileTheChangeWriteWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := pgtest.URL(t)
	heard := make(chan string, 8)
	pd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/v2/change/enqueue" {
			t.Errorf("PagerDuty got %s %s, want POST /v2/change/enqueue", r.Method, r.URL.Path)
		}
		heard <- string(b)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer pd.Close()
	base, logs, _ := startServer(t, map[string]string{"DATABASE_URL": dbURL, "DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw",
		"PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef", "PAGERDUTY_API_URL": pd.URL})

	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// Reads go on; every write to the outbox waits for this transaction.
	if _, err := tx.Exec(ctx, "LOCK TABLE outbox IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	ts := time.Now().UTC().Format(time.RFC3339)
	start := time.Now()
	code := post(t, base+"/drain/shop", "s", frame("<190>1 "+ts+" host app api - Release v138 created by ops@example.com\n"), nil)
	if took := time.Since(start); code != http.StatusNoContent || took > 2*time.Second {
		t.Fatalf("drain with the outbox locked: %d after %v, want 204 at once", code, took)
	}
	select {
	case b := <-heard:
		t.Fatalf("PagerDuty heard %s while the outbox was locked: the test locked nothing", b)
	case <-time.After(500 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-heard:
		if !strings.Contains(b, `"summary":"shop: release v138 by ops@example.com"`) {
			t.Errorf("PagerDuty got %s, want the release of shop", b)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the change never reached PagerDuty; logs:\n%s", logs)
	}
	select {
	case b := <-heard:
		t.Errorf("PagerDuty heard a second change: %s", b)
	case <-time.After(time.Second):
	}
}

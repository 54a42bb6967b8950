package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/parse"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/pgtest"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
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

// TestREADMEChangeCap: under the README's PAGERDUTY_CHANGE_CAP, a drain
// batch of 8 release lines of shop sends PagerDuty 5 change events of shop
// (and blog's release still goes); the rest, and more later, are not
// sent, but counted in /metrics and logged once.
func TestREADMEChangeCap(t *testing.T) {
	t.Parallel()
	m := regexp.MustCompile("`heroku config:set (PAGERDUTY_CHANGE_CAP)=\"([^\"]+)\"`").FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md no longer shows PAGERDUTY_CHANGE_CAP set; this test runs it")
	}
	if m[2] != "5 per 10m" {
		t.Fatalf("the README sets %s=%q; this test counts 5 per 10m", m[1], m[2])
	}
	var (
		mu    sync.Mutex
		heard []string
	)
	pd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct {
			Payload struct{ Summary string } `json:"payload"`
		}
		if r.URL.Path != "/v2/change/enqueue" || json.NewDecoder(r.Body).Decode(&e) != nil {
			t.Errorf("PagerDuty got %s %s, want a change event", r.Method, r.URL.Path)
		}
		mu.Lock()
		heard = append(heard, e.Payload.Summary)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer pd.Close()
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw", m[1]: m[2],
		"PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef", "PAGERDUTY_API_URL": pd.URL})
	releases := func(app string, from, to int) string {
		var b strings.Builder
		for v := from; v < to; v++ {
			b.WriteString(frame(fmt.Sprintf("<190>1 %s host app api - Release v%d created by ops@example.com\n", time.Now().UTC().Format(time.RFC3339), v)))
		}
		return b.String()
	}
	if code := post(t, base+"/drain/shop", "s", releases("shop", 1, 9), nil); code != http.StatusNoContent {
		t.Fatalf("drain: %d", code)
	}
	if code := post(t, base+"/drain/blog", "s", releases("blog", 1, 2), nil); code != http.StatusNoContent {
		t.Fatalf("drain: %d", code)
	}
	sent := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Sorted(slices.Values(heard))
	}
	want := []string{"blog: release v1 by ops@example.com"}
	for v := 1; v <= 5; v++ {
		want = append(want, fmt.Sprintf("shop: release v%d by ops@example.com", v))
	}
	for deadline := time.Now().Add(15 * time.Second); len(sent()) < len(want) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if code := post(t, base+"/drain/shop", "s", releases("shop", 9, 11), nil); code != http.StatusNoContent {
		t.Fatalf("drain: %d", code)
	}
	time.Sleep(1500 * time.Millisecond) // what would go out does within it
	if got := sent(); !slices.Equal(got, want) {
		t.Errorf("PagerDuty heard %q, want %q", got, want)
	}
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.SetBasicAuth("prometheus", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `dynowatch_changes_dropped_total{reason="cap"} 5`; !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	if n := strings.Count(logs.String(), "PAGERDUTY_CHANGE_CAP allows"); n != 1 {
		t.Errorf("the cap logged %d times, want once:\n%s", n, logs)
	}
}

// TestChangeQueueIsBounded: with nothing writing (the store stuck), the
// queue of changes takes changeQueueRows rows and turns the rest away,
// counted and logged; at shutdown Run writes what it holds, uncapped when
// PAGERDUTY_CHANGE_CAP is off, before it returns.
func TestChangeQueueIsBounded(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load([]string{"PAGERDUTY_ROUTING_KEY=0123456789abcdef0123456789abcdef", "PAGERDUTY_CHANGE_CAP=off"})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := notify.Channels(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	st := storetest.MustOpenEmbedded(t)
	w := newChangeWriter(st, notify.ChangeChannels(ns), "", time.Now, newLogger(logs, false))
	var entries []parse.Entry
	for v := range changeQueueRows + 1 {
		e := parse.Entry{Kind: parse.KindRelease, Time: time.Now(), Message: fmt.Sprintf("Release v%d created by ops@example.com", v)}
		e.Platform.Version = fmt.Sprintf("v%d", v)
		entries = append(entries, e)
	}
	w.add("shop", entries)
	if w.Dropped() != 1 {
		t.Fatalf("Dropped = %d after %d rows, want 1", w.Dropped(), len(entries))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.Run(ctx)
	rows, err := st.ClaimOutbox(context.Background(), "test", time.Now().Add(time.Minute), time.Minute, store.MaxClaim)
	if err != nil || len(rows) != changeQueueRows {
		t.Errorf("the outbox after Run: %d rows, %v; want the %d queued", len(rows), err, changeQueueRows)
	}
	if !strings.Contains(logs.String(), "queue of changes to write was full") || !strings.Contains(logs.String(), "dropped=1") {
		t.Errorf("the rows turned away were not logged:\n%s", logs)
	}
}

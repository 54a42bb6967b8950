package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/metrics"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// TestReplayNeverPages keeps the README's promise that "replayed history
// fills the charts and events but never pages anyone": a file with a 5xx
// storm of the last minutes, replayed as the README shows, fires no window
// rule, and SILENCE does not fire a window later, because the replay moved
// no last-seen time (the dashboard shows no "last log: just now" either).
func TestReplayNeverPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "replay.db")
	env := envOf(map[string]string{"DYNOWATCH_DB": db}) // DATABASE_URL and DYNO unset
	now := time.Now().UTC().Truncate(time.Second)
	var lines []string
	for i := range 60 {
		ts := now.Add(-3*time.Minute + time.Duration(i)*2*time.Second).Format(time.RFC3339)
		lines = append(lines, fmt.Sprintf(`%s heroku[router]: at=info method=GET path="/" host=myapp.herokuapp.com fwd="1.2.3.4" dyno=web.1 connect=1ms service=9000ms status=500 bytes=10`, ts))
	}
	file := filepath.Join(dir, "myapp.log")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runMain(t, env, "", "replay", "--app", "myapp", file); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}

	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := storetest.MustOpen(t, store.Config{Path: db, MaxConns: 1, Logger: log})
	apps, err := st.Apps(ctx)
	if err != nil || len(apps) != 1 || apps[0].Messages != 60 {
		t.Fatalf("apps = %+v, %v; want myapp with 60 messages", apps, err)
	}
	if !apps[0].LastMessage.IsZero() {
		t.Errorf("last message = %v after a replay, want none: history is not a live drain", apps[0].LastMessage)
	}
	ws, err := st.WindowStats(ctx, "myapp", now.Add(-5*time.Minute), now.Add(time.Minute))
	if err != nil || ws.Status5xx != 60 {
		t.Fatalf("window = %+v, %v; want the replayed 5xx in the rollups (the charts show them)", ws, err)
	}

	al, err := newAlerting(&config.Config{Timezone: "UTC"}, alert.DefaultRules(), nil, log, st, metrics.New(), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{0, 16 * time.Minute, 40 * time.Minute} { // 5xx_rate's window, then silence's
		if err := al.evaluate(ctx, now.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	alerts, err := st.Alerts(ctx, store.AlertQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if a.Phase != alert.PhaseResolved || a.Notified {
			t.Errorf("replay raised %s (%s): %s", a.Key, a.Phase, a.Summary)
		}
	}
}

// Replaying a file twice stores it once (cmd_replay's promise), for a file
// of requests only too, whose batches keep no events: the second run, a new
// process with nothing in memory, finds each batch's key in the database.
func TestReplayTwiceCountsOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "replay.db")
	env := envOf(map[string]string{"DYNOWATCH_DB": db})
	now := time.Now().UTC().Truncate(time.Second)
	var lines []string
	for i := range 60 {
		ts := now.Add(-3*time.Minute + time.Duration(i)*2*time.Second).Format(time.RFC3339)
		lines = append(lines, fmt.Sprintf(`%s heroku[router]: at=info method=GET path="/" host=myapp.herokuapp.com fwd="1.2.3.4" dyno=web.1 connect=1ms service=9ms status=200 bytes=10`, ts))
	}
	file := filepath.Join(dir, "myapp.log")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, stderr, code := runMain(t, env, "", "replay", "--app", "myapp", file); code != 0 {
			t.Fatalf("replay: exit %d: %s", code, stderr)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := storetest.MustOpen(t, store.Config{Path: db, MaxConns: 1, Logger: log})
	ctx := context.Background()
	apps, err := st.Apps(ctx)
	if err != nil || len(apps) != 1 || apps[0].Messages != 60 {
		t.Fatalf("apps = %+v, %v; want myapp with 60 messages", apps, err)
	}
	ws, err := st.WindowStats(ctx, "myapp", now.Add(-5*time.Minute), now.Add(time.Minute))
	if err != nil || ws.Requests != 60 {
		t.Fatalf("window = %+v, %v; want 60 requests", ws, err)
	}
}

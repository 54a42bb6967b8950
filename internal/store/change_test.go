package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/parse"
	"github.com/dynowatch/dynowatch/internal/store"
)

// releases returns the change rows of app's releases from..to-1 (v1, v2
// …), for pagerduty and an uncapped channel, written at at.
func releases(t *testing.T, app string, from, to int, at time.Time) []alert.Outgoing {
	t.Helper()
	var entries []parse.Entry
	for v := from; v < to; v++ {
		e := parse.Entry{Kind: parse.KindRelease, Time: t0.Add(time.Duration(v) * time.Second), Message: fmt.Sprintf("Release v%d created by ops@example.com", v)}
		e.Platform.Version = fmt.Sprintf("v%d", v)
		entries = append(entries, e)
	}
	rows, err := notify.Changes(app, entries, []string{"pagerduty", "webhook"}, "", at)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestEnqueueChangesCapsEachApp: a channel's cap counts the changes of each
// app written within its span, those of earlier calls too; the rest come
// back, unwritten; a line written before is neither written nor counted
// again; a channel without a cap takes all; the span passed, the cap is
// whole again.
func TestEnqueueChangesCapsEachApp(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s *store.Store) {
		caps := map[string]config.StormCap{"pagerduty": {Max: 3, Per: 10 * time.Minute}}
		enqueue := func(rows []alert.Outgoing, at time.Time) []string {
			t.Helper()
			over, err := s.EnqueueChanges(ctx, rows, caps, at)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, o := range over {
				out = append(out, o.App+" "+o.Channel)
			}
			return out
		}
		count := func(app, channel string) int {
			t.Helper()
			n := 0
			for _, d := range mustOutbox(t, s, store.OutboxQuery{}) {
				if d.App == app && d.Channel == channel && d.Status == notify.StatusChange {
					n++
				}
			}
			return n
		}
		// Two releases, then the first of them again and three more: the
		// cap of 3 takes one more, two are over it.
		if over := enqueue(releases(t, "shop", 1, 3, t0), t0); len(over) != 0 {
			t.Fatalf("two releases under a cap of 3: %v over it", over)
		}
		over := enqueue(releases(t, "shop", 1, 6, t0.Add(time.Minute)), t0.Add(time.Minute))
		if diff := cmp.Diff([]string{"shop pagerduty", "shop pagerduty"}, over); diff != "" {
			t.Errorf("over the cap (-want +got):\n%s", diff)
		}
		// Another app has a cap of its own.
		if over := enqueue(releases(t, "blog", 1, 4, t0.Add(time.Minute)), t0.Add(time.Minute)); len(over) != 0 {
			t.Errorf("blog's three releases: %v over the cap", over)
		}
		if got := [4]int{count("shop", "pagerduty"), count("shop", "webhook"), count("blog", "pagerduty"), count("blog", "webhook")}; got != [4]int{3, 5, 3, 3} {
			t.Errorf("changes written (shop pagerduty, shop webhook, blog pagerduty, blog webhook) = %v, want [3 5 3 3]", got)
		}
		// The span after the first three: one more goes, the next is over.
		later := t0.Add(10*time.Minute + time.Second)
		if over := enqueue(releases(t, "shop", 6, 7, later), later); len(over) != 0 {
			t.Errorf("a release 10 minutes on: %v over the cap", over)
		}
		if over := enqueue(releases(t, "shop", 7, 9, later), later); len(over) != 1 {
			t.Errorf("two more releases then: %v over the cap, want one", over)
		}
		if n := count("shop", "pagerduty"); n != 5 {
			t.Errorf("shop's changes to pagerduty: %d, want 5", n)
		}
		if _, err := s.EnqueueChanges(ctx, releases(t, "shop", 9, 10, t0), caps, time.Time{}); err == nil {
			t.Error("EnqueueChanges at a zero time succeeded")
		}
	})
}

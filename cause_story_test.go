package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
)

// TestStorySharedCausePagesOnce: with the README's CHECK_DB of the app
// shop, the database stops answering. The check pages; the H12s and H13s,
// and the 5xx rate and slow requests they make, minutes later, are one
// message, each alert naming the failing check, not four pages. The
// dashboard's API lists them as alerts of their own, and when the errors
// stop they resolve on their own. On both databases.
func TestStorySharedCausePagesOnce(t *testing.T) {
	t.Parallel()
	example := readmeSetExample(t, "#### A shared cause pages once")
	if len(example) != 1 || !strings.HasPrefix(example[0], "CHECK_DB=postgres ") || !strings.Contains(example[0], " app=shop") {
		t.Fatalf("README's shared cause example is %q, want one CHECK_DB of a postgres check with app=shop", example)
	}
	// The check runs every second here, and the database is a port nothing
	// listens on.
	check := strings.NewReplacer("every=1m", "every=1s", "timeout=5s", "timeout=500ms").Replace(example[0])
	eachStoreOf(t, func(t *testing.T, st *store.Store) { sharedCauseStory(t, st, check) })
}

// sharedCauseStory is TestStorySharedCausePagesOnce on st with the
// CHECK_DB var check.
func sharedCauseStory(t *testing.T, st *store.Store, check string) {
	s := newStoryOn(t, st, check, "APP_DATABASE_URL=postgres://app@127.0.0.1:1/shop?sslmode=disable", "ALERT_SILENCE_ENABLED=false")
	s.runChecks(func() bool { return s.firing(alert.RuleCheck) })
	s.send()
	s.expect("firing shop check db")

	h12 := `heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/orders" host=shop.herokuapp.com request_id=a1 fwd="1.2.3.4" dyno=web.1 connect=0ms service=30000ms status=503 bytes=0`
	h13 := `heroku[router]: at=error code=H13 desc="Connection closed without response" method=GET path="/cart" host=shop.herokuapp.com request_id=a2 fwd="1.2.3.4" dyno=web.2 connect=0ms service=3ms status=503 bytes=0`
	// Minutes later, beyond the check's own group: an H12 would page at once.
	s.advance(3*time.Minute + 20*time.Second)
	s.log("shop", append(times(30, h12), times(5, h13)...)...)
	s.send()
	if n := len(s.received()); n != 1 {
		t.Fatalf("the H12s paged at once (%d messages), want them held to join the check's incident", n)
	}
	s.advance(2 * time.Minute)
	got := s.received()
	if len(got) != 2 {
		s.expect("firing shop check db", "firing shop h_codes H12 (with H13, 5xx_rate and slow_requests)")
		t.FailNow()
	}
	var joined []string
	for _, a := range got[1].Alerts {
		joined = append(joined, strings.TrimSpace(string(a.Rule)+" "+a.Code))
		if !strings.HasPrefix(a.Cause, "postgres check db failing (2 runs in a row): cannot connect to 127.0.0.1:1") {
			t.Errorf("joined alert %s %s names the cause %q, want the failing check", a.Rule, a.Code, a.Cause)
		}
	}
	effects := []string{"h_codes H12", "h_codes H13", "5xx_rate", "slow_requests"}
	if !sameSet(joined, effects) {
		t.Errorf("the second message holds %q, want %q", joined, effects)
	}
	if code, body := s.call("GET", "/api/v1/alerts?app=shop&state=firing", ""); code != 200 || !strings.Contains(body, `"H12"`) ||
		!strings.Contains(body, `"H13"`) || !strings.Contains(body, "5xx_rate") {
		t.Errorf("GET /api/v1/alerts = %d %s; want the joined alerts listed", code, body)
	}
	// The errors stop: the joined alerts resolve on their own, the check
	// still fails.
	s.advance(10 * time.Minute)
	var resolved []string
	for _, r := range s.received()[2:] {
		if r.Status == "resolved" {
			for _, a := range r.Alerts {
				resolved = append(resolved, strings.TrimSpace(string(a.Rule)+" "+a.Code))
			}
		}
	}
	if !sameSet(resolved, effects) || !s.firing(alert.RuleCheck) {
		t.Errorf("resolved %q with the check firing=%v; want %q resolved and the check still firing", resolved, s.firing(alert.RuleCheck), effects)
	}
}

// sameSet says whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s]--; seen[s] < 0 {
			return false
		}
	}
	return true
}

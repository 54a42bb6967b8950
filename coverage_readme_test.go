package main

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

// TestREADMECoverageExample: an app whose drain sends router lines and an
// L10 notice (counted in its batch's Logplex-Msg-Count, the second line of
// the body lost on the way), with no runtime or add-on metrics, gets the
// checklist the README shows, times aside.
func TestREADMECoverageExample(t *testing.T) {
	t.Parallel()
	m := regexp.MustCompile("`GET /api/v1/apps/shop/coverage` answers:\\s+`(\\{[^`]+\\})`").FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md no longer shows the GET /api/v1/apps/shop/coverage example")
	}
	var want any
	if err := json.Unmarshal([]byte(m[1]), &want); err != nil {
		t.Fatalf("README's coverage %s: %v", m[1], err)
	}
	base, _, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw"})

	ts := time.Now().UTC().Format(time.RFC3339Nano)
	body := frame("<158>1 "+ts+" host heroku router - at=info method=GET path=\"/users?page=2\" host=shop.example.com request_id=ef4c3d68-b23e-4621-934d-496a62f5cedd fwd=\"124.183.145.40\" dyno=web.1 connect=1ms service=479ms status=200 bytes=14200 protocol=https\n") +
		frame("<172>1 "+ts+" host heroku logplex - Error L10 (output buffer overflow): 500 messages dropped since "+time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)+".\n")
	if code := post(t, base+"/drain/shop", "s", body, map[string]string{"Logplex-Msg-Count": "3", "Logplex-Frame-Id": "f1"}); code != 204 {
		t.Fatalf("drain: %d", code)
	}
	timesAside(want)
	w, _ := json.Marshal(want)
	// The router line's counts and the app's state (its last message, the
	// Msg-Count gap) reach the store with the next rollup flush, one write
	// after the other: wait for the whole answer.
	var g []byte
	for deadline := time.Now().Add(15 * time.Second); ; {
		var got map[string]any
		getJSON(t, base+"/api/v1/apps/shop/coverage", "pw", &got)
		timesAside(got)
		g, _ = json.Marshal(got)
		if string(g) == string(w) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if string(g) != string(w) {
		t.Errorf("coverage\n%s\nwant the README's (times aside)\n%s", g, w)
	}
}

// timesAside drops the since and last times of a coverage's items.
func timesAside(c any) {
	m, _ := c.(map[string]any)
	items, _ := m["items"].([]any)
	for _, it := range items {
		if it, ok := it.(map[string]any); ok {
			delete(it, "since")
			delete(it, "last")
		}
	}
}

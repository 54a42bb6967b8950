package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// readmeCheckAPI returns the README's CHECK_API example, so that the test
// runs what the README tells people to write.
func readmeCheckAPI(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`CHECK_API="([^"]+)"`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no CHECK_API example")
	}
	return string(m[1])
}

// hookMessage is what a webhook receiver reads of a notification.
type hookMessage struct {
	Status string `json:"status"`
	App    string `json:"app"`
	Rule   string `json:"rule"`
	Code   string `json:"code"`
	URL    string `json:"url"`
	Alerts []struct {
		Key      string `json:"key"`
		Code     string `json:"code"`
		Severity string `json:"severity"`
	} `json:"alerts"`
	Severity string `json:"severity"`
}

// webhookReceiver is an httptest webhook that hands on every message it gets.
func webhookReceiver(t *testing.T) (url string, got <-chan hookMessage) {
	t.Helper()
	c := make(chan hookMessage, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m hookMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		c <- m
	}))
	t.Cleanup(srv.Close)
	return srv.URL, c
}

func nextMessage(t *testing.T, got <-chan hookMessage, within time.Duration, logs *syncBuffer) hookMessage {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(within):
		t.Fatalf("no webhook within %v; logs:\n%s", within, logs)
	}
	return hookMessage{}
}

// TestREADMECheckWithoutAppFiresThenResolves: dynowatch started with only
// the README's CHECK_API example (no app=) pointing at a failing endpoint
// and ALERT_WEBHOOK_URL set delivers a firing that links to the checks
// page, then a resolved once the endpoint recovers. Its runs are every=30s
// as written, so this takes a minute.
func TestREADMECheckWithoutAppFiresThenResolves(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the README's every=30s check for a minute")
	}
	var healthy atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer target.Close()
	example := readmeCheckAPI(t)
	check := strings.Replace(example, "https://myapp.herokuapp.com", target.URL, 1)
	if check == example || strings.Contains(example, "app=") {
		t.Fatalf("the README's CHECK_API example changed: %s", example)
	}
	hook, got := webhookReceiver(t)
	_, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw",
		"CHECK_API": check, "ALERT_WEBHOOK_URL": hook})

	// fail=2 by default: the second run, 30 s after the first, fires.
	m := nextMessage(t, got, 45*time.Second, logs)
	if m.Status != "firing" || m.App != "" || m.Rule != "check" || m.Code != "api" || !strings.HasSuffix(m.URL, "/checks") {
		t.Fatalf("first message = %+v, want the api check firing, linking to /checks", m)
	}
	healthy.Store(true)
	m = nextMessage(t, got, 45*time.Second, logs)
	if m.Status != "resolved" || m.Code != "api" {
		t.Fatalf("second message = %+v, want the api check resolved", m)
	}
	select {
	case m := <-got:
		t.Errorf("a third message: %+v", m)
	case <-time.After(time.Second):
	}
}

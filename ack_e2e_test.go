package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSlackButtonAcksThroughTheServer: with SLACK_SIGNING_SECRET set, the
// server takes the Slack app's interactivity at /slack/interactions without
// the dashboard password: a click signed as Slack signs it acknowledges the
// alert as the Slack user, and the webhook hears who; an unsigned one is
// refused.
func TestSlackButtonAcksThroughTheServer(t *testing.T) {
	t.Parallel()
	got := make(chan map[string]any, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n map[string]any
		json.NewDecoder(r.Body).Decode(&n)
		got <- n
	}))
	defer hook.Close()
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw", "ALERT_WEBHOOK_URL": hook.URL,
		"ALERT_GROUP_WAIT": "0s", "SLACK_SIGNING_SECRET": "slack-signing-secret"})
	ts := time.Now().UTC().Format(time.RFC3339)
	if code := post(t, base+"/drain/my-app", "s", frame("<45>1 "+ts+" host heroku web.1 - Error R14 (Memory quota exceeded)\n"), nil); code != 204 {
		t.Fatalf("drain: %d", code)
	}
	wait := func(status string) map[string]any {
		t.Helper()
		select {
		case n := <-got:
			if n["status"] != status {
				t.Fatalf("webhook got %v, want %s", n, status)
			}
			return n
		case <-time.After(15 * time.Second):
			t.Fatalf("no %s within 15 s; logs:\n%s", status, logs)
		}
		return nil
	}
	fired := wait("firing")
	if fired["ack_url"] != nil {
		t.Errorf("an ack_url %v without DYNOWATCH_URL", fired["ack_url"])
	}
	// The button's value, as the Slack message of this firing carries it:
	// the key and the second its episode started.
	started, err := time.Parse(time.RFC3339Nano, fired["alerts"].([]any)[0].(map[string]any)["started_at"].(string))
	if err != nil {
		t.Fatalf("the firing's started_at: %v", err)
	}
	value := "r14|my-app|web.1 " + strconv.FormatInt(started.Unix(), 10)
	body := "payload=" + url.QueryEscape(`{"type":"block_actions","user":{"id":"U2CERLKJA","username":"ana","name":"ana"},"actions":[{"action_id":"dynowatch_ack","value":"`+value+`"}]}`)
	click := func(secret string) int {
		t.Helper()
		stamp := strconv.FormatInt(time.Now().Unix(), 10)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte("v0:" + stamp + ":" + body))
		req, _ := http.NewRequest("POST", base+"/slack/interactions", strings.NewReader(body))
		req.Header.Set("X-Slack-Request-Timestamp", stamp)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := click("guessed"); code != http.StatusUnauthorized {
		t.Fatalf("a click not signed by Slack: %d, want 401", code)
	}
	if code := click("slack-signing-secret"); code != http.StatusOK {
		t.Fatalf("the click: %d", code)
	}
	if n := wait("acknowledged"); n["acked_by"] != "ana (Slack U2CERLKJA)" {
		t.Fatalf("acknowledged by %v, want ana (Slack U2CERLKJA)", n["acked_by"])
	}
}

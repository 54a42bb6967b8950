package ack

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/store"
)

// Slack's documented example ("Verifying requests from Slack"): this
// signing secret, timestamp and slash-command body are signed
// v0=a2114d57….
const (
	slackDocSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	slackDocTimestamp = "1531420618"
	slackDocBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	slackDocSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

func slackHeader(ts, sig string) http.Header {
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", sig)
	return h
}

// TestVerifySlackTestVector: Slack's own example verifies, within five
// minutes of its timestamp, and nothing changed about it does.
func TestVerifySlackTestVector(t *testing.T) {
	at := time.Unix(1531420618, 0)
	body := []byte(slackDocBody)
	for _, tc := range []struct {
		name    string
		h       http.Header
		body    []byte
		now     time.Time
		refused bool
	}{
		{"as documented", slackHeader(slackDocTimestamp, slackDocSignature), body, at, false},
		{"4m59s later", slackHeader(slackDocTimestamp, slackDocSignature), body, at.Add(SlackTolerance - time.Second), false},
		{"5m01s later: a replay", slackHeader(slackDocTimestamp, slackDocSignature), body, at.Add(SlackTolerance + time.Second), true},
		{"from the future", slackHeader(slackDocTimestamp, slackDocSignature), body, at.Add(-SlackTolerance - time.Second), true},
		{"body changed", slackHeader(slackDocTimestamp, slackDocSignature), append([]byte(slackDocBody), '&'), at, true},
		{"timestamp changed", slackHeader("1531420619", slackDocSignature), body, at, true},
		{"no v0=", slackHeader(slackDocTimestamp, slackDocSignature[3:]), body, at, true},
		{"no signature", slackHeader(slackDocTimestamp, ""), body, at, true},
		{"no timestamp", slackHeader("", slackDocSignature), body, at, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifySlack(slackDocSecret, tc.h, tc.body, tc.now)
			if refused := errors.Is(err, ErrSlackSignature); refused != tc.refused || (err != nil && !refused) {
				t.Fatalf("VerifySlack = %v, want refused %v", err, tc.refused)
			}
		})
	}
	if err := VerifySlack("another secret", slackHeader(slackDocTimestamp, slackDocSignature), body, at); err == nil {
		t.Fatal("verified under another secret")
	}
}

// signSlack is a request as Slack sends it: signed with secret at now.
func signSlack(t *testing.T, srv string, secret string, now time.Time, body string) *http.Response {
	t.Helper()
	ts := strconv.FormatInt(now.Unix(), 10)
	req, _ := http.NewRequest("POST", srv+"/slack/interactions", bytes.NewReader([]byte(body)))
	req.Header = slackHeader(ts, "v0="+hex.EncodeToString(slackSignature(secret, ts, []byte(body))))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestSlackButtonAcks: a click of the Acknowledge button, as Slack posts
// it (a block_actions payload, signed), acknowledges the alert as the user
// who clicked; a forged or replayed one is refused and acks nothing.
func TestSlackButtonAcks(t *testing.T) {
	now := t0.Add(time.Minute)
	srv, _, st := pageServer(t, &now, "slack-signing-secret")
	click := func(value string) string {
		payload := `{"type":"block_actions","user":{"id":"U2CERLKJA","username":"ana","name":"ana"},"team":{"id":"T1DC2JH3J"},` +
			`"actions":[{"type":"button","action_id":"dynowatch_ack","block_id":"b","value":"` + value + `","action_ts":"1531420618.123"}],` +
			`"response_url":"https://hooks.slack.com/actions/T1DC2JH3J/1/x"}`
		return "payload=" + url.QueryEscape(payload)
	}
	body := click("r14|shop-prod|web.1 " + strconv.FormatInt(t0.Unix(), 10))
	// The button of an earlier episode (its message's resolved edit lost)
	// and one without an episode ack nothing.
	for _, value := range []string{"r14|shop-prod|web.1 " + strconv.FormatInt(t0.Add(-time.Hour).Unix(), 10), "r14|shop-prod|web.1"} {
		if resp := signSlack(t, srv.URL, "slack-signing-secret", now, click(value)); resp.StatusCode != http.StatusOK {
			t.Errorf("the click of %q: %d, want 200 (Slack shows errors to the clicker)", value, resp.StatusCode)
		}
	}
	for _, tc := range []struct {
		name   string
		secret string
		at     time.Time
	}{
		{"forged", "guessed", now},
		{"replayed", "slack-signing-secret", now.Add(-10 * time.Minute)},
	} {
		if resp := signSlack(t, srv.URL, tc.secret, tc.at, body); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", tc.name, resp.StatusCode)
		}
	}
	if a, _, _ := st.Alert(context.Background(), "r14|shop-prod|web.1"); a.Acked() {
		t.Fatalf("acknowledged by %q through a refused request", a.Ack.By)
	}
	if resp := signSlack(t, srv.URL, "slack-signing-secret", now, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("the click: %d", resp.StatusCode)
	}
	a, _, _ := st.Alert(context.Background(), "r14|shop-prod|web.1")
	if want := fmt.Sprintf("ana (Slack %s)", "U2CERLKJA"); a.Ack.By != want || !a.Ack.At.Equal(now) {
		t.Fatalf("ack %+v, want by %q at %v", a.Ack, want, now)
	}
	signSlack(t, srv.URL, "slack-signing-secret", now, body) // a second click changes nothing
	audit, err := st.Audit(context.Background(), store.AuditQuery{})
	if err != nil || len(audit) != 1 || audit[0].Actor != "slack" || audit[0].Detail != "as ana (Slack U2CERLKJA)" {
		t.Fatalf("audit log %+v, %v; want the click's ack once", audit, err)
	}
}

// FuzzVerifySlack: no header or body makes VerifySlack panic, and what it
// accepts is signed with the secret.
func FuzzVerifySlack(f *testing.F) {
	f.Add(slackDocTimestamp, slackDocSignature, []byte(slackDocBody))
	f.Add("", "", []byte{})
	f.Add("-99999999999999", "v0=zz", []byte("payload=%7B%7D"))
	at := time.Unix(1531420618, 0)
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		if VerifySlack(slackDocSecret, slackHeader(ts, sig), body, at) != nil {
			return
		}
		// hex.DecodeString reads upper case too.
		if want := hex.EncodeToString(slackSignature(slackDocSecret, ts, body)); !strings.HasPrefix(sig, "v0=") || !strings.EqualFold(sig[3:], want) {
			t.Fatalf("accepted %q for %q, signed v0=%s", sig, body, want)
		}
	})
}

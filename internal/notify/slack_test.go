package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const slackTestToken = "xoxb-111-222-slacktesttoken"

// slackAPI fakes Slack's Web API: chat.postMessage and chat.update with a
// bot token, answering as Slack does (HTTP 200 with ok false on refusals).
func slackAPI(t *testing.T) *fakeProvider {
	messages := map[string]bool{}
	n := 0
	return newFakeProvider(t, func(r chatRequest) (int, http.Header, string) {
		switch {
		case r.Method != http.MethodPost:
			return 405, nil, ""
		case r.Header.Get("Authorization") != "Bearer "+slackTestToken:
			return 200, nil, `{"ok":false,"error":"invalid_auth"}`
		case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
			return 200, nil, `{"ok":false,"error":"invalid_form_data"}`
		case str(r.Body, "text") == "" || str(r.Body, "attachments", 0, "color") == "":
			return 200, nil, `{"ok":false,"error":"no_text"}`
		}
		switch r.Path {
		case "/api/chat.postMessage":
			if ch := str(r.Body, "channel"); ch != "C0DYNO" && ch != "#ops" {
				return 200, nil, `{"ok":false,"error":"channel_not_found"}`
			}
			n++
			ts := fmt.Sprintf("1700000000.%06d", n)
			messages[ts] = true
			return 200, nil, `{"ok":true,"channel":"C0DYNO","ts":"` + ts + `","message":{"type":"message"}}`
		case "/api/chat.update":
			if str(r.Body, "channel") != "C0DYNO" || !messages[str(r.Body, "ts")] {
				return 200, nil, `{"ok":false,"error":"message_not_found"}`
			}
			return 200, nil, `{"ok":true,"channel":"C0DYNO","ts":"` + str(r.Body, "ts") + `","text":"edited"}`
		}
		return 404, nil, "Not Found"
	})
}

func newTestSlack(t *testing.T, api string) *Slack {
	t.Helper()
	s, err := NewSlack(SlackOptions{Token: slackTestToken, Channel: "#ops", APIURL: api + "/api"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSlackEditsOneMessage: an incident is one chat.postMessage, then
// chat.update of the same ts for the reminder and the resolution.
func TestSlackEditsOneMessage(t *testing.T) {
	api := slackAPI(t)
	refs := incident(t, newTestSlack(t, api.srv.URL))
	want := MessageRef{ID: "C0DYNO 1700000000.000001"}
	for i, r := range refs {
		if r != want {
			t.Errorf("ref %d = %+v, want %+v", i, r, want)
		}
	}
	got := api.requests()
	if len(got) != 3 || got[0].Path != "/api/chat.postMessage" || got[1].Path != "/api/chat.update" || got[2].Path != "/api/chat.update" {
		t.Fatalf("requests = %+v, want a post and two updates", got)
	}
	if str(got[0].Body, "channel") != "#ops" || str(got[2].Body, "ts") != "1700000000.000001" || str(got[2].Body, "channel") != "C0DYNO" {
		t.Errorf("post to %q, update of %q in %q", str(got[0].Body, "channel"), str(got[2].Body, "ts"), str(got[2].Body, "channel"))
	}
	if title := str(got[2].Body, "text"); !strings.HasPrefix(title, "✅ RESOLVED") || str(got[2].Body, "attachments", 0, "color") != "#1a7f37" {
		t.Errorf("last edit says %q in %s, want it resolved in green", title, str(got[2].Body, "attachments", 0, "color"))
	}
}

// TestSlackFollowsUpAGroupInItsThread: a reminder of one alert of a grouped
// message is a reply in its thread, which would otherwise hide the others.
func TestSlackFollowsUpAGroupInItsThread(t *testing.T) {
	api := slackAPI(t)
	s := newTestSlack(t, api.srv.URL)
	first, _, err := s.NotifyIncident(context.Background(), fixtureGrouped(), MessageRef{})
	if err != nil {
		t.Fatal(err)
	}
	first.Grouped = true
	ref, _, err := s.NotifyIncident(context.Background(), fixtureResolved(), first)
	if err != nil || ref != first {
		t.Fatalf("follow-up: %+v, %v; want the group's ref kept", ref, err)
	}
	got := api.requests()
	if len(got) != 2 || got[1].Path != "/api/chat.postMessage" || str(got[1].Body, "thread_ts") != "1700000000.000001" {
		t.Fatalf("requests = %+v, want a reply in the group's thread", got)
	}
}

// TestSlackPostsAnewWhenTheMessageIsGone: an update Slack refuses with
// message_not_found (deleted) posts a new message and returns its ref.
func TestSlackPostsAnewWhenTheMessageIsGone(t *testing.T) {
	api := slackAPI(t)
	ref, _, err := newTestSlack(t, api.srv.URL).NotifyIncident(context.Background(), fixtureResolved(), MessageRef{ID: "C0DYNO 1600000000.000009"})
	if err != nil || ref.ID != "C0DYNO 1700000000.000001" {
		t.Fatalf("= %+v, %v; want a new message", ref, err)
	}
}

func TestSlackFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		header    http.Header
		body      string
		retry     bool
		text      string
		retryWait time.Duration
	}{
		{"channel not found", 200, nil, `{"ok":false,"error":"channel_not_found"}`, false, "channel_not_found", 0},
		{"bot not in channel", 200, nil, `{"ok":false,"error":"not_in_channel"}`, false, "not_in_channel", 0},
		{"token revoked", 200, nil, `{"ok":false,"error":"token_revoked"}`, false, "token_revoked", 0},
		{"internal error", 200, nil, `{"ok":false,"error":"internal_error"}`, true, "internal_error", 0},
		{"rate limited", 429, http.Header{"Retry-After": {"30"}}, ``, true, "429", 30 * time.Second},
		{"server error", 503, nil, `upstream down`, true, "503", 0},
		{"not Slack", 200, nil, `<html>proxy</html>`, true, "not Slack's JSON", 0},
	} {
		api := newFakeProvider(t, func(chatRequest) (int, http.Header, string) { return tc.status, tc.header, tc.body })
		s := newTestSlack(t, api.srv.URL)
		checkFailure(t, tc.name, func() (bool, error) { return s.Notify(context.Background(), fixtureFiring()) }, tc.retry, tc.text, tc.retryWait)
	}
}

// TestSlackWebhook: an incoming webhook gets the message without a channel;
// it can't edit, so the reminder and resolution are follow-ups naming the
// first message; its plain-text refusals are errors.
func TestSlackWebhook(t *testing.T) {
	hook := newFakeProvider(t, func(r chatRequest) (int, http.Header, string) {
		if r.Method != http.MethodPost || r.Path != "/services/T000/B000/hooktoken" || r.Header.Get("Authorization") != "" {
			return 404, nil, "no_service"
		}
		return 200, nil, "ok"
	})
	s, err := NewSlack(SlackOptions{WebhookURL: hook.srv.URL + "/services/T000/B000/hooktoken"})
	if err != nil {
		t.Fatal(err)
	}
	refs := incident(t, s)
	got := hook.requests()
	if len(got) != 3 || str(got[0].Body, "channel") != "" {
		t.Fatalf("requests = %+v, want three posts without a channel", got)
	}
	first := "FIRING critical: R14 memory quota exceeded: rss 612MB of 512MB on shop web.1, sent 2025-03-14 10:26:05 CET"
	if refs[0].ID != first || refs[2] != refs[0] {
		t.Errorf("refs = %+v, want each naming the first message", refs)
	}
	follow := str(got[2].Body, "attachments", 0, "blocks", 1, "text", "text")
	if !strings.Contains(follow, "Follows: "+first) {
		t.Errorf("follow-up says %q, want it to name the first message", follow)
	}

	gone := newFakeProvider(t, func(chatRequest) (int, http.Header, string) { return 404, nil, "channel_not_found" })
	s, _ = NewSlack(SlackOptions{WebhookURL: gone.srv.URL + "/services/T000/B000/hooktoken"})
	checkFailure(t, "webhook 404", func() (bool, error) { return s.Notify(context.Background(), fixtureFiring()) }, false, "channel_not_found", 0)
}

func TestNewSlackRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]SlackOptions{
		"nothing":          {},
		"token no channel": {Token: slackTestToken},
		"token and hook":   {Token: slackTestToken, Channel: "C1", WebhookURL: "https://hooks.slack.com/services/x"},
		"hook not a URL":   {WebhookURL: "hooks.slack.com/services/x"},
	} {
		if _, err := NewSlack(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSlackSwitchingBetweenWebhookAndBot: an incident begun through the
// webhook goes on with a new message once a bot token replaces it (there
// is no ts to edit), and one begun by the bot goes on through the webhook
// with a full message, not a follow-up naming a ts.
func TestSlackSwitchingBetweenWebhookAndBot(t *testing.T) {
	api := slackAPI(t)
	webhookRef := MessageRef{ID: "FIRING critical: R14 … on shop web.1, sent 2025-03-14 10:26:05 CET"}
	ref, _, err := newTestSlack(t, api.srv.URL).NotifyIncident(context.Background(), fixtureResolved(), webhookRef)
	if err != nil || ref.ID != "C0DYNO 1700000000.000001" {
		t.Fatalf("bot after webhook: %+v, %v; want a new message", ref, err)
	}
	if got := api.requests(); len(got) != 1 || got[0].Path != "/api/chat.postMessage" {
		t.Fatalf("bot after webhook: requests %+v", got)
	}
	hook := newFakeProvider(t, func(chatRequest) (int, http.Header, string) { return 200, nil, "ok" })
	s, _ := NewSlack(SlackOptions{WebhookURL: hook.srv.URL + "/services/T/B/x"})
	if _, _, err := s.NotifyIncident(context.Background(), fixtureResolved(), MessageRef{ID: "C0DYNO 1700000000.000001"}); err != nil {
		t.Fatal(err)
	}
	if body := hook.requests()[0].Body; strings.Contains(fmt.Sprint(body), "Follows:") {
		t.Errorf("webhook after bot follows up on a ts: %v", body)
	}
}

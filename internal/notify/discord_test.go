package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const discordTestPath = "/api/webhooks/123456789012345678/discordtesttoken"

// discordAPI fakes a Discord webhook: POST ?wait=true answers the message,
// PATCH …/messages/{id} edits one, an unknown one is {"code": 10008}.
func discordAPI(t *testing.T) *fakeProvider {
	messages := map[string]bool{}
	n := 0
	return newFakeProvider(t, func(r chatRequest) (int, http.Header, string) {
		if len(r.Body["embeds"].([]any)) != 1 || str(r.Body, "embeds", 0, "title") == "" {
			return 400, nil, `{"code": 50035, "errors": {}, "message": "Invalid Form Body"}`
		}
		if _, ok := r.Body["allowed_mentions"]; !ok {
			t.Errorf("%s without allowed_mentions: a log line could ping everyone", r.Method)
		}
		switch {
		case r.Method == http.MethodPost && r.Path == discordTestPath:
			if r.Query != "wait=true" {
				return 204, nil, ""
			}
			n++
			id := fmt.Sprint(1130000000000000000 + n)
			messages[id] = true
			return 200, nil, `{"id":"` + id + `","type":0,"channel_id":"987","webhook_id":"123456789012345678"}`
		case r.Method == http.MethodPatch && strings.HasPrefix(r.Path, discordTestPath+"/messages/"):
			id := strings.TrimPrefix(r.Path, discordTestPath+"/messages/")
			if !messages[id] {
				return 404, nil, `{"message": "Unknown Message", "code": 10008}`
			}
			if _, ok := r.Body["username"]; ok {
				return 400, nil, `{"code": 50035, "errors": {}, "message": "Invalid Form Body"}`
			}
			return 200, nil, `{"id":"` + id + `","type":0}`
		}
		return 404, nil, `{"message": "Unknown Webhook", "code": 10015}`
	})
}

func newTestDiscord(t *testing.T, base string) *Discord {
	t.Helper()
	d, err := NewDiscord(DiscordOptions{WebhookURL: base + discordTestPath})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDiscordEditsOneMessage(t *testing.T) {
	api := discordAPI(t)
	refs := incident(t, newTestDiscord(t, api.srv.URL))
	for i, r := range refs {
		if r.ID != "1130000000000000001" {
			t.Errorf("ref %d = %+v, want the first message's", i, r)
		}
	}
	got := api.requests()
	if len(got) != 3 || got[0].Method != http.MethodPost || got[1].Method != http.MethodPatch || got[2].Path != discordTestPath+"/messages/1130000000000000001" {
		t.Fatalf("requests = %+v, want a post and two edits of it", got)
	}
	if title := str(got[2].Body, "embeds", 0, "title"); !strings.HasPrefix(title, "✅ RESOLVED") || got[2].Body["embeds"].([]any)[0].(map[string]any)["color"] != float64(0x1a7f37) {
		t.Errorf("last edit = %q in %v, want it resolved in green", title, got[2].Body["embeds"])
	}
}

func TestDiscordPostsAnewWhenTheMessageIsGone(t *testing.T) {
	api := discordAPI(t)
	ref, _, err := newTestDiscord(t, api.srv.URL).NotifyIncident(context.Background(), fixtureResolved(), MessageRef{ID: "42"})
	if err != nil || ref.ID != "1130000000000000001" {
		t.Fatalf("= %+v, %v; want a new message", ref, err)
	}
}

func TestDiscordFollowsUpAGroup(t *testing.T) {
	api := discordAPI(t)
	d := newTestDiscord(t, api.srv.URL)
	first, _, err := d.NotifyIncident(context.Background(), fixtureGrouped(), MessageRef{})
	if err != nil {
		t.Fatal(err)
	}
	first.Grouped = true
	if ref, _, err := d.NotifyIncident(context.Background(), fixtureResolved(), first); err != nil || ref != first {
		t.Fatalf("follow-up: %+v, %v", ref, err)
	}
	if got := api.requests(); len(got) != 2 || got[1].Method != http.MethodPost || !strings.Contains(str(got[1].Body, "embeds", 0, "description"), "Follows:") {
		t.Fatalf("requests = %+v, want a second post that follows up", got)
	}
}

func TestDiscordFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		retry  bool
		text   string
		wait   time.Duration
	}{
		{"unknown webhook", 404, nil, `{"message": "Unknown Webhook", "code": 10015}`, false, "Unknown Webhook (code 10015)", 0},
		{"invalid body", 400, nil, `{"code": 50035, "errors": {}, "message": "Invalid Form Body"}`, false, "Invalid Form Body", 0},
		{"rate limited", 429, http.Header{"Retry-After": {"2"}}, `{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}`, true, "rate limited", 2 * time.Second},
		{"rate limited, body only", 429, nil, `{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}`, true, "429", 1500 * time.Millisecond},
		{"bad gateway", 502, nil, `<html>502</html>`, true, "502", 0},
	} {
		api := newFakeProvider(t, func(chatRequest) (int, http.Header, string) { return tc.status, tc.header, tc.body })
		d := newTestDiscord(t, api.srv.URL)
		checkFailure(t, tc.name, func() (bool, error) { return d.Notify(context.Background(), fixtureFiring()) }, tc.retry, tc.text, tc.wait)
	}
}

func TestNewDiscordRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]DiscordOptions{
		"nothing":       {},
		"not a webhook": {WebhookURL: "https://discord.com/channels/1/2"},
	} {
		if _, err := NewDiscord(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

package notify

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const telegramTestToken = "123456789:AAtelegramtesttoken"

// telegramAPI fakes the Bot API: sendMessage and editMessageText under
// /bot<token>/, answering {"ok":false,"error_code":…,"description":…} with
// the same HTTP status on refusals, as Telegram does.
func telegramAPI(t *testing.T) *fakeProvider {
	texts := map[float64]string{}
	return newFakeProvider(t, func(r chatRequest) (int, http.Header, string) {
		method, ok := strings.CutPrefix(r.Path, "/bot"+telegramTestToken+"/")
		switch {
		case !ok:
			return 401, nil, `{"ok":false,"error_code":401,"description":"Unauthorized"}`
		case r.Method != http.MethodPost || str(r.Body, "parse_mode") != "HTML" || str(r.Body, "text") == "":
			return 400, nil, `{"ok":false,"error_code":400,"description":"Bad Request: message text is empty"}`
		case str(r.Body, "chat_id") != "-1001234567890":
			return 400, nil, `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`
		}
		switch method {
		case "sendMessage":
			id := float64(len(texts) + 100)
			texts[id] = str(r.Body, "text")
			return 200, nil, `{"ok":true,"result":{"message_id":` + strconv.Itoa(int(id)) + `,"chat":{"id":-1001234567890,"type":"supergroup"},"date":1700000000,"text":"…"}}`
		case "editMessageText":
			id, _ := r.Body["message_id"].(float64)
			old, ok := texts[id]
			switch {
			case !ok:
				return 400, nil, `{"ok":false,"error_code":400,"description":"Bad Request: message to edit not found"}`
			case old == str(r.Body, "text"):
				return 400, nil, `{"ok":false,"error_code":400,"description":"Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"}`
			}
			texts[id] = str(r.Body, "text")
			return 200, nil, `{"ok":true,"result":{"message_id":` + strconv.Itoa(int(id)) + `,"chat":{"id":-1001234567890,"type":"supergroup"},"date":1700000000,"edit_date":1700000100,"text":"…"}}`
		}
		return 404, nil, `{"ok":false,"error_code":404,"description":"Not Found"}`
	})
}

func newTestTelegram(t *testing.T, api string) *Telegram {
	t.Helper()
	tg, err := NewTelegram(TelegramOptions{Token: telegramTestToken, ChatID: "-1001234567890", APIURL: api})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestTelegramEditsOneMessage(t *testing.T) {
	api := telegramAPI(t)
	tg := newTestTelegram(t, api.srv.URL)
	refs := incident(t, tg)
	for i, r := range refs {
		if r.ID != "-1001234567890 100" {
			t.Errorf("ref %d = %+v, want the first message's", i, r)
		}
	}
	got := api.requests()
	if len(got) != 3 || !strings.HasSuffix(got[0].Path, "/sendMessage") || !strings.HasSuffix(got[2].Path, "/editMessageText") || got[2].Body["message_id"] != float64(100) {
		t.Fatalf("requests = %+v, want a send and two edits of it", got)
	}
	if text := str(got[2].Body, "text"); !strings.HasPrefix(text, "<b>✅ RESOLVED") {
		t.Errorf("last edit says %q, want it resolved", text)
	}
	// A retry of an edit that got through: Telegram says not modified.
	if ref, _, err := tg.NotifyIncident(context.Background(), fixtureResolved(), refs[2]); err != nil || ref != refs[2] {
		t.Errorf("repeated edit = %+v, %v; want success", ref, err)
	}
	// An edit of a message gone sends a new one.
	if ref, _, err := tg.NotifyIncident(context.Background(), fixtureResolved(), MessageRef{ID: "-1001234567890 7"}); err != nil || ref.ID != "-1001234567890 101" {
		t.Errorf("edit of a message gone = %+v, %v; want a new message", ref, err)
	}
}

func TestTelegramRepliesToAGroup(t *testing.T) {
	api := telegramAPI(t)
	tg := newTestTelegram(t, api.srv.URL)
	first, _, err := tg.NotifyIncident(context.Background(), fixtureGrouped(), MessageRef{})
	if err != nil {
		t.Fatal(err)
	}
	first.Grouped = true
	if ref, _, err := tg.NotifyIncident(context.Background(), fixtureResolved(), first); err != nil || ref != first {
		t.Fatalf("follow-up: %+v, %v", ref, err)
	}
	got := api.requests()
	if reply, _ := got[1].Body["reply_parameters"].(map[string]any); len(got) != 2 || reply["message_id"] != float64(100) {
		t.Fatalf("requests = %+v, want a reply to the group's message", got)
	}
}

func TestTelegramFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		retry  bool
		text   string
		wait   time.Duration
	}{
		{"chat not found", 400, `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`, false, "chat not found", 0},
		{"bad token", 401, `{"ok":false,"error_code":401,"description":"Unauthorized"}`, false, "Unauthorized", 0},
		{"bot blocked", 403, `{"ok":false,"error_code":403,"description":"Forbidden: bot was kicked from the supergroup chat"}`, false, "kicked", 0},
		{"flood", 429, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 17","parameters":{"retry_after":17}}`, true, "retry after 17", 17 * time.Second},
		{"server error", 502, `Bad Gateway`, true, "502", 0},
	} {
		api := newFakeProvider(t, func(chatRequest) (int, http.Header, string) { return tc.status, nil, tc.body })
		tg := newTestTelegram(t, api.srv.URL)
		checkFailure(t, tc.name, func() (bool, error) { return tg.Notify(context.Background(), fixtureFiring()) }, tc.retry, tc.text, tc.wait)
	}
}

func TestNewTelegramRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]TelegramOptions{
		"no token":    {ChatID: "1"},
		"no chat":     {Token: telegramTestToken},
		"bad API URL": {Token: telegramTestToken, ChatID: "1", APIURL: "api.telegram.org"},
	} {
		if _, err := NewTelegram(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/store"
)

// chatFake is Slack's Web API and incoming webhooks, Discord webhooks, the
// Telegram Bot API and a Teams workflow in one server, each at the path the
// real one has: it keeps every message it was sent, with each version an
// edit made of it, by title.
type chatFake struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	heard    []string            // "METHOD path credential" of every request
	messages map[string][]string // message id: its title, then each edit's
	order    []string            // message ids, oldest first
}

func newChatFake(t *testing.T) *chatFake {
	f := &chatFake{t: t, messages: map[string][]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *chatFake) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.t.Errorf("%s %s: body: %v", r.Method, r.URL.Path, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	path := r.URL.Path
	cred := r.Header.Get("Authorization")
	f.heard = append(f.heard, strings.TrimSpace(r.Method+" "+path+" "+cred))
	post := func(title string) string {
		id := fmt.Sprint(len(f.order) + 1)
		f.order = append(f.order, id)
		f.messages[id] = []string{title}
		return id
	}
	edit := func(id, title string) bool {
		if _, ok := f.messages[id]; !ok {
			return false
		}
		f.messages[id] = append(f.messages[id], title)
		return true
	}
	text := func(v any, path ...any) string {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				l, _ := v.([]any)
				if k >= len(l) {
					return ""
				}
				v = l[k]
			}
		}
		s, _ := v.(string)
		return s
	}
	switch {
	case path == "/slack/api/chat.postMessage":
		id := post(text(body, "text"))
		fmt.Fprintf(w, `{"ok":true,"channel":"C0123456789","ts":"1700000000.%06s"}`, id)
	case path == "/slack/api/chat.update":
		id := strings.TrimLeft(strings.TrimPrefix(text(body, "ts"), "1700000000."), "0")
		if !edit(id, text(body, "text")) {
			answer(w, `{"ok":false,"error":"message_not_found"}`)
			return
		}
		fmt.Fprintf(w, `{"ok":true,"channel":"C0123456789","ts":%q}`, text(body, "ts"))
	case strings.HasPrefix(path, "/services/"): // Slack's incoming webhooks
		post(text(body, "text"))
		answer(w, "ok")
	case strings.HasPrefix(path, "/api/webhooks/") && r.Method == http.MethodPost:
		if r.URL.Query().Get("wait") != "true" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		fmt.Fprintf(w, `{"id":%q,"type":0}`, post(text(body, "embeds", 0, "title")))
	case strings.HasPrefix(path, "/api/webhooks/") && r.Method == http.MethodPatch:
		id := path[strings.LastIndex(path, "/")+1:]
		if !edit(id, text(body, "embeds", 0, "title")) {
			w.WriteHeader(http.StatusNotFound)
			answer(w, `{"message": "Unknown Message", "code": 10008}`)
			return
		}
		fmt.Fprintf(w, `{"id":%q,"type":0}`, id)
	case strings.HasSuffix(path, "/sendMessage"):
		title, _, _ := strings.Cut(strings.TrimPrefix(text(body, "text"), "<b>"), "</b>")
		fmt.Fprintf(w, `{"ok":true,"result":{"message_id":%s,"chat":{"id":-1001234567890,"type":"supergroup"},"date":1700000000}}`, post(title))
	case strings.HasSuffix(path, "/editMessageText"):
		title, _, _ := strings.Cut(strings.TrimPrefix(text(body, "text"), "<b>"), "</b>")
		id := fmt.Sprint(body["message_id"])
		if !edit(id, title) {
			w.WriteHeader(http.StatusBadRequest)
			answer(w, `{"ok":false,"error_code":400,"description":"Bad Request: message to edit not found"}`)
			return
		}
		fmt.Fprintf(w, `{"ok":true,"result":{"message_id":%s,"chat":{"id":-1001234567890,"type":"supergroup"},"date":1700000000,"edit_date":1700000001}}`, id)
	case strings.HasPrefix(path, "/workflows/"):
		post(text(body, "attachments", 0, "content", "body", 0, "text"))
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func answer(w http.ResponseWriter, s string) { w.Write([]byte(s)) }

// versions returns the titles of every message, oldest first, each with
// its edits.
func (f *chatFake) versions() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]string
	for _, id := range f.order {
		out = append(out, slices.Clone(f.messages[id]))
	}
	return out
}

func (f *chatFake) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.heard)
}

// onFake is a README URL with its scheme and host replaced by the fake's.
func (f *chatFake) onFake(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("README's %s: %v", raw, err)
	}
	fake, _ := url.Parse(f.srv.URL)
	u.Scheme, u.Host = fake.Scheme, fake.Host
	return u.String()
}

// readmeConfigSet returns the vars of the README's `heroku config:set …`
// example that sets name.
func readmeConfigSet(t *testing.T, name string) map[string]string {
	t.Helper()
	for _, m := range regexp.MustCompile("`heroku config:set ([^`]+)`").FindAllStringSubmatch(readme(t), -1) {
		vars := map[string]string{}
		for _, kv := range strings.Fields(m[1]) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				vars[k] = v
			}
		}
		if _, ok := vars[name]; ok {
			return vars
		}
	}
	t.Fatalf("README.md shows no `heroku config:set %s=…` example", name)
	return nil
}

// TestREADMEChatExamples: each chat channel's example, set as the README
// shows it (the provider's host pointed at a fake), makes a channel that
// `dynowatch alert test` reaches with the example's credentials, at the
// provider's path.
func TestREADMEChatExamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string // the var whose example this is
		override func(f *chatFake, example map[string]string) map[string]string
		want     func(example map[string]string) string
	}{
		{"SLACK_BOT_TOKEN", func(f *chatFake, _ map[string]string) map[string]string {
			return map[string]string{"SLACK_API_URL": f.srv.URL + "/slack/api"}
		}, func(ex map[string]string) string {
			return "POST /slack/api/chat.postMessage Bearer " + ex["SLACK_BOT_TOKEN"]
		}},
		{"SLACK_WEBHOOK_URL", func(f *chatFake, ex map[string]string) map[string]string {
			return map[string]string{"SLACK_WEBHOOK_URL": f.onFake(t, ex["SLACK_WEBHOOK_URL"])}
		}, func(ex map[string]string) string { u, _ := url.Parse(ex["SLACK_WEBHOOK_URL"]); return "POST " + u.Path }},
		{"DISCORD_WEBHOOK_URL", func(f *chatFake, ex map[string]string) map[string]string {
			return map[string]string{"DISCORD_WEBHOOK_URL": f.onFake(t, ex["DISCORD_WEBHOOK_URL"])}
		}, func(ex map[string]string) string {
			u, _ := url.Parse(ex["DISCORD_WEBHOOK_URL"])
			return "POST " + u.Path
		}},
		{"TELEGRAM_BOT_TOKEN", func(f *chatFake, _ map[string]string) map[string]string {
			return map[string]string{"TELEGRAM_API_URL": f.srv.URL}
		}, func(ex map[string]string) string { return "POST /bot" + ex["TELEGRAM_BOT_TOKEN"] + "/sendMessage" }},
		{"TEAMS_WEBHOOK_URL", func(f *chatFake, ex map[string]string) map[string]string {
			return map[string]string{"TEAMS_WEBHOOK_URL": f.onFake(t, ex["TEAMS_WEBHOOK_URL"])}
		}, func(ex map[string]string) string { u, _ := url.Parse(ex["TEAMS_WEBHOOK_URL"]); return "POST " + u.Path }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			example := readmeConfigSet(t, tc.name)
			// The example's vars and no other config var, the override's
			// over the example's.
			f := newChatFake(t)
			vars := maps.Clone(example)
			maps.Copy(vars, tc.override(f, example))
			stdout, stderr, code := runMain(t, envOf(vars), "", "alert", "test")
			if code != 0 {
				t.Fatalf("dynowatch alert test with the README's %s example: exit %d\n%s%s", tc.name, code, stdout, stderr)
			}
			if got, want := f.requests(), tc.want(example); len(got) != 1 || got[0] != want {
				t.Errorf("the fake heard %q, want %q", got, want)
			}
			if v := f.versions(); len(v) != 1 || !strings.Contains(v[0][0], "TEST") {
				t.Errorf("messages = %q, want one test message", v)
			}
		})
	}
}

// TestStoryChatChannelsKeepOneMessagePerIncident: on each channel that can
// edit, an R14 fires, is reminded (every 5m), and after a restart, on
// another worker, reminded and resolved: the provider shows one message,
// edited from firing through its reminders to resolved. On both databases.
func TestStoryChatChannelsKeepOneMessagePerIncident(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		for _, ch := range []struct {
			name string
			env  func(f *chatFake) []string
		}{
			{"slack", func(f *chatFake) []string {
				return []string{"SLACK_BOT_TOKEN=xoxb-1-2-story", "SLACK_CHANNEL=C0123456789", "SLACK_API_URL=" + f.srv.URL + "/slack/api"}
			}},
			{"discord", func(f *chatFake) []string {
				return []string{"DISCORD_WEBHOOK_URL=" + f.srv.URL + "/api/webhooks/1/story-token"}
			}},
			{"telegram", func(f *chatFake) []string {
				return []string{"TELEGRAM_BOT_TOKEN=123:story", "TELEGRAM_CHAT_ID=-1001234567890", "TELEGRAM_API_URL=" + f.srv.URL}
			}},
		} {
			// Not in parallel: the channels' stories share st, and a
			// story's sender would claim another's outbox rows.
			t.Run(ch.name, func(t *testing.T) {
				f := newChatFake(t)
				env := append(ch.env(f), "ALERT_REPEAT_INTERVAL=5m")
				s := newStoryOn(t, st, env...)
				app := "shop-" + ch.name // the stories share the store
				for range 7 {
					s.log(app, "heroku[web.1]: Error R14 (Memory quota exceeded)")
					s.advance(time.Minute)
				}
				// A release restarts every dyno; another worker sends the rest.
				s.configure(env...)
				s.sender = s.newSender("another-worker")
				s.advance(12 * time.Minute)
				got := f.versions()
				if len(got) != 1 || len(got[0]) < 3 {
					t.Fatalf("messages = %q, want one, edited at least twice", got)
				}
				v := got[0]
				for i, title := range v {
					want := "REMINDER"
					switch i {
					case 0:
						want = "FIRING"
					case len(v) - 1:
						want = "RESOLVED"
					}
					if !strings.Contains(title, want) {
						t.Errorf("version %d of the message says %q, want %s", i, title, want)
					}
				}
			})
		}
	})
}

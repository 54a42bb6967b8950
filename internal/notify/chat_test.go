package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
)

// chatRequest is one request a fake provider got.
type chatRequest struct {
	Method, Path, Query string
	Header              http.Header
	Body                map[string]any
}

// fakeProvider is an httptest server that records every request and
// answers with answer's status, headers and body.
type fakeProvider struct {
	mu     sync.Mutex
	got    []chatRequest
	answer func(r chatRequest) (status int, header http.Header, body string)
	srv    *httptest.Server
}

func newFakeProvider(t *testing.T, answer func(r chatRequest) (int, http.Header, string)) *fakeProvider {
	t.Helper()
	f := &fakeProvider{answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		req := chatRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header}
		if err := json.Unmarshal(raw, &req.Body); err != nil {
			t.Errorf("%s %s: body is not JSON: %s", r.Method, r.URL.Path, raw)
		}
		f.mu.Lock()
		f.got = append(f.got, req)
		f.mu.Unlock()
		status, h, body := f.answer(req)
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProvider) requests() []chatRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chatRequest(nil), f.got...)
}

// incident is what the tests send a channel: an R14 fires, is reminded,
// resolves, each after the last with the ref it returned.
func incident(t *testing.T, c IncidentNotifier) []MessageRef {
	t.Helper()
	var refs []MessageRef
	prior := MessageRef{}
	for _, n := range []*alert.Notification{fixtureFiring(), fixtureReminder(), fixtureResolved()} {
		ref, _, err := c.NotifyIncident(context.Background(), n, prior)
		if err != nil {
			t.Fatalf("%s: %v", n.Status, err)
		}
		refs = append(refs, ref)
		prior = ref
	}
	return refs
}

// str reads a string at a path of a decoded JSON body, "" if absent.
func str(v any, path ...any) string {
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

// checkFailure runs one failing send and checks retry, a word of the error,
// and the wait the provider asked for.
func checkFailure(t *testing.T, name string, send func() (bool, error), wantRetry bool, wantText string, wantWait time.Duration) {
	t.Helper()
	retry, err := send()
	if err == nil {
		t.Fatalf("%s: no error", name)
	}
	if retry != wantRetry {
		t.Errorf("%s: retry = %v, want %v (%v)", name, retry, wantRetry, err)
	}
	if !strings.Contains(err.Error(), wantText) {
		t.Errorf("%s: error %q does not say %q", name, err, wantText)
	}
	wait, ok := RetryAfter(err)
	if wantWait > 0 && (!ok || wait != wantWait) {
		t.Errorf("%s: RetryAfter = %v, %v; want %v", name, wait, ok, wantWait)
	}
	if wantWait == 0 && ok {
		t.Errorf("%s: RetryAfter = %v, want none", name, wait)
	}
}

// TestChannelsBuildsTheChatChannels: each chat channel is on when its vars
// are set, with its minimum severity as its route, and edits (or names) its messages.
func TestChannelsBuildsTheChatChannels(t *testing.T) {
	cfg := &config.Config{
		SlackBotToken: slackTestToken, SlackChannel: "C0DYNO", SlackAPIURL: "https://slack.com/api", SlackMinSeverity: "warning",
		DiscordWebhookURL: "https://discord.com" + discordTestPath, DiscordMinSeverity: "info",
		TelegramBotToken: telegramTestToken, TelegramChatID: "-1001234567890", TelegramAPIURL: "https://api.telegram.org", TelegramMinSeverity: "critical",
		TeamsWebhookURL: "https://prod-00.westeurope.logic.azure.com" + teamsTestPath, TeamsMinSeverity: "info",
	}
	got, err := Channels(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]alert.Severity{"slack": alert.Warning, "discord": alert.Info, "telegram": alert.Critical, "teams": alert.Info}
	if len(got) != len(want) {
		t.Fatalf("channels = %v, want %v", got, want)
	}
	for _, n := range got {
		r := n.(*routed)
		if _, ok := r.Notifier.(IncidentNotifier); !ok {
			t.Errorf("%s keeps no message per incident", n.Name())
		}
		if min := r.route.MinSeverity; min != want[n.Name()] {
			t.Errorf("%s: min severity %q, want %q", n.Name(), min, want[n.Name()])
		}
	}
	cfg = &config.Config{SlackWebhookURL: "https://hooks.slack.com/services/T/B/x"}
	if got, err := Channels(cfg); err != nil || len(got) != 1 || got[0].Name() != "slack" {
		t.Fatalf("Slack by webhook: %v, %v", got, err)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/store"
)

// readmeSetExample returns the NAME=value words of the first sh block
// after heading in the README, as the shell would split them (double
// quotes kept together and taken off).
func readmeSetExample(t *testing.T, heading string) []string {
	t.Helper()
	m := regexp.MustCompile("(?s)" + regexp.QuoteMeta(heading) + "\n.*?```sh\n(.*?)```").FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatalf("README.md no longer shows the example of %q", heading)
	}
	var (
		words  []string
		word   strings.Builder
		quoted bool
	)
	for _, r := range strings.ReplaceAll(m[1], "\\\n", " ") {
		switch {
		case r == '"':
			quoted = !quoted
		case (r == ' ' || r == '\n') && !quoted:
			if word.Len() > 0 {
				words = append(words, word.String())
				word.Reset()
			}
		default:
			word.WriteRune(r)
		}
	}
	if word.Len() > 0 {
		words = append(words, word.String())
	}
	var env []string
	for _, w := range words {
		if strings.Contains(w, "=") {
			env = append(env, w)
		}
	}
	if len(env) == 0 {
		t.Fatalf("README.md's example of %q sets no var", heading)
	}
	return env
}

// texts is a fake Infobip recording each SMS's text, and a fake Slack
// incoming webhook counting its posts.
type texts struct {
	mu    sync.Mutex
	sms   []string
	slack int
	env   []string
}

func newTexts(t *testing.T) *texts {
	t.Helper()
	x := &texts{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x.mu.Lock()
		defer x.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/services/") {
			x.slack++
			io.WriteString(w, "ok")
			return
		}
		var body struct {
			Messages []struct {
				Content struct {
					Text string `json:"text"`
				} `json:"content"`
			} `json:"messages"`
		}
		if r.URL.Path != "/sms/3/messages" || json.NewDecoder(r.Body).Decode(&body) != nil || len(body.Messages) != 1 {
			t.Errorf("SMS: %s %s is not one Infobip message", r.Method, r.URL)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		x.sms = append(x.sms, body.Messages[0].Content.Text)
		io.WriteString(w, `{"messages":[{"status":{"groupId":1,"groupName":"PENDING"}}]}`)
	}))
	t.Cleanup(srv.Close)
	x.env = []string{"INFOBIP_BASE_URL=" + srv.URL, "INFOBIP_API_KEY=k", "ALERT_SMS_TO=41793026727",
		"SLACK_WEBHOOK_URL=" + srv.URL + "/services/T000/B000/XXXXXXXX", "DYNOWATCH_URL=https://dynowatch.example.com"}
	return x
}

// heard counts the SMS texts that start with each prefix, and returns the
// storm summaries and the Slack posts.
func (x *texts) heard() (firing, resolved int, storms []string, slack int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, s := range x.sms {
		switch {
		case strings.Contains(s, " STORM"):
			storms = append(storms, s)
		case strings.HasPrefix(s, "FIRING"):
			firing++
		case strings.HasPrefix(s, "RESOLVED"):
			resolved++
		}
	}
	return firing, resolved, storms, x.slack
}

// TestStoryStormCapTextsFiveAndOneSummary: with the README's Storms
// example, 50 apps' dynos are killed (R15, critical) within a minute. The
// SMS gets five texts at once and one summary of the other 45 ten minutes
// later, not 50 texts; when they resolve, the five it was told of resolve,
// and the 45 others send nothing. Slack, uncapped, hears all of them. Two
// workers share the outbox, and one restarts mid-storm: the count is the
// store's.
func TestStoryStormCapTextsFiveAndOneSummary(t *testing.T) {
	t.Parallel()
	example := readmeSetExample(t, "#### Storms")
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		x := newTexts(t)
		env := append(append([]string{"ALERT_SILENCE_ENABLED=false"}, x.env...), example...)
		s := newStoryOn(t, st, env...)
		other := s.newSender("worker.2")
		for i := range 50 {
			s.log(fmt.Sprintf("shop-eu-%d", i), "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
			s.clock.Add(int64(time.Second))
			if i%2 == 0 {
				s.send()
			} else if _, _, err := other.SendDue(s.ctx, 50); err != nil {
				t.Fatal(err)
			}
			if i == 25 {
				s.configure(env...) // a release restarts every dyno mid-storm
			}
		}
		s.advance(time.Minute)
		if firing, _, storms, _ := x.heard(); firing != 5 || len(storms) != 0 {
			t.Fatalf("within a minute the SMS got %d texts and %d summaries, want 5 and none yet", firing, len(storms))
		}
		s.advance(15 * time.Minute) // the summary's span, and the R15 window
		firing, resolved, storms, slack := x.heard()
		if firing != 5 || resolved != 5 || len(storms) != 1 {
			t.Fatalf("the SMS got %d firing, %d resolved and %d summaries, want 5, 5 and 1:\n%s", firing, resolved, len(storms), strings.Join(x.sms, "\n"))
		}
		if want := "45 more alerts on 45 apps (shop-eu-"; !strings.Contains(storms[0], want) ||
			!strings.HasSuffix(storms[0], "see the dashboard https://dynowatch.example.com/alerts") {
			t.Errorf("summary %q, want %q… and the dashboard link", storms[0], want)
		}
		if slack != 100 {
			t.Errorf("Slack got %d posts, want 100 (50 firing, 50 resolved: SLACK_STORM_CAP=off)", slack)
		}
	})
}

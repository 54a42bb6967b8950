package notify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/dynowatch/dynowatch/internal/alert"
)

var _ Notifier = (*Ntfy)(nil)

func TestNtfyGolden(t *testing.T) {
	for _, tc := range pagingFixtures() {
		t.Run(tc.name, func(t *testing.T) {
			m := renderNtfy(tc.n)
			checkGolden(t, "render-"+tc.name+".ntfy.txt", ntfyRequestText(m.header(), m.Body))
		})
	}
}

// ntfyRequestText shows a publish request as its headers, sorted, a blank
// line and the body.
func ntfyRequestText(h http.Header, body string) string {
	var keys []string
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(h[k], ", "))
	}
	return b.String() + "\n" + body + "\n"
}

// ntfyServer is a fake ntfy server with one topic: it takes what ntfy
// takes and answers as ntfy does.
type ntfyServer struct {
	t     *testing.T
	srv   *httptest.Server
	topic string
	auth  string // the Authorization it requires, or ""
	// answer, when set, overrides the answer to a good publish.
	answer func() (status int, body string)

	mu   sync.Mutex
	msgs []ntfyPublished
}

type ntfyPublished struct {
	header http.Header
	body   string
}

func newNtfyServer(t *testing.T, topic, auth string) *ntfyServer {
	t.Helper()
	s := &ntfyServer{t: t, topic: topic, auth: auth}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *ntfyServer) handle(w http.ResponseWriter, r *http.Request) {
	fail := func(code, status int, msg, link string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"code": code, "http": status, "error": msg, "link": link})
	}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		fail(40401, 404, "page not found", "")
		return
	}
	if r.URL.Path != "/"+s.topic {
		s.t.Errorf("published to %s, want /%s", r.URL.Path, s.topic)
	}
	if s.auth != "" && r.Header.Get("Authorization") != s.auth {
		if r.Header.Get("Authorization") == "" {
			fail(40301, 403, "forbidden", "https://ntfy.sh/docs/publish/#authentication")
		} else {
			fail(40101, 401, "unauthorized", "https://ntfy.sh/docs/publish/#authentication")
		}
		return
	}
	p := r.Header.Get("Priority")
	if p < "1" || p > "5" || len(p) != 1 {
		fail(40007, 400, "invalid priority parameter", "https://ntfy.sh/docs/publish/#message-priority")
		return
	}
	body, _ := io.ReadAll(r.Body)
	if !utf8.Valid(body) {
		fail(40011, 400, "invalid message: message must be UTF-8 encoded", "")
		return
	}
	if len(body) > 4096 {
		fail(41301, 413, "attachment too large, or bandwidth limit reached", "https://ntfy.sh/docs/publish/#limitations")
		return
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, ntfyPublished{r.Header.Clone(), string(body)})
	answer := s.answer
	s.mu.Unlock()
	if answer != nil {
		status, b := answer()
		w.WriteHeader(status)
		io.WriteString(w, b)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"hwQ2YpKdmg","time":1741944365,"expires":1741987565,"event":"message","topic":%q,"message":"…"}`+"\n", s.topic)
}

func (s *ntfyServer) got() []ntfyPublished {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ntfyPublished(nil), s.msgs...)
}

// TestNtfyPublishes: the message as ntfy reads it, with a token or with
// the user and password of the URL, and an alert's messages under one
// sequence id so that each replaces the one before.
func TestNtfyPublishes(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("phil:s3cret"))
	for _, tc := range []struct {
		name  string
		auth  string
		url   func(srv *ntfyServer) string
		token string
	}{
		{"no auth", "", func(s *ntfyServer) string { return s.srv.URL + "/dynowatch-alerts" }, ""},
		{"token", "Bearer tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2", func(s *ntfyServer) string { return s.srv.URL + "/dynowatch-alerts" }, "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"},
		{"user and password", basic, func(s *ntfyServer) string {
			return strings.Replace(s.srv.URL, "http://", "http://phil:s3cret@", 1) + "/dynowatch-alerts"
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newNtfyServer(t, "dynowatch-alerts", tc.auth)
			c, err := NewNtfy(NtfyOptions{URL: tc.url(srv), Token: tc.token})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []*alert.Notification{fixtureFiring(), fixtureReminder(), fixtureResolved()} {
				if retry, err := c.Notify(context.Background(), n); err != nil || retry {
					t.Fatalf("%s: Notify=%v, %v", n.Status, retry, err)
				}
			}
			got := srv.got()
			if len(got) != 3 {
				t.Fatalf("%d messages, want 3", len(got))
			}
			first := got[0].header
			for k, want := range map[string]string{
				"Title":        "FIRING critical: R14 memory quota exceeded: rss 612MB of 512MB on shop web.1",
				"Priority":     "5",
				"Tags":         "rotating_light,firing,shop,R14",
				"Click":        "https://dynowatch.example.com/alerts/r14%2Fshop%2Fweb.1",
				"Content-Type": "text/plain; charset=utf-8",
			} {
				if v := first.Get(k); v != want {
					t.Errorf("%s=%q, want %q", k, v, want)
				}
			}
			if !strings.Contains(got[0].body, "Error R14 (Memory quota exceeded)") {
				t.Errorf("body %q lacks the evidence", got[0].body)
			}
			seq := first.Get("X-Sequence-ID")
			for i, m := range got {
				if m.header.Get("X-Sequence-ID") != seq || seq == "" {
					t.Errorf("message %d: X-Sequence-ID %q, want the firing's %q", i, m.header.Get("X-Sequence-ID"), seq)
				}
			}
			if p := got[1].header.Get("Priority"); p != "4" {
				t.Errorf("reminder priority %s, want 4", p)
			}
			if p, tags := got[2].header.Get("Priority"), got[2].header.Get("Tags"); p != "3" || !strings.HasPrefix(tags, "white_check_mark,resolved") {
				t.Errorf("resolved priority %s tags %s", p, tags)
			}
		})
	}
}

func TestNtfyAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		auth      string // the server requires
		token     string // the channel sends
		answer    func() (int, string)
		wantRetry bool
		wantErr   string
	}{
		{name: "wrong token", auth: "Bearer tk_right", token: "tk_wrong",
			wantErr: "401 Unauthorized: unauthorized (40101, see https://ntfy.sh/docs/publish/#authentication)"},
		{name: "protected topic, no token", auth: "Bearer tk_right",
			wantErr: "403 Forbidden: forbidden (40301"},
		{name: "daily quota", answer: func() (int, string) {
			return 429, `{"code":42908,"http":429,"error":"limit reached: daily message quota reached","link":"https://ntfy.sh/docs/publish/#limitations"}`
		}, wantRetry: true, wantErr: "429 Too Many Requests: limit reached: daily message quota reached (42908"},
		{name: "server error", answer: func() (int, string) {
			return 500, `{"code":50001,"http":500,"error":"internal server error"}`
		}, wantRetry: true, wantErr: "500 Internal Server Error: internal server error (50001)"},
		{name: "proxy error", answer: func() (int, string) { return 502, "<html>Bad Gateway</html>" },
			wantRetry: true, wantErr: "502 Bad Gateway: <html>Bad Gateway</html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newNtfyServer(t, "alerts", tc.auth)
			srv.answer = tc.answer
			c, err := NewNtfy(NtfyOptions{URL: srv.srv.URL + "/alerts", Token: tc.token})
			if err != nil {
				t.Fatal(err)
			}
			retry, err := c.Notify(context.Background(), fixtureFiring())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || retry != tc.wantRetry {
				t.Errorf("Notify=%v, %v; want retry %v and %q", retry, err, tc.wantRetry, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "/alerts") {
				t.Errorf("error shows the topic, which is its password on ntfy.sh: %v", err)
			}
		})
	}
}

func TestNtfyRendering(t *testing.T) {
	big := fixtureFiring()
	for i := range 50 {
		big.Alerts = append(big.Alerts, alert.Alert{Key: fmt.Sprint("k", i), App: "shop", Severity: alert.Info,
			Summary: "ünïcödé " + strings.Repeat("é", 300), Evidence: []string{strings.Repeat("ß", 600)}})
	}
	m := renderNtfy(big)
	if len(m.Body) > 4096 || !utf8.ValidString(m.Body) {
		t.Errorf("body of %d bytes (valid UTF-8 %v), ntfy takes 4096", len(m.Body), utf8.ValidString(m.Body))
	}
	nonASCII := fixtureFiring()
	nonASCII.Alerts[0].Summary = "Mémoire dépassée"
	title := renderNtfy(nonASCII).header().Get("Title")
	var dec mime.WordDecoder
	if got, err := dec.DecodeHeader(title); err != nil || !strings.Contains(got, "Mémoire dépassée") || title == got {
		t.Errorf("title %q decodes to %q, %v; want it RFC 2047-encoded", title, got, err)
	}
	for _, tc := range []struct {
		st   alert.Status
		sev  alert.Severity
		want int
	}{
		{alert.Firing, alert.Critical, 5}, {alert.Firing, alert.Warning, 4}, {alert.Firing, alert.Info, 3},
		{alert.Reminder, alert.Critical, 4}, {alert.Flapping, alert.Info, 2},
		{alert.Resolved, alert.Critical, 3}, {alert.Test, alert.Critical, 3},
	} {
		n := fixtureFiring()
		n.Status, n.Alerts[0].Severity = tc.st, tc.sev
		if got := renderNtfy(n).Priority; got != tc.want {
			t.Errorf("%s %s: priority %d, want %d", tc.st, tc.sev, got, tc.want)
		}
	}
	test := &alert.Notification{ID: "t", Status: alert.Test, Alerts: fixtureFiring().Alerts}
	if id := renderNtfy(test).SequenceID; id != "" {
		t.Errorf("a test replaces the alert's notification: X-Sequence-ID %q", id)
	}
}

func TestNewNtfyValidates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       NtfyOptions
		wantErr string
	}{
		{"no URL", NtfyOptions{}, "notify: NtfyOptions.URL is required"},
		{"no scheme", NtfyOptions{URL: "ntfy.sh/alerts"}, "notify: NtfyOptions.URL: want a URL starting http:// or https://"},
		{"no topic", NtfyOptions{URL: "https://ntfy.sh/"}, "notify: NtfyOptions.URL: want the topic's URL, such as https://ntfy.sh/my-alerts"},
		{"password and token", NtfyOptions{URL: "https://u:p@ntfy.example.com/alerts", Token: "tk_x"}, "notify: NtfyOptions: a password in URL and a Token: set one of them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewNtfy(tc.o)
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("err=%v, want %q", err, tc.wantErr)
			}
		})
	}
}

package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// smtpFake is an SMTP server on localhost that takes every message and
// keeps its data.
type smtpFake struct {
	addr string
	mu   sync.Mutex
	data []string
}

func newSMTPFake(t *testing.T) *smtpFake {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f := &smtpFake{addr: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f
}

func (f *smtpFake) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(s string) { io.WriteString(c, s+"\r\n") }
	say("220 localhost ESMTP fake")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
		case "EHLO", "HELO":
			say("250-localhost")
			say("250 8BITMIME")
		case "DATA":
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			f.mu.Lock()
			f.data = append(f.data, b.String())
			f.mu.Unlock()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default: // MAIL, RCPT, RSET, NOOP
			say("250 ok")
		}
	}
}

// TestAlertTestReachesEveryChannel: `dynowatch alert test` with every
// channel configured at once sends its test message through each of them,
// at each provider's path, and says ok for each.
func TestAlertTestReachesEveryChannel(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		heard []string
	)
	apis := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		heard = append(heard, r.Method+" "+r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case "/v3/mail/send":
			w.WriteHeader(http.StatusAccepted)
		case "/sms/3/messages":
			io.WriteString(w, `{"messages":[{"status":{"groupId":1,"groupName":"PENDING"}}]}`)
		case "/v2/enqueue":
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"x"}`)
		case "/alerts":
			io.WriteString(w, `{"id":"x","event":"message","topic":"alerts"}`)
		case "/1/messages.json":
			io.WriteString(w, `{"status":1,"request":"r"}`)
		}
	}))
	defer apis.Close()
	chat := newChatFake(t)
	smtp := newSMTPFake(t)
	vars := map[string]string{
		"SENDGRID_API_KEY": "SG.test", "SENDGRID_HOST": apis.URL, "SMTP_URL": "smtp://" + smtp.addr,
		"ALERT_EMAIL_FROM": "dynowatch@example.com", "ALERT_EMAIL_TO": "ops@example.com",
		"INFOBIP_BASE_URL": apis.URL, "INFOBIP_API_KEY": "k", "ALERT_SMS_TO": "41793026727",
		"ALERT_WEBHOOK_URL":     apis.URL + "/hook",
		"PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef", "PAGERDUTY_API_URL": apis.URL,
		"NTFY_URL":       apis.URL + "/alerts",
		"PUSHOVER_TOKEN": "azGDORePK8gMaC0QOYAMyEEuzJnyUi", "PUSHOVER_USER": "uQiRzpo4DXghDmr9QzzfQu27cmVRsG", "PUSHOVER_API_URL": apis.URL,
		"SLACK_API_URL":       chat.srv.URL + "/slack/api",
		"DISCORD_WEBHOOK_URL": chat.onFake(t, readmeConfigSet(t, "DISCORD_WEBHOOK_URL")["DISCORD_WEBHOOK_URL"]),
		"TELEGRAM_API_URL":    chat.srv.URL,
		"TEAMS_WEBHOOK_URL":   chat.onFake(t, readmeConfigSet(t, "TEAMS_WEBHOOK_URL")["TEAMS_WEBHOOK_URL"]),
	}
	for _, name := range []string{"SLACK_BOT_TOKEN", "TELEGRAM_BOT_TOKEN"} {
		for k, v := range readmeConfigSet(t, name) {
			if _, set := vars[k]; !set {
				vars[k] = v
			}
		}
	}
	stdout, stderr, code := runMain(t, envOf(vars), "", "alert", "test")
	if code != 0 {
		t.Fatalf("dynowatch alert test: exit %d\n%s%s", code, stdout, stderr)
	}
	var ok []string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[1] == "ok" {
			ok = append(ok, f[0])
		}
	}
	slices.Sort(ok)
	want := []string{"discord", "email:sendgrid", "email:smtp", "ntfy", "pagerduty", "pushover", "slack", "sms", "teams", "telegram", "webhook"}
	if !slices.Equal(ok, want) {
		t.Errorf("ok for %q, want %q; stdout:\n%s", ok, want, stdout)
	}
	mu.Lock()
	got := slices.Sorted(slices.Values(heard))
	mu.Unlock()
	if w := []string{"POST /1/messages.json", "POST /alerts", "POST /hook", "POST /sms/3/messages", "POST /v2/enqueue", "POST /v2/enqueue", "POST /v3/mail/send"}; !slices.Equal(got, w) {
		t.Errorf("the APIs heard %q, want %q (PagerDuty: the test's trigger and resolve)", got, w)
	}
	if v := chat.versions(); len(v) != 4 {
		t.Errorf("chat messages %q, want Slack's, Discord's, Telegram's and Teams'", v)
	}
	smtp.mu.Lock()
	defer smtp.mu.Unlock()
	if len(smtp.data) != 1 || !strings.Contains(smtp.data[0], "TEST") {
		t.Errorf("SMTP got %d messages, want the test message", len(smtp.data))
	}
}

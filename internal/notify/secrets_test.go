package notify

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// newSilentServer accepts connections and never says a word.
func newSilentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return ln.Addr().String()
}

// echoingServer answers status with a body that repeats everything the
// request carried: its URL, its headers and its body. A channel that shows
// a response body must still not show a secret.
func echoingServer(t *testing.T, status int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(status)
		io.WriteString(w, `{"errors":[{"message":"`+r.URL.String()+" "+r.Header.Get("Authorization")+`"}],"description":"`+r.Header.Get("Authorization")+`"} `)
		io.WriteString(w, r.URL.String()+" "+r.Header.Get("Authorization")+" "+string(b))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// hangingServer takes a request and never answers.
func hangingServer(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices the client hang up only once the body is read.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first
	return srv.Listener.Addr().String()
}

func errorsIsDeadline(err error) bool { return errors.Is(err, context.DeadlineExceeded) }

// errorTexts is the text of err and of every error beneath it.
func errorTexts(err error) []string {
	if err == nil {
		return nil
	}
	texts := []string{err.Error()}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		texts = append(texts, errorTexts(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			texts = append(texts, errorTexts(e)...)
		}
	}
	return texts
}

// TestNoSecretInErrors makes every channel fail in several ways and checks
// that no error, nor any error it wraps, shows a key, a password, the
// webhook secret or a URL with credentials.
func TestNoSecretInErrors(t *testing.T) {
	const (
		sgKey      = "SG.leakcheck-sendgrid-key.XYZ"
		ibKey      = "leakcheck-infobip-key-0123"
		smtpPass   = "leakcheck-smtp-pass"
		hookUser   = "hookuser"
		hookPass   = "leakcheck-hook-pass"
		hookPath   = "/services/T0LEAK/B0LEAK/leakcheckpathtoken"
		hookQuery  = "leakcheck-query-token"
		hookSecret = "leakcheck-signing-secret"
		slackToken = "xoxb-leakcheck-slack-token"
		slackHook  = "/services/T0LEAK/B0LEAK/leakcheckslackhook"
		discord    = "/api/webhooks/123/leakcheckdiscordtoken"
		tgToken    = "123456:leakcheck-telegram-token"
		teamsSig   = "leakcheckteamssig"
		pdKey      = "leakcheckpagerdutyrouting0123456"
		ntfyToken  = "tk_leakcheckntfytoken"
		ntfyPass   = "leakcheck-ntfy-pass"
		ntfyTopic  = "leakcheck-ntfy-topic"
		poToken    = "leakcheckpushovertoken01234567"
		poUser     = "leakcheckpushoveruser012345678"
	)
	secrets := []string{sgKey, ibKey, pdKey, poToken, poUser, ntfyToken, ntfyPass, ntfyTopic, smtpPass,
		base64.StdEncoding.EncodeToString([]byte("phil:" + ntfyPass)), hookPass, "leakcheckpathtoken", hookQuery, hookSecret,
		slackToken, "leakcheckslackhook", "leakcheckdiscordtoken", "leakcheck-telegram-token", teamsSig,
		hookUser + ":" + hookPass, "alerts:" + smtpPass,
		base64.StdEncoding.EncodeToString([]byte(hookUser + ":" + hookPass)),
		base64.StdEncoding.EncodeToString([]byte("\x00alerts\x00" + smtpPass)),
		base64.StdEncoding.EncodeToString([]byte(smtpPass))}
	short := 150 * time.Millisecond

	sendgrid := func(addr string) (Notifier, error) {
		return NewSendGrid(SendGridOptions{APIKey: sgKey, Host: "http://" + addr, From: "a@example.com", To: []string{"b@example.com"}, Timeout: short})
	}
	infobip := func(addr string) (Notifier, error) {
		return NewInfobip(InfobipOptions{BaseURL: "http://" + addr, APIKey: ibKey, To: []string{"41793026727"}, Timeout: short})
	}
	webhook := func(addr string) (Notifier, error) {
		return NewWebhook(WebhookOptions{
			URL:    "http://" + hookUser + ":" + hookPass + "@" + addr + hookPath + "?token=" + hookQuery,
			Secret: hookSecret, Timeout: short,
		})
	}
	slack := func(addr string) (Notifier, error) {
		return NewSlack(SlackOptions{Token: slackToken, Channel: "C1", APIURL: "http://" + addr + "/api", Timeout: short})
	}
	slackWebhook := func(addr string) (Notifier, error) {
		return NewSlack(SlackOptions{WebhookURL: "http://" + addr + slackHook, Timeout: short})
	}
	discordHook := func(addr string) (Notifier, error) {
		return NewDiscord(DiscordOptions{WebhookURL: "http://" + addr + discord, Timeout: short})
	}
	telegram := func(addr string) (Notifier, error) {
		return NewTelegram(TelegramOptions{Token: tgToken, ChatID: "-100", APIURL: "http://" + addr, Timeout: short})
	}
	teams := func(addr string) (Notifier, error) {
		return NewTeams(TeamsOptions{WebhookURL: "http://" + addr + "/workflows/1/triggers/manual/paths/invoke?sig=" + teamsSig, Timeout: short})
	}
	pagerduty := func(addr string) (Notifier, error) {
		return NewPagerDuty(PagerDutyOptions{RoutingKey: pdKey, APIURL: "http://" + addr, Timeout: short})
	}
	ntfyWithToken := func(addr string) (Notifier, error) {
		return NewNtfy(NtfyOptions{URL: "http://" + addr + "/" + ntfyTopic, Token: ntfyToken, Timeout: short})
	}
	ntfyWithPassword := func(addr string) (Notifier, error) {
		return NewNtfy(NtfyOptions{URL: "http://phil:" + ntfyPass + "@" + addr + "/" + ntfyTopic, Timeout: short})
	}
	pushover := func(addr string) (Notifier, error) {
		return NewPushover(PushoverOptions{Token: poToken, User: poUser, APIURL: "http://" + addr, Timeout: short})
	}
	smtpTo := func(addr string) (Notifier, error) {
		return NewSMTP(SMTPOptions{URL: "smtp://alerts:" + smtpPass + "@" + addr, From: "a@example.com", To: []string{"b@example.com"}, Timeout: short})
	}
	smtpFailing := func(reply string) string {
		return newTestSMTPServer(t, func(s *testSMTPServer) {
			s.user, s.pass = "alerts", "another-pass"
			s.reply = map[string]string{"AUTH": reply}
		}).addr()
	}
	smtpLoginFailing := func() string {
		return newTestSMTPServer(t, func(s *testSMTPServer) {
			s.user, s.pass, s.mechs = "alerts", "another-pass", "LOGIN"
		}).addr()
	}

	for _, tc := range []struct {
		name string
		make func() (Notifier, error)
	}{
		{"sendgrid 401 echoing the request", func() (Notifier, error) { return sendgrid(echoingServer(t, 401)) }},
		{"sendgrid 500 echoing the request", func() (Notifier, error) { return sendgrid(echoingServer(t, 500)) }},
		{"sendgrid connection refused", func() (Notifier, error) { return sendgrid(closedAddr(t)) }},
		{"sendgrid timeout", func() (Notifier, error) { return sendgrid(hangingServer(t)) }},
		{"infobip 401 echoing the request", func() (Notifier, error) { return infobip(echoingServer(t, 401)) }},
		{"infobip 503 echoing the request", func() (Notifier, error) { return infobip(echoingServer(t, 503)) }},
		{"infobip connection refused", func() (Notifier, error) { return infobip(closedAddr(t)) }},
		{"infobip timeout", func() (Notifier, error) { return infobip(hangingServer(t)) }},
		{"webhook 400 echoing the request", func() (Notifier, error) { return webhook(echoingServer(t, 400)) }},
		{"webhook 502 echoing the request", func() (Notifier, error) { return webhook(echoingServer(t, 502)) }},
		{"webhook connection refused", func() (Notifier, error) { return webhook(closedAddr(t)) }},
		{"webhook timeout", func() (Notifier, error) { return webhook(hangingServer(t)) }},
		{"slack 401 echoing the request", func() (Notifier, error) { return slack(echoingServer(t, 401)) }},
		{"slack 429 echoing the request", func() (Notifier, error) { return slack(echoingServer(t, 429)) }},
		{"slack 500 echoing the request", func() (Notifier, error) { return slack(echoingServer(t, 500)) }},
		{"slack connection refused", func() (Notifier, error) { return slack(closedAddr(t)) }},
		{"slack timeout", func() (Notifier, error) { return slack(hangingServer(t)) }},
		{"slackWebhook 401 echoing the request", func() (Notifier, error) { return slackWebhook(echoingServer(t, 401)) }},
		{"slackWebhook 429 echoing the request", func() (Notifier, error) { return slackWebhook(echoingServer(t, 429)) }},
		{"slackWebhook 500 echoing the request", func() (Notifier, error) { return slackWebhook(echoingServer(t, 500)) }},
		{"slackWebhook connection refused", func() (Notifier, error) { return slackWebhook(closedAddr(t)) }},
		{"slackWebhook timeout", func() (Notifier, error) { return slackWebhook(hangingServer(t)) }},
		{"discordHook 401 echoing the request", func() (Notifier, error) { return discordHook(echoingServer(t, 401)) }},
		{"discordHook 429 echoing the request", func() (Notifier, error) { return discordHook(echoingServer(t, 429)) }},
		{"discordHook 500 echoing the request", func() (Notifier, error) { return discordHook(echoingServer(t, 500)) }},
		{"discordHook connection refused", func() (Notifier, error) { return discordHook(closedAddr(t)) }},
		{"discordHook timeout", func() (Notifier, error) { return discordHook(hangingServer(t)) }},
		{"telegram 401 echoing the request", func() (Notifier, error) { return telegram(echoingServer(t, 401)) }},
		{"telegram 429 echoing the request", func() (Notifier, error) { return telegram(echoingServer(t, 429)) }},
		{"telegram 500 echoing the request", func() (Notifier, error) { return telegram(echoingServer(t, 500)) }},
		{"telegram connection refused", func() (Notifier, error) { return telegram(closedAddr(t)) }},
		{"telegram timeout", func() (Notifier, error) { return telegram(hangingServer(t)) }},
		{"teams 401 echoing the request", func() (Notifier, error) { return teams(echoingServer(t, 401)) }},
		{"teams 429 echoing the request", func() (Notifier, error) { return teams(echoingServer(t, 429)) }},
		{"teams 500 echoing the request", func() (Notifier, error) { return teams(echoingServer(t, 500)) }},
		{"teams connection refused", func() (Notifier, error) { return teams(closedAddr(t)) }},
		{"teams timeout", func() (Notifier, error) { return teams(hangingServer(t)) }},
		{"slack 200 echoing the request", func() (Notifier, error) { return slack(echoingServer(t, 200)) }},
		{"telegram 200 echoing the request", func() (Notifier, error) { return telegram(echoingServer(t, 200)) }},
		{"discord 200 echoing the request", func() (Notifier, error) { return discordHook(echoingServer(t, 200)) }},
		{"discord URL that does not parse", func() (Notifier, error) { return NewDiscord(DiscordOptions{WebhookURL: "http://x%zz" + discord}) }},
		{"pagerduty 400 echoing the request", func() (Notifier, error) { return pagerduty(echoingServer(t, 400)) }},
		{"pagerduty 429 echoing the request", func() (Notifier, error) { return pagerduty(echoingServer(t, 429)) }},
		{"pagerduty connection refused", func() (Notifier, error) { return pagerduty(closedAddr(t)) }},
		{"pagerduty timeout", func() (Notifier, error) { return pagerduty(hangingServer(t)) }},
		{"pagerduty key of the wrong length", func() (Notifier, error) {
			return NewPagerDuty(PagerDutyOptions{RoutingKey: pdKey + "x"})
		}},
		{"ntfy 401 echoing the token", func() (Notifier, error) { return ntfyWithToken(echoingServer(t, 401)) }},
		{"ntfy 403 echoing the password", func() (Notifier, error) { return ntfyWithPassword(echoingServer(t, 403)) }},
		{"ntfy 429 echoing the request", func() (Notifier, error) { return ntfyWithToken(echoingServer(t, 429)) }},
		{"ntfy connection refused", func() (Notifier, error) { return ntfyWithPassword(closedAddr(t)) }},
		{"ntfy timeout", func() (Notifier, error) { return ntfyWithToken(hangingServer(t)) }},
		{"ntfy URL that does not parse", func() (Notifier, error) {
			return NewNtfy(NtfyOptions{URL: "http://phil:" + ntfyPass + "%zz@ntfy.example.com/" + ntfyTopic})
		}},
		{"pushover 400 echoing the request", func() (Notifier, error) { return pushover(echoingServer(t, 400)) }},
		{"pushover 429 echoing the request", func() (Notifier, error) { return pushover(echoingServer(t, 429)) }},
		{"pushover connection refused", func() (Notifier, error) { return pushover(closedAddr(t)) }},
		{"pushover timeout", func() (Notifier, error) { return pushover(hangingServer(t)) }},
		{"pushover user key of the wrong form", func() (Notifier, error) {
			return NewPushover(PushoverOptions{Token: poToken, User: poUser + "!"})
		}},
		{"smtp 535 echoing the password", func() (Notifier, error) {
			return smtpTo(smtpFailing("535 5.7.8 password " + smtpPass + " not accepted"))
		}},
		{"smtp 454 echoing the password", func() (Notifier, error) {
			return smtpTo(smtpFailing("454 4.7.0 try again, alerts:" + smtpPass))
		}},
		{"smtp 535 echoing AUTH PLAIN", func() (Notifier, error) {
			return smtpTo(smtpFailing("535 5.7.8 bad credentials " + base64.StdEncoding.EncodeToString([]byte("\x00alerts\x00"+smtpPass))))
		}},
		{"smtp 535 after AUTH LOGIN", func() (Notifier, error) { return smtpTo(smtpLoginFailing()) }},
		{"smtp 535 echoing AUTH LOGIN's password", func() (Notifier, error) {
			return smtpTo(smtpFailing("535 5.7.8 bad password " + base64.StdEncoding.EncodeToString([]byte(smtpPass))))
		}},
		{"smtp connection refused", func() (Notifier, error) { return smtpTo(closedAddr(t)) }},
		{"smtp timeout", func() (Notifier, error) { return smtpTo(newSilentServer(t)) }},
		{"webhook URL that does not parse", func() (Notifier, error) {
			return NewWebhook(WebhookOptions{URL: "http://" + hookUser + ":" + hookPass + "%zz@example.com" + hookPath})
		}},
		{"smtp URL that does not parse", func() (Notifier, error) {
			return NewSMTP(SMTPOptions{URL: "smtp://alerts:" + smtpPass + "%zz@mail.example.com", From: "a@example.com", To: []string{"b@example.com"}})
		}},
		{"smtp URL with a bad scheme", func() (Notifier, error) {
			return NewSMTP(SMTPOptions{URL: "smtpx://alerts:" + smtpPass + "@mail.example.com", From: "a@example.com", To: []string{"b@example.com"}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.make()
			if err == nil {
				_, err = c.Notify(context.Background(), fixtureFiring())
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, text := range errorTexts(err) {
				for _, s := range secrets {
					// A secret's start is enough to leak it, as when a
					// body is cut short before it is scrubbed.
					if strings.Contains(text, s[:min(len(s), 12)]) {
						t.Errorf("error shows %q: %s", s, text)
					}
				}
			}
			t.Log(err)
		})
	}
}

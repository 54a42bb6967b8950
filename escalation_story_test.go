package main

// Escalation stories: tiers set with ALERT_ESCALATION as a user writes it,
// driven through the real chain on the story's simulated clock (see
// story_test.go), on both databases: the tier an alert reached is kept
// with its state, and a later tier is written to the outbox by the worker
// that escalates.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/metrics"
	"github.com/dynowatch/dynowatch/internal/store"
)

// tiers is a receiver for the later tiers: an ntfy topic and PagerDuty's
// Events API, each answering as the real one does. It keeps what each
// got as "channel status".
type tiers struct {
	url string
	mu  sync.Mutex
	got []string
}

const storyRoutingKey = "0123456789abcdef0123456789abcdef"

func newTiers(t *testing.T) *tiers {
	p := &tiers{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got string
		switch r.URL.Path {
		case "/dynowatch-oncall": // ntfy: the status is the tag after the emoji
			tags := strings.Split(r.Header.Get("Tags"), ",")
			if r.Method != http.MethodPost || len(tags) < 2 || r.Header.Get("Title") == "" {
				t.Errorf("ntfy got %s %v", r.Method, r.Header)
			}
			got = "ntfy " + tags[1]
			w.Write([]byte(`{"id":"x","event":"message"}`))
		case "/v2/enqueue":
			var ev struct {
				RoutingKey  string `json:"routing_key"`
				EventAction string `json:"event_action"`
				DedupKey    string `json:"dedup_key"`
			}
			if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || ev.RoutingKey != storyRoutingKey || ev.DedupKey == "" {
				t.Errorf("PagerDuty got %+v, %v", ev, err)
			}
			got = "pagerduty " + ev.EventAction
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(`{"status":"success","message":"Event processed","dedup_key":"` + ev.DedupKey + `"}`))
		default:
			t.Errorf("tiers: %s %s", r.Method, r.URL)
			http.NotFound(w, r)
			return
		}
		p.mu.Lock()
		p.got = append(p.got, got)
		p.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// env is the config vars of a story with the webhook now, ntfy after 10
// minutes and PagerDuty after 30, and more.
func (p *tiers) env(more ...string) []string {
	return append([]string{"NTFY_URL=" + p.url + "/dynowatch-oncall", "PAGERDUTY_API_URL=" + p.url, "PAGERDUTY_ROUTING_KEY=" + storyRoutingKey,
		"ALERT_ESCALATION=webhook now; ntfy after 10m; pagerduty after 30m"}, more...)
}

// expect checks what the later tiers got, in order.
func (p *tiers) expect(t *testing.T, want ...string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if strings.Join(p.got, "\n") != strings.Join(want, "\n") {
		t.Errorf("later tiers got:\n  %s\nwant:\n  %s", strings.Join(p.got, "\n  "), strings.Join(want, "\n  "))
	}
}

const storyR15 = "heroku[web.1]: Error R15 (Memory quota vastly exceeded)"

// r15For logs an R15 every five minutes for d (the R15 window is 10m: it
// keeps firing).
func (s *story) r15For(d time.Duration) {
	s.t.Helper()
	for end := s.now().Add(d); s.now().Before(end); {
		s.log("shop", storyR15)
		s.advance(min(5*time.Minute, end.Sub(s.now())))
	}
}

// tierOf returns the escalation tier the API shows of the alert key.
func (s *story) tierOf(key string) int {
	s.t.Helper()
	_, body := s.call("GET", "/api/v1/alerts?app=shop", "")
	var list struct {
		Alerts []struct {
			Key  string
			Tier int `json:"escalation_tier"`
		}
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		s.t.Fatalf("alerts: %v: %s", err, body)
	}
	for _, a := range list.Alerts {
		if a.Key == key {
			return a.Tier
		}
	}
	s.t.Fatalf("no alert %s in %s", key, body)
	return 0
}

// An alert acknowledged before its second tier is due is not reminded of
// and escalates to nobody; the ack and the resolution go to the webhook,
// the one channel that heard it fire.
func TestStoryAckedBeforeTier2NeverEscalates(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		p := newTiers(t)
		s := newStoryOn(t, st, p.env("ALERT_REPEAT_INTERVAL=20m")...)
		s.log("shop", storyR15)
		s.advance(time.Minute)
		s.expect("firing shop r15 R15")
		if code, body := s.call("POST", "/api/v1/alerts/r15%7Cshop%7Cweb.1/ack", `{"by":"Ana"}`); code != http.StatusOK {
			t.Fatalf("ack: %d %s", code, body)
		}
		s.r15For(time.Hour)
		s.log("shop", "app[web.1]: still here") // lines, not R15s: the app is not silent
		s.advance(10 * time.Minute)             // the R15 window after the last
		s.expect("firing shop r15 R15", "acknowledged shop r15 R15", "resolved shop r15 R15")
		p.expect(t)
	})
}

// An alert nobody acknowledges reaches ntfy ten minutes after it fired,
// not before; acked then, PagerDuty never hears of it, and the ack and the
// resolution go to the webhook and ntfy, which heard it fire.
func TestStoryUnackedEscalatesUntilAcked(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		p := newTiers(t)
		s := newStoryOn(t, st, p.env()...)
		key := "r15|shop|web.1"
		s.log("shop", storyR15)
		s.advance(15 * time.Second)
		s.expect("firing shop r15 R15")
		s.r15For(10*time.Minute - 30*time.Second) // 15 s short of ten minutes after it fired
		p.expect(t)
		if got := s.tierOf(key); got != 1 {
			t.Fatalf("tier %d before ten minutes, want 1", got)
		}
		s.advance(15 * time.Second)
		p.expect(t, "ntfy firing")
		if got := s.tierOf(key); got != 2 {
			t.Fatalf("tier %d at ten minutes, want 2", got)
		}
		if code, body := s.call("POST", "/api/v1/alerts/r15%7Cshop%7Cweb.1/ack", `{"by":"Ana","reason":"scaling up"}`); code != http.StatusOK {
			t.Fatalf("ack: %d %s", code, body)
		}
		s.r15For(time.Hour)
		p.expect(t, "ntfy firing", "ntfy acknowledged")
		s.log("shop", "app[web.1]: still here")
		s.advance(10 * time.Minute)
		s.expect("firing shop r15 R15", "acknowledged shop r15 R15", "resolved shop r15 R15")
		p.expect(t, "ntfy firing", "ntfy acknowledged", "ntfy resolved")
	})
}

// Two worker dynos tick side by side, each with its own engine and sender
// on one store: every tier is paged once.
func TestStorySecondWorkerNeverEscalatesTwice(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		p := newTiers(t)
		s := newStoryOn(t, st, p.env()...)
		other, err := newAlerting(s.cfg, s.cfg.Rules, s.checks, s.logger, s.st, metrics.New(), s.now, s.links)
		if err != nil {
			t.Fatal(err)
		}
		otherSender := s.newSender("worker.2")
		s.log("shop", storyR15)
		for end := s.now().Add(45 * time.Minute); s.now().Before(end); {
			if s.now().Sub(storyBegin)%(5*time.Minute) == 0 {
				s.log("shop", storyR15)
			}
			s.clock.Add(int64(alertEvery))
			if err := s.pipe.Flush(s.ctx); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for _, w := range []struct {
				al   *alerting
				send func()
			}{{s.al, s.send}, {other, func() {
				if _, _, err := otherSender.SendDue(s.ctx, 50); err != nil {
					t.Error(err)
				}
			}}} {
				wg.Go(func() {
					if err := w.al.evaluate(s.ctx, s.now()); err != nil {
						t.Error(err)
					}
					w.send()
				})
			}
			wg.Wait()
		}
		s.expect("firing shop r15 R15")
		p.expect(t, "ntfy firing", "pagerduty trigger")
	})
}

// A release (every dyno restarts) between the firing and its second tier
// loses nothing: the new worker escalates on time.
func TestStoryRestartKeepsPendingEscalation(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		p := newTiers(t)
		s := newStoryOn(t, st, p.env()...)
		s.log("shop", storyR15)
		s.r15For(5 * time.Minute)
		s.configure(p.env()...) // the restart: a new engine and sender, the same store
		s.r15For(5*time.Minute - 15*time.Second)
		p.expect(t)
		s.r15For(21 * time.Minute)
		s.expect("firing shop r15 R15")
		p.expect(t, "ntfy firing", "pagerduty trigger")
	})
}

// readmeEscalation returns the vars of the README's Escalation example.
func readmeEscalation(t *testing.T) map[string]string {
	t.Helper()
	m := regexp.MustCompile("(?s)### Escalation\n.*?```sh\n(.*?)```").FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md no longer shows the Escalation example")
	}
	out := map[string]string{}
	for _, kv := range regexp.MustCompile(`([A-Z_]+)=("[^"]*"|\S+)`).FindAllStringSubmatch(m[1], -1) {
		out[kv[1]] = strings.Trim(kv[2], `"`)
	}
	if out["ALERT_ESCALATION"] == "" || out["ALERT_ESCALATION_CRITICAL"] == "" {
		t.Fatalf("README's Escalation example %v sets no ALERT_ESCALATION and ALERT_ESCALATION_CRITICAL", out)
	}
	return out
}

// TestREADMEEscalationExample sets the README's Escalation example, with
// Slack, SMS and PagerDuty pointed at a fake of their APIs, and lets a
// warning (R14) and a critical alert (R15) of two apps fire for 40
// minutes, nobody acknowledging them: the warning reaches Slack at once and
// SMS at ten minutes, never PagerDuty; the critical one Slack and SMS at
// once and PagerDuty at five minutes.
func TestREADMEEscalationExample(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		heard []string // "channel app minutes:seconds after the start"
		s     *story
	)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		channel := "slack"
		switch {
		case strings.HasPrefix(r.URL.Path, "/sms/"):
			channel = "sms"
			io.WriteString(w, `{"messages":[{"status":{"groupId":1,"groupName":"PENDING"}}]}`)
		case r.URL.Path == "/v2/enqueue":
			channel = "pagerduty"
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"x"}`)
		default:
			io.WriteString(w, "ok")
		}
		app := "?"
		for _, a := range []string{"shop", "api"} {
			if strings.Contains(string(body), a) {
				app = a
			}
		}
		at := s.now().Sub(storyBegin)
		mu.Lock()
		heard = append(heard, fmt.Sprintf("%s %s %02d:%02d", channel, app, int(at.Minutes()), int(at.Seconds())%60))
		mu.Unlock()
	}))
	defer fake.Close()
	env := []string{"SLACK_WEBHOOK_URL=" + fake.URL + "/services/T000/B000/XXXXXXXX",
		"INFOBIP_BASE_URL=" + fake.URL, "INFOBIP_API_KEY=k", "ALERT_SMS_TO=41793026727",
		"PAGERDUTY_ROUTING_KEY=" + storyRoutingKey, "PAGERDUTY_API_URL=" + fake.URL}
	for k, v := range readmeEscalation(t) {
		env = append(env, k+"="+v)
	}
	s = newStory(t, env...)
	for range 8 {
		s.log("shop", "heroku[web.1]: Error R14 (Memory quota exceeded)")
		s.log("api", storyR15)
		s.advance(5 * time.Minute)
	}
	mu.Lock()
	defer mu.Unlock()
	// The alerts fire at 00:00 and go out at the worker's first tick (it
	// runs every 15 s); a tier due at 10:00 goes out at the tick of 10:00.
	want := []string{"slack shop 00:15", "slack api 00:15", "sms api 00:15", "pagerduty api 05:00", "sms shop 10:00"}
	got := slices.Clone(heard)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the channels heard, in any order:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

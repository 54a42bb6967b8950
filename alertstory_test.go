package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/alert"
	"github.com/dynowatch/dynowatch/api"
	"github.com/dynowatch/dynowatch/config"
	"github.com/dynowatch/dynowatch/drain"
	"github.com/dynowatch/dynowatch/ingest"
	"github.com/dynowatch/dynowatch/parse"
	"github.com/dynowatch/dynowatch/store"
	"github.com/dynowatch/dynowatch/store/storetest"
)

// alertStory drives the alert path as a user meets it, on simulated time:
// the ALERT_ vars as the README writes them, Heroku's own log lines through
// parse, ingest (rollups, events) and the detector, the worker's window
// rules and tick, the real store, the silences API, and a receiver on one
// channel ("webhook") that gets whatever the outbox lets out.
type alertStory struct {
	t     *testing.T
	ctx   context.Context
	now   time.Time
	st    *store.Store
	al    *alerting
	api   http.Handler
	heard []alert.Notification // what the receiver got, in order
}

// storyStart is the story's first moment; lines are stamped relative to it.
var storyStart = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func newAlertStory(t *testing.T, environ ...string) *alertStory {
	t.Helper()
	rules, err := alert.LoadRules(environ, config.ChannelVars())
	if err != nil {
		t.Fatal(err)
	}
	s := &alertStory{t: t, ctx: context.Background(), now: storyStart, st: storetest.MustOpenEmbedded(t)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine, err := alert.NewEngine(alert.EngineOptions{Store: alertStore{s.st}, Rules: rules, Channels: []string{"webhook"}, Logger: log,
		Now: func() time.Time { return s.now }})
	if err != nil {
		t.Fatal(err)
	}
	s.al = &alerting{rules: rules, engine: engine, store: s.st, log: log, detector: &alert.Detector{Rules: rules}}
	mux := http.NewServeMux()
	if err := api.Register(mux, api.Options{Store: s.st, Passwords: []string{"pw"}, Logger: log, Now: func() time.Time { return s.now }}); err != nil {
		t.Fatal(err)
	}
	s.api = mux
	return s
}

// at moves the story's clock to d after its start.
func (s *alertStory) at(d time.Duration) { s.now = storyStart.Add(d) }

// line stamps a Heroku log line (without its timestamp) with the story's now.
func (s *alertStory) line(rest string) string { return s.now.Format(time.RFC3339) + " " + rest }

// drain delivers lines of app as a drain request arriving now, through
// ingest, whose rollups are flushed before it returns.
func (s *alertStory) drain(app string, lines ...string) {
	s.t.Helper()
	var entries []parse.Entry
	sc := parse.NewScanner(strings.NewReader(strings.Join(lines, "\n")+"\n"), parse.FormPlain)
	for sc.Scan() {
		e, err := sc.Entry()
		if err != nil {
			s.t.Fatalf("parsing %q: %v", lines, err)
		}
		entries = append(entries, *e)
	}
	p, err := ingest.New(ingest.Options{Store: s.st, Logger: s.al.log, FlushEvery: time.Hour, Committers: 1, EventLinesPerMinute: 100,
		Now: func() time.Time { return s.now },
		Observe: func(app string, entries []parse.Entry) {
			if err := s.al.engine.Apply(s.ctx, s.al.detector.Observe(app, entries)); err != nil {
				s.t.Errorf("applying observations: %v", err)
			}
		}})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	if _, err := p.Ingest(s.ctx, &drain.Batch{App: app, Received: s.now, Entries: entries}); err != nil {
		s.t.Fatal(err)
	}
	cancel() // Run flushes the rollups as it stops
	if err := <-done; err != nil {
		s.t.Fatal(err)
	}
	s.deliver()
}

// tick is the worker's alert job at now: window rules and time.
func (s *alertStory) tick() {
	s.t.Helper()
	if err := s.al.evaluate(s.ctx, s.now); err != nil {
		s.t.Fatal(err)
	}
	s.deliver()
}

// deliver hands the receiver what the outbox lets out now.
func (s *alertStory) deliver() {
	s.t.Helper()
	items, err := s.st.ClaimOutbox(s.ctx, "story", s.now, time.Minute, 100)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, it := range items {
		var n alert.Notification
		if err := json.Unmarshal(it.Payload, &n); err != nil {
			s.t.Fatal(err)
		}
		s.heard = append(s.heard, n)
		if err := s.st.MarkSent(s.ctx, it.ID, "story", s.now); err != nil {
			s.t.Fatal(err)
		}
	}
}

// told returns what the receiver got since the last call, one
// "status RULE code dyno" line per alert.
func (s *alertStory) told() []string {
	var out []string
	for _, n := range s.heard {
		for _, a := range n.Alerts {
			out = append(out, strings.Join(strings.Fields(string(n.Status)+" "+a.Rule.Var()+" "+a.Code+" "+a.Dyno), " "))
		}
	}
	s.heard = nil
	return out
}

// expect fails unless the receiver got exactly want since the last call.
func (s *alertStory) expect(why string, want ...string) {
	s.t.Helper()
	if got := s.told(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		s.t.Fatalf("%s: the receiver got %q, want %q", why, got, want)
	}
}

// call makes an API request with the dashboard password and returns the
// status and body.
func (s *alertStory) call(method, path, body string) (int, string) {
	s.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.SetBasicAuth("me", "pw")
	w := httptest.NewRecorder()
	s.api.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// TestSilenceByTheREADMEsRuleNameMutes: a silence for "R15" or "H_CODES",
// the README's spelling, mutes those alerts, as does the spelling of alerts
// ("slow_requests": the H12's 30 s makes the minute's p95).
func TestSilenceByTheREADMEsRuleNameMutes(t *testing.T) {
	s := newAlertStory(t)
	for _, rule := range []string{"R15", "H_CODES", "slow_requests"} {
		if code, body := s.call("POST", "/api/v1/silences", `{"rule":"`+rule+`","duration":"1h","reason":"known"}`); code != http.StatusCreated {
			t.Fatalf("silence of %s: %d %s", rule, code, body)
		}
	}
	s.drain("shop",
		s.line(`heroku[worker.1]: Process running mem=1029MB(201.0%)`),
		s.line(`heroku[worker.1]: Error R15 (Memory quota vastly exceeded)`),
		s.line(`heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno=web.1 connect=6ms service=30001ms status=503 bytes=0`))
	s.at(2 * time.Minute) // past ALERT_GROUP_WAIT: nothing is held back either
	s.tick()
	s.expect("R15 and H12 while silenced")
	s.drain("shop", s.line(`heroku[worker.2]: Error R14 (Memory quota exceeded)`))
	s.expect("an R14, which no silence covers", "firing R14 R14 worker.2")
}

// TestSilenceOfAnUnknownRuleIsRefused: a silence that would mute nothing is
// a 400 that lists the rules.
func TestSilenceOfAnUnknownRuleIsRefused(t *testing.T) {
	s := newAlertStory(t)
	code, body := s.call("POST", "/api/v1/silences", `{"rule":"H12","duration":"1h"}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "H_CODES") || !strings.Contains(body, "R15") {
		t.Errorf("silence of rule H12: %d %s, want 400 listing the rules", code, body)
	}
	code, body = s.call("POST", "/api/v1/silences", `{"key":"h12|shop","duration":"1h"}`)
	if code != http.StatusBadRequest {
		t.Errorf("silence of key h12|shop: %d %s, want 400", code, body)
	}
	if _, body := s.call("GET", "/api/v1/silences", ""); strings.Contains(body, "H12") || strings.Contains(body, "h12") {
		t.Errorf("refused silences were kept: %s", body)
	}
}

// requests are n router lines of app traffic at now: status 200 and 40 ms
// unless code says an H error (then as Heroku logs it).
func (s *alertStory) requests(n int, line string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s.line(line)
	}
	return out
}

const (
	okRequest   = `heroku[router]: at=info method=GET path="/" host=myapp.herokuapp.com request_id=0b27af66 fwd="115.96.38.61" dyno=web.1 connect=1ms service=40ms status=200 bytes=1811 protocol=https`
	serverError = `heroku[router]: at=info method=POST path="/orders" host=myapp.herokuapp.com request_id=9c1e2f00 fwd="115.96.38.61" dyno=web.2 connect=1ms service=120ms status=500 bytes=310 protocol=https`
	h80Request  = `heroku[router]: at=info code=H80 desc="Maintenance mode" method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno= connect= service= status=503 bytes=`
	h12Request  = `heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/" host=myapp.herokuapp.com fwd=17.17.17.17 dyno=web.1 connect=6ms service=30001ms status=503 bytes=0`
)

// TestMaintenanceModeNeverPages: `heroku maintenance:on` turns every request
// into an H80 with status 503; nobody is paged while it lasts (not even for
// the errors that made someone turn it on), nor once it ends, and the first
// normal request ends it.
func TestMaintenanceModeNeverPages(t *testing.T) {
	s := newAlertStory(t)
	s.drain("shop", append(s.requests(37, okRequest), s.requests(3, serverError)...)...) // 7.5% 5xx
	for m := 1; m <= 6; m++ {                                                            // maintenance:on
		s.at(time.Duration(m) * time.Minute)
		s.drain("shop", s.requests(40, h80Request)...)
		s.tick()
	}
	s.expect("in maintenance mode")
	for m := 7; m <= 13; m++ { // maintenance:off, 5XX_RATE's window still holds the H80s
		s.at(time.Duration(m) * time.Minute)
		s.drain("shop", s.requests(40, okRequest)...)
		s.tick()
	}
	s.expect("after maintenance")
	s.drain("shop", s.line(h12Request))
	s.expect("an H12 once maintenance is over", "firing H_CODES H12 web.1")
}

// TestHCodesAlertNamesTheDynoOfItsLatestError: an H_CODES alert is one per
// app and code; it reports the dyno of the error that (re)fired it, not the
// first it ever saw.
func TestHCodesAlertNamesTheDynoOfItsLatestError(t *testing.T) {
	s := newAlertStory(t)
	s.drain("shop", append(s.requests(40, okRequest), s.line(h12Request))...)
	s.expect("an H12 on web.1", "firing H_CODES H12 web.1")
	s.at(10 * time.Minute)
	s.tick()
	s.expect("a window later", "resolved H_CODES H12 web.1")
	s.at(20 * time.Minute)
	s.drain("shop", append(s.requests(40, okRequest), s.line(strings.Replace(h12Request, "dyno=web.1", "dyno=web.3", 1)))...)
	s.expect("an H12 on web.3", "firing H_CODES H12 web.3")
}

// TestCrashLoopCountsCrashesWithinASlidingWindow: CRASH_LOOP fires on 3
// crashes of one dyno within 15 minutes, wherever the first crash it ever
// counted was: crashes at 0, 14, 16 and 17 minutes fire at 17.
func TestCrashLoopCountsCrashesWithinASlidingWindow(t *testing.T) {
	s := newAlertStory(t)
	crashes := map[int]bool{0: true, 14: true, 16: true, 17: true}
	for m := 0; m <= 17; m++ {
		s.at(time.Duration(m) * time.Minute)
		if crashes[m] {
			s.drain("shop", s.line(`heroku[web.1]: State changed from up to crashed`))
		}
		s.tick()
		if m < 17 {
			s.expect(fmt.Sprintf("minute %d", m))
		}
	}
	s.expect("the third crash within 15 minutes", "firing CRASH_LOOP web.1")
}

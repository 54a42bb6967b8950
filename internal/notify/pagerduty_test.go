package notify

import (
	"bytes"
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
)

var _ Notifier = (*PagerDuty)(nil)

const testPagerDutyKey = "R0UT1NGKEYdynowatch0123456789abc" // 32 characters, as PagerDuty's

// fixtureReminder is the R14 alert, still firing an hour on.
func fixtureReminder() *alert.Notification {
	n := fixtureFiring()
	n.ID = "01JPB7M2Z3R14REMINDER"
	n.Status = alert.Reminder
	n.CreatedAt = fixtureStart.Add(time.Hour)
	return n
}

// pagingFixtures are the notifications every paging channel has a golden
// rendering of.
func pagingFixtures() []struct {
	name string
	n    *alert.Notification
} {
	return []struct {
		name string
		n    *alert.Notification
	}{
		{"firing", fixtureFiring()},
		{"grouped", fixtureGrouped()},
		{"reminder", fixtureReminder()},
		{"resolved", fixtureResolved()},
	}
}

func TestPagerDutyGolden(t *testing.T) {
	for _, tc := range pagingFixtures() {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.MarshalIndent(renderPagerDuty(tc.n, testPagerDutyKey), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "render-"+tc.name+".pagerduty.json", string(b)+"\n")
		})
	}
}

// pagerDutyServer is a fake Events API v2: it checks each request as
// PagerDuty does and answers as PagerDuty does.
type pagerDutyServer struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	events []pagerDutyEvent
	// answer, when set, overrides the answer to a valid event.
	answer func(e pagerDutyEvent) (status int, body string)
}

func newPagerDutyServer(t *testing.T) *pagerDutyServer {
	t.Helper()
	p := &pagerDutyServer{t: t}
	p.srv = httptest.NewServer(http.HandlerFunc(p.handle))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *pagerDutyServer) handle(w http.ResponseWriter, r *http.Request) {
	t := p.t
	if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
		t.Errorf("request %s %s, want POST /v2/enqueue", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type=%q, want application/json", ct)
	}
	b, _ := io.ReadAll(r.Body)
	var e pagerDutyEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Errorf("body is not an event: %v: %s", err, b)
	}
	// What PagerDuty refuses with 400 "invalid event".
	var errs []string
	if len(e.RoutingKey) != 32 {
		errs = append(errs, "Length of 'routing_key' is incorrect (should be 32 characters)")
	}
	if e.EventAction != "trigger" && e.EventAction != "resolve" && e.EventAction != "acknowledge" {
		errs = append(errs, "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')")
	}
	if e.DedupKey == "" && e.EventAction != "trigger" || len(e.DedupKey) > 255 {
		errs = append(errs, "'dedup_key' is invalid")
	}
	if e.EventAction == "trigger" {
		switch {
		case e.Payload == nil:
			errs = append(errs, "'payload' is missing or blank")
		case e.Payload.Summary == "" || len([]rune(e.Payload.Summary)) > 1024:
			errs = append(errs, "'payload.summary' is missing or blank")
		case e.Payload.Source == "":
			errs = append(errs, "'payload.source' is missing or blank")
		case !strings.Contains(" critical error warning info ", " "+e.Payload.Severity+" "):
			errs = append(errs, "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')")
		}
		if e.Payload != nil && e.Payload.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339, e.Payload.Timestamp); err != nil {
				errs = append(errs, "'payload.timestamp' is invalid")
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if len(errs) > 0 {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": errs})
		return
	}
	p.mu.Lock()
	p.events = append(p.events, e)
	answer := p.answer
	p.mu.Unlock()
	if answer != nil {
		status, body := answer(e)
		w.WriteHeader(status)
		io.WriteString(w, body)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": e.DedupKey})
}

func (p *pagerDutyServer) got() []pagerDutyEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]pagerDutyEvent(nil), p.events...)
}

func newTestPagerDuty(t *testing.T, api string) *PagerDuty {
	t.Helper()
	c, err := NewPagerDuty(PagerDutyOptions{RoutingKey: testPagerDutyKey, APIURL: api})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPagerDutyIncidentLifecycle: an alert's firing, reminder and
// resolution reach PagerDuty under one dedup_key, derived from the alert's
// key, so that they are one incident; a grouped firing triggers each of
// its alerts.
func TestPagerDutyIncidentLifecycle(t *testing.T) {
	srv := newPagerDutyServer(t)
	c := newTestPagerDuty(t, srv.srv.URL)
	for _, n := range []*alert.Notification{fixtureFiring(), fixtureReminder(), fixtureResolved()} {
		if retry, err := c.Notify(context.Background(), n); err != nil || retry {
			t.Fatalf("%s: Notify=%v, %v", n.Status, retry, err)
		}
	}
	got := srv.got()
	var actions []string
	for _, e := range got {
		actions = append(actions, e.EventAction+" "+e.DedupKey)
	}
	want := []string{"trigger dynowatch:r14/shop/web.1", "trigger dynowatch:r14/shop/web.1", "resolve dynowatch:r14/shop/web.1"}
	if strings.Join(actions, ", ") != strings.Join(want, ", ") {
		t.Fatalf("events %q, want %q", actions, want)
	}
	p := got[0].Payload
	if p.Severity != "critical" || p.Source != "shop" || p.Component != "web.1" || p.Class != "R14" ||
		p.Timestamp != "2025-03-14T09:26:03Z" || len(p.CustomDetails.Evidence) != 3 || got[0].RoutingKey != testPagerDutyKey {
		t.Errorf("trigger %+v", got[0])
	}
	if got[2].Payload != nil {
		t.Errorf("resolve carries a payload: %+v", got[2].Payload)
	}

	// A second worker, or this one after a restart, sends the same key.
	other := newTestPagerDuty(t, srv.srv.URL)
	if _, err := other.Notify(context.Background(), fixtureFiring()); err != nil {
		t.Fatal(err)
	}
	if k := srv.got()[3].DedupKey; k != want[0][len("trigger "):] {
		t.Errorf("another worker's dedup_key %q", k)
	}

	before := len(srv.got())
	if _, err := c.Notify(context.Background(), fixtureGrouped()); err != nil {
		t.Fatal(err)
	}
	var keys, severities []string
	for _, e := range srv.got()[before:] {
		keys = append(keys, e.DedupKey)
		severities = append(severities, e.Payload.Severity)
	}
	if strings.Join(keys, " ") != "dynowatch:r14/shop/web.1 dynowatch:h_codes/shop/H12 dynowatch:5xx_rate/shop" ||
		strings.Join(severities, " ") != "critical critical warning" {
		t.Errorf("grouped: keys %q severities %q", keys, severities)
	}
}

// TestPagerDutyTestTriggersAndResolves: `dynowatch alert test` opens an
// alert under a key of its own and resolves it at once.
func TestPagerDutyTestTriggersAndResolves(t *testing.T) {
	srv := newPagerDutyServer(t)
	c := newTestPagerDuty(t, srv.srv.URL)
	n := &alert.Notification{ID: "test-20260101T000000", Status: alert.Test, Alerts: []alert.Alert{{Key: "test|dynowatch", App: "dynowatch",
		Severity: alert.Critical, Summary: "Test notification from dynowatch: this channel works"}}}
	if _, err := c.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	got := srv.got()
	if len(got) != 2 || got[0].EventAction != "trigger" || got[1].EventAction != "resolve" || got[0].DedupKey != got[1].DedupKey ||
		!strings.Contains(got[0].DedupKey, n.ID) || !strings.HasPrefix(got[0].Payload.Summary, "dynowatch test, nothing is wrong") {
		t.Errorf("events %+v", got)
	}
}

// TestPagerDutyAnswers: PagerDuty's answers, and whether each is worth a
// retry.
func TestPagerDutyAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		wantRetry bool
		wantErr   string
	}{
		{"accepted", 202, `{"status":"success","message":"Event processed","dedup_key":"dynowatch:r14/shop/web.1"}`, false, ""},
		{"invalid event", 400, `{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing or blank"]}`, false,
			"400 Bad Request: invalid event: Event object is invalid: 'payload.summary' is missing or blank"},
		{"rate limited", 429, `{"status":"throttle event","message":"Requests for this service are arriving too quickly.  Please retry later."}`, true,
			"429 Too Many Requests: throttle event: Requests for this service"},
		{"server error", 500, "<html>oops</html>", true, "500 Internal Server Error: <html>oops</html>"},
		{"unavailable", 503, "", true, "503 Service Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newPagerDutyServer(t)
			srv.answer = func(pagerDutyEvent) (int, string) { return tc.status, tc.body }
			c := newTestPagerDuty(t, srv.srv.URL)
			retry, err := c.Notify(context.Background(), fixtureFiring())
			if tc.wantErr == "" {
				if err != nil || retry {
					t.Fatalf("Notify=%v, %v", retry, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || retry != tc.wantRetry {
				t.Errorf("Notify=%v, %v; want retry %v and %q", retry, err, tc.wantRetry, tc.wantErr)
			}
		})
	}
	// The fake's own check: a bad key is PagerDuty's 400, not retried.
	srv := newPagerDutyServer(t)
	c := newTestPagerDuty(t, srv.srv.URL)
	c.key = "short"
	retry, err := c.Notify(context.Background(), fixtureFiring())
	if err == nil || retry || !strings.Contains(err.Error(), "Length of 'routing_key' is incorrect") {
		t.Errorf("bad key: Notify=%v, %v", retry, err)
	}
}

func TestPagerDutyRendering(t *testing.T) {
	long := fixtureFiring()
	long.Alerts[0].Summary = strings.Repeat("memory ", 400)
	long.Alerts[0].Key = strings.Repeat("k", 300)
	e := renderPagerDuty(long, testPagerDutyKey)[0]
	if n := len([]rune(e.Payload.Summary)); n > 1024 {
		t.Errorf("summary of %d characters, PagerDuty takes 1024", n)
	}
	if len(e.DedupKey) > 255 || !strings.HasPrefix(e.DedupKey, "dynowatch:sha256:") {
		t.Errorf("dedup_key %q for a long alert key", e.DedupKey)
	}
	if e.DedupKey != renderPagerDuty(long, testPagerDutyKey)[0].DedupKey {
		t.Error("a hashed dedup_key is not stable")
	}
	for s, want := range map[alert.Severity]string{alert.Critical: "critical", alert.Warning: "warning", alert.Info: "info", "": "error"} {
		if got := pagerDutySeverity(s); got != want {
			t.Errorf("severity %q → %q, want %q", s, got, want)
		}
	}
	noApp := fixtureFiring()
	noApp.Alerts[0].App = ""
	if src := renderPagerDuty(noApp, testPagerDutyKey)[0].Payload.Source; src != "dynowatch" {
		t.Errorf("source of an alert of no app = %q", src)
	}
	flap := fixtureFiring()
	flap.Status = alert.Flapping
	if e := renderPagerDuty(flap, testPagerDutyKey)[0]; e.EventAction != "trigger" || !strings.Contains(e.Payload.Summary, "flapping") {
		t.Errorf("flapping: %+v", e)
	}
}

func TestNewPagerDutyValidates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       PagerDutyOptions
		wantErr string
	}{
		{"no key", PagerDutyOptions{}, "notify: PagerDutyOptions.RoutingKey is required"},
		{"short key", PagerDutyOptions{RoutingKey: "abc"}, "notify: PagerDutyOptions.RoutingKey: want the 32-character integration key of an Events API v2 integration, got 3 characters"},
		{"bad URL", PagerDutyOptions{RoutingKey: testPagerDutyKey, APIURL: "events.pagerduty.com"}, "notify: PagerDutyOptions.APIURL: want a URL starting http:// or https://"},
		{"URL with credentials", PagerDutyOptions{RoutingKey: testPagerDutyKey, APIURL: "https://u:p@events.pagerduty.com"}, "notify: PagerDutyOptions.APIURL: want the API host only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPagerDuty(tc.o)
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("err=%v, want %q", err, tc.wantErr)
			}
		})
	}
	c, err := NewPagerDuty(PagerDutyOptions{RoutingKey: testPagerDutyKey, APIURL: "https://events.eu.pagerduty.com/"})
	if err != nil || c.endpoint != "https://events.eu.pagerduty.com/v2/enqueue" {
		t.Errorf("EU endpoint %q, %v", c.endpoint, err)
	}
	if c, _ := NewPagerDuty(PagerDutyOptions{RoutingKey: testPagerDutyKey}); c.endpoint != "https://events.pagerduty.com/v2/enqueue" {
		t.Errorf("default endpoint %q", c.endpoint)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/store"
)

// pagers are fake PagerDuty, Pushover and ntfy services, each recording
// what it heard as one line per request.
type pagers struct {
	mu        sync.Mutex
	pagerduty []string // "action dedup_key severity"
	pushover  []string // "priority title", or "cancel receipt"
	ntfy      []string // "priority X-Sequence-ID title"
	repeating map[string]bool
	env       []string // the config vars that point dynowatch at them
}

func newPagers(t *testing.T) *pagers {
	t.Helper()
	p := &pagers{repeating: map[string]bool{}}
	pd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct {
			Action  string `json:"event_action"`
			Key     string `json:"dedup_key"`
			Payload *struct {
				Severity string `json:"severity"`
			} `json:"payload"`
		}
		json.NewDecoder(r.Body).Decode(&e)
		line := e.Action + " " + e.Key
		if e.Payload != nil {
			line += " " + e.Payload.Severity
		}
		p.mu.Lock()
		p.pagerduty = append(p.pagerduty, line)
		p.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"`+e.Key+`"}`)
	}))
	t.Cleanup(pd.Close)
	po := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		p.mu.Lock()
		defer p.mu.Unlock()
		if receipt, ok := strings.CutPrefix(r.URL.Path, "/1/receipts/"); ok {
			receipt = strings.TrimSuffix(receipt, "/cancel.json")
			if !p.repeating[receipt] {
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"receipt":"not found","errors":["receipt not found; may be invalid or expired"],"status":0,"request":"r"}`)
				return
			}
			delete(p.repeating, receipt)
			p.pushover = append(p.pushover, "cancel "+receipt)
			io.WriteString(w, `{"status":1,"request":"r"}`)
			return
		}
		p.pushover = append(p.pushover, r.PostForm.Get("priority")+" "+strings.Fields(r.PostForm.Get("title"))[0])
		if r.PostForm.Get("priority") == "2" {
			receipt := fmt.Sprintf("r%029d", len(p.pushover))
			p.repeating[receipt] = true
			io.WriteString(w, `{"status":1,"request":"r","receipt":"`+receipt+`"}`)
			return
		}
		io.WriteString(w, `{"status":1,"request":"r"}`)
	}))
	t.Cleanup(po.Close)
	nt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.ntfy = append(p.ntfy, r.Header.Get("Priority")+" "+r.Header.Get("X-Sequence-ID")+" "+strings.Fields(r.Header.Get("Title"))[0])
		p.mu.Unlock()
		io.WriteString(w, `{"id":"x","event":"message","topic":"alerts"}`)
	}))
	t.Cleanup(nt.Close)
	p.env = []string{"PAGERDUTY_ROUTING_KEY=0123456789abcdef0123456789abcdef", "PAGERDUTY_API_URL=" + pd.URL,
		"PUSHOVER_TOKEN=azGDORePK8gMaC0QOYAMyEEuzJnyUi", "PUSHOVER_USER=uQiRzpo4DXghDmr9QzzfQu27cmVRsG", "PUSHOVER_API_URL=" + po.URL,
		"NTFY_URL=" + nt.URL + "/alerts"}
	return p
}

func (p *pagers) heard() (pagerduty, pushover, ntfy []string, repeating int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.pagerduty), slices.Clone(p.pushover), slices.Clone(p.ntfy), len(p.repeating)
}

// TestStoryPagingChannelsKeepOneIncident: an R15 fires, is reminded and
// resolves, with a restart and a second worker in between. PagerDuty hears
// one dedup_key throughout (one incident), Pushover's emergency is
// cancelled when it resolves, and ntfy's messages share one sequence id.
func TestStoryPagingChannelsKeepOneIncident(t *testing.T) {
	t.Parallel()
	eachStoreOf(t, func(t *testing.T, st *store.Store) {
		p := newPagers(t)
		env := append([]string{"ALERT_GROUP_WAIT=0s", "ALERT_REPEAT_INTERVAL=30m", "ALERT_SILENCE_ENABLED=false"}, p.env...)
		s := newStoryOn(t, st, env...)
		for range 7 { // an R15 every five minutes for 35 minutes
			s.log("shop", "heroku[web.1]: Error R15 (Memory quota vastly exceeded)")
			s.advance(5 * time.Minute)
		}
		s.configure(env...) // a release restarts every dyno
		s.sender = s.newSender("worker.2")
		s.advance(15 * time.Minute) // the R15 window (10m) passes
		s.expect("firing shop r15 R15", "reminder shop r15 R15", "resolved shop r15 R15")

		pagerduty, pushover, ntfy, repeating := p.heard()
		const key = "dynowatch:r15|shop|web.1"
		if want := []string{"trigger " + key + " critical", "trigger " + key + " critical", "resolve " + key}; !slices.Equal(pagerduty, want) {
			t.Errorf("PagerDuty heard %q, want %q", pagerduty, want)
		}
		if len(pushover) != 4 || pushover[0] != "2 FIRING" || pushover[1] != "1 REMINDER" || !strings.HasPrefix(pushover[2], "cancel ") ||
			pushover[3] != "0 RESOLVED" || repeating != 0 {
			t.Errorf("Pushover heard %q with %d emergencies repeating; want the emergency, the reminder, its cancel and the resolution", pushover, repeating)
		}
		var seq []string
		for _, m := range ntfy {
			seq = append(seq, strings.Fields(m)[1])
		}
		if len(ntfy) != 3 || strings.Fields(ntfy[0])[0] != "5" || seq[0] != seq[1] || seq[1] != seq[2] {
			t.Errorf("ntfy heard %q, want three messages under one sequence id, the first at priority 5", ntfy)
		}
	})
}

package ack

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// pageServer serves the ack page over an embedded store holding a firing
// R14 of shop-prod web.1, with a real alert engine, at the clock's time.
func pageServer(t *testing.T, now *time.Time, slackSecret ...string) (*httptest.Server, *Links, *store.Store) {
	t.Helper()
	st := storetest.MustOpenEmbedded(t)
	a := &alert.State{Key: "r14|shop-prod|web.1", Rule: alert.RuleR14, App: "shop-prod", Dyno: "web.1", Code: "R14", Severity: alert.Warning,
		Phase: alert.PhaseFiring, Summary: "R14 memory quota exceeded on web.1", StartedAt: t0, FiredAt: t0, LastEventAt: t0, Notified: true}
	if ok, err := st.SaveAlert(context.Background(), a, 0, nil); err != nil || !ok {
		t.Fatalf("SaveAlert = %v, %v", ok, err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := func() time.Time { return *now }
	e, err := alert.NewEngine(alert.EngineOptions{Store: st, Rules: alert.DefaultRules(), Logger: log, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	l := mustLinks(t, "b7e1d04c9a2f5e36")
	mux := http.NewServeMux()
	o := Options{Links: l, Store: st, Acker: e, Logger: log, Now: clock}
	if len(slackSecret) > 0 {
		o.SlackSigningSecret = slackSecret[0]
	}
	if err := Register(mux, o); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, l, st
}

func fetch(t *testing.T, method, u string, form url.Values) (int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == "GET" {
		resp, err = http.Get(u)
	} else {
		resp, err = http.PostForm(u, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s %s: headers %v; the token must neither leak in a Referer nor be cached", method, u, resp.Header)
	}
	return resp.StatusCode, string(b)
}

// TestAckLinkOnAPhone: a GET (a person, or a chat app previewing the link)
// shows the alert and asks for a name, acknowledging nothing; the POST of
// the form acknowledges it with that name and reason; the link then shows
// who acknowledged it.
func TestAckLinkOnAPhone(t *testing.T) {
	now := t0.Add(time.Minute)
	srv, l, st := pageServer(t, &now)
	link := srv.URL + "/ack/" + token(t, l.URL("r14|shop-prod|web.1", t0, t0))

	code, body := fetch(t, "GET", link, nil)
	if code != http.StatusOK || !strings.Contains(body, `<form method="post">`) || !strings.Contains(body, "R14 memory quota exceeded on web.1") {
		t.Fatalf("GET: %d\n%s", code, body)
	}
	if a, _, _ := st.Alert(context.Background(), "r14|shop-prod|web.1"); a.Acked() {
		t.Fatal("a GET acknowledged the alert: a chat app's link preview would")
	}
	code, body = fetch(t, "POST", link, url.Values{"name": {""}, "reason": {"x"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "give a name") || !strings.Contains(body, `<form method="post">`) {
		t.Fatalf("POST without a name: %d\n%s", code, body)
	}
	code, body = fetch(t, "POST", link, url.Values{"name": {"Ana <script>"}, "reason": {"restarting web.1"}})
	if code != http.StatusOK || !strings.Contains(body, "Acknowledged by Ana &lt;script&gt; at 2026-11-30 03:15 UTC. Reason: restarting web.1") {
		t.Fatalf("POST: %d\n%s", code, body)
	}
	a, _, _ := st.Alert(context.Background(), "r14|shop-prod|web.1")
	if want := (alert.Ack{By: "Ana <script>", At: now, Reason: "restarting web.1"}); a.Ack != want {
		t.Fatalf("stored ack %+v, want %+v", a.Ack, want)
	}
	if code, body = fetch(t, "GET", link, nil); code != http.StatusOK || strings.Contains(body, "<form") || !strings.Contains(body, "Acknowledged by Ana") {
		t.Fatalf("GET once acknowledged: %d\n%s", code, body)
	}
	fetch(t, "POST", link, url.Values{"name": {"Bo"}}) // already acknowledged: Ana's is kept, and logged once
	audit, err := st.Audit(context.Background(), store.AuditQuery{})
	if err != nil || len(audit) != 1 || audit[0].Actor != "ack link" || audit[0].Action != store.AuditAck || audit[0].Detail != "as Ana <script>" ||
		audit[0].Key != "r14|shop-prod|web.1" || audit[0].Reason != "restarting web.1" {
		t.Fatalf("audit log %+v, %v; want the link's ack once", audit, err)
	}
}

// TestAckLinkRefused: an expired link and a forged one are refused with a
// page that says which, and acknowledge nothing.
func TestAckLinkRefused(t *testing.T) {
	now := t0.Add(LinkTTL + time.Minute)
	srv, l, st := pageServer(t, &now)
	expired := srv.URL + "/ack/" + token(t, l.URL("r14|shop-prod|web.1", t0, t0))
	forged := srv.URL + "/ack/" + token(t, mustLinks(t, "guessed").URL("r14|shop-prod|web.1", t0, now))
	for _, tc := range []struct {
		name, link string
		status     int
		says       string
	}{
		{"expired", expired, http.StatusGone, "This acknowledge link expired on 2026-12-01 03:14 UTC."},
		{"forged", forged, http.StatusForbidden, "This acknowledge link is not one this dynowatch signed"},
	} {
		for _, method := range []string{"GET", "POST"} {
			code, body := fetch(t, method, tc.link, url.Values{"name": {"Mallory"}})
			if code != tc.status || !strings.Contains(body, tc.says) || strings.Contains(body, "<form") {
				t.Errorf("%s link, %s: %d\n%s\nwant %d saying %q", tc.name, method, code, body, tc.status, tc.says)
			}
		}
	}
	if a, _, _ := st.Alert(context.Background(), "r14|shop-prod|web.1"); a.Acked() {
		t.Fatalf("acknowledged by %q", a.Ack.By)
	}
}

// TestPushoverReceiptCallbackAcks: Pushover posts an emergency
// notification's callback URL, the alert's ack link, when someone
// acknowledges it on their phone; the alert is acknowledged by that device.
func TestPushoverReceiptCallbackAcks(t *testing.T) {
	now := t0.Add(time.Minute)
	srv, l, st := pageServer(t, &now)
	// Pushover's documented callback fields.
	form := url.Values{"receipt": {"rLqVuqTRh62UzxtmqiaLzQmVcPgiCy"}, "acknowledged": {"1"}, "acknowledged_at": {"1764472500"},
		"acknowledged_by": {"uQiRzpo4DXghDmr9QzzfQu27cmVRsG"}, "acknowledged_by_device": {"ana-phone"}}
	if code, body := fetch(t, "POST", srv.URL+"/ack/"+token(t, l.URL("r14|shop-prod|web.1", t0, t0)), form); code != http.StatusOK {
		t.Fatalf("callback: %d\n%s", code, body)
	}
	if a, _, _ := st.Alert(context.Background(), "r14|shop-prod|web.1"); a.Ack.By != "Pushover (ana-phone)" {
		t.Fatalf("ack by %q, want Pushover (ana-phone)", a.Ack.By)
	}
}

// TestAckLinkOfAnEarlierEpisode: the alert resolved and fired again within
// the link's day; the old link neither acknowledges the new episode, which
// starts unacknowledged, nor offers to, and its page says why.
func TestAckLinkOfAnEarlierEpisode(t *testing.T) {
	now := t0.Add(time.Hour)
	srv, l, st := pageServer(t, &now)
	old := srv.URL + "/ack/" + token(t, l.URL("r14|shop-prod|web.1", t0, t0))
	ctx := context.Background()
	a, _, err := st.Alert(ctx, "r14|shop-prod|web.1")
	if err != nil {
		t.Fatal(err)
	}
	a.Phase, a.ResolvedAt = alert.PhaseResolved, t0.Add(10*time.Minute)
	if ok, err := st.SaveAlert(ctx, &a, a.Version, nil); err != nil || !ok {
		t.Fatalf("resolving: %v, %v", ok, err)
	}
	again := now.Add(-5 * time.Minute)
	b := alert.State{Key: a.Key, Rule: a.Rule, App: a.App, Dyno: a.Dyno, Code: a.Code, Severity: a.Severity, Phase: alert.PhaseFiring,
		Summary: a.Summary, StartedAt: again, FiredAt: again, LastEventAt: again, Notified: true}
	if ok, err := st.SaveAlert(ctx, &b, a.Version, nil); err != nil || !ok {
		t.Fatalf("firing again: %v, %v", ok, err)
	}
	for _, method := range []string{"GET", "POST"} {
		code, body := fetch(t, method, old, url.Values{"name": {"Ana"}})
		if code != http.StatusConflict || !strings.Contains(body, "for an earlier episode of this alert") || strings.Contains(body, "<form") {
			t.Errorf("%s the old link: %d\n%s\nwant 409 saying it is an earlier episode's", method, code, body)
		}
	}
	if a, _, _ := st.Alert(ctx, "r14|shop-prod|web.1"); a.Acked() {
		t.Fatalf("the new episode was acknowledged by %q through the old link", a.Ack.By)
	}
	fresh := srv.URL + "/ack/" + token(t, l.URL("r14|shop-prod|web.1", again, again))
	if code, body := fetch(t, "POST", fresh, url.Values{"name": {"Ana"}}); code != http.StatusOK || !strings.Contains(body, "Acknowledged by Ana") {
		t.Fatalf("the new episode's link: %d\n%s", code, body)
	}
}

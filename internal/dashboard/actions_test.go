package dashboard

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/auth"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// mustServeRoles registers the dashboard over st behind the two passwords,
// "act-pw" and "view-pw", and returns a function that GETs a path with one.
func mustServeRoles(t *testing.T, st Store, now time.Time) func(path, pass string) (int, string) {
	t.Helper()
	mux := http.NewServeMux()
	guard := auth.NewDashboard([]string{"act-pw"}, []string{"view-pw"}, "dynowatch")
	if err := Register(mux, Options{Store: st, Rules: alert.DefaultRules(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: guard.View, CanAct: auth.CanAct,
		Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	return func(path, pass string) (int, string) {
		req := httptest.NewRequest("GET", path, nil)
		req.SetBasicAuth("ana", pass)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
}

// mustSeedIncident stores shop's firing R14 (episode 1), its firing notice
// sent on slack and given up on sms, a silence of shop by bo and the audit
// entry the API would have written for it.
func mustSeedIncident(t *testing.T, st *store.Store, now time.Time) alert.State {
	t.Helper()
	ctx := context.Background()
	mustSeedShop(t, st, now)
	a := &alert.State{Key: "r14|shop|web.1", Rule: alert.RuleR14, App: "shop", Dyno: "web.1", Code: "R14", Severity: alert.Warning, Phase: alert.PhaseFiring,
		Summary: "R14 memory quota exceeded on web.1", StartedAt: now.Add(-20 * time.Minute), FiredAt: now.Add(-19 * time.Minute), LastEventAt: now.Add(-19 * time.Minute)}
	var out []alert.Outgoing
	for _, ch := range []string{"slack", "sms"} {
		out = append(out, alert.Outgoing{DeliveryID: "d1", Channel: ch, App: "shop", AlertKey: a.Key, Status: alert.Firing, Severity: alert.Warning,
			Payload: []byte(`{}`), CreatedAt: a.FiredAt})
	}
	if ok, err := st.SaveAlert(ctx, a, 0, out); err != nil || !ok {
		t.Fatalf("SaveAlert = %v, %v", ok, err)
	}
	claimed, err := st.ClaimOutbox(ctx, "w1", a.FiredAt, time.Minute, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("ClaimOutbox = %v, %v", claimed, err)
	}
	for _, c := range claimed {
		if c.Channel == "slack" {
			err = st.MarkSent(ctx, c.ID, "w1", a.FiredAt.Add(time.Second))
		} else {
			err = st.MarkFailed(ctx, c.ID, "w1", a.FiredAt.Add(time.Second), time.Time{}, "401 Unauthorized: bad API key")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	sl := &alert.Silence{App: "shop", Until: now.Add(2 * time.Hour), Reason: "planned maintenance", CreatedBy: "bo", CreatedAt: now.Add(-10 * time.Minute)}
	if err := st.CreateSilence(ctx, sl); err != nil {
		t.Fatal(err)
	}
	if err := st.AddAudit(ctx, &store.AuditEntry{At: sl.CreatedAt, Actor: "bo", Action: store.AuditSilence, App: "shop", Reason: sl.Reason,
		Detail: fmt.Sprintf("silence %d until 2024-03-15T14:30:00Z", sl.ID)}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Alerts(ctx, store.AlertQuery{Key: a.Key, Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("Alerts = %v, %v", got, err)
	}
	return got[0]
}

func TestActionsShownOnlyToThePasswordThatActs(t *testing.T) {
	now := time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)
	st := storetest.MustOpenEmbedded(t)
	a := mustSeedIncident(t, st, now)
	get := mustServeRoles(t, st, now)
	timeline := fmt.Sprintf("/alerts/%d", a.ID)
	for _, path := range []string{"/alerts", "/apps/shop", timeline} {
		code, page := get(path, "act-pw")
		if code != 200 {
			t.Fatalf("%s: %d\n%s", path, code, page)
		}
		for _, want := range []string{`data-api="/api/v1/silences"`, `actions.js`, `<input name="reason"`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s with the password that acts lacks %s", path, want)
			}
		}
		code, page = get(path, "view-pw")
		if code != 200 || strings.Contains(page, "<form") || strings.Contains(page, "actions.js") || strings.Contains(page, "<button") {
			t.Errorf("%s with the view password: %d, or a form or button:\n%s", path, code, page)
		}
		if !strings.Contains(page, "Silenced until 2024-03-15 14:30:00 UTC by bo: “planned maintenance”") && path != "/apps/shop" {
			t.Errorf("%s does not say the alert is silenced:\n%s", path, page)
		}
	}
	_, page := get("/alerts", "act-pw")
	for _, want := range []string{
		`<option value="{&#34;key&#34;:&#34;r14|shop|web.1&#34;}">this alert</option>`,
		`<option value="{&#34;app&#34;:&#34;shop&#34;,&#34;rule&#34;:&#34;r14&#34;}">r14 on shop</option>`,
		`<option value="{&#34;app&#34;:&#34;shop&#34;}">all of shop</option>`,
		`data-api="/api/v1/silences/1" data-method="DELETE"`,
		`<a href="` + timeline + `" class="timeline">timeline</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/alerts lacks %s:\n%s", want, page)
		}
	}
	_, page = get("/apps/shop", "act-pw")
	for _, want := range []string{"Silence this app", `<option value="{&#34;app&#34;:&#34;shop&#34;}">all of shop</option>`, "R14 memory quota exceeded on web.1", "app shop"} {
		if !strings.Contains(page, want) {
			t.Errorf("/apps/shop lacks %s:\n%s", want, page)
		}
	}
	if code, _ := get("/alerts", "nope"); code != http.StatusUnauthorized {
		t.Errorf("/alerts with a wrong password: %d", code)
	}
}

// TestTimeline: an incident's page lists in time order when it started and
// fired, where it was notified and how that went, and who silenced it.
func TestTimeline(t *testing.T) {
	now := time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)
	st := storetest.MustOpenEmbedded(t)
	a := mustSeedIncident(t, st, now)
	get := mustServeRoles(t, st, now)
	code, page := get(fmt.Sprintf("/alerts/%d", a.ID), "view-pw")
	if code != 200 {
		t.Fatalf("timeline: %d\n%s", code, page)
	}
	want := []string{
		`<td>2024-03-15 12:10:00 UTC <span class="muted">(20m ago)</span></td><td class="pending">started</td>`,
		`<td>2024-03-15 12:11:00 UTC <span class="muted">(19m ago)</span></td><td class="firing">fired</td>`,
		`<td class="ok">firing notice</td><td>slack</td><td class="line">sent</td>`,
		`<td class="firing">firing notice</td><td>sms</td><td class="line">given up: 401 Unauthorized: bad API key</td>`,
		`<td class="silent">silenced</td><td>bo</td><td class="line">“planned maintenance” — app shop: silence 1 until 2024-03-15T14:30:00Z</td>`,
	}
	last := -1
	for _, w := range want {
		i := strings.Index(page, w)
		if i < 0 {
			t.Fatalf("the timeline lacks %s:\n%s", w, page)
		}
		if i < last {
			t.Errorf("the timeline has %s out of order:\n%s", w, page)
		}
		last = i
	}
	for _, path := range []string{"/alerts/999", "/alerts/x"} {
		if code, _ := get(path, "view-pw"); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
}

func TestAuditPage(t *testing.T) {
	now := time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)
	st := storetest.MustOpenEmbedded(t)
	mustSeedIncident(t, st, now)
	if err := st.AddAudit(context.Background(), &store.AuditEntry{At: now, Actor: "", Action: store.AuditDeleteApp, App: "old-app"}); err != nil {
		t.Fatal(err)
	}
	get := mustServeRoles(t, st, now)
	code, page := get("/audit", "view-pw")
	if code != 200 {
		t.Fatalf("/audit: %d\n%s", code, page)
	}
	del := strings.Index(page, `<td>(no name)</td><td>delete_app</td>`)
	sil := strings.Index(page, `<td>bo</td><td>silence</td>`)
	if del < 0 || sil < 0 || del > sil {
		t.Errorf("/audit lacks the deletion then the silence, newest first:\n%s", page)
	}
	if code, _ := get("/audit?before=x", "view-pw"); code != http.StatusBadRequest {
		t.Errorf("/audit?before=x: %d, want 400", code)
	}
}

// TestAck: a firing alert nobody took on offers the Acknowledge form, with
// the signed-in user's name; once acknowledged, its card and its timeline
// say by whom and why, and the form is gone.
func TestAck(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)
	st := storetest.MustOpenEmbedded(t)
	a := mustSeedIncident(t, st, now)
	get := mustServeRoles(t, st, now)
	form := `<form class="act ack" data-api="/api/v1/alerts/r14%7cshop%7cweb.1/ack">`
	_, page := get("/alerts", "act-pw")
	if !strings.Contains(strings.ToLower(page), form) || !strings.Contains(page, `<input name="by" value="ana"`) {
		t.Fatalf("/alerts lacks the ack form for ana:\n%s", page)
	}
	acked, _, err := alert.Acknowledge(a, "Ana", "restarting web.1", now.Add(-5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.SaveAlert(ctx, &acked, a.Version, nil); err != nil || !ok {
		t.Fatalf("SaveAlert = %v, %v", ok, err)
	}
	_, page = get("/alerts", "act-pw")
	if strings.Contains(page, `class="act ack"`) || !strings.Contains(page, "Acknowledged by Ana 5m ago: “restarting web.1”") {
		t.Errorf("/alerts after the ack: still the form, or not who acked:\n%s", page)
	}
	_, page = get(fmt.Sprintf("/alerts/%d", a.ID), "view-pw")
	if !strings.Contains(page, `<td class="ok">acknowledged</td><td>Ana</td><td class="line">restarting web.1</td>`) {
		t.Errorf("the timeline lacks the ack:\n%s", page)
	}
}

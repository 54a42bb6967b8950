package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestDashboardActionsInBrowser drives headless Chromium as an operator
// (DASHBOARD_PASSWORD, user name ana) and as a viewer
// (DASHBOARD_VIEW_PASSWORD): the operator silences and acknowledges an R14
// from the alerts page, sees both in its incident's timeline with the
// webhook that heard it fire, ends the silence, and silences the app from
// its page; the audit log keeps all four under ana's name. The viewer sees no button on
// any of those pages, and what it posts anyway is refused.
func TestDashboardActionsInBrowser(t *testing.T) {
	t.Parallel()
	chromium := chromiumPath(t)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer hook.Close()
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s3cret", "DASHBOARD_PASSWORD": "dash-pw", "DASHBOARD_VIEW_PASSWORD": "view-pw",
		"ALERT_WEBHOOK_URL": hook.URL, "ALERT_GROUP_WAIT": "0s"})
	ts := time.Now().UTC().Format(time.RFC3339)
	if code := post(t, base+"/drain/shop", "s3cret", frame("<45>1 "+ts+" host heroku web.1 - Error R14 (Memory quota exceeded)\n"), nil); code != 204 {
		t.Fatalf("drain: %d; logs:\n%s", code, logs)
	}
	// The alert fires, and its firing is sent to the webhook.
	var alerts struct {
		Alerts []struct {
			ID       int64  `json:"id"`
			Key      string `json:"key"`
			Notified bool   `json:"notified"`
		} `json:"alerts"`
	}
	waitFor(t, func() bool {
		getJSON(t, base+"/api/v1/alerts?state=firing&app=shop", "dash-pw", &alerts)
		return len(alerts.Alerts) == 1 && alerts.Alerts[0].Notified
	})
	id := alerts.Alerts[0].ID
	card := fmt.Sprintf("#alert-%d", id)

	browser := newBrowser(t, chromium)
	ops := browserTab(t, browser, "ana", "dash-pw")
	var (
		mu         sync.Mutex
		exceptions []string
	)
	if err := chromedp.Listen(ops, func(ev any) {
		if ev, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			defer mu.Unlock()
			exceptions = append(exceptions, fmt.Sprintf("%s:%d: %s %s", ev.ExceptionDetails.URL, ev.ExceptionDetails.LineNumber+1, ev.ExceptionDetails.Text, exceptionDescription(ev.ExceptionDetails)))
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range exceptions {
			t.Errorf("exception in the operator's tab: %s", e)
		}
	}()
	ctx, cancel := context.WithTimeout(ops, browserTimeout)
	defer cancel()
	run := func(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v; logs:\n%s", what, err, logs)
		}
	}
	text := func(ctx context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	run(ctx, "silence the alert from the alerts page",
		chromedp.Navigate(base+"/alerts"),
		chromedp.WaitVisible(chromedp.CSS(card+" form.silence")),
		chromedp.SetValue(chromedp.CSS(card+` form.silence select[name="scope"]`), fmt.Sprintf(`{"key":%q}`, alerts.Alerts[0].Key)),
		chromedp.SetValue(chromedp.CSS(card+` form.silence input[name="duration"]`), "2h"),
		chromedp.SendKeys(chromedp.CSS(card+` form.silence input[name="reason"]`), "deploying the fix"),
		chromedp.Click(chromedp.CSS(card+` form.silence button`)),
		chromedp.WaitVisible(chromedp.CSS(card+" .silenced")),
	)
	if s := text(ctx, "table.silences"); !strings.Contains(s, "alert "+alerts.Alerts[0].Key) || !strings.Contains(s, "ana") || !strings.Contains(s, "deploying the fix") {
		t.Errorf("silences in force: %q, want ana's silence of the alert", s)
	}

	run(ctx, "acknowledge the alert from the alerts page",
		chromedp.SendKeys(chromedp.CSS(card+` form.ack input[name="reason"]`), "on it: restarting web.1"),
		chromedp.Click(chromedp.CSS(card+` form.ack button`)),
		chromedp.WaitVisible(chromedp.CSS(card+" .acked")),
	)
	if s := text(ctx, card+" .acked"); !strings.Contains(s, "Acknowledged by ana") || !strings.Contains(s, "on it: restarting web.1") {
		t.Errorf("the acknowledged alert says %q", s)
	}

	run(ctx, "the incident's timeline", chromedp.Click(chromedp.CSS(card+" a.timeline")), chromedp.WaitVisible(chromedp.CSS("table.timeline")))
	tl := text(ctx, "table.timeline")
	for _, want := range []string{"started", "fired", "firing notice\twebhook\tsent", "silenced\tana\t“deploying the fix”", "acknowledged\tana\ton it: restarting web.1"} {
		if !strings.Contains(tl, want) {
			t.Errorf("the timeline lacks %q:\n%s", want, tl)
		}
	}

	run(ctx, "end the silence",
		chromedp.Navigate(base+"/alerts"),
		chromedp.Click(chromedp.CSS(`table.silences form button`)),
		chromedp.WaitNotPresent(chromedp.CSS("table.silences")),
		chromedp.WaitNotPresent(chromedp.CSS(card+" .silenced")),
	)

	run(ctx, "silence the app from its page",
		chromedp.Navigate(base+"/apps/shop"),
		chromedp.WaitVisible(chromedp.CSS(`#silence-app form`)),
		chromedp.SendKeys(chromedp.CSS(`#silence-app input[name="reason"]`), "planned maintenance"),
		chromedp.Click(chromedp.CSS(`#silence-app button`)),
		chromedp.WaitVisible(chromedp.CSS("table.silences")),
	)
	if s := text(ctx, "table.silences"); !strings.Contains(s, "app shop") || !strings.Contains(s, "planned maintenance") {
		t.Errorf("the app's silences: %q", s)
	}

	var audit struct {
		Entries []struct{ Actor, Action, App, Key, Reason string } `json:"entries"`
	}
	getJSON(t, base+"/api/v1/audit", "view-pw", &audit)
	var did []string
	for _, e := range audit.Entries {
		did = append(did, e.Actor+" "+e.Action+" "+e.App+e.Key+" "+e.Reason)
	}
	key := alerts.Alerts[0].Key
	want := []string{"ana silence shop planned maintenance", "ana unsilence " + key + " ", "ana ack shop" + key + " on it: restarting web.1", "ana silence " + key + " deploying the fix"}
	if strings.Join(did, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(did, "\n"), strings.Join(want, "\n"))
	}
	run(ctx, "the audit page", chromedp.Navigate(base+"/audit"), chromedp.WaitVisible(chromedp.CSS("table.audit")))
	if s := text(ctx, "table.audit"); strings.Count(s, "\tana\t") != 4 {
		t.Errorf("the audit page: %q, want ana's four actions", s)
	}

	// The viewer: every page, no button; a post made by hand is refused.
	viewer := browserTab(t, ops, "vic", "view-pw") // a second tab of the same browser
	vctx, vcancel := context.WithTimeout(viewer, browserTimeout)
	defer vcancel()
	for _, page := range []string{"/alerts", "/apps/shop", fmt.Sprintf("/alerts/%d", id), "/audit"} {
		var controls int
		run(vctx, "viewer on "+page, chromedp.Navigate(base+page), chromedp.WaitVisible(chromedp.CSS("h1")))
		controls, err := chromedp.Run(vctx, chromedp.Evaluate[int](`document.querySelectorAll("form, button, input, select").length`))
		if err != nil || controls != 0 {
			t.Errorf("the viewer sees %d controls on %s (%v)", controls, page, err)
		}
	}
	status, err := chromedp.Run(vctx, chromedp.Evaluate[int](`fetch("/api/v1/silences", {method: "POST", headers: {"Content-Type": "application/json"},
		body: JSON.stringify({app: "shop", duration: "1h", reason: "no"})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != http.StatusForbidden {
		t.Errorf("the viewer's POST of a silence: %d (%v), want 403", status, err)
	}
	var silences struct {
		Silences []struct{ Reason string } `json:"silences"`
	}
	getJSON(t, base+"/api/v1/silences", "dash-pw", &silences)
	if len(silences.Silences) != 1 || silences.Silences[0].Reason != "planned maintenance" {
		t.Errorf("silences in force: %+v, want the app's only", silences.Silences)
	}
}

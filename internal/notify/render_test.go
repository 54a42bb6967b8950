package notify

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the machine's zoneinfo

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var fixtureStart = time.Date(2025, 3, 14, 9, 26, 3, 0, time.UTC)

// fixtureFiring is one R14 alert, with log lines that try to inject markup.
func fixtureFiring() *alert.Notification {
	return &alert.Notification{
		ID:     "01JPB7M2Z3R14SHOPWEB1",
		Status: alert.Firing,
		Alerts: []alert.Alert{{
			Key:       "r14/shop/web.1",
			Rule:      "r14",
			App:       "shop",
			Dyno:      "web.1",
			Code:      "R14",
			Severity:  alert.Critical,
			Summary:   "R14 memory quota exceeded: rss 612MB of 512MB",
			StartedAt: fixtureStart,
			Evidence: []string{
				`2025-03-14T09:26:01Z heroku[web.1]: Process running mem=612M(119.6%)`,
				`2025-03-14T09:26:03Z heroku[web.1]: Error R14 (Memory quota exceeded)`,
				`2025-03-14T09:26:03Z app[web.1]: GET /cart?q=<script>alert("x")</script> & more`,
			},
			Release: "v42",
		}},
		URL:       "https://dynowatch.example.com/alerts/r14%2Fshop%2Fweb.1",
		CreatedAt: fixtureStart.Add(2 * time.Second),
		Timezone:  "Europe/Zurich",
	}
}

// fixtureGrouped is three alerts of one app that fired within a minute.
func fixtureGrouped() *alert.Notification {
	n := fixtureFiring()
	n.ID = "01JPB7M2Z3GROUPEDSHOP"
	n.Alerts = append(n.Alerts,
		alert.Alert{
			Key: "h_codes/shop/H12", Rule: "h_codes", App: "shop", Code: "H12", Severity: alert.Critical,
			Summary:   "H12 request timeout: 14 in 5m on POST /checkout",
			StartedAt: fixtureStart.Add(20 * time.Second),
			Evidence: []string{
				`2025-03-14T09:26:23Z heroku[router]: at=error code=H12 desc="Request timeout" method=POST path="/checkout" host=shop.herokuapp.com dyno=web.1 connect=0ms service=30000ms status=503 bytes=0`,
			},
		},
		alert.Alert{
			Key: "5xx_rate/shop", Rule: "5xx_rate", App: "shop", Severity: alert.Warning,
			Summary:   "5xx share 7.5% of 240 requests in 5m",
			StartedAt: fixtureStart.Add(41 * time.Second),
		},
	)
	return n
}

// fixtureResolved is the R14 alert, over after 12m30s.
func fixtureResolved() *alert.Notification {
	n := fixtureFiring()
	n.ID = "01JPB7M2Z3R14RESOLVED"
	n.Status = alert.Resolved
	n.Alerts[0].ResolvedAt = fixtureStart.Add(12*time.Minute + 30*time.Second)
	n.CreatedAt = n.Alerts[0].ResolvedAt.Add(time.Second)
	return n
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    *alert.Notification
	}{
		{"firing", fixtureFiring()},
		{"grouped", fixtureGrouped()},
		{"resolved", fixtureResolved()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := RenderEmail(tc.n)
			if err != nil {
				t.Fatal(err)
			}
			hook, err := RenderWebhook(tc.n)
			if err != nil {
				t.Fatal(err)
			}
			var indented bytes.Buffer
			if err := json.Indent(&indented, hook, "", "  "); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "render-"+tc.name+".email.txt", "Subject: "+e.Subject+"\n\n"+e.Text)
			checkGolden(t, "render-"+tc.name+".email.html", e.HTML)
			checkGolden(t, "render-"+tc.name+".sms.txt", RenderSMS(tc.n)+"\n")
			checkGolden(t, "render-"+tc.name+".webhook.json", indented.String()+"\n")
		})
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./notify -run TestRenderGolden -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", name, diff)
	}
}

func TestRenderEmailSubject(t *testing.T) {
	injected := fixtureFiring()
	injected.Alerts[0].Summary = "R14 boom\r\nBcc: victim@example.com"
	test := &alert.Notification{ID: "t1", Status: alert.Test}
	for _, tc := range []struct {
		name string
		n    *alert.Notification
		want string
	}{
		{"firing", fixtureFiring(), "[dynowatch] FIRING critical: R14 memory quota exceeded: rss 612MB of 512MB on shop web.1"},
		{"grouped", fixtureGrouped(), "[dynowatch] FIRING critical: R14 memory quota exceeded: rss 612MB of 512MB on shop web.1 (+2 more)"},
		{"resolved", fixtureResolved(), "[dynowatch] RESOLVED critical: R14 memory quota exceeded: rss 612MB of 512MB on shop web.1 (lasted 12m30s)"},
		{"code added", &alert.Notification{Status: alert.Reminder, Alerts: []alert.Alert{{App: "shop", Dyno: "worker.2", Code: "R15", Severity: alert.Warning, Summary: "memory quota vastly exceeded"}}},
			"[dynowatch] REMINDER warning: R15 memory quota vastly exceeded on shop worker.2"},
		{"no summary", &alert.Notification{Status: alert.Firing, Alerts: []alert.Alert{{App: "shop", Rule: "silence", Severity: alert.Info}}},
			"[dynowatch] FIRING info: silence on shop"},
		{"test without alerts", test, "[dynowatch] TEST: dynowatch test message"},
		{"header injection", injected, "[dynowatch] FIRING critical: R14 boom  Bcc: victim@example.com on shop web.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := RenderEmail(tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if e.Subject != tc.want {
				t.Errorf("Subject=%q, want %q", e.Subject, tc.want)
			}
		})
	}
}

func TestRenderEmailEscapesHTML(t *testing.T) {
	n := fixtureFiring()
	n.Alerts[0].Summary = `R14 "><img src=x onerror=alert(1)>`
	n.Alerts[0].App = "<b>shop</b>"
	n.Alerts[0].Evidence = append(n.Alerts[0].Evidence, `</pre><script>document.location="https://evil.example"</script>`)
	n.URL = "javascript:alert(document.cookie)"
	e, err := RenderEmail(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "<img", "<b>", "javascript:"} {
		if strings.Contains(e.HTML, bad) {
			t.Errorf("HTML body contains %q unescaped:\n%s", bad, e.HTML)
		}
	}
	for _, want := range []string{"&lt;script&gt;", "&lt;img src=x onerror=alert(1)&gt;", "&lt;b&gt;shop&lt;/b&gt;"} {
		if !strings.Contains(e.HTML, want) {
			t.Errorf("HTML body lacks %q", want)
		}
	}
	if strings.Count(e.HTML, "</pre>") != 1 {
		t.Errorf("a log line closed the <pre>:\n%s", e.HTML)
	}
}

func TestRenderEmailTimezone(t *testing.T) {
	for _, tc := range []struct {
		tz, want string
	}{
		{"", "Since:         2025-03-14 09:26:03 UTC"},
		{"UTC", "Since:         2025-03-14 09:26:03 UTC"},
		{"Europe/Zurich", "Since:         2025-03-14 10:26:03 CET"},
		{"America/New_York", "Since:         2025-03-14 05:26:03 EDT"},
		{"Not/AZone", "Since:         2025-03-14 09:26:03 UTC"},
	} {
		t.Run(tc.tz, func(t *testing.T) {
			n := fixtureFiring()
			n.Timezone = tc.tz
			e, err := RenderEmail(n)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(e.Text, tc.want) {
				t.Errorf("text lacks %q:\n%s", tc.want, e.Text)
			}
			if !strings.Contains(e.HTML, strings.TrimSpace(strings.TrimPrefix(tc.want, "Since:"))) {
				t.Errorf("HTML lacks the time %q", tc.want)
			}
		})
	}
}

func TestRenderEmailSaysEverything(t *testing.T) {
	n := fixtureFiring()
	e, err := RenderEmail(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"R14 memory quota exceeded", // what
		"shop", "web.1",             // where
		"2025-03-14 10:26:03 CET", // since when
		"critical",                // how bad
		"Error R14 (Memory quota exceeded)",
		"v42", // the release
		n.URL, // the link
		n.ID,  // the delivery id
	} {
		if !strings.Contains(e.Text, want) {
			t.Errorf("text lacks %q", want)
		}
		if !strings.Contains(e.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestRenderEmailCapsEvidence(t *testing.T) {
	n := fixtureFiring()
	n.Alerts[0].Evidence = nil
	for i := range 25 {
		n.Alerts[0].Evidence = append(n.Alerts[0].Evidence, "line "+strings.Repeat("x", i*40))
	}
	e, err := RenderEmail(n)
	if err != nil {
		t.Fatal(err)
	}
	more := fmt.Sprintf("(%d more)", 25-alert.MaxEvidence)
	if !strings.Contains(e.Text, more) || !strings.Contains(e.HTML, more) {
		t.Errorf("no count of the lines left out:\n%s", e.Text)
	}
	for line := range strings.SplitSeq(e.Text, "\n") {
		if runeLen(line) > maxEvidenceRunes+10 {
			t.Errorf("line of %d characters not cut", runeLen(line))
		}
	}
}

func TestRenderSMS(t *testing.T) {
	long := fixtureFiring()
	long.Alerts[0].Summary = "R14 memory quota exceeded: " + strings.Repeat("rss keeps growing after the deploy ", 6)
	noLinkRoom := fixtureFiring()
	noLinkRoom.URL = "https://dynowatch.example.com/" + strings.Repeat("a", 120)
	fancy := fixtureFiring()
	fancy.Alerts[0].Summary = "R14 “memory” quota exceeded — 🔥 rss ≥ 612MB… on café’s [web] dyno"
	for _, tc := range []struct {
		name string
		n    *alert.Notification
		want string
	}{
		{"firing with link", fixtureFiring(),
			"FIRING critical R14 shop web.1: memory quota exceeded: rss 612MB of 512MB https://dynowatch.example.com/alerts/r14%2Fshop%2Fweb.1"},
		{"long summary is cut, link kept", long,
			"FIRING critical R14 shop web.1: memory quota exceeded: rss keeps growing after the deploy rss keeps... https://dynowatch.example.com/alerts/r14%2Fshop%2Fweb.1"},
		{"link without room is dropped", noLinkRoom,
			"FIRING critical R14 shop web.1: memory quota exceeded: rss 612MB of 512MB"},
		{"grouped", fixtureGrouped(),
			"FIRING critical R14 shop web.1: memory quota exceeded: rss 612MB of 512MB (+2 more) https://dynowatch.example.com/alerts/r14%2Fshop%2Fweb.1"},
		{"resolved", fixtureResolved(),
			"RESOLVED critical R14 shop web.1 after 12m30s: memory quota exceeded: rss 612MB of 512MB https://dynowatch.example.com/alerts/r14%2Fshop%2Fweb.1"},
		{"typography", fancy,
			`FIRING critical R14 shop web.1: "memory" quota exceeded - rss >= 612MB... on café's (web) dyno https://dynowatch.example.com/alerts/r14%2Fshop%2Fweb.1`},
		{"test", &alert.Notification{Status: alert.Test}, "TEST: dynowatch test message"},
		{"code is only cut as a whole word", &alert.Notification{Status: alert.Firing, Alerts: []alert.Alert{{App: "shop", Code: "api", Severity: alert.Warning, Summary: "api_latency high"}}},
			"FIRING warning api shop: api_latency high"},
		{"reminder says for how long", &alert.Notification{Status: alert.Reminder, CreatedAt: fixtureStart.Add(time.Hour),
			Alerts: []alert.Alert{{App: "shop", Dyno: "web.1", Code: "R14", Severity: alert.Critical, Summary: "R14 memory quota exceeded", StartedAt: fixtureStart}}},
			"REMINDER critical R14 shop web.1 for 1h: memory quota exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RenderSMS(tc.n)
			if got != tc.want {
				t.Errorf("RenderSMS=\n%q, want\n%q", got, tc.want)
			}
			checkOneSMS(t, got)
		})
	}
}

func checkOneSMS(t *testing.T, s string) {
	t.Helper()
	if n := runeLen(s); n > smsMaxChars {
		t.Errorf("SMS of %d characters: %q", n, s)
	}
	for _, r := range s {
		if !isGSM7(r) {
			t.Errorf("SMS has %q (U+%04X), outside the basic GSM-7 set: %q", r, r, s)
		}
	}
}

// nastyStrings are the kinds of text an alert may carry into an SMS.
var nastyStrings = []string{
	"", "x", "shop", "my-very-long-heroku-app-name-30", "web.1", "worker.12", "run.4242",
	"R14", "H12", "SQLSTATE 53300", "check:https://shop.example.com/health",
	"memory quota exceeded", "“smart quotes” and ‘single’ ones", "🔥🔥 emoji 🚨 storm 💥",
	"tab\tand\nnewline\r\n", "extension chars [ ] { } ~ ^ | \\ €", "日本語のエラー", "Ωμέγα ελληνικά",
	"café Zürich Ærø São Paulo Łódź", "zero\u200bwidth\u200djoiner", "bidi \u202Eevil\u202C",
	strings.Repeat("long ", 80), strings.Repeat("é", 200), strings.Repeat("😀", 100),
	"https://dynowatch.example.com/alerts/r14", "https://x.example/with space", "https://x.example/~user/[1]",
}

func randomNotification(r *rand.Rand) *alert.Notification {
	pick := func() string { return nastyStrings[r.IntN(len(nastyStrings))] }
	statuses := []alert.Status{alert.Firing, alert.Reminder, alert.Flapping, alert.Resolved, alert.Test, "weird"}
	severities := []alert.Severity{alert.Info, alert.Warning, alert.Critical, ""}
	n := &alert.Notification{
		ID: pick(), Status: statuses[r.IntN(len(statuses))], URL: pick(),
		CreatedAt: fixtureStart.Add(time.Duration(r.IntN(100000)) * time.Second), Timezone: "Asia/Kolkata",
	}
	for range r.IntN(4) {
		n.Alerts = append(n.Alerts, alert.Alert{
			Rule: alert.RuleName(pick()), App: pick(), Dyno: pick(), Code: pick(), Summary: pick() + " " + pick(),
			Severity:   severities[r.IntN(len(severities))],
			StartedAt:  fixtureStart,
			ResolvedAt: fixtureStart.Add(time.Duration(r.IntN(100000)) * time.Second),
			Evidence:   []string{pick(), pick()}, Release: pick(),
		})
	}
	return n
}

func TestRenderSMSAlwaysOneGSM7Message(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := randomNotification(r)
		s := RenderSMS(n)
		checkOneSMS(t, s)
		if want := strings.ToUpper(toGSM7(string(n.Status))); !strings.HasPrefix(s, want) {
			t.Fatalf("SMS %q does not start with the status %q", s, want)
		}
		if t.Failed() {
			t.Fatalf("notification: %+v", n)
		}
	}
}

func FuzzRenderSMS(f *testing.F) {
	for _, s := range nastyStrings {
		f.Add(s, s, s, s)
	}
	f.Fuzz(func(t *testing.T, app, code, summary, link string) {
		n := &alert.Notification{Status: alert.Firing, URL: link, Alerts: []alert.Alert{
			{App: app, Code: code, Summary: summary, Severity: alert.Critical, Dyno: "web.1"},
		}}
		checkOneSMS(t, RenderSMS(n))
	})
}

func TestRenderOtherFormatsNeverFail(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		n := randomNotification(r)
		e, err := RenderEmail(n)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(e.Subject, "\r\n") {
			t.Fatalf("subject on several lines: %q", e.Subject)
		}
		b, err := RenderWebhook(n)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %s", b)
		}
	}
}

func TestToGSM7(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain ASCII: a-z 0-9 @$%&*()", "plain ASCII: a-z 0-9 @$%&*()"},
		{"“quoted” ‘single’ – dash — long…", `"quoted" 'single' - dash - long...`},
		{"emoji 🔥 dropped", "emoji dropped"},
		{"  tabs\tand\nnewlines  ", "tabs and newlines"},
		{"[x]{y}~z^|\\€", "(x)(y)-z//EUR"},
		{"é è ù ì ò Ç Ø å Ä ß ñ ü à £ ¥ §", "é è ù ì ò Ç Ø å Ä ß ñ ü à £ ¥ §"},
		{"á ê ç Łódź", "a e c Lodz"},
		{"日本", ""},
	} {
		if got := toGSM7(tc.in); got != tc.want {
			t.Errorf("toGSM7(%q)=%q, want %q", tc.in, got, tc.want)
		}
		if !isGSM7String(toGSM7(tc.in)) {
			t.Errorf("toGSM7(%q) left characters outside the set", tc.in)
		}
	}
}

func TestRenderWebhook(t *testing.T) {
	n := fixtureGrouped()
	b, err := RenderWebhook(n)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"status": "firing", "app": "shop", "rule": "r14", "code": "R14", "dyno": "web.1",
		"severity": "critical", "summary": "R14 memory quota exceeded: rss 612MB of 512MB",
		"started_at": "2025-03-14T09:26:03Z", "release": "v42", "url": n.URL, "delivery_id": n.ID,
	} {
		if got[key] != want {
			t.Errorf("%s=%v, want %v", key, got[key], want)
		}
	}
	if _, ok := got["resolved_at"]; ok {
		t.Errorf("resolved_at set on a firing notification")
	}
	if ev, _ := got["evidence"].([]any); len(ev) != 3 {
		t.Errorf("evidence=%v, want the first alert's 3 lines", got["evidence"])
	}
	alerts, _ := got["alerts"].([]any)
	if len(alerts) != 3 {
		t.Fatalf("alerts=%v, want 3", got["alerts"])
	}
	if code := alerts[1].(map[string]any)["code"]; code != "H12" {
		t.Errorf("alerts[1].code=%v, want H12", code)
	}

	// No alert has evidence: the field is an empty list, not null.
	n = &alert.Notification{ID: "x", Status: alert.Test}
	b, err = RenderWebhook(n)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"status":"test","app":"","rule":"","code":"","dyno":"","severity":"","summary":"","evidence":[],"url":"","delivery_id":"x","alerts":[]}`; string(b) != want {
		t.Errorf("RenderWebhook=%s, want %s", b, want)
	}
}

// TestWebhookSeverityIsTheHighest: a grouped webhook's top-level severity
// is the highest of its alerts, whatever their order.
func TestWebhookSeverityIsTheHighest(t *testing.T) {
	n := &alert.Notification{ID: "d", Status: alert.Firing, Alerts: []alert.Alert{
		{Key: "r14|shop|web.2", Severity: alert.Warning}, {Key: "h_codes|shop|H12", Severity: alert.Critical}, {Key: "x", Severity: alert.Info}}}
	body, err := RenderWebhook(n)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Severity alert.Severity }
	if err := json.Unmarshal(body, &got); err != nil || got.Severity != alert.Critical {
		t.Fatalf("top-level severity %q, %v; want critical", got.Severity, err)
	}
}

package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	jsonv2 "github.com/chromedp/cdproto/cdp/jsonv2"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium, which .ci/run installs. Without it
// the test skips, except in CI, where it fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; .ci/run installs it")
	}
	t.Skip("chromium is not installed (apt-get install chromium); skipping the browser test")
	return ""
}

// browserTimeout bounds the steps of a browser test.
const browserTimeout = 3 * time.Minute

// newBrowser starts headless Chromium for t; tabs open with browserTab.
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	return actx
}

// browserTab opens a tab whose every request carries the basic auth of
// user and pass, as a browser sends it once they were typed in. Given
// newBrowser's context it starts the browser (that context must not time
// out); given a tab's, it opens another tab of the same browser.
func browserTab(t *testing.T, browser context.Context, user, pass string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	if err := chromedp.Do(ctx, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}})
		return chromedp.Void{}, err
	}); err != nil {
		t.Fatalf("opening a chromium tab: %v", err)
	}
	return ctx
}

// replayedLog is a Logplex body of the last ten minutes of an app "shop":
// router lines every few seconds with some 5xx and H12s, runtime metrics of
// two web dynos every minute, Postgres metrics, a release, a crash and an R14.
func replayedLog(now time.Time) string {
	var b strings.Builder
	line := func(at time.Time, prival, app, proc, msg string) {
		m := fmt.Sprintf("<%s>1 %s host %s %s - %s\n", prival, at.UTC().Format(time.RFC3339Nano), app, proc, msg)
		fmt.Fprintf(&b, "%d %s", len(m), m)
	}
	start := now.Add(-10 * time.Minute)
	for i := 0; i < 200; i++ {
		at := start.Add(time.Duration(i) * 3 * time.Second)
		dyno, status, service := fmt.Sprintf("web.%d", 1+i%2), 200, 20+(i*37)%400
		switch {
		case i%23 == 0:
			status = 500
		case i%11 == 0:
			status = 404
		case i%7 == 0:
			status = 302
		}
		if i%61 == 0 {
			line(at, "158", "heroku", "router", fmt.Sprintf(`at=error code=H12 desc="Request timeout" method=GET path="/reports" host=shop.example.com request_id=h%d fwd="10.0.0.1" dyno=%s connect=1ms service=30000ms status=503 bytes=0 protocol=https`, i, dyno))
			continue
		}
		line(at, "158", "heroku", "router", fmt.Sprintf(`at=info method=GET path="/orders/%d" host=shop.example.com request_id=r%d fwd="10.0.0.1" dyno=%s connect=1ms service=%dms status=%d bytes=%d protocol=https`, i, i, dyno, service, status, 1000+i))
	}
	for m := 0; m < 10; m++ {
		at := start.Add(time.Duration(m)*time.Minute + 20*time.Second)
		for d := 1; d <= 2; d++ {
			line(at, "45", "heroku", fmt.Sprintf("web.%d", d), fmt.Sprintf("source=web.%d dyno=heroku.1.abc%d sample#load_avg_1m=%.2f sample#memory_total=%.1fMB sample#memory_rss=%.1fMB sample#memory_cache=10.0MB sample#memory_swap=0.0MB sample#memory_pgpgin=1000pages sample#memory_pgpgout=900pages sample#memory_quota=512.00MB",
				d, d, 0.2*float64(m%4+d), 300+12*float64(m)+5*float64(d), 290+12*float64(m)+5*float64(d)))
		}
		line(at.Add(5*time.Second), "134", "app", "heroku-postgres", fmt.Sprintf("source=DATABASE addon=postgresql-shiny-123 sample#db_size=147391814791bytes sample#active-connections=%d sample#waiting-connections=0 sample#load-avg-1m=0.35", 10+m))
	}
	line(start.Add(4*time.Minute), "134", "app", "api", "Release v42 created by dev@example.com")
	line(start.Add(6*time.Minute), "134", "heroku", "web.2", "State changed from up to crashed")
	line(start.Add(6*time.Minute+5*time.Second), "134", "heroku", "web.2", "State changed from crashed to starting")
	line(start.Add(8*time.Minute), "45", "heroku", "web.1", "Error R14 (Memory quota exceeded)")
	return b.String()
}

// TestDashboardInBrowser drives headless Chromium over the dashboard of a
// server fed a replayed log: the overview lists the app, the app page draws
// its charts with data, and the console shows no errors. Screenshots go to
// $DYNOWATCH_SCREENSHOTS, or a temporary directory.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	chromium := chromiumPath(t)
	// The app's health endpoint, for a status check: every fourth run fails.
	var hits atomic.Int64
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1)%4 == 0 {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		}
	}))
	defer health.Close()
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s3cret", "DASHBOARD_PASSWORD": "dash-pw",
		"CHECK_API": "http " + health.URL + "/health every=1s timeout=500ms app=shop"})
	now := time.Now()
	if code := post(t, base+"/drain/shop", "s3cret", replayedLog(now), nil); code != 204 {
		t.Fatalf("drain: %d; logs:\n%s", code, logs.String())
	}
	var series struct {
		Series []struct{} `json:"series"`
	}
	waitFor(t, func() bool {
		getJSON(t, base+"/api/v1/apps/shop/series?metric=memory_rss_mb&from=15m", "dash-pw", &series)
		return len(series.Series) == 2
	})

	var checks struct {
		Checks []struct {
			Uptime map[string]float64 `json:"uptime"`
		} `json:"checks"`
	}
	waitFor(t, func() bool { // until a run failed, for the checks page's last error
		getJSON(t, base+"/api/v1/checks", "dash-pw", &checks)
		return len(checks.Checks) == 1 && checks.Checks[0].Uptime["24h"] < 1
	})

	shots := os.Getenv("DYNOWATCH_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := browserTab(t, newBrowser(t, chromium), "me", "dash-pw")

	var (
		mu       sync.Mutex
		problems []string
	)
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			problems = append(problems, fmt.Sprintf("exception at %s:%d: %s %s", d.URL, d.LineNumber+1, d.Text, exceptionDescription(d)))
		}
	}); err != nil {
		t.Fatal(err)
	}
	// Generous: two browser tests run side by side, on a CI machine that
	// may be busy with the rest of the suite (60 s ran out at a load of 30).
	tctx, cancelTimeout := context.WithTimeout(ctx, browserTimeout)
	defer cancelTimeout()
	ctx = tctx

	shoot := func(name string, buf []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(shots, name), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(expr string, v any) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			raw, err := chromedp.Evaluate[jsonv2.Value](expr)(ctx, t)
			if err != nil {
				return chromedp.Void{}, err
			}
			return chromedp.Void{}, jsonv2.Unmarshal(raw, v)
		}
	}
	into := func(a chromedp.Action[[]byte], dst *[]byte) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			b, err := a(ctx, t)
			*dst = b
			return chromedp.Void{}, err
		}
	}
	text := func(sel string, dst *string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			s, err := chromedp.Text(chromedp.CSS(sel))(ctx, t)
			*dst = s
			return chromedp.Void{}, err
		}
	}

	var overview string
	var buf []byte
	run("overview",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/apps/shop"]`)),
		text("table", &overview),
		into(chromedp.FullScreenshot(100), &buf),
	)
	shoot("overview.png", buf)
	if !strings.Contains(overview, "shop") {
		t.Errorf("the overview does not list shop: %q", overview)
	}

	var canvases int
	var points map[string]int
	run("app page",
		chromedp.Click(chromedp.CSS(`a[href="/apps/shop"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-chart="memory"] canvas`)),
		eval(`document.querySelectorAll(".uplot canvas").length`, &canvases),
		// Per chart, the points of its first series that have a value.
		eval(`Object.fromEntries(window.dynowatchPlots.map(u => [u._dynowatch.id, u._dynowatch.data[1].filter(v => v != null).length]))`, &points),
		into(chromedp.FullScreenshot(100), &buf),
	)
	shoot("app.png", buf)
	if canvases < 7 {
		t.Errorf("the app page drew %d charts, want 7 or more", canvases)
	}
	for _, id := range []string{"requests", "5xx", "latency", "codes", "memory", "load", "pg-conn"} {
		if points[id] == 0 {
			t.Errorf("chart %s has no points: %v", id, points)
		}
	}
	if points["requests"] < 8 {
		t.Errorf("the requests chart has %d points, want one a minute for 10 minutes", points["requests"])
	}
	var body string
	run("app page text", text("body", &body))
	for _, want := range []string{"Release v42 created by dev@example.com", "State changed from up to crashed", "Error R14 (Memory quota exceeded)"} {
		if !strings.Contains(body, want) {
			t.Errorf("the app page lacks %q", want)
		}
	}

	// On a phone, the charts fit the screen.
	var chartRight, pageWidth int
	run("app page on a phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`[data-chart="memory"] canvas`)),
		eval(`Math.round(document.querySelector('[data-chart="requests"] .uplot').getBoundingClientRect().right)`, &chartRight),
		eval(`document.documentElement.clientWidth`, &pageWidth),
		into(chromedp.CaptureScreenshot(), &buf),
	)
	shoot("app-phone.png", buf)
	if chartRight > pageWidth {
		t.Errorf("on a phone the requests chart ends at %dpx, past the page's %dpx", chartRight, pageWidth)
	}

	var checksText string
	run("checks page",
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate(base+"/checks"),
		chromedp.WaitVisible(chromedp.CSS(`[data-chart="check-0"] canvas`)),
		text("table", &checksText),
		into(chromedp.FullScreenshot(100), &buf),
	)
	shoot("checks.png", buf)
	if !strings.Contains(checksText, "api") || !strings.Contains(checksText, "shop") {
		t.Errorf("the checks page lacks the check api of shop: %q", checksText)
	}
	var lastError string
	run("checks page error", text("pre", &lastError))
	if !strings.Contains(lastError, "503") {
		t.Errorf("the checks page's last error is %q, want the 503", lastError)
	}

	for _, page := range []string{"/alerts", "/apps/shop?range=30d"} {
		run(page, chromedp.EmulateViewport(1200, 900), chromedp.Navigate(base+page), chromedp.WaitReady(chromedp.CSS("body")),
			chromedp.Sleep(200*time.Millisecond), into(chromedp.FullScreenshot(100), &buf))
		shoot(strings.NewReplacer("/", "", "?", "-", "=", "-").Replace(page)+".png", buf)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
	t.Logf("screenshots in %s", shots)
}

func exceptionDescription(d *runtime.ExceptionDetails) string {
	if d.Exception == nil {
		return ""
	}
	return d.Exception.Description
}

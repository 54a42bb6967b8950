package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/api"
	"github.com/dynowatch/dynowatch/internal/auth"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/metrics"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

// minuteOf is a minute of app's router lines: n requests, failed of them
// with 500, each served in ms.
func minuteOf(app string, n, failed, ms int) []string {
	lines := make([]string, n)
	for i := range lines {
		status := 200
		if i < failed {
			status = 500
		}
		lines[i] = fmt.Sprintf(`heroku[router]: at=info method=GET path="/orders/%d" host=%s.herokuapp.com request_id=0b27af66-%d fwd="115.96.38.61" dyno=web.%d connect=1ms service=%dms status=%d bytes=1811 protocol=https`,
			i, app, i, 1+i%2, ms+i%7, status)
	}
	return lines
}

// releaseLines are what Heroku logs for a git push that becomes version.
func releaseLines(version string) []string {
	return []string{
		"app[api]: Deploy 4f070772 by user kim@example.com",
		"app[api]: Release " + version + " created by user kim@example.com",
	}
}

// A release that doubles the 5xx share pages once, with who, the commit,
// before → after and the rollback command; one that changes nothing stays
// quiet, and so does a quiet app whose three requests after its release
// all failed. GET /api/v1/apps/{app}/releases shows the verdicts.
func TestStoryReleaseThatDoubles5xxPagesOnce(t *testing.T) {
	t.Parallel()
	s := newStory(t)
	minute := func(after bool) {
		failed := map[bool]int{false: 1, true: 2}[after] // 2% of 50, then 4%: 5XX_RATE (5%) stays quiet
		s.log("shop", minuteOf("shop", 50, failed, 120)...)
		s.log("calm", minuteOf("calm", 50, 1, 120)...)
		if after {
			s.log("tiny", minuteOf("tiny", 1, 1, 30000)...)
		}
		s.advance(time.Minute)
	}
	for range 16 {
		minute(false)
	}
	for _, app := range []string{"shop", "calm", "tiny"} {
		s.log(app, releaseLines("v139")...)
	}
	for range 17 {
		minute(true)
	}
	s.expect("firing shop release v139")
	if got := s.received()[0].Alerts[0].Summary; got != "v139 by kim@example.com (commit 4f070772) made shop worse: 5xx 2.0% → 4.0% (15m after it against as long before); roll back: heroku rollback v138 -a shop" {
		t.Errorf("summary %q", got)
	}
	for range 40 {
		minute(true)
	}
	s.expect("firing shop release v139", "resolved shop release v139") // once, and over a while later

	code, body := s.call("GET", "/api/v1/apps/shop/releases", "")
	var resp struct {
		Releases []struct {
			Version, Verdict, Rollback, Commit string
			Before, After                      struct {
				Requests int64
				Pct5xx   float64 `json:"5xx_pct"`
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &resp); code != 200 || err != nil || len(resp.Releases) != 1 {
		t.Fatalf("GET releases: %d %s", code, body)
	}
	if r := resp.Releases[0]; r.Verdict != "worse" || r.Rollback != "heroku rollback v138 -a shop" || r.Commit != "4f070772" ||
		r.Before.Requests != 750 || r.After.Requests != 750 || r.Before.Pct5xx != 2 || r.After.Pct5xx != 4 {
		t.Errorf("release %+v", r)
	}
	readmeReleasesExample(t, body)
	for app, want := range map[string]string{"calm": "no change", "tiny": "too few requests"} {
		_, body := s.call("GET", "/api/v1/apps/"+app+"/releases", "")
		if !strings.Contains(body, `"verdict":"`+want+`"`) {
			t.Errorf("%s: %s, want %q", app, body, want)
		}
	}
}

// A replayed log is judged like a live one, for people to see which
// release hurt, but never pages.
func TestReplayedReleaseIsJudgedButNeverPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "replay.db")
	start := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	var lines []string
	stamp := func(at time.Time, ls ...string) {
		for _, l := range ls {
			lines = append(lines, at.Format(time.RFC3339)+" "+l)
		}
	}
	for m := range 40 {
		at := start.Add(time.Duration(m) * time.Minute)
		if m == 20 {
			stamp(at, releaseLines("v139")...)
		}
		stamp(at.Add(time.Second), minuteOf("shop", 50, map[bool]int{false: 1, true: 5}[m >= 20], 120)...)
	}
	file := filepath.Join(dir, "shop.log")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runMain(t, envOf(map[string]string{"DYNOWATCH_DB": db}), "", "replay", "--app", "shop", file); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := storetest.MustOpen(t, store.Config{Path: db, MaxConns: 1, Logger: log})
	al, err := newAlerting(&config.Config{Timezone: "UTC"}, alert.DefaultRules(), nil, log, st, metrics.New(), time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	for at := start.Add(35 * time.Minute); at.Before(start.Add(time.Hour)); at = at.Add(time.Minute) {
		if err := al.judgeReleases(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	if alerts, err := st.Alerts(ctx, store.AlertQuery{Limit: 10}); err != nil || len(alerts) != 0 {
		t.Errorf("replay raised %+v, %v", alerts, err)
	}
	mux := http.NewServeMux()
	if err := api.Register(mux, api.Options{Store: st, Alerts: al.engine, Rules: alert.DefaultRules(), Guard: auth.NewDashboard([]string{"pw"}, nil, "dynowatch"), Logger: log}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/v1/apps/shop/releases?since=2h", nil)
	req.SetBasicAuth("me", "pw")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	if !strings.Contains(w.Body.String(), `"verdict":"worse"`) || !strings.Contains(w.Body.String(), `5xx 2.0% → 10.0%`) {
		t.Errorf("GET releases: %d %s", w.Code, w.Body)
	}
}

// readmeReleasesExample checks the README's example answer of GET
// /api/v1/apps/{app}/releases against the story's: the same but for the
// times and service times.
func readmeReleasesExample(t *testing.T, body string) {
	t.Helper()
	m := regexp.MustCompile("`(\\{\"app\":\"shop\",\"releases\":[^`]+\\})`").FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md no longer shows the GET /api/v1/apps/{app}/releases example")
	}
	norm := func(s string) string {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					switch k {
					case "at", "from", "to", "p95_ms", "p99_ms":
						v[k] = "X"
					default:
						walk(x)
					}
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(v)
		b, _ := json.Marshal(v)
		return string(b)
	}
	if got, want := norm(body), norm(m[1]); got != want {
		t.Errorf("GET releases answers\n%s\nthe README shows\n%s", got, want)
	}
}

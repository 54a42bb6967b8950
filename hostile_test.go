package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/store/pgtest"
)

// seriesTotal sums the points of every series of a metric, read through the API.
func seriesTotal(t *testing.T, base, app, metric string) float64 {
	t.Helper()
	var series struct {
		Series []struct {
			Points [][]any `json:"points"`
		} `json:"series"`
	}
	getJSON(t, base+"/api/v1/apps/"+app+"/series?metric="+metric+"&from=10m", "dash-pw", &series)
	total := 0.0
	for _, s := range series.Series {
		for _, p := range s.Points {
			total += p[1].(float64)
		}
	}
	return total
}

// TestOneAppsBadLinesCannotStopAnotherAppsCounts: an attacker holding the
// drain secret posts a router line with a 3,000-byte dyno=, a runtime line
// with a 3,000-byte source= and an add-on line with a 3,000-byte sample
// name. On Postgres, whose index rows are limited to 2.7 kB, those lines
// are counted as bad and every later flush still stores the victim's
// requests and metrics.
func TestOneAppsBadLinesCannotStopAnotherAppsCounts(t *testing.T) {
	t.Parallel()
	base, logs, _ := startServer(t, map[string]string{"DATABASE_URL": pgtest.URL(t), "DRAIN_SECRET": "s3cret", "DASHBOARD_PASSWORD": "dash-pw"})
	ts := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	long := make([]byte, 3000) // incompressible: Postgres compresses index entries
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range long {
		long[i] = "abcdefghijklmnopqrstuvwxyz"[rng.IntN(26)]
	}
	router := func(dyno string) string {
		return frame(fmt.Sprintf("<158>1 %s host heroku router - at=info method=GET path=\"/\" host=h dyno=%s connect=1ms service=5ms status=200 bytes=10\n", ts, dyno))
	}
	attack := router(string(long)) + router("web.1") +
		frame(fmt.Sprintf("<45>1 %s host heroku web.1 - source=%s dyno=heroku.1.u sample#load_avg_1m=9\n", ts, long)) +
		frame(fmt.Sprintf("<134>1 %s host app heroku-postgres - source=DATABASE addon=postgresql-x-1 sample#%s=1 sample#db_size=1bytes\n", ts, long))
	if code := post(t, base+"/drain/attacker", "s3cret", attack, nil); code != 204 {
		t.Fatalf("attacker's body: status %d", code)
	}
	for range 3 {
		victim := router("web.1") + router("web.2") +
			frame(fmt.Sprintf("<45>1 %s host heroku web.1 - source=web.1 dyno=heroku.2.u sample#load_avg_1m=0.5\n", ts))
		if code := post(t, base+"/drain/victim", "s3cret", victim, nil); code != 204 {
			t.Fatalf("victim's body: status %d", code)
		}
	}
	waitFor(t, func() bool { return seriesTotal(t, base, "victim", "requests") == 6 })
	if got := seriesTotal(t, base, "victim", "load_avg_1m"); got != 0.5 {
		t.Errorf("victim load_avg_1m = %v, want 0.5", got)
	}
	var apps struct {
		Apps []struct {
			Name      string `json:"name"`
			BadFrames int64  `json:"bad_frames"`
		} `json:"apps"`
	}
	waitFor(t, func() bool {
		getJSON(t, base+"/api/v1/apps", "dash-pw", &apps)
		for _, a := range apps.Apps {
			if a.Name == "attacker" && a.BadFrames == 3 {
				return true
			}
		}
		return false
	})
	if strings.Contains(logs.String(), "flush failed") {
		t.Errorf("a rollup flush failed:\n%s", logs.String())
	}
}

// TestAppOutputSayingR15PagesNobody: an app that prints "Error R15 (Memory
// quota vastly exceeded)" is not Heroku reporting R15: no alert, no event.
// The same words from heroku[web.1] page as ever.
func TestAppOutputSayingR15PagesNobody(t *testing.T) {
	t.Parallel()
	base, _, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "dash-pw"})
	ts := time.Now().UTC().Format(time.RFC3339)
	line := func(source string) string {
		return frame("<45>1 " + ts + " host " + source + " web.1 - Error R15 (Memory quota vastly exceeded)\n")
	}
	if code := post(t, base+"/drain/printer", "s", line("app"), nil); code != 204 {
		t.Fatalf("app's line: status %d", code)
	}
	if code := post(t, base+"/drain/real", "s", line("heroku"), nil); code != 204 {
		t.Fatalf("Heroku's line: status %d", code)
	}
	var alerts struct {
		Alerts []struct{ Key, Code string } `json:"alerts"`
	}
	waitFor(t, func() bool {
		getJSON(t, base+"/api/v1/alerts?state=firing", "dash-pw", &alerts)
		return len(alerts.Alerts) > 0
	})
	if len(alerts.Alerts) != 1 || alerts.Alerts[0].Code != "R15" || !strings.Contains(alerts.Alerts[0].Key, "real") {
		t.Errorf("alerts = %+v, want only the R15 of app real", alerts.Alerts)
	}
	var events struct {
		Events []struct{ Kind, Code string } `json:"events"`
	}
	getJSON(t, base+"/api/v1/apps/printer/events", "dash-pw", &events)
	if len(events.Events) != 0 {
		t.Errorf("app printer has events %+v, want none", events.Events)
	}
}

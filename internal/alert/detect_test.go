package alert

import (
	"strings"
	"testing"

	"github.com/dynowatch/dynowatch/internal/parse"
)

func entries(t *testing.T, lines ...string) []parse.Entry {
	t.Helper()
	var out []parse.Entry
	s := parse.NewScanner(strings.NewReader(strings.Join(lines, "\n")), parse.FormPlain)
	for s.Scan() {
		e, err := s.Entry()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *e)
	}
	return out
}

func TestDetector(t *testing.T) {
	d := &Detector{Rules: DefaultRules()}
	obs := d.Observe("shop", entries(t,
		`2024-03-15T12:00:00Z heroku[router]: at=info method=GET path="/" status=200 dyno=web.1`,
		`2024-03-15T12:00:01Z heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/slow?token=1" fwd="1.2.3.4" dyno=web.2 service=30001ms status=503`,
		`2024-03-15T12:00:02Z heroku[router]: sock=client at=warning code=H27 desc="Client Request Interrupted" method=POST path="/" status=499`,
		`2024-03-15T12:00:03Z heroku[router]: at=error code=H26 desc="Request Error" method=GET path="/" status=400`,
		`2024-03-15T12:00:04Z heroku[worker.1]: Error R14 (Memory quota exceeded)`,
		`2024-03-15T12:00:05Z heroku[web.1]: State changed from up to crashed`,
		`2024-03-15T12:00:06Z heroku[logplex]: Error L10 (output buffer overflow): 42 messages dropped since 2024-03-15T11:59:00+00:00.`,
		`2024-03-15T12:00:07Z app[postgres.1]: [DATABASE] [1-1]  sql_error_code = 53300 FATAL:  too many connections`,
		`2024-03-15T12:00:08Z app[postgres.1]: [DATABASE] [2-1]  sql_error_code = 23505 ERROR:  duplicate key`,
		`2024-03-15T12:00:09Z heroku[web.1]: source=web.1 dyno=heroku.1.a sample#memory_rss=470.00MB sample#memory_quota=512.00MB`,
		`2024-03-15T12:00:10Z heroku[web.1]: source=web.1 dyno=heroku.1.a sample#load_avg_1m=0.5`,
		`2024-03-15T12:00:11Z app[heroku-postgres]: source=DATABASE addon=pg-1 sample#active-connections=12 sample#waiting-connections=0 sample#index-cache-hit-rate=0.95 sample#table-cache-hit-rate=0.999`,
	))
	var got []string
	for _, o := range obs {
		got = append(got, o.Key+" "+[]string{"event", "above", "below"}[o.Kind])
		if strings.Contains(o.Evidence, "token=1") || strings.Contains(o.Evidence, "1.2.3.4") {
			t.Errorf("evidence keeps private data: %s", o.Evidence)
		}
	}
	want := []string{
		"h_codes|shop|H12 event",
		"r14|shop|worker.1 event",
		"crash_loop|shop|web.1 event",
		"l10|shop event",
		"pg_errors|shop|DATABASE|53300 event",
		"memory|shop|web.1 above",
		"load|shop|web.1 below",
		"pg_connections|shop|DATABASE below",
		"pg_waiting|shop|DATABASE below",
		"pg_cache_hit|shop|DATABASE above",
		"maintenance|shop below",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("observations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, o := range obs {
		if o.Rule == RuleL10 && o.Count != 42 {
			t.Errorf("L10 counts %d, want 42 dropped", o.Count)
		}
		if o.Rule == RuleHCodes && (o.Dyno != "web.2" || !strings.Contains(o.Summary, "H12 request timeout GET /slow on web.2")) {
			t.Errorf("H12 observation = %+v", o)
		}
	}
}

func TestDetectorH80AndDisabledRules(t *testing.T) {
	r, err := ParseRules(map[string]string{"ALERT_R14_ENABLED": "false"})
	if err != nil {
		t.Fatal(err)
	}
	d := &Detector{Rules: r}
	obs := d.Observe("shop", entries(t,
		`2024-03-15T12:00:00Z heroku[router]: at=info code=H80 desc="Maintenance mode" method=GET path="/" status=503`,
		`2024-03-15T12:00:04Z heroku[worker.1]: Error R14 (Memory quota exceeded)`,
	))
	if len(obs) != 1 || obs[0].Rule != RuleMaintenance || obs[0].Kind != Event {
		t.Errorf("observations = %+v, want only the H80's maintenance event", obs)
	}
}

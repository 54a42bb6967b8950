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

// TestDetectorPlanLimits: lines that carry the plan's limits are judged by
// the share used, and PG_CONNECTIONS (absolute) only judges lines without
// it; the Key-Value Store's singular connection-percentage-used counts.
func TestDetectorPlanLimits(t *testing.T) {
	d := &Detector{Rules: DefaultRules()}
	obs := d.Observe("shop", entries(t,
		// 2026 lines, with the plan's limits: 150 of 200 connections is 75%, under 80%.
		`2026-05-12T10:00:00Z app[heroku-postgres]: source=HEROKU_POSTGRESQL_SILVER addon=postgresql-curved-12345 sample#current_transaction=1873 sample#db_size=61219348792bytes sample#db-size-percentage-used=0.95560 sample#db-max-size=64000000000bytes sample#tables=13 sample#active-connections=150 sample#waiting-connections=1 sample#max-connections=200 sample#connections-percentage-used=0.75 sample#index-cache-hit-rate=0.99991 sample#table-cache-hit-rate=0.99987 sample#load-avg-1m=0.205 sample#read-iops=0 sample#write-iops=2912.73 sample#max-iops=3000 sample#iops-percentage-used=0.97091 sample#tmp-disk-used=543633408 sample#tmp-disk-available=72435159040 sample#memory-total=16085852kB sample#memory-free=637072kB sample#memory-percentage-used=0.96052 sample#memory-cached=14665484kB sample#memory-postgres=218460kB`,
		`2026-05-12T10:00:01Z app[heroku-redis]: source=REDIS addon=redis-metric-98068 sample#active-connections=34 sample#max-connections=38 sample#connection-percentage-used=0.89474 sample#load-avg-1m=0.115 sample#read-iops=0 sample#write-iops=54.758 sample#memory-total=15405660kB sample#memory-free=11001236kB sample#memory-percentage-used=0.41354 sample#memory-cached=3064400kB sample#memory-redis=343477584bytes sample#hit-rate=0.7 sample#evicted-keys=0`,
		// A line of before: 150 connections are over PG_CONNECTIONS' 100.
		`2024-03-24T23:59:31Z app[heroku-postgres]: source=DATABASE addon=postgresql-opaque-12345 sample#db_size=147391814791bytes sample#tables=67 sample#active-connections=150 sample#waiting-connections=0 sample#index-cache-hit-rate=0.99625 sample#table-cache-hit-rate=0.99686 sample#read-iops=302.48 sample#write-iops=351.78`,
		`2024-03-24T23:59:32Z app[heroku-redis]: source=REDIS addon=redis-metric-98068 sample#active-connections=404 sample#memory-redis=343477584bytes sample#hit-rate=0.7 sample#evicted-keys=0`,
	))
	var got []string
	for _, o := range obs {
		if o.Rule == RuleMaintenance || o.Rule == RulePGWaiting || o.Rule == RulePGCacheHit {
			continue
		}
		got = append(got, o.Key+" "+[]string{"event", "above", "below"}[o.Kind]+": "+o.Summary)
	}
	want := []string{
		"pg_connections_used|shop|HEROKU_POSTGRESQL_SILVER below: Postgres HEROKU_POSTGRESQL_SILVER: 150 connections of the plan's 200 (75%)",
		"pg_size_used|shop|HEROKU_POSTGRESQL_SILVER above: Postgres HEROKU_POSTGRESQL_SILVER: 61.2 GB of data of the plan's 64 GB (96%)",
		"pg_iops_used|shop|HEROKU_POSTGRESQL_SILVER above: Postgres HEROKU_POSTGRESQL_SILVER: 2913 IOPS of the plan's 3000 (97%)",
		"kvs_connections_used|shop|REDIS above: Key-Value Store REDIS: 34 connections of the plan's 38 (89%)",
		"kvs_memory_used|shop|REDIS below: Key-Value Store REDIS: 343 MB used (41%)",
		"pg_connections|shop|DATABASE above: Postgres DATABASE: 150 active connections",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("observations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := ParseRules(map[string]string{"ALERT_PG_SIZE_USED_THRESHOLD": "0.9"}); err != nil {
		t.Errorf("a threshold of 0.9%%: %v", err)
	}
	if _, err := ParseRules(map[string]string{"ALERT_KVS_MEMORY_USED_THRESHOLD": "95", "ALERT_PG_IOPS_USED_THRESHOLD": "120"}); err == nil || !strings.Contains(err.Error(), "from 0 to 100") {
		t.Errorf("a share over 100%%: %v", err)
	}
}

package parse

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The sample logs are the repository's, shared with drain's tests and the
// commands' (dynowatch parse testdata/samples.txt).
const (
	samplesTxt     = "../../testdata/samples.txt"
	samplesLogplex = "../../testdata/samples.logplex"
	// realTxt holds real lines of every class issue 17 found unparsed, each
	// under a "#" line naming where it was found.
	realTxt = "testdata/real.txt"
)

// parseOne parses a single plain line.
func parseOne(t *testing.T, line string) (*Entry, error) {
	t.Helper()
	s := NewScanner(strings.NewReader(line), FormPlain)
	if !s.Scan() {
		t.Fatalf("no message in %q (err %v)", line, s.Err())
	}
	e, err := s.Entry()
	if s.Scan() {
		t.Fatalf("more than one message in %q", line)
	}
	return e, err
}

func TestKinds(t *testing.T) {
	const ts = "2024-03-15T12:00:00.123456+00:00 "
	tests := []struct {
		name string
		line string
		want Entry // Time, Stamp and Message are not compared
	}{
		{"router request", `heroku[router]: at=info method=GET path="/a?b=1" host=x.example.com request_id=ef4c3d68 fwd="1.2.3.4,5.6.7.8" dyno=web.1 connect=1ms service=479ms status=200 bytes=14200 protocol=https`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{Queue: Absent, WaitMS: Absent, At: "info", Method: "GET", Path: "/a?b=1", Host: "x.example.com", RequestID: "ef4c3d68", Fwd: "1.2.3.4,5.6.7.8", Dyno: "web.1", ConnectMS: 1, ServiceMS: 479, Status: 200, Bytes: 14200, Protocol: "https"}}},
		{"router H10 with empty values", `heroku[router]: at=error code=H10 desc="App crashed" method=GET path="/" host=a.herokuapp.com fwd=17.17.17.17 dyno= connect= service= status=503 bytes=`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{Queue: Absent, WaitMS: Absent, At: "error", Code: "H10", Desc: "App crashed", Method: "GET", Path: "/", Host: "a.herokuapp.com", Fwd: "17.17.17.17", ConnectMS: Absent, ServiceMS: Absent, Status: 503, Bytes: Absent}}},
		{"router H18 sock before at", `heroku[router]: sock=backend at=error code=H18 desc="Server Request Interrupted" method=GET path="/" host=h dyno=web.1 connect=1ms service=1ms status=503 bytes=0`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{Queue: Absent, WaitMS: Absent, Sock: "backend", At: "error", Code: "H18", Desc: "Server Request Interrupted", Method: "GET", Path: "/", Host: "h", Dyno: "web.1", ConnectMS: 1, ServiceMS: 1, Status: 503, Bytes: 0}}},
		{"router H24 empty status", `heroku[router]: at=error code=H24 desc="Forced close" method=GET path="/" host=h dyno=web.1 connect=1ms service=80000ms status= bytes=18`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{Queue: Absent, WaitMS: Absent, At: "error", Code: "H24", Desc: "Forced close", Method: "GET", Path: "/", Host: "h", Dyno: "web.1", ConnectMS: 1, ServiceMS: 80000, Status: Absent, Bytes: 18}}},
		{"router H25 timings without ms", `heroku[router]: at=error code=H25 desc="HTTP restriction: oversized cookie" cause="x y" dyno=web.1 connect=0 service=2 status=502 bytes=537 agent="curl/8" wait=0ms`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{Queue: Absent, WaitMS: 0, At: "error", Code: "H25", Desc: "HTTP restriction: oversized cookie", Cause: "x y", Dyno: "web.1", ConnectMS: 0, ServiceMS: 2, Status: 502, Bytes: 537}}},
		{"router H27 warning", `heroku[router]: sock=client at=warning code=H27 desc="Client Request Interrupted" method=POST path="/submit/" status=499 bytes=0`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{Queue: Absent, WaitMS: Absent, Sock: "client", At: "warning", Code: "H27", Desc: "Client Request Interrupted", Method: "POST", Path: "/submit/", ConnectMS: Absent, ServiceMS: Absent, Status: 499, Bytes: 0}}},
		{"R10 with detail", `heroku[web.1]: Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 60 seconds of launch`,
			Entry{Source: "heroku", Process: "web.1", Kind: KindDynoError, DynoError: DynoError{Code: "R10", Desc: "Boot timeout", Detail: "Web process failed to bind to $PORT within 60 seconds of launch"}}},
		{"R14", `heroku[worker.1]: Error R14 (Memory quota exceeded)`,
			Entry{Source: "heroku", Process: "worker.1", Kind: KindDynoError, DynoError: DynoError{Code: "R14", Desc: "Memory quota exceeded"}}},
		{"R13 from the app source", `app[run.3]: Error R13 (Attach error) -> Failed to attach to process`,
			Entry{Source: "app", Process: "run.3", Kind: KindDynoError, DynoError: DynoError{Code: "R13", Desc: "Attach error", Detail: "Failed to attach to process"}}},
		{"memory usage", `heroku[worker.1]: Process running mem=1028MB(103.3%)`,
			Entry{Source: "heroku", Process: "worker.1", Kind: KindMemoryUsage, Memory: MemoryUsage{MB: 1028, Percent: 103.3}}},
		{"runtime load", `heroku[web.1]: source=web.1 dyno=heroku.2808254.d97d sample#load_avg_1m=2.46 sample#load_avg_5m=1.06`,
			Entry{Source: "heroku", Process: "web.1", Kind: KindRuntimeMetrics, Metrics: Metrics{Dyno: "web.1", DynoID: "heroku.2808254.d97d", Samples: []Sample{{"load_avg_1m", 2.46}, {"load_avg_5m", 1.06}}}}},
		{"runtime memory", `heroku[web.1]: source=web.1 dyno=heroku.1.u sample#memory_total=21.00MB sample#memory_rss=21.22MB sample#memory_pgpgin=348836pages sample#memory_quota=512.00MB sample#memory_swap=1024kB`,
			Entry{Source: "heroku", Process: "web.1", Kind: KindRuntimeMetrics, Metrics: Metrics{Dyno: "web.1", DynoID: "heroku.1.u", Samples: []Sample{{"memory_total_mb", 21}, {"memory_rss_mb", 21.22}, {"memory_pgpgin", 348836}, {"memory_quota_mb", 512}, {"memory_swap_mb", 1}}}}},
		{"postgres metrics", `app[heroku-postgres]: source=DATABASE addon=postgresql-x-1 sample#db_size=123.0bytes sample#active-connections=7 sample#index-cache-hit-rate=0.9239 sample#memory-total=2kB sample#tmp-disk-used=10`,
			Entry{Source: "app", Process: "heroku-postgres", Kind: KindPostgresMetrics, Metrics: Metrics{Attachment: "DATABASE", Addon: "postgresql-x-1", Samples: []Sample{{"db_size_bytes", 123}, {"active_connections", 7}, {"index_cache_hit_rate", 0.9239}, {"memory_total_bytes", 2048}, {"tmp_disk_used_bytes", 10}}}}},
		{"redis metrics", `app[heroku-redis]: source=REDIS addon=redis-1 sample#memory-redis=1908016bytes sample#hit-rate=0.0096774 sample#evicted-keys=0`,
			Entry{Source: "app", Process: "heroku-redis", Kind: KindRedisMetrics, Metrics: Metrics{Attachment: "REDIS", Addon: "redis-1", Samples: []Sample{{"memory_redis_bytes", 1908016}, {"hit_rate", 0.0096774}, {"evicted_keys", 0}}}}},
		{"pgbouncer metrics", `app[heroku-pgbouncer]: source=pgbouncer addon=postgresql-2 sample#client_active=56 sample#client_waiting=3`,
			Entry{Source: "app", Process: "heroku-pgbouncer", Kind: KindPgBouncerMetrics, Metrics: Metrics{Attachment: "pgbouncer", Addon: "postgresql-2", Samples: []Sample{{"client_active", 56}, {"client_waiting", 3}}}}},
		{"postgres log", `app[postgres.26875]: [RED] [1846263-1]  sql_error_code = 53300 FATAL:  too many connections for role "x"`,
			Entry{Source: "app", Process: "postgres.26875", Kind: KindPostgresLog, Postgres: PostgresLog{Seq: 1846263, Part: 1, Attachment: "RED", SQLErrorCode: "53300", Severity: "FATAL", Message: `too many connections for role "x"`}}},
		{"postgres log with metadata", `app[postgres.1]: [DATABASE] [6-1]  sql_error_code = 40P01 time_ms = "2023-06-05 19:33:14.793 UTC" pid="1991397" user="u3v" ERROR:  deadlock detected`,
			Entry{Source: "app", Process: "postgres.1", Kind: KindPostgresLog, Postgres: PostgresLog{Seq: 6, Part: 1, Attachment: "DATABASE", SQLErrorCode: "40P01", Severity: "ERROR", Message: "deadlock detected"}}},
		{"postgres log old form", `app[postgres.1]: [15521-1] [CHARCOAL] LOG: checkpoint starting: time`,
			Entry{Source: "app", Process: "postgres.1", Kind: KindPostgresLog, Postgres: PostgresLog{Seq: 15521, Part: 1, Attachment: "CHARCOAL", Severity: "LOG", Message: "checkpoint starting: time"}}},
		{"state change", `heroku[web.1]: State changed from up to crashed`,
			Entry{Source: "heroku", Process: "web.1", Kind: KindStateChange, Lifecycle: Lifecycle{From: "up", To: "crashed"}}},
		{"process exit", `heroku[web.1]: Process exited with status 137`,
			Entry{Source: "heroku", Process: "web.1", Kind: KindProcessExit, Lifecycle: Lifecycle{ExitStatus: 137}}},
		{"bare process exit", `heroku[web.1]: Process exited`,
			Entry{Source: "heroku", Process: "web.1", Kind: KindProcessExit, Lifecycle: Lifecycle{ExitStatus: Absent}}},
		{"process start", "heroku[web.1]: Starting process with command `bin/web --port $PORT` by user a@b.c",
			Entry{Source: "heroku", Process: "web.1", Kind: KindProcessStart, Lifecycle: Lifecycle{Command: "bin/web --port $PORT"}}},
		{"process stop", `heroku[web.1]: Stopping all processes with SIGTERM`,
			Entry{Source: "heroku", Process: "web.1", Kind: KindProcessStop, Lifecycle: Lifecycle{Signal: "SIGTERM"}}},
		{"release", `app[api]: Release v138 created by user foo@bar.com`,
			Entry{Source: "app", Process: "api", Kind: KindRelease, Platform: Platform{Version: "v138", User: "foo@bar.com"}}},
		{"deploy", `app[api]: Deploy 4f070772 by user k@example.com`,
			Entry{Source: "app", Process: "api", Kind: KindDeploy, Platform: Platform{Commit: "4f070772", User: "k@example.com"}}},
		{"scale", `app[api]: Scaled to mailer@3:Performance-L web@5:Standard-2X by user s@example.com`,
			Entry{Source: "app", Process: "api", Kind: KindScale, Platform: Platform{User: "s@example.com", Formation: []Formation{{"mailer", 3, "Performance-L"}, {"web", 5, "Standard-2X"}}}}},
		{"L10", `heroku[logplex]: Error L10 (output buffer overflow): 500 messages dropped since 2013-04-17T19:04:46+00:00.`,
			Entry{Source: "heroku", Process: "logplex", Kind: KindLogplexError, Logplex: LogplexError{Code: "L10", Dropped: 500, Since: "2013-04-17T19:04:46+00:00"}}},
		{"L10 newer wording", `heroku[logplex]: Error L10 (output buffer overflow): drain 'd.fc6b' dropped 12 messages since 2024-03-15T12:00:46+00:00.`,
			Entry{Source: "heroku", Process: "logplex", Kind: KindLogplexError, Logplex: LogplexError{Code: "L10", Dropped: 12, Since: "2024-03-15T12:00:46+00:00"}}},
		{"L13 from log-shuttle", `app[log-shuttle]: Error L13: 111 messages lost since 2024-03-15T12:00:00+00:00.`,
			Entry{Source: "app", Process: "log-shuttle", Kind: KindLogplexError, Logplex: LogplexError{Code: "L13", Dropped: 111, Since: "2024-03-15T12:00:00+00:00"}}},
		{"L14 without a count", `heroku[logplex]: Error L14 (certificate validation): error="bad certificate"`,
			Entry{Source: "heroku", Process: "logplex", Kind: KindLogplexError, Logplex: LogplexError{Code: "L14", Dropped: Absent}}},
		{"postgres log without an attachment", `app[postgres.1127530]: [121-1]  sql_error_code = 00000 LOG:  checkpoint starting: time`,
			Entry{Source: "app", Process: "postgres.1127530", Kind: KindPostgresLog, Postgres: PostgresLog{Seq: 121, Part: 1, SQLErrorCode: "00000", Severity: "LOG", Message: "checkpoint starting: time"}}},
		{"postgres log of a small pid", `app[postgres.2]: [DATABASE] [9-1]  sql_error_code = 28000 FATAL:  no pg_hba.conf entry for host "48.136.164.110", user "postgres", database "postgres", SSL off`,
			Entry{Source: "app", Process: "postgres.2", Kind: KindPostgresLog, Postgres: PostgresLog{Seq: 9, Part: 1, Attachment: "DATABASE", SQLErrorCode: "28000", Severity: "FATAL",
				Message: `no pg_hba.conf entry for host "48.136.164.110", user "postgres", database "postgres", SSL off`}}},
		// An app's own process type named postgres (Procfile "postgres: …")
		// logs as app[postgres.1]: its output is app output, not Heroku
		// Postgres's, whatever it says.
		{"process type postgres: its own error", `app[postgres.1]: ERROR:  could not connect to the primary, retrying in 5s`,
			Entry{Source: "app", Process: "postgres.1", Kind: KindApp}},
		{"process type postgres running Postgres", `app[postgres.2]: 2024-03-15 12:00:00.123 UTC [42] FATAL:  the database system is starting up`,
			Entry{Source: "app", Process: "postgres.2", Kind: KindApp}},
		{"process type postgres with a tag", `app[postgres.1]: [backup] FATAL: pg_dump failed`,
			Entry{Source: "app", Process: "postgres.1", Kind: KindApp}},
		{"app with l2met metrics", `app[web.1]: at=info msg="cache miss" measure#db.query=12.5ms count#hits=1 user=`,
			Entry{Source: "app", Process: "web.1", Kind: KindApp, App: AppLine{
				Pairs:   []Pair{{"at", "info"}, {"msg", "cache miss"}, {"user", ""}},
				Metrics: []Metric{{"measure", "db.query", 12.5, "ms"}, {"count", "hits", 1, ""}}}}},
		{"heroku text that is no event", `heroku[web.1]: Cycling`,
			Entry{Source: "heroku", Process: "web.1", Kind: KindApp}},
		{"line without a process", `app: hello`,
			Entry{Source: "app", Kind: KindApp}},

		// The classes of issue 17, each from a real line of testdata/real.txt.
		{"memory in M", `heroku[web.1]: Process running mem=807M(157.7%)`,
			Entry{Source: "heroku", Process: "web.1", Kind: KindMemoryUsage, Memory: MemoryUsage{MB: 807, Percent: 157.7}}},
		{"older router error form", `heroku[router]: Error H12 (Request timeout) -> POST morning-dawn-8986.herokuapp.com/autoprovision/58 dyno=web.1 queue= wait= service=30000ms status=503 bytes=0`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{At: "error", Code: "H12", Desc: "Request timeout", Method: "POST", Path: "/autoprovision/58",
				Host: "morning-dawn-8986.herokuapp.com", Dyno: "web.1", ConnectMS: Absent, ServiceMS: 30000, Status: 503, Bytes: 0, Queue: Absent, WaitMS: Absent}}},
		{"older router request form", `heroku[router]: GET stormy-reef-2997.herokuapp.com/favicon.ico dyno=web.1 queue=0 wait=0ms service=6ms status=404 bytes=988`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{At: "info", Method: "GET", Path: "/favicon.ico", Host: "stormy-reef-2997.herokuapp.com",
				Dyno: "web.1", ConnectMS: Absent, ServiceMS: 6, Status: 404, Bytes: 988, Queue: 0, WaitMS: 0}}},
		{"release under heroku[api]", `heroku[api]: Release v18 created by mamdouh.al.shamy@gmail.com`,
			Entry{Source: "heroku", Process: "api", Kind: KindRelease, Platform: Platform{Version: "v18", User: "mamdouh.al.shamy@gmail.com"}}},
		{"deploy under heroku[api]", `heroku[api]: Deploy 61361c6 by max.steinfeld@gigatronik.com`,
			Entry{Source: "heroku", Process: "api", Kind: KindDeploy, Platform: Platform{Commit: "61361c6", User: "max.steinfeld@gigatronik.com"}}},
		{"older scale under heroku[api]", `heroku[api]: Scale to worker=1 by plopplop+heroku@gmail.com`,
			Entry{Source: "heroku", Process: "api", Kind: KindScale, Platform: Platform{User: "plopplop+heroku@gmail.com", Formation: []Formation{{"worker", 1, ""}}}}},
		{"other heroku[api] text", `heroku[api]: Enable Logplex by plopplop+heroku@gmail.com`,
			Entry{Source: "heroku", Process: "api", Kind: KindApp}},
		{"postgres continuation", "app[postgres.1167776]: [YELLOW] [13-4] \tworld",
			Entry{Source: "app", Process: "postgres.1167776", Kind: KindPostgresLog, Postgres: PostgresLog{Attachment: "YELLOW", Seq: 13, Part: 4, Message: "\tworld"}}},
		{"empty postgres continuation", `app[postgres.1167776]: [YELLOW] [13-2]`,
			Entry{Source: "app", Process: "postgres.1167776", Kind: KindPostgresLog, Postgres: PostgresLog{Attachment: "YELLOW", Seq: 13, Part: 2}}},
		{"postgres continuation of a statement", `app[postgres.1140]: [MAROON] [19-2]  1743767, 1743771) AND x = 'ERROR: no'`,
			Entry{Source: "app", Process: "postgres.1140", Kind: KindPostgresLog, Postgres: PostgresLog{Attachment: "MAROON", Seq: 19, Part: 2, Message: "1743767, 1743771) AND x = 'ERROR: no'"}}},
		{"router 2.0", `heroku[router]: sock=backend at=error code=H18 desc="Server Request Interrupted" method=POST path="/api/v1/semantic_search_stream" host=class-chat-python-f081e08f29b8.herokuapp.com request_id=32703692-2362-4363-b46a-92c695c1d6b1 fwd="100.27.26.255" dyno=web.1 connect=0ms service=710ms status=200 bytes=0 protocol=http1.1 tls=true tls_version=unknown`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{Sock: "backend", At: "error", Code: "H18", Desc: "Server Request Interrupted", Method: "POST",
				Path: "/api/v1/semantic_search_stream", Host: "class-chat-python-f081e08f29b8.herokuapp.com", RequestID: "32703692-2362-4363-b46a-92c695c1d6b1", Fwd: "100.27.26.255",
				Dyno: "web.1", ConnectMS: 0, ServiceMS: 710, Status: 200, Bytes: 0, Protocol: "http1.1", TLS: "true", TLSVersion: "unknown", Queue: Absent, WaitMS: Absent}}},
		{"H82's old wording", `heroku[router]: at=info code=H82 desc="Free app running time quota exhausted" method=POST path="/javascript/" host=refresh-sf.herokuapp.com request_id=56ab5cb4-b1ad-49de-950b-c3e5f9b095e9 fwd="67.212.93.2" dyno= connect= service= status=503 bytes= protocol=http`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{At: "info", Code: "H82", Desc: "Free app running time quota exhausted", Method: "POST", Path: "/javascript/",
				Host: "refresh-sf.herokuapp.com", RequestID: "56ab5cb4-b1ad-49de-950b-c3e5f9b095e9", Fwd: "67.212.93.2", ConnectMS: Absent, ServiceMS: Absent, Status: 503, Bytes: Absent,
				Protocol: "http", Queue: Absent, WaitMS: Absent}}},
		// No real H32, H83 or new-wording H82 line has been found; these
		// carry the titles of Dev Center's "Heroku Error Codes" (2024-05-07).
		{"H32", `heroku[router]: at=error code=H32 desc="TLS Certificate Mismatch" method=GET path="/" host=www.example.com dyno= connect= service= status=495 bytes= protocol=http2.0 tls=true tls_version=tls1.3`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{At: "error", Code: "H32", Desc: "TLS Certificate Mismatch", Method: "GET", Path: "/", Host: "www.example.com",
				ConnectMS: Absent, ServiceMS: Absent, Status: 495, Bytes: Absent, Protocol: "http2.0", TLS: "true", TLSVersion: "tls1.3", Queue: Absent, WaitMS: Absent}}},
		{"H83", `heroku[router]: at=info code=H83 desc="Planned Service Degradation" method=GET path="/" host=myapp.herokuapp.com dyno= connect= service= status=503 bytes=`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{At: "info", Code: "H83", Desc: "Planned Service Degradation", Method: "GET", Path: "/", Host: "myapp.herokuapp.com",
				ConnectMS: Absent, ServiceMS: Absent, Status: 503, Bytes: Absent, Queue: Absent, WaitMS: Absent}}},
		{"H82's new wording", `heroku[router]: at=info code=H82 desc="You've used up your dyno hour pool" method=GET path="/" host=myapp.herokuapp.com dyno= connect= service= status=503 bytes=`,
			Entry{Source: "heroku", Process: "router", Kind: KindRouter, Router: Router{At: "info", Code: "H82", Desc: "You've used up your dyno hour pool", Method: "GET", Path: "/", Host: "myapp.herokuapp.com",
				ConnectMS: Absent, ServiceMS: Absent, Status: 503, Bytes: Absent, Queue: Absent, WaitMS: Absent}}},
		{"new Key-Value Store keys", `app[heroku-redis]: source=REDIS addon=redis-pointy-52865 sample#max-connections=38 sample#connection-percentage-used=0.21053 sample#memory-percentage-used=0.41354 sample#max-iops=3000 sample#iops-percentage-used=0.00000`,
			Entry{Source: "app", Process: "heroku-redis", Kind: KindRedisMetrics, Metrics: Metrics{Attachment: "REDIS", Addon: "redis-pointy-52865", Samples: []Sample{
				{"max_connections", 38}, {"connections_percentage_used", 0.21053}, {"memory_percentage_used", 0.41354}, {"max_iops", 3000}, {"iops_percentage_used", 0}}}}},
		{"new Postgres keys", `app[heroku-postgres]: source=DATABASE addon=postgresql-curly-12345 sample#db-size-percentage-used=0.02767 sample#max-connections=200 sample#connections-percentage-used=0.46 sample#db-max-size=68719476736bytes`,
			Entry{Source: "app", Process: "heroku-postgres", Kind: KindPostgresMetrics, Metrics: Metrics{Attachment: "DATABASE", Addon: "postgresql-curly-12345", Samples: []Sample{
				{"db_size_percentage_used", 0.02767}, {"max_connections", 200}, {"connections_percentage_used", 0.46}, {"db_max_size_bytes", 68719476736}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := parseOne(t, ts+tt.line)
			if err != nil {
				t.Fatal(err)
			}
			got := *e
			got.Time, got.Stamp, got.Message = time.Time{}, "", ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("entry mismatch (-want +got):\n%s", diff)
			}
			if want := time.Date(2024, 3, 15, 12, 0, 0, 123456000, time.UTC); !e.Time.Equal(want) {
				t.Errorf("time = %v, want %v", e.Time, want)
			}
			if !json.Valid(e.AppendJSON(nil)) {
				t.Errorf("invalid JSON: %s", e.AppendJSON(nil))
			}
		})
	}
}

func TestBadLines(t *testing.T) {
	tests := []struct {
		name string
		line string
		want error
	}{
		{"no timestamp", "hello world", ErrBadTimestamp},
		{"bad month", "2024-13-15T12:00:00+00:00 app[web.1]: x", ErrBadTimestamp},
		{"no offset", "2024-03-15T12:00:00 app[web.1]: x", ErrBadTimestamp},
		{"no source", "2024-03-15T12:00:00Z just some words", ErrBadHeader},
		{"router without at", "2024-03-15T12:00:00Z heroku[router]: method=GET status=200", ErrMissingField},
		{"router bad status", "2024-03-15T12:00:00Z heroku[router]: at=info status=abc", ErrBadValue},
		{"router bad service", "2024-03-15T12:00:00Z heroku[router]: at=info service=12s", ErrBadValue},
		{"bad memory", "2024-03-15T12:00:00Z heroku[web.1]: Process running mem=lots", ErrBadValue},
		{"bad sample", "2024-03-15T12:00:00Z heroku[web.1]: source=web.1 sample#memory_rss=NaNMB", ErrBadValue},
		{"unknown unit", "2024-03-15T12:00:00Z app[heroku-redis]: source=REDIS sample#memory-redis=3parsecs", ErrBadValue},
		{"metrics without samples", "2024-03-15T12:00:00Z app[heroku-postgres]: source=DATABASE addon=x", ErrMissingField},
		{"not UTF-8", "2024-03-15T12:00:00Z app[web.1]: caf\xe9", ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseOne(t, tt.line)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Index != 1 {
				t.Fatalf("err = %#v, want *Error for message 1", err)
			}
		})
	}
}

func TestTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2016-08-19T11:23:29+00:00", time.Date(2016, 8, 19, 11, 23, 29, 0, time.UTC)},
		{"2016-08-19T11:23:01.581780+00:00", time.Date(2016, 8, 19, 11, 23, 1, 581780000, time.UTC)},
		{"2020-05-21T13:38:13.88587+00:00", time.Date(2020, 5, 21, 13, 38, 13, 885870000, time.UTC)},
		{"2010-10-06T21:51:12-07:00", time.Date(2010, 10, 7, 4, 51, 12, 0, time.UTC)},
		{"2019-07-20T17:50:10.879238Z", time.Date(2019, 7, 20, 17, 50, 10, 879238000, time.UTC)},
		{"2024-02-29T00:00:00.123456789+05:30", time.Date(2024, 2, 28, 18, 30, 0, 123456789, time.UTC)},
	}
	for _, tt := range tests {
		got, ok := parseTimestamp(tt.in)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("parseTimestamp(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
		std, err := time.Parse(time.RFC3339Nano, tt.in)
		if err != nil || !std.Equal(got) {
			t.Errorf("parseTimestamp(%q) = %v, time.Parse says %v (%v)", tt.in, got, std, err)
		}
	}
	// Fractions of every length, scaled to nanoseconds.
	for n := 1; n <= 9; n++ {
		in := "2024-03-15T12:00:00." + "987654321"[:n] + "Z"
		got, ok := parseTimestamp(in)
		std, err := time.Parse(time.RFC3339Nano, in)
		if !ok || err != nil || !std.Equal(got) {
			t.Errorf("parseTimestamp(%q) = %v, %v; time.Parse says %v (%v)", in, got, ok, std, err)
		}
	}
	for _, bad := range []string{"", "2023-02-29T00:00:00Z", "2024-03-15T24:00:00Z", "2024-03-15T12:00:00.Z", "2024-03-15T12:00:00+0000", "2024-03-15 12:00:00Z", "2024-03-15T12:00:00.1234567890Z"} {
		if _, ok := parseTimestamp(bad); ok {
			t.Errorf("parseTimestamp(%q) accepted", bad)
		}
	}
}

// frame builds one octet-counted frame the way Logplex does.
func frame(msg string) string { return fmt.Sprintf("%d %s", len(msg), msg) }

const (
	routerFrame = "<158>1 2024-03-15T12:00:00.000001+00:00 host heroku router - at=info method=GET path=\"/\" host=h dyno=web.1 connect=1ms service=5ms status=200 bytes=10\n"
	appFrame    = "<190>1 2024-03-15T12:00:01+00:00 host app web.1 - hello\n"
	l10Frame    = "<172>1 2024-03-15T12:00:02+00:00 host heroku logplex - Error L10 (output buffer overflow): 3 messages dropped since 2024-03-15T11:59:00+00:00."
)

// scanAll returns each message of body as its text, or as "ERR: <error>".
func scanAll(t *testing.T, r *bytes.Reader, form Form) []string {
	t.Helper()
	var out []string
	s := NewScanner(r, form)
	for s.Scan() {
		e, err := s.Entry()
		if err != nil {
			out = append(out, "ERR: "+err.Error())
			continue
		}
		out = append(out, e.Message)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return out
}

func TestFrames(t *testing.T) {
	routerMsg := strings.TrimSuffix(routerFrame[strings.Index(routerFrame, "at=info"):], "\n")
	l10Msg := l10Frame[strings.Index(l10Frame, "Error"):]
	tests := []struct {
		name string
		body string
		want []string // messages; errors as "ERR: " plus a part of the error text
	}{
		{"single", frame(routerFrame), []string{routerMsg}},
		{"multiple", frame(routerFrame) + frame(appFrame) + frame(routerFrame), []string{routerMsg, "hello", routerMsg}},
		{"L10 without newline then more", frame(l10Frame) + frame(appFrame), []string{l10Msg, "hello"}},
		{"log-shuttle nil structured data", frame("<190>1 2024-03-15T12:00:01.5Z shuttle app web.2 - - hello\n"), []string{"hello"}},
		{"leading space and newlines between frames", "\n " + frame(appFrame) + "\r\n" + frame(appFrame) + "\n", []string{"hello", "hello"}},
		{"garbage first", "GARBAGE here\n" + frame(appFrame), []string{"ERR: message 1 at byte 0: bad frame: no length prefix", "hello"}},
		{"garbage between", frame(appFrame) + "xx yy zz" + frame(appFrame), []string{"hello", "ERR: message 2 at byte 59: bad frame: no length prefix", "hello"}},
		{"negative length", "-5 <158>1 x" + frame(appFrame), []string{"ERR: bad frame: no length prefix", "hello"}},
		{"zero length", "0 " + frame(appFrame), []string{"ERR: bad frame", "hello"}},
		{"length too long", "70 " + appFrame + frame(appFrame), []string{"ERR: bad frame: length 70 does not end at a frame boundary", "hello"}},
		{"length too short", "40 " + appFrame + frame(appFrame), []string{"ERR: bad frame: length 40 does not end at a frame boundary", "hello"}},
		{"truncated last frame", frame(appFrame) + "500 " + appFrame, []string{"hello", "ERR: bad frame: length 500 but only 56 bytes left"}},
		{"truncated prefix", frame(appFrame) + "12", []string{"hello", "ERR: bad frame: truncated length prefix"}},
		{"bad PRI", frame("<abc>1 2024-03-15T12:00:01+00:00 host app web.1 - x\n") + frame(appFrame), []string{"ERR: bad frame: no length prefix", "hello"}},
		{"bad header", frame("<13>1 2024-03-15T12:00:01+00:00 host\n") + frame(appFrame), []string{"ERR: bad syslog header: too few fields", "hello"}},
		{"bad timestamp", frame("<13>1 yesterday host app web.1 - x\n") + frame(appFrame), []string{"ERR: bad timestamp", "hello"}},
		{"not UTF-8", frame("<13>1 2024-03-15T12:00:01+00:00 host app web.1 - caf\xe9\n") + frame(appFrame), []string{"ERR: message is not valid UTF-8", "hello"}},
		{"over 64 KiB skipped", frame("<13>1 2024-03-15T12:00:01+00:00 host app web.1 - "+strings.Repeat("x", MaxFrame)+"\n") + frame(appFrame),
			[]string{"ERR: frame too large: 65586 bytes, limit 65536", "hello"}},
		{"10 KiB line accepted", frame("<13>1 2024-03-15T12:00:01+00:00 host app web.1 - " + strings.Repeat("y", 10000) + "\n"), []string{strings.Repeat("y", 10000)}},
		{"empty body", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, reader := range []string{"whole", "one byte at a time"} {
				var r *bytes.Reader = bytes.NewReader([]byte(tt.body))
				var got []string
				if reader == "whole" {
					got = scanAll(t, r, FormLogplex)
				} else {
					got = scanOneByte(t, tt.body)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("%s: got %d messages %q, want %d %q", reader, len(got), shortAll(got), len(tt.want), shortAll(tt.want))
				}
				for i := range got {
					if want := tt.want[i]; strings.HasPrefix(want, "ERR: ") {
						if !strings.HasPrefix(got[i], "ERR: ") || !strings.Contains(got[i], want[5:]) {
							t.Errorf("%s: message %d = %q, want an error containing %q", reader, i+1, got[i], want[5:])
						}
					} else if got[i] != want {
						t.Errorf("%s: message %d = %q, want %q", reader, i+1, short(got[i]), short(want))
					}
				}
			}
		})
	}
}

func scanOneByte(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	s := NewScanner(&oneByteReader{s: body}, FormLogplex)
	for s.Scan() {
		e, err := s.Entry()
		if err != nil {
			out = append(out, "ERR: "+err.Error())
			continue
		}
		out = append(out, e.Message)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type oneByteReader struct{ s string }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.s[0]
	r.s = r.s[1:]
	return 1, nil
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func shortAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = short(s)
	}
	return out
}

// TestText: Text gives the message as read, good or bad, for a caller to
// show the lines Entry could not parse.
func TestText(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		form       Form
		want       []string
	}{
		{"plain", "2024-03-15T12:00:00Z app[web.1]: one\r\nnot a log line\n", FormPlain,
			[]string{"2024-03-15T12:00:00Z app[web.1]: one", "not a log line"}},
		{"logplex", frame(appFrame) + "xx yy zz" + frame(appFrame), FormLogplex,
			[]string{strings.TrimSuffix(appFrame, "\n"), "xx yy zz", strings.TrimSuffix(appFrame, "\n")}},
	} {
		s := NewScanner(strings.NewReader(tt.body), tt.form)
		var got []string
		for s.Scan() {
			got = append(got, s.Text())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Text() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPlainLines(t *testing.T) {
	body := "2024-03-15T12:00:00Z app[web.1]: one\r\n\n2024-03-15T12:00:01Z app[web.1]: " + strings.Repeat("z", MaxFrame+10) + "\ngarbage\n2024-03-15T12:00:02Z heroku[web.1]: three"
	got := scanAll(t, bytes.NewReader([]byte(body)), FormAuto)
	want := []string{"one", "ERR: message 2", "ERR: message 3", "three"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", shortAll(got), want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("message %d = %q, want prefix %q", i+1, short(got[i]), want[i])
		}
	}
}

func TestAutoDetect(t *testing.T) {
	for name, tt := range map[string]struct {
		body string
		want Form
	}{
		"logplex": {"\n" + frame(appFrame), FormLogplex},
		"plain":   {"2024-03-15T12:00:00Z app[web.1]: hi\n", FormPlain},
		"short":   {"12", FormPlain},
	} {
		s := NewScanner(strings.NewReader(tt.body), FormAuto)
		s.Scan()
		if s.Form() != tt.want {
			t.Errorf("%s: form %v, want %v", name, s.Form(), tt.want)
		}
	}
}

// render parses a file and renders it as JSON lines and error lines.
func render(t *testing.T, body []byte) []byte {
	t.Helper()
	var out []byte
	s := NewScanner(bytes.NewReader(body), FormAuto)
	for s.Scan() {
		e, err := s.Entry()
		if err != nil {
			out = append(out, "error: "+err.Error()+"\n"...)
			continue
		}
		out = e.AppendJSON(out)
		out = append(out, '\n')
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// toLogplex turns plain lines into a Logplex drain body, as the drain would get them.
func toLogplex(t *testing.T, plain []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimSpace(string(plain)), "\n") {
		stamp, rest, _ := strings.Cut(line, " ")
		src, msg, _ := strings.Cut(rest, ": ")
		proc := "-"
		if i := strings.IndexByte(src, '['); i >= 0 {
			src, proc = src[:i], src[i+1:len(src)-1]
		}
		b.WriteString(frame(fmt.Sprintf("<134>1 %s host %s %s - %s\n", stamp, src, proc, msg)))
	}
	return b.Bytes()
}

// readFixture reads a file of testdata, without the "#" lines with which
// real.txt names where its lines come from.
func readFixture(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out []byte
	for line := range bytes.Lines(b) {
		if !bytes.HasPrefix(line, []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

func TestGolden(t *testing.T) {
	for _, path := range []string{"testdata/mixed.txt", realTxt, samplesLogplex} {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			in := readFixture(t, path)
			got := render(t, in)
			golden := filepath.Join("testdata", strings.TrimSuffix(name, filepath.Ext(name))+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("output differs from %s (-want +got):\n%s", golden, diff)
			}
			for i, line := range bytes.Split(bytes.TrimSpace(got), []byte("\n")) {
				if !bytes.HasPrefix(line, []byte("error:")) && !json.Valid(line) {
					t.Errorf("line %d is not valid JSON: %s", i+1, line)
				}
			}
		})
	}
}

// TestFormsAgree checks that a message reads the same as a plain line and as a drain frame.
func TestFormsAgree(t *testing.T) {
	for _, pair := range [][2]string{{samplesTxt, samplesLogplex}, {"testdata/mixed.txt", ""}, {realTxt, ""}} {
		plain := readFixture(t, pair[0])
		var framed []byte
		var err error
		if pair[1] == "" {
			framed = toLogplex(t, plain)
		} else if framed, err = os.ReadFile(pair[1]); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(render(t, plain)), string(render(t, framed))); diff != "" {
			t.Errorf("%s: plain and logplex forms differ (-plain +logplex):\n%s", pair[0], diff)
		}
	}
}

func TestDaysFromCivil(t *testing.T) {
	for y := 1; y < 3000; y += 7 {
		for m := 1; m <= 12; m++ {
			want := time.Date(y, time.Month(m), 28, 0, 0, 0, 0, time.UTC).Unix() / 86400
			if got := daysFromCivil(y, m, 28); got != want {
				t.Fatalf("daysFromCivil(%d, %d, 28) = %d, want %d", y, m, got, want)
			}
		}
	}
}

func TestParseFloat(t *testing.T) {
	for _, s := range []string{"0", "1", "154.85", "0.99625", "0.07767112123673295", "1e-05", "12.", ".5", "123456789012345.6", "9007199254740993", "-1.5", "+2"} {
		want, err := strconv.ParseFloat(s, 64)
		got, ok := parseFloat(s)
		if err != nil || !ok || got != want {
			t.Errorf("parseFloat(%q) = %v, %v; strconv says %v, %v", s, got, ok, want, err)
		}
	}
	for _, s := range []string{"", ".", "NaN", "Inf", "1e999", "1..2", "abc"} {
		if v, ok := parseFloat(s); ok {
			t.Errorf("parseFloat(%q) = %v, want failure", s, v)
		}
	}
}

// TestKnownSamples checks the allocation-free names against the general rule.
func TestKnownSamples(t *testing.T) {
	raws := []string{"load_avg_1m", "memory_pgpgin", "current_transaction", "client_active", "avg_sent", "active-connections",
		"waiting-connections", "index-cache-hit-rate", "table-cache-hit-rate", "load-avg-15m", "read-iops", "write-iops",
		"tmp-disk-used", "tmp-disk-available", "wal-percentage-used", "hit-rate", "evicted-keys", "memory_total", "memory_rss",
		"memory_cache", "memory_swap", "memory_quota", "db_size", "memory-total", "memory-free", "memory-cached", "memory-postgres", "memory-redis",
		"max-connections", "connections-percentage-used", "connection-percentage-used", "db-size-percentage-used", "db-max-size",
		"max-iops", "iops-percentage-used", "memory-percentage-used"}
	found := 0
	for _, raw := range raws {
		known := false
		for _, suffix := range []string{"", "_mb", "_bytes"} {
			if name := knownSample(raw, suffix); name != "" {
				known = true
				if want := buildSampleName(raw, suffix); name != want {
					t.Errorf("knownSample(%q, %q) = %q, want %q", raw, suffix, name, want)
				}
				if !HerokuSample(name) {
					t.Errorf("HerokuSample(%q) = false, want true", name)
				}
			}
		}
		if known {
			found++
		}
	}
	if found != len(raws) {
		t.Errorf("%d of %d names known", found, len(raws))
	}
}

// TestStampCache checks that a cached minute never leaks into a different one.
func TestStampCache(t *testing.T) {
	var c stampCache
	for _, s := range []string{"2024-03-15T12:00:59.5+00:00", "2024-03-15T12:00:01Z", "2024-03-15T12:01:00-07:00", "2024-03-16T12:01:00Z", "2024-03-16T12:01:61Z", "2024-03-16T12:01:30Z"} {
		got, ok := c.parse(s)
		want, err := time.Parse(time.RFC3339Nano, s)
		if ok != (err == nil) || (ok && !got.Equal(want)) {
			t.Errorf("parse(%q) = %v, %v; time.Parse says %v, %v", s, got, ok, want, err)
		}
	}
}

// TestLargeBody scans frames of many sizes across buffer refills, through
// readers that return short reads, and checks every message.
func TestLargeBody(t *testing.T) {
	var body strings.Builder
	var want []string
	for i := 0; i < 400; i++ {
		msg := strings.Repeat(string(rune('a'+i%26)), (i*7919)%(MaxFrame-100)+1)
		if i%50 == 0 {
			msg = strings.Repeat("z", 10000) // a line Heroku split at its maximum
		}
		want = append(want, msg)
		body.WriteString(frame(fmt.Sprintf("<134>1 2024-03-15T12:%02d:00Z host app web.1 - %s\n", i%60, msg)))
	}
	for name, r := range map[string]io.Reader{
		"whole":      strings.NewReader(body.String()),
		"half reads": iotest.HalfReader(strings.NewReader(body.String())),
		"data+EOF":   iotest.DataErrReader(strings.NewReader(body.String())),
	} {
		s := NewScanner(r, FormAuto)
		i := 0
		for s.Scan() {
			e, err := s.Entry()
			if err != nil {
				t.Fatalf("%s: message %d: %v", name, i+1, err)
			}
			if i >= len(want) || e.Message != want[i] {
				t.Fatalf("%s: message %d differs", name, i+1)
			}
			i++
		}
		if s.Err() != nil || i != len(want) {
			t.Fatalf("%s: %d messages, err %v", name, i, s.Err())
		}
	}
}

// TestKeptEntriesOutliveLaterScans keeps every entry of bodies larger than
// the buffer, read in pieces of every size, and checks that each still reads
// as it did when it was scanned: entries point into the Scanner's buffers,
// which must never be written over once they do.
func TestKeptEntriesOutliveLaterScans(t *testing.T) {
	body, _ := batch()
	body = bytes.Repeat(append(body, readFixture(t, samplesLogplex)...), 4)
	for name, r := range map[string]func() io.Reader{
		"whole":      func() io.Reader { return bytes.NewReader(body) },
		"half reads": func() io.Reader { return iotest.HalfReader(bytes.NewReader(body)) },
		"one byte":   func() io.Reader { return iotest.OneByteReader(bytes.NewReader(body)) },
	} {
		s := NewScanner(r(), FormLogplex)
		var kept []Entry
		var asScanned []string
		for s.Scan() {
			e, err := s.Entry()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			kept = append(kept, *e)
			asScanned = append(asScanned, string(e.AppendJSON(nil)))
		}
		if len(kept) < 300 {
			t.Fatalf("%s: %d messages, want the whole body", name, len(kept))
		}
		for i := range kept {
			if got := string(kept[i].AppendJSON(nil)); got != asScanned[i] {
				t.Fatalf("%s: message %d changed after later scans:\n%s\nwas\n%s", name, i+1, got, asScanned[i])
			}
		}
	}
}

// TestEntryDependsOnlyOnItsMessage scans the fixtures with one message of
// each kind after every message, and checks that each entry is exactly what
// its message parsed alone gives: the Scanner reuses one Entry and clears
// only part of it between messages (see reset and parseOrdered).
func TestEntryDependsOnlyOnItsMessage(t *testing.T) {
	body, _ := batch()
	logplex := append(body, readFixture(t, samplesLogplex)...)
	var plain []byte
	for _, path := range []string{"testdata/mixed.txt", realTxt, samplesTxt} {
		plain = append(plain, readFixture(t, path)...)
	}
	// Router lines with each optional field alone, which parseOrdered must
	// not leave behind in the next.
	for _, l := range []string{
		`sock=client at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0`,
		`at=info code=H80 method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0`,
		`at=info desc="x" method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0`,
		`at=info cause="y" method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0`,
		`at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0 tls=true`,
		`at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0 tls_version=tls1.3`,
	} {
		plain = append(plain, "2024-03-15T12:00:00Z heroku[router]: "+l+"\n"...)
	}
	for _, c := range []struct {
		form  Form
		input []byte
		parse func(*Entry, string, *stampCache) error
	}{
		{FormLogplex, logplex, parseFrame},
		{FormPlain, plain, parsePlainLine},
	} {
		var msgs, probes []string
		seen := map[string]bool{}
		s := NewScanner(bytes.NewReader(c.input), c.form)
		for s.Scan() {
			msgs = append(msgs, string(s.tok))
			if e, err := s.Entry(); err == nil {
				// One of each kind, and a router line of each shape.
				shape := e.Kind.String() + e.Router.Sock + e.Router.Code + e.Router.TLS
				if !seen[shape] {
					seen[shape] = true
					probes = append(probes, string(s.tok))
				}
			}
		}
		var input bytes.Buffer
		write := func(m string) {
			if c.form == FormLogplex {
				input.WriteString(frame(m))
			} else {
				input.WriteString(m + "\n")
			}
		}
		for _, m := range msgs {
			for _, p := range probes {
				write(m)
				write(p)
			}
		}
		s = NewScanner(&input, c.form)
		n := 0
		for s.Scan() {
			var alone Entry
			errAlone := c.parse(&alone, string(s.tok), &stampCache{})
			e, err := s.Entry()
			if (err == nil) != (errAlone == nil) {
				t.Fatalf("%q: error %v, alone %v", s.tok, err, errAlone)
			}
			if err == nil {
				if diff := cmp.Diff(alone, *e); diff != "" {
					t.Fatalf("%q: entry differs from the message's alone (-alone +scanned):\n%s", s.tok, diff)
				}
			}
			n++
		}
		if n != 2*len(msgs)*len(probes) || len(msgs) < 100 || len(probes) < 5 {
			t.Fatalf("form %d: %d messages, want %d", c.form, n, 2*len(msgs)*len(probes))
		}
	}
}

// TestHugeLengthPrefixKeepsTheGoodFramesAfterIt: a length prefix that runs
// past the body or past MaxFrame is one bad frame; the frames after it are
// found again and kept (Logplex drops a batch answered with 400 for good).
func TestHugeLengthPrefixKeepsTheGoodFramesAfterIt(t *testing.T) {
	good := frame(routerFrame) + frame(appFrame) + frame(appFrame)
	routerMsg := strings.TrimSuffix(routerFrame[strings.Index(routerFrame, "at=info"):], "\n")
	for name, body := range map[string]string{
		"9,999,999 bytes claimed":        "9999999 " + appFrame + good,
		"over MaxFrame, within the body": fmt.Sprintf("%d %s", MaxFrame+1, appFrame) + good,
		"past the end of the body":       fmt.Sprintf("%d %s", len(appFrame)+len(good)+10, appFrame) + good,
	} {
		t.Run(name, func(t *testing.T) {
			for _, got := range [][]string{scanAll(t, bytes.NewReader([]byte(body)), FormLogplex), scanOneByte(t, body)} {
				want := []string{routerMsg, "hello", "hello"}
				if len(got) != 4 || !strings.HasPrefix(got[0], "ERR: ") || !slices.Equal(got[1:], want) {
					t.Fatalf("got %q, want one error then %q", shortAll(got), shortAll(want))
				}
			}
		})
	}
}

// TestAppOutputCannotFakePlatformEvents: whatever an app prints is app
// output. Only Heroku's own sources carry R and H codes, dyno state changes
// and releases; under app, only R13 of a one-off dyno (app[run.N]) does.
func TestAppOutputCannotFakePlatformEvents(t *testing.T) {
	const ts = "2024-03-15T12:00:00Z "
	for _, line := range []string{
		"app[web.1]: Error R15 (Memory quota vastly exceeded)",
		"app[web.1]: Error R14 (Memory quota exceeded)",
		"app[worker.2]: Error R10 (Boot timeout) -> Web process failed to bind to $PORT",
		"app[web.1]: Error R13 (Attach error) -> Failed to attach to process",
		"app[run.3]: Error R15 (Memory quota vastly exceeded)",
		"app[run.x]: Error R13 (Attach error)",
		"app[web.1]: at=error code=H12 desc=\"Request timeout\" method=GET path=\"/\" dyno=web.1 status=503",
		"app[web.1]: State changed from up to crashed",
		"app[web.1]: Process running mem=1028MB(103.3%)",
		"app[web.1]: Process exited with status 137",
		"app[web.1]: Release v138 created by user foo@bar.com",
		"app[web.1]: Error L10 (output buffer overflow): 500 messages dropped since 2024-03-15T12:00:00+00:00.",
	} {
		e, err := parseOne(t, ts+line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if e.Kind != KindApp {
			t.Errorf("%s: kind %s, want app", line, e.Kind)
		}
	}
	e, err := parseOne(t, ts+"app[run.3]: Error R13 (Attach error) -> Failed to attach to process")
	if err != nil || e.Kind != KindDynoError || e.DynoError.Code != "R13" {
		t.Errorf("R13 of a one-off dyno: %+v, %v; want dyno_error R13", e, err)
	}
}

// TestOverlongNamesAreBadMessages: a dyno, source, process, attachment or
// sample name longer than Heroku makes them (or an H code that is none)
// makes its message bad, counted and never stored, so that it can't reach a
// database key.
func TestOverlongNamesAreBadMessages(t *testing.T) {
	const ts = "2024-03-15T12:00:00Z "
	long := strings.Repeat("w", 3000)
	for _, line := range []string{
		`heroku[router]: at=info method=GET path="/" host=h dyno=` + long + ` connect=1ms service=5ms status=200 bytes=10`,
		`heroku[router]: at=info method=GET path="/" host=h dyno="web 1" connect=1ms service=5ms status=200 bytes=10`,
		`heroku[router]: at=error code=` + long + ` desc="x" method=GET path="/" host=h dyno=web.1 status=503 bytes=0`,
		`heroku[web.1]: source=` + long + ` dyno=heroku.1.u sample#load_avg_1m=1`,
		`heroku[` + long + `]: source=web.1 sample#load_avg_1m=1`,
		`app[heroku-postgres]: source=` + long + ` addon=postgresql-x-1 sample#db_size=1bytes`,
		`app[heroku-postgres]: source=DATABASE addon=postgresql-x-1 sample#` + long + `=1`,
		`app[heroku-redis]: source=REDIS addon=redis-1 sample#hit-rate=1 sample#Ünïcode=1`,
	} {
		s := NewScanner(strings.NewReader(ts+line), FormPlain)
		if !s.Scan() {
			t.Fatalf("no message in %.80q", line)
		}
		if e, err := s.Entry(); !errors.Is(err, ErrBadValue) {
			t.Errorf("%.80q: kind %v, err %v; want ErrBadValue", line, e, err)
		}
	}
	ok := strings.Repeat("w", 128) + "." + strings.Repeat("1", MaxName-129)
	for _, line := range []string{
		`heroku[router]: at=info method=GET path="/" host=h dyno=` + ok + ` connect=1ms service=5ms status=200 bytes=10`,
		`heroku[web.1]: source=` + ok + ` sample#load_avg_1m=1 sample#` + strings.Repeat("m", MaxSampleName) + `=1`,
	} {
		if _, err := parseOne(t, ts+line); err != nil {
			t.Errorf("name at the limit: %v", err)
		}
	}
}

// Package parse turns Heroku log messages, as Logplex drain bodies or as the
// plain lines `heroku logs` prints, into typed entries.
//
// It does no I/O beyond reading an io.Reader, never reads the clock and never
// logs: it runs on every message dynowatch receives and is kept fast.
package parse

import (
	"time"
)

// Kind says what a message is and which of Entry's field groups it fills.
type Kind uint8

// The kinds of Heroku log message. Their String forms are the "kind" values
// of the JSON contract.
const (
	KindApp              Kind = iota // anything else; l2met metrics and key=value pairs picked out
	KindRouter                       // heroku[router]
	KindDynoError                    // Error R10 … R99
	KindMemoryUsage                  // Process running mem=…
	KindRuntimeMetrics               // log-runtime-metrics samples
	KindPostgresMetrics              // app[heroku-postgres] samples
	KindRedisMetrics                 // app[heroku-redis] samples
	KindPgBouncerMetrics             // app[heroku-pgbouncer] samples
	KindPostgresLog                  // app[postgres.N] server log
	KindStateChange                  // State changed from a to b
	KindProcessExit                  // Process exited with status n
	KindProcessStart                 // Starting process with command `…`
	KindProcessStop                  // Stopping … with SIGTERM|SIGKILL
	KindRelease                      // app[api]: Release vN created by user …
	KindDeploy                       // app[api]: Deploy sha by user …
	KindScale                        // app[api]: Scaled to web@2:Standard-1X …
	KindLogplexError                 // Error L10 … L15
	numKinds
)

var kindNames = [numKinds]string{
	KindApp:              "app",
	KindRouter:           "router",
	KindDynoError:        "dyno_error",
	KindMemoryUsage:      "memory_usage",
	KindRuntimeMetrics:   "runtime_metrics",
	KindPostgresMetrics:  "postgres_metrics",
	KindRedisMetrics:     "redis_metrics",
	KindPgBouncerMetrics: "pgbouncer_metrics",
	KindPostgresLog:      "postgres_log",
	KindStateChange:      "state_change",
	KindProcessExit:      "process_exit",
	KindProcessStart:     "process_start",
	KindProcessStop:      "process_stop",
	KindRelease:          "release",
	KindDeploy:           "deploy",
	KindScale:            "scale",
	KindLogplexError:     "logplex_error",
}

// String returns the kind's name in the JSON contract, such as "router".
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// Sources of a message: Heroku's own components, or the app and its add-ons.
const (
	SourceHeroku = "heroku"
	SourceApp    = "app"
)

// Bounds on the names a message carries. They end up in database keys
// (rollups per router dyno, samples per source), where a name of thousands of
// bytes would fail every write that holds it, so a longer one makes the
// message bad: it is counted, not stored.
const (
	// MaxProcess bounds the process (the syslog PROCID): RFC 5424 allows 128
	// printable ASCII characters.
	MaxProcess = 128
	// MaxName bounds a dyno or add-on attachment named in a message (dyno=,
	// source=): Heroku's process types are at most 128 of [-\w] (Platform
	// API formation schema), plus a dot and the dyno number.
	MaxName = 140
)

// Absent marks a numeric field the line left out or left empty (`connect=`).
const Absent = -1

// Entry is one parsed message. Its strings point into a copy of the input
// that the Scanner shares among neighbouring messages and never changes, so an
// Entry stays valid after the next Scan.
type Entry struct {
	Time    time.Time // in UTC
	Stamp   string    // the timestamp exactly as received, offset and fraction included
	Source  string    // SourceHeroku or SourceApp
	Process string    // router, web.1, api, heroku-postgres, postgres.1234, logplex, …
	Kind    Kind
	Message string // the message text, without the trailing newline

	// Exactly one of the groups below is filled, chosen by Kind.
	Router    Router
	DynoError DynoError
	Memory    MemoryUsage
	Metrics   Metrics     // runtime, Postgres, Redis and PgBouncer metrics
	Postgres  PostgresLog // postgres_log
	Lifecycle Lifecycle   // state_change, process_exit, process_start, process_stop
	Platform  Platform    // release, deploy, scale
	Logplex   LogplexError
	App       AppLine
}

// Router is a heroku[router] line: one HTTP request, or one H error.
type Router struct {
	At        string // info, warning or error
	Code      string // H10 … H99, empty for a plain request
	Desc      string
	Cause     string
	Sock      string // backend (H18) or client (H27)
	Method    string
	Path      string
	Host      string
	RequestID string
	Fwd       string
	Dyno      string // empty when no dyno was reached
	ConnectMS int    // Absent when empty
	ServiceMS int    // Absent when empty
	Status    int    // Absent when empty (H24)
	Bytes     int64  // Absent when empty
	Protocol  string // https or http; Router 2.0: http1.1 or http2.0
	// TLS and TLSVersion are Router 2.0's (and Private Spaces'): tls=true|false,
	// tls_version=tls1.2|tls1.3|unknown (unknown on every *.herokuapp.com request).
	TLS        string
	TLSVersion string
	// Queue and WaitMS are the older router's queue= (requests queued) and
	// wait= (time queued), Absent when empty or missing.
	Queue  int
	WaitMS int
}

// DynoError is an R error of the dyno manager.
type DynoError struct {
	Code   string // R10, R12 … R17, R99
	Desc   string // Boot timeout, Memory quota exceeded, …
	Detail string // the text after "->", if any
}

// MemoryUsage is the "Process running mem=…" line that precedes R14 and R15.
type MemoryUsage struct {
	MB      float64
	Percent float64
}

// Metrics holds the samples of a runtime-metrics or add-on metrics line.
type Metrics struct {
	Dyno       string // runtime_metrics: the formation name from source=, such as web.1
	DynoID     string // runtime_metrics: heroku.<app id>.<uuid>, new on every restart
	Attachment string // add-ons: the attachment from source=, such as DATABASE or HEROKU_POSTGRESQL_RED
	Addon      string // add-ons: the add-on name, such as postgresql-clear-67109
	Samples    []Sample
}

// Sample is one sample# value. Names are snake_case with the unit folded into
// the name: memory_rss_mb for dyno memory, db_size_bytes and memory_total_bytes
// (converted from kB) for add-ons.
type Sample struct {
	Name  string
	Value float64
}

// Sample returns the value of the named sample and whether the line carried it.
func (m *Metrics) Sample(name string) (float64, bool) {
	for _, s := range m.Samples {
		if s.Name == name {
			return s.Value, true
		}
	}
	return 0, false
}

// PostgresLog is a Heroku Postgres server log line.
//
// Heroku splits a Postgres message of several lines (a statement over many
// lines, a NOTICE with newlines) into segments [Seq-1], [Seq-2], … of the same
// process. A segment after the first is a continuation: it has no SQL error
// code and no severity, and Message holds its text; it belongs to the
// message of the same process and Seq.
type PostgresLog struct {
	Attachment   string // DATABASE, RED, …
	SQLErrorCode string // SQLSTATE, 00000 for success; empty on old lines and continuations
	Severity     string // LOG, ERROR, FATAL, PANIC, STATEMENT, DETAIL, …; empty on continuations
	Message      string
	Seq, Part    int // from [Seq-Part]
}

// Lifecycle is a dyno manager event.
type Lifecycle struct {
	From, To   string // state_change
	ExitStatus int    // process_exit; Absent for a bare "Process exited"
	Command    string // process_start
	Signal     string // process_stop: SIGTERM or SIGKILL
}

// Platform is a release, deploy or scale event from the Platform API.
type Platform struct {
	Version   string // release: v138
	Commit    string // deploy: 4f070772
	User      string
	Formation []Formation // scale
}

// Formation is the new size of one process type in a scale event.
type Formation struct {
	Type     string
	Quantity int
	Size     string
}

// LogplexError is a Logplex or log-shuttle error about lost lines.
type LogplexError struct {
	Code    string // L10 … L15
	Dropped int    // messages dropped or lost; Absent when the line gives no count
	Since   string // as written in the line
}

// AppLine is anything else: app output, with key=value pairs and l2met metrics picked out.
type AppLine struct {
	Pairs   []Pair
	Metrics []Metric
}

// Pair is one key=value of an app line, quotes removed.
type Pair struct {
	Key, Value string
}

// Metric is one l2met-style measure#, sample# or count# of an app line.
type Metric struct {
	Type  string // measure, sample or count
	Name  string
	Value float64
	Unit  string // as written after the number: ms, MB, … or empty
}

// reset readies e for the next message. A parse that succeeds writes every
// common field, so only Kind is cleared of them, and the group of e's kind:
// clearing what is written again anyway is a write barrier for each string
// while the GC runs. A router line's group is left too, as parseRouter
// writes all of it (most of a drain's messages are router lines, one after
// the other) and classify clears it under any other kind.
func (e *Entry) reset() {
	kind := e.Kind
	e.Kind = 0
	switch kind {
	case KindDynoError:
		e.DynoError = DynoError{}
	case KindMemoryUsage:
		e.Memory = MemoryUsage{}
	case KindRuntimeMetrics, KindPostgresMetrics, KindRedisMetrics, KindPgBouncerMetrics:
		e.Metrics = Metrics{}
	case KindPostgresLog:
		e.Postgres = PostgresLog{}
	case KindStateChange, KindProcessExit, KindProcessStart, KindProcessStop:
		e.Lifecycle = Lifecycle{}
	case KindRelease, KindDeploy, KindScale:
		e.Platform = Platform{}
	case KindLogplexError:
		e.Logplex = LogplexError{}
	case KindApp:
		e.App = AppLine{}
	}
}

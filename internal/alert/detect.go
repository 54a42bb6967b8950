package alert

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dynowatch/dynowatch/internal/parse"
)

// ObsKind says how an observation counts toward its rule.
type ObsKind uint8

// Kinds of observation.
const (
	Event ObsKind = iota // one more occurrence (an R14, an H12, a crash …), counted within the rule's window
	Above                // a sample or a window over the threshold
	Below                // a sample or a window back under it
)

// Observation is what one log line, sample or window says about one alert.
type Observation struct {
	Key      string // Key.String(): one alert's identity
	Rule     RuleName
	App      string
	Dyno     string
	Code     string
	Kind     ObsKind
	At       time.Time
	Count    int // occurrences this stands for (an L10's dropped lines); 1 otherwise
	Summary  string
	Evidence string   // the line, privacy cuts applied
	Severity Severity // overrides the rule's when set (a check's severity=)
}

// Detector turns log entries into observations. It keeps no state: counting
// happens on the alert's stored state, which every dyno shares.
type Detector struct {
	Rules            *Rules
	KeepQueryStrings bool
	KeepClientIPs    bool
}

// Observe returns the observations in entries of app.
func (d *Detector) Observe(app string, entries []parse.Entry) []Observation {
	var out []Observation
	var served *parse.Entry // the last router line, if the app rather than its maintenance page answered it
	for i := range entries {
		e := &entries[i]
		switch e.Kind {
		case parse.KindRouter:
			if e.Router.Code == "H80" {
				served = nil
				// One maintenance state per app, whatever the line says: the
				// engine looks it up by rule and app.
				o := d.obs(e, app, RuleMaintenance, "", "", Event, "maintenance mode")
				o.Code = "H80"
				out = append(out, o)
				continue
			}
			served = e
			if o, ok := d.router(e, app); ok {
				out = append(out, o)
			}
		case parse.KindDynoError:
			code := e.DynoError.Code
			summary := code + " " + strings.ToLower(e.DynoError.Desc)
			if e.DynoError.Detail != "" {
				summary += ": " + e.DynoError.Detail
			}
			if rule, ok := dynoErrorRule(code); ok {
				out = d.add(out, e, app, rule, e.Process, code, Event, summary+" on "+e.Process)
			}
		case parse.KindStateChange:
			if e.Lifecycle.To == "crashed" {
				out = d.add(out, e, app, RuleCrashLoop, e.Process, "", Event, e.Process+" crashed (state "+e.Lifecycle.From+" to crashed)")
			}
		case parse.KindLogplexError:
			if e.Logplex.Code == "L10" && d.Rules.For(app, RuleL10).Enabled {
				o := d.obs(e, app, RuleL10, "", "L10", Event, fmt.Sprintf("Logplex dropped %d messages", max(e.Logplex.Dropped, 0)))
				o.Count = max(e.Logplex.Dropped, 1)
				out = append(out, o)
			}
		case parse.KindPostgresLog:
			code := e.Postgres.SQLErrorCode
			if len(code) == 5 && slices.Contains([]string{"53", "57", "58", "XX"}, code[:2]) {
				out = d.add(out, e, app, RulePGErrors, e.Postgres.Attachment, code, Event,
					fmt.Sprintf("Postgres %s %s: %s", e.Postgres.Severity, code, clipSummary(e.Postgres.Message)))
			}
		case parse.KindRuntimeMetrics:
			out = d.runtime(out, e, app)
		case parse.KindPostgresMetrics:
			out = d.postgres(out, e, app)
		case parse.KindRedisMetrics:
			out = d.redis(out, e, app)
		}
	}
	if served != nil {
		out = append(out, Observation{Key: Key{Rule: RuleMaintenance, App: app}.String(), Rule: RuleMaintenance, App: app, Kind: Below, At: served.Time, Count: 1})
	}
	return out
}

func (d *Detector) router(e *parse.Entry, app string) (Observation, bool) {
	r := &e.Router
	if r.Code == "" || r.At != "error" || slices.Contains(d.Rules.Policy.IgnoreHCodes, r.Code) || !d.Rules.For(app, RuleHCodes).Enabled {
		return Observation{}, false
	}
	summary := r.Code + " " + strings.ToLower(r.Desc)
	if r.Path != "" {
		path, _, _ := strings.Cut(r.Path, "?")
		summary += " " + r.Method + " " + path
	}
	if r.Dyno != "" {
		summary += " on " + r.Dyno
	}
	o := d.obs(e, app, RuleHCodes, "", r.Code, Event, summary)
	o.Dyno = strings.Clone(r.Dyno) // shown, not part of the key: one alert per app and code
	return o, true
}

func (d *Detector) runtime(out []Observation, e *parse.Entry, app string) []Observation {
	m := &e.Metrics
	if rss, ok := m.Sample("memory_rss_mb"); ok {
		if quota, ok := m.Sample("memory_quota_mb"); ok && quota > 0 {
			pct := 100 * rss / quota
			r := d.Rules.For(app, RuleMemory)
			out = d.add(out, e, app, RuleMemory, m.Dyno, "", above(pct >= r.Threshold),
				fmt.Sprintf("%s memory %.0f MB of %.0f MB (%.0f%%)", m.Dyno, rss, quota, pct))
		}
	}
	if load, ok := m.Sample("load_avg_1m"); ok {
		r := d.Rules.For(app, RuleLoad)
		out = d.add(out, e, app, RuleLoad, m.Dyno, "", above(load >= r.Threshold), fmt.Sprintf("%s load average %.2f", m.Dyno, load))
	}
	if cpu, ok := m.Sample("cpu_percent"); ok {
		r := d.Rules.For(app, RuleCPU)
		out = d.add(out, e, app, RuleCPU, m.Dyno, "", above(cpu >= r.Threshold), fmt.Sprintf("%s CPU %.0f%%", m.Dyno, cpu))
	}
	return out
}

func (d *Detector) postgres(out []Observation, e *parse.Entry, app string) []Observation {
	m := &e.Metrics
	db := m.Attachment
	active, hasActive := m.Sample("active_connections")
	// With the plan's limit on the line, the share of it is what matters:
	// 100 connections are nothing on a plan of 500 and too many on one of 120.
	if share, ok := m.Sample("connections_percentage_used"); ok {
		limit, _ := m.Sample("max_connections")
		out = d.share(out, e, app, RulePGConnectionsUsed, db, share, fmt.Sprintf("Postgres %s: %.0f connections of the plan's %.0f", db, active, limit))
	} else if hasActive {
		out = d.add(out, e, app, RulePGConnections, db, "", above(active >= d.Rules.For(app, RulePGConnections).Threshold),
			fmt.Sprintf("Postgres %s: %.0f active connections", db, active))
	}
	if share, ok := m.Sample("db_size_percentage_used"); ok {
		size, _ := m.Sample("db_size_bytes")
		limit, _ := m.Sample("db_max_size_bytes")
		out = d.share(out, e, app, RulePGSizeUsed, db, share, fmt.Sprintf("Postgres %s: %.1f GB of data of the plan's %.0f GB", db, size/1e9, limit/1e9))
	}
	if share, ok := m.Sample("iops_percentage_used"); ok {
		r, _ := m.Sample("read_iops")
		w, _ := m.Sample("write_iops")
		limit, _ := m.Sample("max_iops")
		out = d.share(out, e, app, RulePGIOPSUsed, db, share, fmt.Sprintf("Postgres %s: %.0f IOPS of the plan's %.0f", db, r+w, limit))
	}
	if v, ok := m.Sample("waiting_connections"); ok {
		out = d.add(out, e, app, RulePGWaiting, db, "", above(v >= d.Rules.For(app, RulePGWaiting).Threshold),
			fmt.Sprintf("Postgres %s: %.0f connections waiting on locks", db, v))
	}
	idx, ok1 := m.Sample("index_cache_hit_rate")
	tbl, ok2 := m.Sample("table_cache_hit_rate")
	if ok1 || ok2 {
		low := min(ifOK(idx, ok1), ifOK(tbl, ok2))
		out = d.add(out, e, app, RulePGCacheHit, db, "", above(low < d.Rules.For(app, RulePGCacheHit).Threshold),
			fmt.Sprintf("Postgres %s: cache hit rate index %.4f, table %.4f", db, idx, tbl))
	}
	return out
}

// redis observes a Key-Value Store metrics line: the share of the plan's
// connections and memory used, when the line carries them.
func (d *Detector) redis(out []Observation, e *parse.Entry, app string) []Observation {
	m := &e.Metrics
	kvs := m.Attachment
	if share, ok := m.Sample("connections_percentage_used"); ok { // parse renames the Key-Value Store's singular
		active, _ := m.Sample("active_connections")
		limit, _ := m.Sample("max_connections")
		out = d.share(out, e, app, RuleKVSConnectionsUsed, kvs, share, fmt.Sprintf("Key-Value Store %s: %.0f connections of the plan's %.0f", kvs, active, limit))
	}
	if share, ok := m.Sample("memory_percentage_used"); ok {
		used, _ := m.Sample("memory_redis_bytes")
		out = d.share(out, e, app, RuleKVSMemoryUsed, kvs, share, fmt.Sprintf("Key-Value Store %s: %.0f MB used", kvs, used/1e6))
	}
	return out
}

// share observes the share (0 to 1) of a plan's limit a line says is used,
// against rule's threshold in percent.
func (d *Detector) share(out []Observation, e *parse.Entry, app string, rule RuleName, source string, share float64, what string) []Observation {
	pct := 100 * share
	return d.add(out, e, app, rule, source, "", above(pct >= d.Rules.For(app, rule).Threshold), fmt.Sprintf("%s (%.0f%%)", what, pct))
}

func ifOK(v float64, ok bool) float64 {
	if ok {
		return v
	}
	return 1
}

func above(b bool) ObsKind {
	if b {
		return Above
	}
	return Below
}

// add appends an observation of rule when the rule is on for app.
func (d *Detector) add(out []Observation, e *parse.Entry, app string, rule RuleName, dyno, code string, kind ObsKind, summary string) []Observation {
	if !d.Rules.For(app, rule).Enabled {
		return out
	}
	return append(out, d.obs(e, app, rule, dyno, code, kind, summary))
}

func (d *Detector) obs(e *parse.Entry, app string, rule RuleName, dyno, code string, kind ObsKind, summary string) Observation {
	key := Key{Rule: rule, App: app, Dyno: dyno, Code: code}.String()
	// Observations wait in the engine's queue: they must not keep the
	// scanner's buffers, which the entries' strings share, alive.
	return Observation{Key: key, Rule: rule, App: app, Dyno: strings.Clone(dyno), Code: strings.Clone(code), Kind: kind, At: e.Time, Count: 1,
		Summary: summary, Evidence: e.Line(d.KeepQueryStrings, d.KeepClientIPs)}
}

func clipSummary(s string) string {
	if len(s) <= 120 {
		return s
	}
	i := 120
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

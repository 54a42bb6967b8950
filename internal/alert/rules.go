package alert

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/duration"
)

// Rule is the configuration of one alert rule: whether it is on, its
// threshold, its window and how severe its alerts are.
type Rule struct {
	Name      RuleName
	Enabled   bool
	Threshold float64       // the rule's unit: count, %, ms, load, ratio …
	Window    time.Duration // counting window; for event rules also how long without a new event before resolving
	Samples   int           // consecutive samples, for sample rules
	Severity  Severity
}

// ruleSpec documents a rule and gives its defaults.
type ruleSpec struct {
	Rule
	What      string // what it catches, for the README and `dynowatch config`
	Threshold string // what the threshold means; "" when it has none
}

func spec(name RuleName, sev Severity, threshold float64, window time.Duration, samples int, what, unit string) ruleSpec {
	return ruleSpec{Rule: Rule{Name: name, Enabled: true, Threshold: threshold, Window: window, Samples: samples, Severity: sev}, What: what, Threshold: unit}
}

// ruleSpecs are every rule with its defaults. Rules are on by default: with
// nothing configured but a channel, these are what pages.
var ruleSpecs = []ruleSpec{
	spec(RuleR10, Critical, 1, 15*time.Minute, 0, "R10 boot timeout: a dyno did not bind $PORT in time", "lines of one dyno within the window"),
	spec(RuleR12, Warning, 1, 15*time.Minute, 0, "R12 exit timeout: a dyno ignored SIGTERM for 30 s", "lines of one dyno within the window"),
	spec(RuleR13, Warning, 1, 15*time.Minute, 0, "R13 attach error of a one-off dyno", "lines of one dyno within the window"),
	spec(RuleR14, Warning, 1, 10*time.Minute, 0, "R14 memory quota exceeded: the dyno swaps", "lines of one dyno within the window"),
	spec(RuleR15, Critical, 1, 10*time.Minute, 0, "R15 memory quota vastly exceeded: the dyno is killed", "lines of one dyno within the window"),
	spec(RuleR16, Warning, 1, 15*time.Minute, 0, "R16 detached one-off dyno", "lines of one dyno within the window"),
	spec(RuleR17, Critical, 1, 15*time.Minute, 0, "R17 checksum error of the slug", "lines of one dyno within the window"),
	spec(RuleR99, Critical, 1, 15*time.Minute, 0, "R99 Heroku platform error", "lines of one dyno within the window"),
	spec(RuleHCodes, Critical, 1, 5*time.Minute, 0, "router errors (H10, H11, H12, H13, …) per app and code", "errors of one code within the window"),
	spec(Rule5xxRate, Critical, 5, 5*time.Minute, 0, "share of 5xx responses over the window (with at least ALERT_5XX_RATE_MIN_REQUESTS requests)", "percent of requests"),
	spec(RuleSlowRequests, Warning, 5000, 5*time.Minute, 0, "p95 service time over the window (with at least ALERT_SLOW_REQUESTS_MIN_REQUESTS requests)", "milliseconds"),
	spec(RuleMemory, Warning, 90, 10*time.Minute, 3, "dyno memory (rss) near its quota for consecutive samples: warns before R14", "percent of memory_quota"),
	spec(RuleMemoryLeak, Warning, 0.8, 2*time.Hour, 0, "dyno memory (rss + swap) growing steadily since the dyno started, forecast to reach its quota (R14) within the window", "least R² of the fit, 0 to 1"),
	spec(RuleLoad, Warning, 4, 10*time.Minute, 3, "dyno load_avg_1m high for consecutive samples", "load average"),
	// Fir reports CPU where Cedar had load. 90% of the dyno's CPU leaves no
	// headroom: requests queue behind each other and service times climb.
	// Three samples in a row, as MEMORY and LOAD, so that a burst (a boot,
	// a GC, a deploy's asset compile) does not page.
	spec(RuleCPU, Warning, 90, 10*time.Minute, 3, "dyno CPU (Fir's cpu_percent) high for consecutive samples", "percent of the dyno's CPU"),
	spec(RuleCrashLoop, Critical, 3, 15*time.Minute, 0, "a dyno crashing again and again: one alert, not one per crash", "crashes of one dyno within the window"),
	spec(RuleRelease, Warning, 2, 15*time.Minute, 0, "a release that made the app worse: 5xx share, p95/p99, H errors or crashes over the window after it against as long before it", "times the figure before it"),
	spec(RuleSilence, Warning, 0, 15*time.Minute, 0, "an app that was sending logs went silent for the window", ""),
	spec(RuleL10, Warning, 1, 15*time.Minute, 0, "Logplex dropped lines (L10): the drain can't keep up or a dyno logs in bursts", "messages dropped within the window"),
	spec(RulePGConnections, Warning, 100, 10*time.Minute, 3, "Heroku Postgres active connections high for consecutive samples, on lines without the plan's max-connections (else PG_CONNECTIONS_USED)", "connections"),
	spec(RulePGWaiting, Warning, 5, 10*time.Minute, 3, "Heroku Postgres connections waiting on a lock for consecutive samples", "connections"),
	spec(RulePGCacheHit, Warning, 0.99, 30*time.Minute, 3, "Heroku Postgres index or table cache hit rate below the threshold for consecutive samples", "hit rate, 0 to 1"),
	spec(RulePGConnectionsUsed, Warning, 80, 10*time.Minute, 3, "Heroku Postgres connections near the plan's max-connections for consecutive samples", "percent of max-connections"),
	spec(RulePGSizeUsed, Warning, 90, 30*time.Minute, 3, "Heroku Postgres data near the plan's db-max-size for consecutive samples", "percent of db-max-size"),
	spec(RulePGIOPSUsed, Warning, 90, 10*time.Minute, 3, "Heroku Postgres IOPS near the plan's max-iops for consecutive samples", "percent of max-iops"),
	spec(RuleKVSConnectionsUsed, Warning, 80, 10*time.Minute, 3, "Heroku Key-Value Store (Redis) connections near the plan's max-connections for consecutive samples", "percent of max-connections"),
	spec(RuleKVSMemoryUsed, Warning, 90, 10*time.Minute, 3, "Heroku Key-Value Store (Redis) memory near the plan's for consecutive samples: keys are evicted or writes refused beyond it", "percent of the plan's memory"),
	spec(RulePGErrors, Critical, 1, 15*time.Minute, 0, "Postgres errors of SQLSTATE classes 53 (resources), 57 (operator), 58 (system) and XX (internal)", "errors within the window"),
	spec(RuleCheck, Critical, 0, 0, 0, "a status check failing (see CHECK_ vars)", ""),
	spec(RuleDelivery, Critical, 3, 0, 0, "dynowatch itself: a channel failing again and again (a revoked key), or notifications waiting over 10 minutes", "failed attempts in a row"),
}

// Policy is how alerts live once their rule has fired them.
type Policy struct {
	RepeatInterval  time.Duration // remind while firing
	GroupWait       time.Duration // an app's later alerts within this follow as one message
	FlapChanges     int           // more state changes than this within FlapWindow is flapping
	FlapWindow      time.Duration
	MaintenanceFor  time.Duration // H80 mutes an app's router alerts at most this long
	Min5xxRequests  int           // the 5xx_rate rule needs at least this many requests in its window
	MinSlowRequests int           // and the slow_requests rule: a p95 of a handful of requests is their slowest
	// MemoryLeakMinSpan is the least span of samples since a dyno started
	// that the memory_leak rule fits: a shorter one is a dyno warming up.
	MemoryLeakMinSpan time.Duration
	// MinReleaseRequests: the release rule compares shares and service
	// times only with at least this many requests before and after.
	MinReleaseRequests int
	IgnoreHCodes       []string // router codes that never page
}

// DefaultPolicy is the policy with no ALERT_ vars set.
func DefaultPolicy() Policy {
	return Policy{RepeatInterval: time.Hour, GroupWait: time.Minute, FlapChanges: 4, FlapWindow: 30 * time.Minute,
		MaintenanceFor: 15 * time.Minute, Min5xxRequests: 20, MinSlowRequests: 20, MemoryLeakMinSpan: 30 * time.Minute, MinReleaseRequests: 100, IgnoreHCodes: []string{"H26", "H27", "H28"}}
}

// Rules is the whole alerting configuration: rules, per-app overrides and
// the policy.
type Rules struct {
	Policy Policy
	global map[RuleName]Rule
	perApp map[string]map[RuleName]Rule // app → rule → override
}

// For returns the rule name as it applies to app.
func (r *Rules) For(app string, name RuleName) Rule {
	if o, ok := r.perApp[app][name]; ok {
		return o
	}
	return r.global[name]
}

// DefaultRules are the rules with no ALERT_ vars set.
func DefaultRules() *Rules {
	r := &Rules{Policy: DefaultPolicy(), global: map[RuleName]Rule{}, perApp: map[string]map[RuleName]Rule{}}
	for _, s := range ruleSpecs {
		r.global[s.Name] = s.Rule
	}
	return r
}

// VarPrefix starts the name of every var of the alert rules and policy (and
// of the channels, which config reads).
const VarPrefix = "ALERT_"

// ParseRules reads the alert rules and policy from vars (name → value), the
// ALERT_ config vars that are not a channel's:
//
//	ALERT_<RULE>_ENABLED | _THRESHOLD | _WINDOW | _SAMPLES | _SEVERITY   for every app
//	ALERT_<RULE>_<SETTING>__<APP>                                        for one app (APP upper-cased, '-' as '_')
//	ALERT_REPEAT_INTERVAL, ALERT_GROUP_WAIT, ALERT_FLAP_CHANGES, ALERT_FLAP_WINDOW,
//	ALERT_MAINTENANCE_MUTE, ALERT_5XX_RATE_MIN_REQUESTS, ALERT_SLOW_REQUESTS_MIN_REQUESTS, ALERT_H_CODES_IGNORE,
//	ALERT_MEMORY_LEAK_MIN_SPAN, ALERT_RELEASE_MIN_REQUESTS
//
// Unknown vars are errors, so a typo does not silently change nothing. It
// returns every problem at once, joined.
func ParseRules(vars map[string]string) (*Rules, error) {
	r := DefaultRules()
	var errs []error
	type override struct {
		app                  string
		rule                 RuleName
		setting, value, name string
	}
	var overrides []override
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		value := vars[name]
		if err := r.setPolicy(name, value); err != errNotPolicy {
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		key, app, _ := strings.Cut(strings.TrimPrefix(name, VarPrefix), "__")
		rule, setting, ok := r.splitRuleVar(key)
		if !ok || !strings.HasPrefix(name, VarPrefix) {
			errs = append(errs, fmt.Errorf("config var %s: unknown; rules are %s and settings ENABLED, THRESHOLD, WINDOW, SAMPLES, SEVERITY (example: ALERT_H_CODES_THRESHOLD=5)",
				name, ruleList()))
			continue
		}
		overrides = append(overrides, override{app, rule, setting, value, name})
	}
	// Globals first, so that an app's override starts from the global rule.
	slices.SortStableFunc(overrides, func(a, b override) int { return strings.Compare(a.app, b.app) })
	for _, o := range overrides {
		base := r.global[o.rule]
		if o.app != "" {
			if r.perApp[appKey(o.app)] == nil {
				r.perApp[appKey(o.app)] = map[RuleName]Rule{}
			}
			if cur, ok := r.perApp[appKey(o.app)][o.rule]; ok {
				base = cur
			}
		}
		next, err := setRule(base, o.setting, o.value)
		if err != nil {
			errs = append(errs, fmt.Errorf("config var %s=%q: %w", o.name, o.value, err))
			continue
		}
		if o.app == "" {
			r.global[o.rule] = next
			// Per-app overrides made before this global do not exist: globals sort first.
		} else {
			r.perApp[appKey(o.app)][o.rule] = next
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// appKey maps a var's APP part back to the Heroku app name: MY_APP → my-app.
func appKey(varPart string) string {
	return strings.ReplaceAll(strings.ToLower(varPart), "_", "-")
}

// splitRuleVar splits "H_CODES_THRESHOLD" into the rule and the setting.
func (r *Rules) splitRuleVar(key string) (rule RuleName, setting string, ok bool) {
	for _, s := range []string{"ENABLED", "THRESHOLD", "WINDOW", "SAMPLES", "SEVERITY"} {
		if name, found := strings.CutSuffix(key, "_"+s); found {
			if _, known := r.global[RuleName(strings.ToLower(name))]; known {
				return RuleName(strings.ToLower(name)), s, true
			}
		}
	}
	return "", "", false
}

func setRule(r Rule, setting, value string) (Rule, error) {
	switch setting {
	case "ENABLED":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return r, fmt.Errorf("want true or false")
		}
		r.Enabled = b
	case "THRESHOLD":
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || f < 0 {
			return r, fmt.Errorf("want a number of 0 or more, e.g. 5")
		}
		// A share written in the wrong unit would page for ever, or never.
		switch {
		case r.Name == RulePGCacheHit && f > 1:
			return r, fmt.Errorf("want a hit rate from 0 to 1, e.g. 0.99 (not a percent)")
		case r.Name == RuleRelease && f < 1:
			return r, fmt.Errorf("want a factor of at least 1, e.g. 2 (twice the figure before the release)")
		case r.Name == RuleMemoryLeak && f > 1:
			return r, fmt.Errorf("want an R² from 0 to 1, e.g. 0.8")
		case (r.Name == Rule5xxRate || planShare(r.Name)) && f > 100:
			return r, fmt.Errorf("want a percent from 0 to 100, e.g. 5")
		case r.Name == RuleCPU && (f < 1 || f > 100):
			// 0.9 would be a fraction meant as 90%, and page on an idle dyno.
			return r, fmt.Errorf("want a percent from 1 to 100, e.g. 90 (not a fraction)")
		}
		r.Threshold = f
	case "WINDOW":
		d, err := duration.Parse(value)
		if err != nil || d < time.Minute {
			return r, fmt.Errorf("want a duration of at least 1m, e.g. 5m or 1h")
		}
		r.Window = d
	case "SAMPLES":
		if r.Samples == 0 {
			return r, fmt.Errorf("%s counts no samples: only MEMORY, LOAD, CPU and the PG_ and KVS_ sample rules take SAMPLES", r.Name.Var())
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return r, fmt.Errorf("want a whole number of at least 1, e.g. 3")
		}
		r.Samples = n
	case "SEVERITY":
		s, err := ParseSeverity(value)
		if err != nil {
			return r, err
		}
		r.Severity = s
	}
	return r, nil
}

var errNotPolicy = errors.New("not a policy var")

func (r *Rules) setPolicy(name, value string) error {
	p := &r.Policy
	dur := func(d *time.Duration, min time.Duration) error {
		v, err := duration.Parse(value)
		if err != nil || v < min {
			return fmt.Errorf("config var %s=%q: want a duration of at least %s, e.g. 1h", name, value, duration.Format(min))
		}
		*d = v
		return nil
	}
	num := func(n *int, min int) error {
		v, err := strconv.Atoi(value)
		if err != nil || v < min {
			return fmt.Errorf("config var %s=%q: want a whole number of at least %d", name, value, min)
		}
		*n = v
		return nil
	}
	switch name {
	case "ALERT_REPEAT_INTERVAL":
		return dur(&p.RepeatInterval, time.Minute)
	case "ALERT_GROUP_WAIT":
		return dur(&p.GroupWait, 0)
	case "ALERT_FLAP_WINDOW":
		return dur(&p.FlapWindow, time.Minute)
	case "ALERT_MAINTENANCE_MUTE":
		return dur(&p.MaintenanceFor, 0)
	case "ALERT_RELEASE_MIN_REQUESTS":
		return num(&p.MinReleaseRequests, 1)
	case "ALERT_MEMORY_LEAK_MIN_SPAN":
		return dur(&p.MemoryLeakMinSpan, 10*time.Minute)
	case "ALERT_FLAP_CHANGES":
		return num(&p.FlapChanges, 2)
	case "ALERT_5XX_RATE_MIN_REQUESTS":
		return num(&p.Min5xxRequests, 1)
	case "ALERT_SLOW_REQUESTS_MIN_REQUESTS":
		return num(&p.MinSlowRequests, 1)
	case "ALERT_H_CODES_IGNORE":
		p.IgnoreHCodes = nil
		for _, c := range strings.Split(value, ",") {
			c = strings.ToUpper(strings.TrimSpace(c))
			if c == "" {
				continue
			}
			if len(c) != 3 || c[0] != 'H' {
				return fmt.Errorf("config var %s=%q: want router codes, e.g. H26,H27,H28", name, value)
			}
			p.IgnoreHCodes = append(p.IgnoreHCodes, c)
		}
		return nil
	}
	return errNotPolicy
}

// planShare says whether rule judges the share of a plan's limit used, in
// percent.
func planShare(rule RuleName) bool {
	switch rule {
	case RulePGConnectionsUsed, RulePGSizeUsed, RulePGIOPSUsed, RuleKVSConnectionsUsed, RuleKVSMemoryUsed:
		return true
	}
	return false
}

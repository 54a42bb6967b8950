package alert

import (
	"fmt"
	"slices"
	"strings"
)

// RuleName names an alert rule. It is the lower-case form of the <RULE> part
// of its ALERT_<RULE>_… config vars: RuleHCodes is "h_codes" and is set by
// ALERT_H_CODES_THRESHOLD. Use the constants, so that a misspelled rule does
// not compile rather than silently match nothing.
type RuleName string

// The rules. Their defaults and descriptions are in ruleSpecs.
const (
	RuleR10           RuleName = "r10"
	RuleR12           RuleName = "r12"
	RuleR13           RuleName = "r13"
	RuleR14           RuleName = "r14"
	RuleR15           RuleName = "r15"
	RuleR16           RuleName = "r16"
	RuleR17           RuleName = "r17"
	RuleR99           RuleName = "r99"
	RuleHCodes        RuleName = "h_codes"
	Rule5xxRate       RuleName = "5xx_rate"
	RuleSlowRequests  RuleName = "slow_requests"
	RuleMemory        RuleName = "memory"
	RuleMemoryLeak    RuleName = "memory_leak"
	RuleLoad          RuleName = "load"
	RuleCPU           RuleName = "cpu"
	RuleCrashLoop     RuleName = "crash_loop"
	RuleRelease       RuleName = "release"
	RuleSilence       RuleName = "silence"
	RuleL10           RuleName = "l10"
	RulePGConnections RuleName = "pg_connections"
	RulePGWaiting     RuleName = "pg_waiting"
	RulePGCacheHit    RuleName = "pg_cache_hit"
	RulePGErrors      RuleName = "pg_errors"
	// The share of the plan's limits used, from lines that carry it.
	RulePGConnectionsUsed  RuleName = "pg_connections_used"
	RulePGSizeUsed         RuleName = "pg_size_used"
	RulePGIOPSUsed         RuleName = "pg_iops_used"
	RuleKVSConnectionsUsed RuleName = "kvs_connections_used"
	RuleKVSMemoryUsed      RuleName = "kvs_memory_used"
	RuleCheck              RuleName = "check"
	RuleDelivery           RuleName = "delivery"

	// RuleMaintenance is the pseudo-rule of H80 lines: an Event while an app
	// is in maintenance mode, a Below when a router line says it is out of
	// it. It is a state that mutes router alerts, never paged about, and has
	// no config vars.
	RuleMaintenance RuleName = "maintenance"
)

// Instant says whether the rule's alerts jump every queue, the observation
// queue's and the outbox's: a dyno error (an R code) or a crash loop is one
// line saying a dyno is in trouble, while router codes and window rules
// come in storms of thousands that are counted, not each paged at once.
func (n RuleName) Instant() bool {
	switch n {
	case RuleR10, RuleR12, RuleR13, RuleR14, RuleR15, RuleR16, RuleR17, RuleR99, RuleCrashLoop:
		return true
	}
	return false
}

// Var is the name's <RULE> part of config vars, as the README spells it: H_CODES.
func (n RuleName) Var() string { return strings.ToUpper(string(n)) }

// RuleNames lists the configurable rules, in the README's order.
func RuleNames() []RuleName {
	names := make([]RuleName, len(ruleSpecs))
	for i, s := range ruleSpecs {
		names[i] = s.Name
	}
	return names
}

// ParseRuleName reads a rule's name in any case, as the README spells it
// (H_CODES, R15) or as alerts show it (h_codes). Only configurable rules
// are names: maintenance is not one.
func ParseRuleName(s string) (RuleName, error) {
	n := RuleName(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(RuleNames(), n) {
		return n, nil
	}
	return "", fmt.Errorf("rule %q: unknown; rules are %s", s, ruleList())
}

// ruleList is the rules as the README spells them, for error messages.
func ruleList() string {
	var b strings.Builder
	for i, n := range RuleNames() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n.Var())
	}
	return b.String()
}

// dynoErrorRule is the rule of one of Heroku's R codes, if it has one.
func dynoErrorRule(code string) (RuleName, bool) {
	switch r := RuleName(strings.ToLower(code)); r {
	case RuleR10, RuleR12, RuleR13, RuleR14, RuleR15, RuleR16, RuleR17, RuleR99:
		return r, true
	}
	return "", false
}

// Key is an alert's identity: one alert per rule, app and, depending on the
// rule, dyno and code. Its String is the key the store keeps alerts under,
// rule|app[|dyno][|code][|part]; ParseKey reads it back.
type Key struct {
	Rule RuleName
	App  string // "" for a check without app=
	Dyno string // dyno, or Postgres attachment, of rules kept per dyno
	Code string // H code, SQLSTATE, check name or channel; R codes and L10 name their rule and are left out of the string
	Part string // a part of the alert with a life of its own: "cert" of an http check
}

// String is the key as the store keeps it.
func (k Key) String() string {
	var b strings.Builder
	b.WriteString(string(k.Rule))
	b.WriteByte('|')
	b.WriteString(k.App)
	for _, s := range []string{k.Dyno, k.code(), k.Part} {
		if s != "" {
			b.WriteByte('|')
			b.WriteString(s)
		}
	}
	return b.String()
}

// code is the code as it appears in the key: none when it names the rule.
func (k Key) code() string {
	if strings.EqualFold(k.Code, string(k.Rule)) {
		return ""
	}
	return k.Code
}

// keyShape says which parts after rule|app a rule's keys have.
func keyShape(r RuleName) (dyno, code, part bool) {
	switch r {
	case RuleHCodes, RuleDelivery:
		return false, true, false
	case RuleCheck:
		return false, true, true
	case RulePGErrors:
		return true, true, false
	case Rule5xxRate, RuleSlowRequests, RuleSilence, RuleL10, RuleMaintenance:
		return false, false, false
	}
	return true, false, false // R codes, crash loops and samples: per dyno
}

// ParseKey reads a key made by Key.String.
func ParseKey(s string) (Key, error) {
	parts := strings.Split(s, "|")
	bad := func(why string) (Key, error) {
		return Key{}, fmt.Errorf("alert key %q: %s; want rule|app[|dyno or code], e.g. r14|my-app|web.1 or h_codes|my-app|H12", s, why)
	}
	if len(parts) < 2 {
		return bad("too few parts")
	}
	k := Key{Rule: RuleName(parts[0]), App: parts[1]}
	if k.Rule != RuleMaintenance && !slices.Contains(RuleNames(), k.Rule) {
		return bad("unknown rule " + parts[0])
	}
	if code, ok := impliedCode(k.Rule); ok {
		k.Code = code
	}
	rest := parts[2:]
	dyno, code, part := keyShape(k.Rule)
	take := func(want bool, dst *string) {
		if want && len(rest) > 0 {
			*dst, rest = rest[0], rest[1:]
		}
	}
	// A Postgres error without an attachment has its code right after the app.
	take(dyno && (!code || len(rest) > 1), &k.Dyno)
	take(code, &k.Code)
	take(part, &k.Part)
	if len(rest) > 0 {
		return bad("too many parts")
	}
	return k, nil
}

// impliedCode is the code a rule's name already says: R14's is R14.
func impliedCode(r RuleName) (string, bool) {
	if _, ok := dynoErrorRule(string(r)); ok || r == RuleL10 {
		return r.Var(), true
	}
	return "", false
}

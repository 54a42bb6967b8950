package alert

import (
	"strings"
	"testing"
	"time"
)

func TestParseRules(t *testing.T) {
	r, err := ParseRules(map[string]string{
		"ALERT_H_CODES_THRESHOLD":         "5",
		"ALERT_H_CODES_WINDOW":            "10m",
		"ALERT_R14_SEVERITY":              "critical",
		"ALERT_MEMORY_SAMPLES":            "2",
		"ALERT_LOAD_ENABLED":              "false",
		"ALERT_CPU_THRESHOLD":             "80",
		"ALERT_CPU_SAMPLES__FIR_SHOP":     "5",
		"ALERT_H_CODES_THRESHOLD__MY_APP": "50",
		"ALERT_REPEAT_INTERVAL":           "2h",
		"ALERT_FLAP_WINDOW":               "1d12h",
		"ALERT_H_CODES_IGNORE":            "H26,h13",
	})
	if err != nil {
		t.Fatal(err)
	}
	if h := r.For("shop", "h_codes"); h.Threshold != 5 || h.Window != 10*time.Minute || !h.Enabled {
		t.Errorf("h_codes = %+v", h)
	}
	if h := r.For("my-app", "h_codes"); h.Threshold != 50 || h.Window != 10*time.Minute {
		t.Errorf("h_codes for my-app = %+v, want the override on top of the global rule", h)
	}
	if r.For("shop", "r14").Severity != Critical || r.For("shop", "memory").Samples != 2 || r.For("shop", "load").Enabled {
		t.Errorf("rules = %+v", r.global)
	}
	if c := r.For("fir-shop", "cpu"); c.Threshold != 80 || c.Samples != 5 || c.Window != 10*time.Minute || c.Severity != Warning {
		t.Errorf("cpu for fir-shop = %+v, want threshold 80 of the global rule and 5 samples", c)
	}
	if r.Policy.RepeatInterval != 2*time.Hour || r.Policy.FlapWindow != 36*time.Hour || strings.Join(r.Policy.IgnoreHCodes, ",") != "H26,H13" {
		t.Errorf("policy = %+v", r.Policy)
	}
}

func TestParseRulesErrors(t *testing.T) {
	for kv, want := range map[string]string{
		"ALERT_H_CODE_THRESHOLD=5":        "config var ALERT_H_CODE_THRESHOLD: unknown",
		"ALERT_H_CODES_THRESHOLD=lots":    "want a number",
		"ALERT_R14_SEVERITY=urgent":       "want critical, warning or info",
		"ALERT_MEMORY_WINDOW=10":          "want a duration",
		"ALERT_MEMORY_SAMPLES=0":          "at least 1",
		"ALERT_LOAD_ENABLED=nope":         "true or false",
		"ALERT_REPEAT_INTERVAL=1s":        "at least 1m,",
		"ALERT_H_CODES_IGNORE=teapot":     "want router codes",
		"ALERT_H_CODES_ENABLED__SHOP=x":   "ALERT_H_CODES_ENABLED__SHOP",
		"ALERT_PG_CACHE_HIT_THRESHOLD=99": "from 0 to 1, e.g. 0.99",
		"ALERT_5XX_RATE_THRESHOLD=500":    "from 0 to 100",
		"ALERT_R14_SAMPLES=4":             "R14 counts no samples",
		"ALERT_CPU_THRESHOLD=0.9":         "from 1 to 100, e.g. 90 (not a fraction)",
		"ALERT_CPU_THRESHOLD=150":         "from 1 to 100",
		"ALERT_EMAIL_TO=ops@example.com":  "config var ALERT_EMAIL_TO: unknown", // a channel's: config keeps it
		"R14_ENABLED=false":               "config var R14_ENABLED: unknown",
	} {
		name, value, _ := strings.Cut(kv, "=")
		_, err := ParseRules(map[string]string{name: value})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", kv, err, want)
		}
	}
}

// TestParseRulesJoinsErrors: every bad var is reported at once, and the
// good ones do not hide them.
func TestParseRulesJoinsErrors(t *testing.T) {
	_, err := ParseRules(map[string]string{
		"ALERT_R14_SEVERITY":      "urgent",
		"ALERT_H_CODE_THRESHOLD":  "5",
		"ALERT_H_CODES_THRESHOLD": "5",
		"ALERT_GROUP_WAIT":        "soon",
	})
	want := []string{"config var ALERT_GROUP_WAIT=\"soon\"", "config var ALERT_H_CODE_THRESHOLD: unknown", "config var ALERT_R14_SEVERITY=\"urgent\""}
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("error has %d lines, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want it to start %q", i, lines[i], w)
		}
	}
}

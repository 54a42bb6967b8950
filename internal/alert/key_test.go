package alert

import (
	"strings"
	"testing"
)

func TestKeyRoundTrips(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		key  Key
		want string
	}{
		{Key{Rule: RuleR14, App: "shop", Dyno: "web.1", Code: "R14"}, "r14|shop|web.1"},
		{Key{Rule: RuleHCodes, App: "shop", Code: "H12"}, "h_codes|shop|H12"},
		{Key{Rule: RuleCrashLoop, App: "my-app", Dyno: "worker.2"}, "crash_loop|my-app|worker.2"},
		{Key{Rule: RuleL10, App: "shop", Code: "L10"}, "l10|shop"},
		{Key{Rule: RulePGErrors, App: "shop", Dyno: "DATABASE", Code: "53300"}, "pg_errors|shop|DATABASE|53300"},
		{Key{Rule: RulePGErrors, App: "shop", Code: "53300"}, "pg_errors|shop|53300"},
		{Key{Rule: RuleMemory, App: "shop", Dyno: "web.1"}, "memory|shop|web.1"},
		{Key{Rule: Rule5xxRate, App: "shop"}, "5xx_rate|shop"},
		{Key{Rule: RuleCheck, Code: "api"}, "check||api"},
		{Key{Rule: RuleCheck, App: "shop", Code: "api", Part: "cert"}, "check|shop|api|cert"},
		{Key{Rule: RuleDelivery, App: "dynowatch", Code: "webhook"}, "delivery|dynowatch|webhook"},
		{Key{Rule: RuleMaintenance, App: "shop"}, "maintenance|shop"},
	} {
		if got := tt.key.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.key, got, tt.want)
		}
		back, err := ParseKey(tt.want)
		if err != nil || back != tt.key {
			t.Errorf("ParseKey(%q) = %+v, %v; want %+v", tt.want, back, err, tt.key)
		}
	}
}

func TestParseKeyRefusesWhatNoRuleMakes(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "r14", "r11|shop|web.1", "H_CODES|shop|H12", "h_codes|shop|H12|web.1", "5xx_rate|shop|web.1"} {
		if k, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) = %+v, want an error", s, k)
		}
	}
}

func TestParseRuleNameAcceptsTheREADMESpelling(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]RuleName{"H_CODES": RuleHCodes, "h_codes": RuleHCodes, "R15": RuleR15, "5xx_Rate": Rule5xxRate, " check ": RuleCheck} {
		if got, err := ParseRuleName(in); err != nil || got != want {
			t.Errorf("ParseRuleName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseRuleName("H12")
	if err == nil || !strings.Contains(err.Error(), "H_CODES, 5XX_RATE") {
		t.Errorf("ParseRuleName(H12): %v, want an error listing the rules", err)
	}
	if _, err := ParseRuleName("maintenance"); err == nil {
		t.Error("ParseRuleName(maintenance): maintenance is not a rule one can configure or silence")
	}
}

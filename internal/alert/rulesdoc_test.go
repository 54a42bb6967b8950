package alert

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestREADMEListsTheRules keeps the README's table of rules in step with the code.
func TestREADMEListsTheRules(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), DefaultRules().RulesTable()) {
		t.Errorf("README.md lacks the current table of rules; paste:\n%s", DefaultRules().RulesTable())
	}
}

func TestShortDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {45 * time.Second, "45s"}, {12 * time.Minute, "12m"}, {12*time.Minute + 30*time.Second, "12m30s"},
		{3*time.Hour + 5*time.Minute + 20*time.Second, "3h5m"}, {2 * time.Hour, "2h"},
		{50 * time.Hour, "2d2h"}, {72 * time.Hour, "3d"},
	} {
		if got := ShortDuration(tc.d); got != tc.want {
			t.Errorf("ShortDuration(%v)=%q, want %q", tc.d, got, tc.want)
		}
	}
}

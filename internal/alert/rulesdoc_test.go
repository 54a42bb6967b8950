package alert

import (
	"os"
	"strings"
	"testing"
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

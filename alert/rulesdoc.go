package alert

import (
	"fmt"
	"strings"
)

// RulesTable writes the rules as r has them, as a Markdown table: the
// README's table of rules is made with it, and `dynowatch config` prints it.
func (r *Rules) RulesTable() string {
	var b strings.Builder
	b.WriteString("| rule (`ALERT_<RULE>_…`) | catches | threshold | window | samples | severity | on |\n|---|---|---|---|---|---|---|\n")
	for _, s := range ruleSpecs {
		ru := r.global[s.Name]
		threshold, window, samples := "—", "—", "—"
		if s.Threshold != "" {
			threshold = fmt.Sprintf("%g (%s)", ru.Threshold, s.Threshold)
		}
		if ru.Window > 0 {
			window = shortDuration(ru.Window)
		}
		if ru.Samples > 0 {
			samples = fmt.Sprint(ru.Samples)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %v |\n", s.Name.Var(), s.What, threshold, window, samples, ru.Severity, ru.Enabled)
	}
	return b.String()
}

package alert

import (
	"fmt"
	"github.com/dynowatch/dynowatch/internal/duration"
	"maps"
	"slices"
	"strings"
)

// RulesTable writes the rules as r has them, as a Markdown table: the
// README's table of rules is made with it, and `dynowatch config` prints it.
func (r *Rules) RulesTable() string {
	var b strings.Builder
	b.WriteString("| rule (`ALERT_<RULE>_…`) | catches | threshold | window | samples | severity | on |\n|---|---|---|---|---|---|---|\n")
	for _, s := range ruleSpecs {
		ru := r.global[s.Name]
		threshold, window, samples := settings(s, ru)
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %v |\n", s.Name.Var(), s.What, threshold, window, samples, ru.Severity, ru.Enabled)
	}
	return b.String()
}

// OverridesTable writes the rules as the ALERT_<RULE>_…__<APP> vars set
// them for single apps, as a Markdown table; "" when there are none.
// `dynowatch config` prints it below RulesTable.
func (r *Rules) OverridesTable() string {
	apps := slices.Sorted(maps.Keys(r.perApp))
	var b strings.Builder
	for _, app := range apps {
		for _, s := range ruleSpecs {
			ru, ok := r.perApp[app][s.Name]
			if !ok {
				continue
			}
			if b.Len() == 0 {
				b.WriteString("| app | rule | threshold | window | samples | severity | on |\n|---|---|---|---|---|---|---|\n")
			}
			threshold, window, samples := settings(s, ru)
			fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s | %s | %v |\n", app, s.Name.Var(), threshold, window, samples, ru.Severity, ru.Enabled)
		}
	}
	return b.String()
}

// settings shows ru's threshold, window and samples, "—" for those its rule has not.
func settings(s ruleSpec, ru Rule) (threshold, window, samples string) {
	threshold, window, samples = "—", "—", "—"
	if s.Threshold != "" {
		threshold = fmt.Sprintf("%g (%s)", ru.Threshold, s.Threshold)
	}
	if ru.Window > 0 {
		window = duration.Short(ru.Window)
	}
	if ru.Samples > 0 {
		samples = fmt.Sprint(ru.Samples)
	}
	return threshold, window, samples
}

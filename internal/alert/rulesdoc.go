package alert

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
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
		window = ShortDuration(ru.Window)
	}
	if ru.Samples > 0 {
		samples = fmt.Sprint(ru.Samples)
	}
	return threshold, window, samples
}

// ShortDuration writes d for people: 45s, 12m30s, 3h5m, 2d4h. The rules
// table and notify's messages both use it, so they say a window the same way.
func ShortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return strconv.Itoa(m) + "m"
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return strconv.Itoa(days) + "d"
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

package alert

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/duration"
)

// Tier is one step of an escalation: the channels told once an alert has
// fired After ago and nobody acknowledged it.
type Tier struct {
	Channels []string // as the routing vars name them: email, sms, slack, pagerduty …
	After    time.Duration
}

// Tiers is an escalation, as ALERT_ESCALATION writes it:
//
//	slack,email now; sms after 10m; pagerduty after 30m
//
// A tier "now" is told when the alert fires, each later one "after" a
// longer time if nobody acknowledged the alert by then. Channels it does
// not name are told at once, as without it.
type Tiers []Tier

// ParseTiers reads an escalation (see Tiers). It checks the grammar: that
// only the first tier is now, each later one later than the one before, and
// that no channel is in two tiers. Which channel names exist is the
// caller's to check.
func ParseTiers(s string) (Tiers, error) {
	var ts Tiers
	seen := map[string]int{}
	parts := strings.Split(s, ";")
	for i, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" && i == len(parts)-1 {
			continue // a trailing ";", or nothing at all
		}
		t, err := parseTier(part)
		if err != nil {
			return nil, fmt.Errorf("tier %d %q: %w", i+1, part, err)
		}
		if i > 0 && t.After <= ts[i-1].After {
			return nil, fmt.Errorf("tier %d %q: want a delay longer than the tier before's (%s), such as %s after %s",
				i+1, part, duration.Format(ts[i-1].After), strings.Join(t.Channels, ","), duration.Format(2*max(ts[i-1].After, time.Minute)))
		}
		for _, c := range t.Channels {
			if j, dup := seen[c]; dup {
				return nil, fmt.Errorf("tier %d %q: %s is in tier %d already; a channel is in one tier", i+1, part, c, j)
			}
			seen[c] = i + 1
		}
		ts = append(ts, t)
	}
	return ts, nil
}

var errTierSyntax = errors.New("want channels, then now or after a duration, such as sms after 10m")

// parseTier reads "sms, ntfy after 10m" or "slack now".
func parseTier(s string) (Tier, error) {
	var t Tier
	f := strings.Fields(s)
	var names []string
	switch n := len(f); {
	case n >= 2 && f[n-1] == "now":
		names = f[:n-1]
	case n >= 3 && f[n-2] == "after":
		names = f[:n-2]
		d, err := duration.Parse(f[n-1])
		if err != nil {
			return t, fmt.Errorf("after %q: %w", f[n-1], err)
		}
		if d <= 0 {
			return t, errors.New("after 0 is now: write now, in the first tier")
		}
		t.After = d
	default:
		return t, errTierSyntax
	}
	// Spaces after commas are how people write lists.
	for _, c := range strings.Split(strings.Join(names, " "), ",") {
		if c = strings.ToLower(strings.TrimSpace(c)); c == "" || strings.ContainsFunc(c, func(r rune) bool { return r < 'a' || r > 'z' }) {
			return t, fmt.Errorf("%q is not a channel name, such as slack or pagerduty; separate channels with commas", c)
		}
		t.Channels = append(t.Channels, c)
	}
	return t, nil
}

// String writes ts as ParseTiers reads it.
func (ts Tiers) String() string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		when := "now"
		if t.After > 0 {
			when = "after " + duration.Format(t.After)
		}
		parts[i] = strings.Join(t.Channels, ",") + " " + when
	}
	return strings.Join(parts, "; ")
}

// UnmarshalText reads ts as ParseTiers does, for a config var.
func (ts *Tiers) UnmarshalText(text []byte) error {
	t, err := ParseTiers(string(text))
	if err != nil {
		return err
	}
	*ts = t
	return nil
}

// Names returns the channel names of every tier, in order.
func (ts Tiers) Names() []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Channels...)
	}
	return out
}

// Escalation is the tiers of each severity; a severity without its own
// has Default's, and with neither every channel is told at once.
type Escalation struct {
	Default    Tiers
	BySeverity map[Severity]Tiers
}

// For returns the tiers of alerts of severity sev, or nil for every
// channel at once.
func (e Escalation) For(sev Severity) Tiers {
	if t, ok := e.BySeverity[sev]; ok && len(t) > 0 {
		return t
	}
	return e.Default
}

// resolve turns e's tiers into those of the engine's channels (notifier
// names, such as "email:smtp", which the tier name "email" matches), for
// each severity. The first tier of each is now: the channels no tier
// names, and those of a tier written "now". A name that matches no
// channel is an error: it would page nobody.
func (e Escalation) resolve(channels []string) (map[Severity]Tiers, error) {
	out := map[Severity]Tiers{}
	for _, sev := range []Severity{Info, Warning, Critical} {
		ts := e.For(sev)
		resolved := Tiers{{}}
		placed := map[string]bool{}
		for _, t := range ts {
			if t.After > 0 {
				resolved = append(resolved, Tier{After: t.After})
			}
			last := &resolved[len(resolved)-1]
			for _, name := range t.Channels {
				n := 0
				for _, c := range channels {
					if c == name || strings.HasPrefix(c, name+":") {
						last.Channels = append(last.Channels, c)
						placed[c] = true
						n++
					}
				}
				if n == 0 {
					return nil, fmt.Errorf("alert: the escalation of %s alerts (%s) names %s, which is not a configured channel", sev, ts, name)
				}
			}
		}
		for _, c := range channels {
			if !placed[c] {
				resolved[0].Channels = append(resolved[0].Channels, c)
			}
		}
		out[sev] = resolved
	}
	return out, nil
}

// Escalate moves the firing alert s nobody acknowledged on to the tiers of
// ts (the first of them now) that are due at now, counting from when its
// first tier was told, and reports whether it reached a new one. A
// silenced alert is not escalated, nor one that was never told: its first
// tier has not heard of it.
func Escalate(s State, ts Tiers, now time.Time, silenced bool) (State, bool) {
	if s.Phase != PhaseFiring || !s.Notified || s.Tier == 0 || s.Acked() || silenced {
		return s, false
	}
	n := s.Tier
	for n < len(ts) && !now.Before(s.ToldAt.Add(ts[n].After)) {
		n++
	}
	if n == s.Tier {
		return s, false
	}
	s.Tier = n
	return s, true
}

// maxTier is how many tiers, of n, have heard of s: its Tier, or every
// tier for an episode told before escalation was kept (Tier 0, notified).
func maxTier(s *State, n int) int {
	if s.Tier == 0 {
		return n
	}
	return min(s.Tier, n)
}

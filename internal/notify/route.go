package notify

import (
	"fmt"
	"path"
	"slices"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
)

// Route is what one channel is told of: alerts of at least MinSeverity, of
// the apps that match one of Apps (names or path.Match patterns such as
// shop-prod-*) and of the rules in Rules. An empty field lets every alert
// through. The Sender applies it to firings only: a channel that heard a
// firing hears its reminders and resolution whatever its route.
//
// Storm caps the new incidents the channel is told (<PREFIX>_STORM_CAP);
// the Sender counts them in its Storms.
type Route struct {
	MinSeverity alert.Severity
	Apps        []string
	Rules       []alert.RuleName
	Storm       config.StormCap
}

// NewRoute reads a channel's route from its config vars, prefix_MIN_SEVERITY,
// prefix_APPS and prefix_RULES, and names them in errors.
func NewRoute(prefix, minSeverity string, apps, rules []string) (Route, error) {
	r := Route{MinSeverity: alert.Severity(minSeverity), Apps: apps}
	if r.MinSeverity != "" && r.MinSeverity.Rank() == 0 {
		return Route{}, fmt.Errorf("notify: %s_MIN_SEVERITY %q: want critical, warning or info", prefix, minSeverity)
	}
	for _, p := range apps {
		if _, err := path.Match(p, ""); err != nil {
			return Route{}, fmt.Errorf("notify: %s_APPS %q: %w", prefix, p, err)
		}
	}
	for _, s := range rules {
		n, err := alert.ParseRuleName(s)
		if err != nil {
			return Route{}, fmt.Errorf("notify: %s_RULES: %w", prefix, err)
		}
		r.Rules = append(r.Rules, n)
	}
	return r, nil
}

// Hears reports whether an alert passes the route.
func (r Route) Hears(a alert.Alert) bool {
	if r.MinSeverity != "" && a.Severity.Rank() < r.MinSeverity.Rank() {
		return false
	}
	if len(r.Rules) > 0 && !slices.Contains(r.Rules, a.Rule) {
		return false
	}
	return r.HearsApp(a.App)
}

// HearsApp reports whether app passes the route's Apps.
func (r Route) HearsApp(app string) bool {
	if len(r.Apps) == 0 {
		return true
	}
	for _, p := range r.Apps {
		if ok, _ := path.Match(p, app); ok {
			return true
		}
	}
	return false
}

// open reports whether the route lets everything through.
func (r Route) open() bool { return r.MinSeverity == "" && len(r.Apps) == 0 && len(r.Rules) == 0 }

// Routed gives n the route r, which the Sender applies: channels filter
// nothing themselves, and a channel not Routed hears every firing. The
// Sender unwraps it; a test notification (dynowatch alert test) goes
// through n unrouted.
func Routed(n Notifier, r Route) Notifier { return &routed{Notifier: n, route: r} }

type routed struct {
	Notifier
	route Route
}

package notify

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
)

// StatusStorm is the status of an outbox row that is a channel's storm
// summary: the store enqueues it when a channel's storm cap collapses its
// first incident, and the Sender writes it when it is due, from what
// collapsed into it by then.
const StatusStorm alert.Status = "storm"

// RuleStorm is the rule a storm summary's one alert shows.
const RuleStorm alert.RuleName = "storm"

// Storms is what the Sender needs to cap a channel's storms
// (<PREFIX>_STORM_CAP): a count of what the channel was told, kept in the
// store so that every worker counts the same storm, after restarts too.
type Storms interface {
	// AdmitIncident decides whether group, the firing rows of one message
	// on channel, goes out at now: true while the channel was told fewer
	// than limit.Max new incidents within limit.Per before now (group is
	// then one of them); false when it collapses into the channel's storm
	// summary (a StatusStorm row due limit.Per after the first incident it
	// takes, enqueued then). Asked again of a group it decided (a retry),
	// it answers as it did.
	AdmitIncident(ctx context.Context, channel string, limit config.StormCap, group []Delivery, now time.Time) (bool, error)
	// StormSummary returns what collapsed into the summary summaryID of
	// channel, and closes it: what collapses after it goes to another.
	StormSummary(ctx context.Context, channel, summaryID string) (StormCount, error)
}

// StormCount is what collapsed into a storm summary.
type StormCount struct {
	Alerts   int
	Apps     []string // distinct, in the order they first collapsed
	Severity alert.Severity
}

// maxSummaryApps is how many apps a summary names before "…".
const maxSummaryApps = 3

// stormNote is the notification of a storm summary: one alert, whose
// summary reads "37 more alerts on 5 apps (shop, cart, billing, …), see
// the dashboard", linking the dashboard's alerts page. Its key is the
// channel's, so that a channel that edits or dedupes (PagerDuty) keeps one
// storm incident, updated by each summary.
func stormNote(d *Delivery, c StormCount, dashboardURL string, now time.Time) *alert.Notification {
	alerts := strconv.Itoa(c.Alerts) + " more alert"
	if c.Alerts != 1 {
		alerts += "s"
	}
	apps := strconv.Itoa(len(c.Apps)) + " app"
	if len(c.Apps) != 1 {
		apps += "s"
	}
	named := c.Apps[:min(len(c.Apps), maxSummaryApps)]
	list := strings.Join(named, ", ")
	if len(c.Apps) > len(named) {
		list += ", …"
	}
	summary := alerts + " on " + apps + " (" + list + "), see the dashboard"
	if len(c.Apps) == 0 {
		summary = alerts + ", see the dashboard" // status checks without app=
	}
	n := &alert.Notification{ID: d.DeliveryID, Status: alert.Firing, CreatedAt: now,
		Alerts: []alert.Alert{{Key: string(RuleStorm) + "|" + d.Channel, Rule: RuleStorm, Code: "STORM",
			Severity: c.Severity, Summary: summary, StartedAt: d.CreatedAt}}}
	if dashboardURL != "" {
		n.URL = strings.TrimSuffix(dashboardURL, "/") + "/alerts"
	}
	return n
}

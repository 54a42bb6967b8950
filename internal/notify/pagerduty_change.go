package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/config"
)

// pagerDutyChange is an Events API v2 change event
// (POST /v2/change/enqueue): PagerDuty shows it on the service's timeline
// and beside its incidents, and never pages for it.
type pagerDutyChange struct {
	RoutingKey string                 `json:"routing_key"`
	Payload    pagerDutyChangePayload `json:"payload"`
	Links      []pagerDutyLink        `json:"links,omitempty"`
}

type pagerDutyChangePayload struct {
	Summary       string                `json:"summary"`
	Timestamp     string                `json:"timestamp"`
	Source        string                `json:"source"`
	CustomDetails pagerDutyChangeDetail `json:"custom_details"`
}

// pagerDutyChangeDetail is what PagerDuty shows under the change's details.
type pagerDutyChangeDetail struct {
	App     string `json:"app"`
	Kind    string `json:"kind"`
	Version string `json:"version,omitempty"`
	Commit  string `json:"commit,omitempty"`
	User    string `json:"user,omitempty"`
	Line    string `json:"line"`
}

// renderPagerDutyChange renders c as a change event under routingKey.
func renderPagerDutyChange(c *Change, routingKey string) pagerDutyChange {
	e := pagerDutyChange{RoutingKey: routingKey, Payload: pagerDutyChangePayload{
		Summary:   clip(oneLine(c.Summary()), pagerDutyMaxSummary, "…"),
		Timestamp: c.At.UTC().Format(time.RFC3339),
		Source:    oneLine(c.App),
		CustomDetails: pagerDutyChangeDetail{App: oneLine(c.App), Kind: c.Kind, Version: oneLine(c.Version), Commit: oneLine(c.Commit),
			User: oneLine(c.User), Line: oneLine(c.Line)},
	}}
	if u := oneLine(c.URL); u != "" {
		e.Links = []pagerDutyLink{{Href: u, Text: "Open " + oneLine(c.App) + " in dynowatch"}}
	}
	return e
}

// ChangeCap returns the most change events of one app PagerDuty is sent
// per span (PAGERDUTY_CHANGE_CAP); zero: no cap.
func (p *PagerDuty) ChangeCap() config.StormCap { return p.changes }

// NotifyChange sends c as a change event. Its answers are those of the
// alert events: 202 on success, 400 with the reasons, 429 and 5xx worth a
// retry.
func (p *PagerDuty) NotifyChange(ctx context.Context, c *Change) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	body, err := json.Marshal(renderPagerDutyChange(c, p.key))
	if err != nil {
		return false, fmt.Errorf("notify: pagerduty change: %w", err)
	}
	endpoint := strings.TrimSuffix(p.endpoint, "/v2/enqueue") + "/v2/change/enqueue"
	return p.post(ctx, endpoint, body, "pagerduty change "+c.App)
}

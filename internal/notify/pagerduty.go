package notify

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// PagerDutyAPIURL is the Events API's host; PAGERDUTY_API_URL overrides it
// (a proxy, a test server).
const PagerDutyAPIURL = "https://events.pagerduty.com"

// pagerDutyKeyLen is the length of an Events API v2 integration key; the
// API refuses any other with "Length of 'routing_key' is incorrect".
const pagerDutyKeyLen = 32

// Limits of the Events API v2 on what an event says.
const (
	pagerDutyMaxSummary  = 1024
	pagerDutyMaxDedupKey = 255
)

// PagerDutyOptions configure PagerDuty through its Events API v2.
type PagerDutyOptions struct {
	RoutingKey string // PAGERDUTY_ROUTING_KEY: the 32-character integration key of an Events API v2 integration
	APIURL     string // PAGERDUTY_API_URL; default PagerDutyAPIURL
	HTTPClient *http.Client
	Timeout    time.Duration // of one send; default DefaultSendTimeout
	// ChangeCap (PAGERDUTY_CHANGE_CAP) is the most change events of one
	// app it is sent per span; zero: no cap.
	ChangeCap config.StormCap
}

// PagerDuty triggers and resolves PagerDuty alerts, one per dynowatch
// alert: the dedup_key is derived from the alert's key, so a reminder, a
// retry, a restart or a second worker dyno updates the alert PagerDuty
// already has instead of opening another incident.
type PagerDuty struct {
	key      string
	endpoint string // {api}/v2/enqueue
	client   *http.Client
	timeout  time.Duration
	redact   redact.Scrubber
	changes  config.StormCap
}

// NewPagerDuty checks o and returns a PagerDuty channel.
func NewPagerDuty(o PagerDutyOptions) (*PagerDuty, error) {
	key := strings.TrimSpace(o.RoutingKey)
	switch {
	case key == "":
		return nil, fmt.Errorf("notify: PagerDutyOptions.RoutingKey is required")
	case len(key) != pagerDutyKeyLen:
		return nil, fmt.Errorf("notify: PagerDutyOptions.RoutingKey: want the %d-character integration key of an Events API v2 integration, got %d characters", pagerDutyKeyLen, len(key))
	}
	api := strings.TrimRight(strings.TrimSpace(o.APIURL), "/")
	if api == "" {
		api = PagerDutyAPIURL
	}
	u, err := parseHTTPURL("PagerDutyOptions.APIURL", api)
	if err != nil {
		return nil, err
	}
	if u.User != nil || u.RawQuery != "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("notify: PagerDutyOptions.APIURL: want the API host only, such as %s", PagerDutyAPIURL)
	}
	timeout, err := sendTimeout("PagerDutyOptions.Timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	return &PagerDuty{
		key:      key,
		endpoint: api + "/v2/enqueue",
		client:   channelHTTPClient(o.HTTPClient, timeout),
		timeout:  timeout,
		redact:   redact.NewScrubber(key),
		changes:  o.ChangeCap,
	}, nil
}

// Name returns "pagerduty".
func (p *PagerDuty) Name() string { return "pagerduty" }

// pagerDutyEvent is an Events API v2 alert event.
type pagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"` // trigger or resolve
	DedupKey    string            `json:"dedup_key"`
	Payload     *pagerDutyPayload `json:"payload,omitempty"` // a trigger's; a resolve has none
	Client      string            `json:"client,omitempty"`
	ClientURL   string            `json:"client_url,omitempty"`
	Links       []pagerDutyLink   `json:"links,omitempty"`
}

type pagerDutyPayload struct {
	Summary       string                 `json:"summary"`
	Source        string                 `json:"source"`
	Severity      string                 `json:"severity"`
	Timestamp     string                 `json:"timestamp,omitempty"`
	Component     string                 `json:"component,omitempty"`
	Class         string                 `json:"class,omitempty"`
	CustomDetails pagerDutyCustomDetails `json:"custom_details"`
}

// pagerDutyCustomDetails is what PagerDuty shows under the alert's details.
type pagerDutyCustomDetails struct {
	Status       alert.Status `json:"status"`
	App          string       `json:"app,omitempty"`
	Dyno         string       `json:"dyno,omitempty"`
	Rule         string       `json:"rule,omitempty"`
	Code         string       `json:"code,omitempty"`
	Release      string       `json:"release,omitempty"`
	Evidence     []string     `json:"evidence,omitempty"`
	MoreEvidence int          `json:"more_evidence,omitempty"` // lines left out
	DeliveryID   string       `json:"delivery_id,omitempty"`
}

type pagerDutyLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// pagerDutyAnswer is the Events API's answer: {"status":"success",
// "dedup_key":…} on 202, {"status":"invalid event","message":…,
// "errors":[…]} on 400.
type pagerDutyAnswer struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key"`
	Errors   []string `json:"errors"`
}

// renderPagerDuty renders n as the Events API v2 events that tell it, in
// order, under routingKey: a trigger per alert of a firing, reminder or
// flapping notification (PagerDuty takes a trigger of an open alert as an
// update of it), a resolve per alert of a resolved one, an acknowledge per
// alert of an acknowledged one, and for a test a
// trigger and its resolve under a key of its own.
func renderPagerDuty(n *alert.Notification, routingKey string) []pagerDutyEvent {
	var out []pagerDutyEvent
	alerts := n.Alerts
	if len(alerts) == 0 {
		alerts = []alert.Alert{{App: "dynowatch", Severity: alert.Info, Summary: "dynowatch test message"}}
	}
	for _, a := range alerts {
		key := pagerDutyDedupKey(a.Key)
		if n.Status == alert.Test {
			key = pagerDutyDedupKey("test|" + n.ID + "|" + a.Key)
		}
		switch n.Status {
		case alert.Resolved:
			out = append(out, pagerDutyEvent{RoutingKey: routingKey, EventAction: "resolve", DedupKey: key})
			continue
		case alert.Acknowledged:
			// Stops PagerDuty's own escalation; a later trigger (a
			// reminder) would not re-open it, and a resolve ends it.
			out = append(out, pagerDutyEvent{RoutingKey: routingKey, EventAction: "acknowledge", DedupKey: key})
			continue
		}
		e := pagerDutyEvent{RoutingKey: routingKey, EventAction: "trigger", DedupKey: key,
			Payload: pagerDutyTrigger(n, a), Client: "dynowatch", ClientURL: oneLine(n.URL)}
		if e.ClientURL != "" {
			e.Links = []pagerDutyLink{{Href: e.ClientURL, Text: "Open in dynowatch"}}
		}
		out = append(out, e)
		if n.Status == alert.Test {
			out = append(out, pagerDutyEvent{RoutingKey: routingKey, EventAction: "resolve", DedupKey: key})
		}
	}
	return out
}

// pagerDutyTrigger is the payload of a's trigger.
func pagerDutyTrigger(n *alert.Notification, a alert.Alert) *pagerDutyPayload {
	summary := headline(a)
	switch n.Status {
	case alert.Flapping:
		summary += " (flapping: stays firing until it calms down)"
	case alert.Test:
		summary = "dynowatch test, nothing is wrong: " + summary
	}
	av := newAlertView(n, a, time.UTC)
	p := &pagerDutyPayload{
		Summary:   clip(summary, pagerDutyMaxSummary, "…"),
		Source:    cmp.Or(oneLine(a.App), "dynowatch"),
		Severity:  pagerDutySeverity(a.Severity),
		Component: oneLine(a.Dyno),
		Class:     cmp.Or(oneLine(a.Code), oneLine(string(a.Rule))),
		CustomDetails: pagerDutyCustomDetails{
			Status: n.Status, App: oneLine(a.App), Dyno: oneLine(a.Dyno), Rule: oneLine(string(a.Rule)),
			Code: oneLine(a.Code), Release: oneLine(a.Release), Evidence: av.Evidence, MoreEvidence: av.MoreEvidence,
			DeliveryID: oneLine(n.ID),
		},
	}
	if !a.StartedAt.IsZero() {
		p.Timestamp = a.StartedAt.UTC().Format(time.RFC3339)
	}
	return p
}

// pagerDutySeverity maps a severity to PagerDuty's critical, warning or
// info; one it does not know is "error", between critical and warning.
func pagerDutySeverity(s alert.Severity) string {
	switch s {
	case alert.Critical, alert.Warning, alert.Info:
		return string(s)
	}
	return "error"
}

// pagerDutyDedupKey derives the dedup_key from an alert's key, the same on
// every worker and after every restart. A key too long for PagerDuty is
// hashed.
func pagerDutyDedupKey(alertKey string) string {
	k := "dynowatch:" + alertKey
	if len(k) > pagerDutyMaxDedupKey {
		h := sha256.Sum256([]byte(alertKey))
		k = "dynowatch:sha256:" + hex.EncodeToString(h[:])
	}
	return k
}

// Notify sends n's events one after the other. Any 2xx is success; 429, 5xx
// and network errors are worth a retry (sending again is harmless: the
// dedup_key makes a trigger of an open alert an update, and a resolve of
// a resolved one is dropped), a 400 "invalid event" is not.
func (p *PagerDuty) Notify(ctx context.Context, n *alert.Notification) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	for _, e := range renderPagerDuty(n, p.key) {
		if retry, err := p.send(ctx, e); err != nil {
			return retry, err
		}
	}
	return false, nil
}

func (p *PagerDuty) send(ctx context.Context, e pagerDutyEvent) (retry bool, err error) {
	body, err := json.Marshal(e)
	if err != nil {
		return false, fmt.Errorf("notify: pagerduty: %w", err)
	}
	return p.post(ctx, p.endpoint, body, "pagerduty "+e.EventAction+" "+e.DedupKey)
}

// post sends an event body to endpoint (the events or the change API) and
// reads PagerDuty's answer; what names the event in an error.
func (p *PagerDuty) post(ctx context.Context, endpoint string, body []byte, what string) (retry bool, err error) {
	h := http.Header{}
	h.Set("Accept", "application/json")
	h.Set("User-Agent", "dynowatch")
	resp, retry, err := postJSON(ctx, p.client, p.redact, "pagerduty", endpoint, endpoint, h, body)
	if err != nil {
		return retry, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return true, p.redact.Wrap("pagerduty: reading the answer", err, endpoint)
	}
	ok, retry := RetryableStatus(resp.StatusCode)
	if ok {
		return false, nil
	}
	scrubbed := p.redact.Scrub(string(raw))
	var a pagerDutyAnswer
	detail := answerSnippet(scrubbed)
	if json.Unmarshal([]byte(scrubbed), &a) == nil && (a.Message != "" || len(a.Errors) > 0) {
		detail = oneLine(joinNonEmpty(": ", a.Status, a.Message, strings.Join(a.Errors, "; ")))
	}
	return retry, answerError(p.redact, what, resp, detail)
}

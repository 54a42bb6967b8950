// Package alert decides when something is wrong with a monitored app and
// keeps each alert's state (pending, firing, resolved); the notifications it
// writes to the outbox are delivered by package notify.
package alert

import (
	"fmt"
	"time"
)

// Severity says how bad an alert is; channels can be narrowed to a minimum.
type Severity string

// Severities, least to most urgent.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Rank orders severities: info 1, warning 2, critical 3, anything else 0.
func (s Severity) Rank() int {
	switch s {
	case Info:
		return 1
	case Warning:
		return 2
	case Critical:
		return 3
	}
	return 0
}

// ParseSeverity reads "critical", "warning" or "info".
func ParseSeverity(s string) (Severity, error) {
	if v := Severity(s); v.Rank() > 0 {
		return v, nil
	}
	return "", fmt.Errorf("severity %q: want critical, warning or info", s)
}

// Status is what a notification says about its alerts.
type Status string

// Notification statuses.
const (
	Firing   Status = "firing"   // started, or started again
	Reminder Status = "reminder" // still firing
	Flapping Status = "flapping" // changing state too often; it stays firing until it calms down
	Resolved Status = "resolved" // over
	Test     Status = "test"     // `dynowatch alert test`
	// Acknowledged: someone is on it (Alert.AckedBy). Chat messages are
	// edited to say who, PagerDuty's incident is acknowledged.
	Acknowledged Status = "acknowledged"
)

// Follows says whether a notification of status s goes only to the
// channels that heard its alert's firing.
func (s Status) Follows() bool {
	return s == Reminder || s == Resolved || s == Acknowledged
}

// Alert is one alert as a notification shows it.
type Alert struct {
	Key        string    `json:"key"`  // rule + app + dyno or check: the alert's identity
	Rule       RuleName  `json:"rule"` // r14, h_codes, 5xx_rate, memory, crash_loop, silence, check, …
	App        string    `json:"app"`
	Dyno       string    `json:"dyno,omitempty"`
	Code       string    `json:"code,omitempty"` // R14, H12, L10, SQLSTATE, a check name
	Severity   Severity  `json:"severity"`
	Summary    string    `json:"summary"` // one line, most important facts first
	StartedAt  time.Time `json:"started_at"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	Evidence   []string  `json:"evidence,omitempty"` // the log lines that triggered it, at most MaxEvidence
	Release    string    `json:"release,omitempty"`  // the release it followed, within 30 minutes
	// AckURL, on a firing, reminder or flapping notice of an alert nobody
	// acknowledged, is the signed link that acknowledges it (DYNOWATCH_URL
	// set): it opens a page asking for a name, and works without the
	// dashboard password until it expires.
	AckURL    string    `json:"ack_url,omitempty"`
	AckedBy   string    `json:"acked_by,omitempty"` // who acknowledged it, once someone did
	AckedAt   time.Time `json:"acked_at,omitzero"`
	AckReason string    `json:"ack_reason,omitempty"`
	Cause     string    `json:"cause,omitempty"` // the failing check that explains it, whose incident it joined
}

// Notification is one message sent on every channel: one alert, or several
// of one app that fired within a minute of each other.
type Notification struct {
	ID        string    `json:"id"` // delivery id: the same on a resent copy, so receivers can drop it
	Status    Status    `json:"status"`
	Alerts    []Alert   `json:"alerts"`
	URL       string    `json:"url,omitempty"` // the dashboard page of the first alert
	CreatedAt time.Time `json:"created_at"`
	Timezone  string    `json:"timezone,omitempty"` // ALERT_TIMEZONE, for the times shown to people
}

// Severity is the most urgent severity among n's alerts.
func (n *Notification) Severity() Severity {
	var s Severity
	for _, a := range n.Alerts {
		if a.Severity.Rank() > s.Rank() {
			s = a.Severity
		}
	}
	return s
}

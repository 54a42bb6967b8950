package notify

import (
	"strconv"
	"strings"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// What the chat channels (Slack, Discord, Telegram, Teams) share: one
// message per incident, edited in place where the provider allows it, and
// otherwise a short follow-up that names the first message.

// statusMark starts a chat title: a glance tells firing from resolved.
func statusMark(n *alert.Notification) string {
	switch {
	case n.Status == alert.Resolved:
		return "✅"
	case n.Status == alert.Test:
		return "🧪"
	case n.Status == alert.Acknowledged:
		return "👀"
	}
	switch n.Severity() {
	case alert.Critical:
		return "🔴"
	case alert.Warning:
		return "🟠"
	}
	return "🔵"
}

// chatTitle is the title with its status mark.
func chatTitle(n *alert.Notification, v messageView) string { return statusMark(n) + " " + v.Title }

// firstName is how follow-ups name the first message of an incident that
// can't be edited: its title and when it was sent, as its readers saw it.
func firstName(n *alert.Notification, v messageView) string {
	when := showTime(n.CreatedAt, notificationLocation(n.Timezone))
	return clip(v.Title, maxHeadlineRunes, "…") + sep(when, ", sent ")
}

// followsUp reports whether a channel that can edit must instead follow up
// on prior: it told of other alerts too, which an edit would hide.
func followsUp(n *alert.Notification, prior MessageRef) bool {
	return prior.ID != "" && prior.Grouped && n.Status != alert.Firing
}

// followUpLine names the message a follow-up follows: "Follows: FIRING …".
func followUpLine(first string) string { return "Follows: " + first }

// colorInt is a "#rrggbb" colour as the number Discord wants.
func colorInt(hex string) int {
	c, err := strconv.ParseInt(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil {
		return 0
	}
	return int(c)
}

// evidenceText is an alert's log lines, one a line, and how many were
// left out.
func evidenceText(a alertView) (string, int) {
	return strings.Join(a.Evidence, "\n"), a.MoreEvidence
}

// fieldLine is an alert's facts on one line: "App: shop · Dyno: web.1 · …".
func fieldLine(a alertView) string {
	parts := make([]string, len(a.Fields))
	for i, f := range a.Fields {
		parts[i] = f.Name + ": " + f.Value
	}
	return strings.Join(parts, " · ")
}

package notify

import (
	"context"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// MessageRef is where a channel told of an incident: the provider's id of
// the message (Slack's channel and ts, a Discord or Telegram message id, a
// Pushover receipt), or, for a channel that can't edit, what its follow-ups
// name the first message by. Only the channel that made ID reads it.
type MessageRef struct {
	ID string
	// Grouped says the message tells of other alerts too: an edit for one
	// of them would hide the others, so the channel follows up instead.
	Grouped bool
}

// IncidentNotifier is a Notifier that keeps one message per incident. The
// Sender calls NotifyIncident rather than Notify for a notification of
// alerts: prior is the ref of the message that told of its alert, zero for
// a new incident (a firing), and the channel returns the ref its next
// notification of the alert should get (after an edit, prior's).
type IncidentNotifier interface {
	Notifier
	NotifyIncident(ctx context.Context, n *alert.Notification, prior MessageRef) (ref MessageRef, retry bool, err error)
}

// MessageRefs is what the Sender needs to keep one message per incident
// across restarts and workers: per channel and alert, the ref its channel
// returned last. The outbox hands out an alert's rows on a channel one at
// a time, in order, so the ref a send saves is there for the next.
type MessageRefs interface {
	MessageRef(ctx context.Context, channel, alertKey string) (ref MessageRef, ok bool, err error)
	// SaveMessageRef keeps ref for every one of alertKeys, or for none.
	SaveMessageRef(ctx context.Context, channel string, alertKeys []string, ref MessageRef, now time.Time) error
}

// Package notify tells people of alerts: it renders the notifications the
// alert engine writes to the outbox, and delivers them on each channel
// (email, SMS, webhook or your own) through the outbox sender.
package notify

import (
	"context"
	"net/http"

	"github.com/dynowatch/dynowatch/alert"
)

// Notifier delivers notifications on one channel. Notify reports retry=true
// for failures worth trying again (5xx, 429, network errors, timeouts) and
// false for those that won't get better (a rejected key or address), with
// the reason in err. Errors must never contain secrets.
type Notifier interface {
	Name() string // the channel, such as "email:sendgrid", "sms", "webhook"
	Notify(ctx context.Context, n *alert.Notification) (retry bool, err error)
}

// RetryableStatus is the rule every HTTP notifier shares: 2xx is success,
// 5xx and 429 are worth retrying, any other status is final.
func RetryableStatus(code int) (ok, retry bool) {
	switch {
	case code >= 200 && code < 300:
		return true, false
	case code == http.StatusTooManyRequests || code >= 500:
		return false, true
	}
	return false, false
}

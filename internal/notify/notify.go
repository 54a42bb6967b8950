// Package notify tells people of alerts: it renders the notifications the
// alert engine writes to the outbox, and delivers them on each channel
// (email, SMS, chat, webhook, PagerDuty, phone push or your own) through
// the outbox sender.
package notify

import (
	"context"
	"fmt"
	"net/http"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/config"
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

// ChannelVars names the vars that switch a channel on, for the messages
// that say none is.
const ChannelVars = "SENDGRID_API_KEY, SMTP_URL, INFOBIP_API_KEY, ALERT_WEBHOOK_URL, PAGERDUTY_ROUTING_KEY, NTFY_URL, PUSHOVER_TOKEN, SLACK_BOT_TOKEN, SLACK_WEBHOOK_URL, DISCORD_WEBHOOK_URL, TELEGRAM_BOT_TOKEN or TEAMS_WEBHOOK_URL"

// Channels builds a notifier for every channel whose config vars are set,
// each with its route (Routed) from the vars of config.Routes. A new channel
// is added here, with its vars in config.
func Channels(cfg *config.Config) ([]Notifier, error) {
	routes := cfg.Routes()
	var out []Notifier
	for _, c := range []struct {
		on    bool
		what  string // for errors
		route string // the prefix of its route's vars
		build func() (Notifier, error)
	}{
		{cfg.SendGridAPIKey != "", "email through SendGrid", "ALERT_EMAIL", func() (Notifier, error) {
			return notifier(NewSendGrid(SendGridOptions{APIKey: cfg.SendGridAPIKey, Host: cfg.SendGridHost, From: cfg.EmailFrom, To: cfg.EmailTo}))
		}},
		{cfg.SMTPURL != "", "email through SMTP", "ALERT_EMAIL", func() (Notifier, error) {
			return notifier(NewSMTP(SMTPOptions{URL: cfg.SMTPURL, From: cfg.EmailFrom, To: cfg.EmailTo}))
		}},
		{cfg.InfobipAPIKey != "", "SMS through Infobip", "ALERT_SMS", func() (Notifier, error) {
			return notifier(NewInfobip(InfobipOptions{BaseURL: cfg.InfobipBaseURL, APIKey: cfg.InfobipAPIKey, Sender: cfg.InfobipSender, To: cfg.SMSTo}))
		}},
		{cfg.WebhookURL != "", "webhook", "ALERT_WEBHOOK", func() (Notifier, error) {
			return notifier(NewWebhook(WebhookOptions{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret}))
		}},
		{cfg.PagerDutyRoutingKey != "", "paging through PagerDuty", "PAGERDUTY", func() (Notifier, error) {
			return notifier(NewPagerDuty(PagerDutyOptions{RoutingKey: cfg.PagerDutyRoutingKey, APIURL: cfg.PagerDutyAPIURL,
				ChangeCap: cfg.PagerDutyChangeCap}))
		}},
		{cfg.NtfyURL != "", "push through ntfy", "NTFY", func() (Notifier, error) {
			return notifier(NewNtfy(NtfyOptions{URL: cfg.NtfyURL, Token: cfg.NtfyToken}))
		}},
		{cfg.PushoverToken != "", "push through Pushover", "PUSHOVER", func() (Notifier, error) {
			return notifier(NewPushover(PushoverOptions{Token: cfg.PushoverToken, User: cfg.PushoverUser, APIURL: cfg.PushoverAPIURL}))
		}},
		{cfg.SlackBotToken != "" || cfg.SlackWebhookURL != "", "slack", "SLACK", func() (Notifier, error) {
			return notifier(NewSlack(SlackOptions{Token: cfg.SlackBotToken, Channel: cfg.SlackChannel, WebhookURL: cfg.SlackWebhookURL, APIURL: cfg.SlackAPIURL,
				Interactive: cfg.SlackSigningSecret != ""}))
		}},
		{cfg.DiscordWebhookURL != "", "discord", "DISCORD", func() (Notifier, error) {
			return notifier(NewDiscord(DiscordOptions{WebhookURL: cfg.DiscordWebhookURL}))
		}},
		{cfg.TelegramBotToken != "", "telegram", "TELEGRAM", func() (Notifier, error) {
			return notifier(NewTelegram(TelegramOptions{Token: cfg.TelegramBotToken, ChatID: cfg.TelegramChatID, APIURL: cfg.TelegramAPIURL}))
		}},
		{cfg.TeamsWebhookURL != "", "teams", "TEAMS", func() (Notifier, error) {
			return notifier(NewTeams(TeamsOptions{WebhookURL: cfg.TeamsWebhookURL}))
		}},
	} {
		if !c.on {
			continue
		}
		n, err := c.build()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.what, err)
		}
		if out, err = appendRouted(out, n, routes[c.route]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// notifier hands on a channel constructor's results as a Notifier.
func notifier[N Notifier](n N, err error) (Notifier, error) { return n, err }

// appendRouted appends n, with the route of its vars, to out.
func appendRouted(out []Notifier, n Notifier, r config.Route) ([]Notifier, error) {
	route, err := NewRoute(r.Prefix, r.MinSeverity, r.Apps, r.Rules)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name(), err)
	}
	route.Storm = r.StormCap
	return append(out, Routed(n, route)), nil
}

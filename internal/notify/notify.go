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
	var out []Notifier
	routes := cfg.Routes()
	if cfg.SendGridAPIKey != "" {
		n, err := NewSendGrid(SendGridOptions{APIKey: cfg.SendGridAPIKey, Host: cfg.SendGridHost, From: cfg.EmailFrom,
			To: cfg.EmailTo, MinSeverity: alert.Severity(cfg.EmailMinSeverity)})
		if err != nil {
			return nil, fmt.Errorf("email through SendGrid: %w", err)
		}
		if out, err = appendRouted(out, n, routes["ALERT_EMAIL"]); err != nil {
			return nil, err
		}
	}
	if cfg.SMTPURL != "" {
		n, err := NewSMTP(SMTPOptions{URL: cfg.SMTPURL, From: cfg.EmailFrom, To: cfg.EmailTo, MinSeverity: alert.Severity(cfg.EmailMinSeverity)})
		if err != nil {
			return nil, fmt.Errorf("email through SMTP: %w", err)
		}
		if out, err = appendRouted(out, n, routes["ALERT_EMAIL"]); err != nil {
			return nil, err
		}
	}
	if cfg.InfobipAPIKey != "" {
		n, err := NewInfobip(InfobipOptions{BaseURL: cfg.InfobipBaseURL, APIKey: cfg.InfobipAPIKey, Sender: cfg.InfobipSender,
			To: cfg.SMSTo, MinSeverity: alert.Severity(cfg.SMSMinSeverity)})
		if err != nil {
			return nil, fmt.Errorf("SMS through Infobip: %w", err)
		}
		if out, err = appendRouted(out, n, routes["ALERT_SMS"]); err != nil {
			return nil, err
		}
	}
	if cfg.WebhookURL != "" {
		n, err := NewWebhook(WebhookOptions{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret, MinSeverity: alert.Severity(cfg.WebhookMinSeverity)})
		if err != nil {
			return nil, fmt.Errorf("webhook: %w", err)
		}
		if out, err = appendRouted(out, n, routes["ALERT_WEBHOOK"]); err != nil {
			return nil, err
		}
	}
	if cfg.PagerDutyRoutingKey != "" {
		n, err := NewPagerDuty(PagerDutyOptions{RoutingKey: cfg.PagerDutyRoutingKey, APIURL: cfg.PagerDutyAPIURL,
			MinSeverity: alert.Severity(cfg.PagerDutyMinSeverity)})
		if err != nil {
			return nil, fmt.Errorf("paging through PagerDuty: %w", err)
		}
		if out, err = appendRouted(out, n, routes["PAGERDUTY"]); err != nil {
			return nil, err
		}
	}
	if cfg.NtfyURL != "" {
		n, err := NewNtfy(NtfyOptions{URL: cfg.NtfyURL, Token: cfg.NtfyToken, MinSeverity: alert.Severity(cfg.NtfyMinSeverity)})
		if err != nil {
			return nil, fmt.Errorf("push through ntfy: %w", err)
		}
		if out, err = appendRouted(out, n, routes["NTFY"]); err != nil {
			return nil, err
		}
	}
	if cfg.PushoverToken != "" {
		n, err := NewPushover(PushoverOptions{Token: cfg.PushoverToken, User: cfg.PushoverUser, APIURL: cfg.PushoverAPIURL,
			MinSeverity: alert.Severity(cfg.PushoverMinSeverity)})
		if err != nil {
			return nil, fmt.Errorf("push through Pushover: %w", err)
		}
		if out, err = appendRouted(out, n, routes["PUSHOVER"]); err != nil {
			return nil, err
		}
	}
	if cfg.SlackBotToken != "" || cfg.SlackWebhookURL != "" {
		n, err := NewSlack(SlackOptions{Token: cfg.SlackBotToken, Channel: cfg.SlackChannel, WebhookURL: cfg.SlackWebhookURL,
			APIURL: cfg.SlackAPIURL, MinSeverity: alert.Severity(cfg.SlackMinSeverity)})
		if err != nil {
			return nil, fmt.Errorf("slack: %w", err)
		}
		if out, err = appendRouted(out, n, routes["SLACK"]); err != nil {
			return nil, err
		}
	}
	if cfg.DiscordWebhookURL != "" {
		n, err := NewDiscord(DiscordOptions{WebhookURL: cfg.DiscordWebhookURL, MinSeverity: alert.Severity(cfg.DiscordMinSeverity)})
		if err != nil {
			return nil, fmt.Errorf("discord: %w", err)
		}
		if out, err = appendRouted(out, n, routes["DISCORD"]); err != nil {
			return nil, err
		}
	}
	if cfg.TelegramBotToken != "" {
		n, err := NewTelegram(TelegramOptions{Token: cfg.TelegramBotToken, ChatID: cfg.TelegramChatID, APIURL: cfg.TelegramAPIURL,
			MinSeverity: alert.Severity(cfg.TelegramMinSeverity)})
		if err != nil {
			return nil, fmt.Errorf("telegram: %w", err)
		}
		if out, err = appendRouted(out, n, routes["TELEGRAM"]); err != nil {
			return nil, err
		}
	}
	if cfg.TeamsWebhookURL != "" {
		n, err := NewTeams(TeamsOptions{WebhookURL: cfg.TeamsWebhookURL, MinSeverity: alert.Severity(cfg.TeamsMinSeverity)})
		if err != nil {
			return nil, fmt.Errorf("teams: %w", err)
		}
		if out, err = appendRouted(out, n, routes["TEAMS"]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// appendRouted appends n, with the route of its vars, to out.
func appendRouted(out []Notifier, n Notifier, r config.Route) ([]Notifier, error) {
	route, err := NewRoute(r.Prefix, r.MinSeverity, r.Apps, r.Rules)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name(), err)
	}
	route.Storm = r.StormCap
	return append(out, Routed(n, route)), nil
}

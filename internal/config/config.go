// Package config reads dynowatch's configuration from config vars (the
// environment, which only package main reads and hands over), validates it,
// and describes it for people. It is the one reader of the vars: its own
// settings, the alert rules (ALERT_<RULE>_…) and the status checks
// (CHECK_<NAME>) come out of one Load.
package config

import (
	"encoding"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/duration"
	"github.com/dynowatch/dynowatch/internal/endpoint"
	"github.com/dynowatch/dynowatch/internal/heroku"
	"github.com/dynowatch/dynowatch/internal/otlp"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// Config is every config var dynowatch reads. Each field with an envconfig
// tag is one var; its tags give the var's name, its default, an example of a
// good value and a description; README.md and app.json list the same vars,
// and a test keeps them in step. A var that holds a URL dynowatch connects to
// names the schemes it takes (url:"http,https"), and Validate checks it. A
// field's type is a string, bool, integer or float, or has a Decode(string)
// error or UnmarshalText method.
type Config struct {
	Port int    `envconfig:"PORT" default:"5000" example:"5000" platform:"true" desc:"HTTP port of the web process; Heroku sets it."`
	Dyno string `envconfig:"DYNO" example:"web.1" platform:"true" desc:"Set by Heroku on every dyno; dynowatch uses it to know it runs on Heroku."`
	URL  string `envconfig:"DYNOWATCH_URL" url:"http,https" example:"https://my-dynowatch.herokuapp.com" desc:"Public base URL of this dynowatch, used in printed drain URLs and alert links."`

	DrainSecret           Secrets `envconfig:"DRAIN_SECRET" example:"3f9c2a7e41d0b6c8" secret:"true" desc:"Password of the drain URL. Several, comma-separated, are all accepted, so one can be rotated without breaking drains. Generated and kept in the embedded store when unset locally; required on Heroku."`
	DashboardPassword     Secrets `envconfig:"DASHBOARD_PASSWORD" example:"b7e1d04c9a2f5e36" secret:"true" desc:"Basic-auth password of the dashboard and the /api/v1 API, which may also act: silence, acknowledge, delete (the user name is recorded in the audit log). Same local and Heroku behaviour as DRAIN_SECRET."`
	DashboardViewPassword Secrets `envconfig:"DASHBOARD_VIEW_PASSWORD" example:"5d0e8a3c71f4b962" secret:"true" desc:"Read-only basic-auth password of the dashboard and the API: its holders see every page but no buttons, and what they post is refused. Unset: none."`

	OTLPMap otlp.Map `envconfig:"OTLP_MAP" example:"app=my.app.attr,dyno=my.instance.attr,memory_rss_mb=my.mem.metric" desc:"Fir telemetry shapes dynowatch does not know yet, read without a release: FIELD=NAME pairs, comma-separated. FIELD app, dyno, process_type, release or component names a resource attribute key (tried before the built-in ones); memory_rss_mb, memory_quota_mb or cpu_percent names a metric. See Fir apps."`

	DatabaseURL      string `envconfig:"DATABASE_URL" url:"postgres,postgresql" example:"postgres://user:pass@host:5432/db" secret:"true" platform:"true" desc:"Postgres to store in; Heroku Postgres sets it. Unset: an embedded database in the file DYNOWATCH_DB, locally only: on Heroku dynowatch refuses to start without it."`
	DatabaseMaxConns int32  `envconfig:"DATABASE_MAX_CONNS" default:"5" example:"5" desc:"Connections each dyno opens to DATABASE_URL. Heroku plans cap connections, so keep it small."`
	DBPath           string `envconfig:"DYNOWATCH_DB" default:"dynowatch.db" example:"/var/lib/dynowatch.db" desc:"File of the embedded database used when DATABASE_URL is unset."`

	KeepQueryStrings    bool `envconfig:"KEEP_QUERY_STRINGS" default:"false" example:"true" desc:"Keep the query string of request paths in stored events. Off by default: query strings often carry tokens."`
	KeepClientIPs       bool `envconfig:"KEEP_CLIENT_IPS" default:"false" example:"true" desc:"Keep client IPs (the router's fwd=) in stored events. Off by default."`
	EventLinesPerMinute int  `envconfig:"EVENT_LINES_PER_MINUTE" default:"10" example:"10" desc:"Raw lines kept per app, code and minute (an H12 storm is counted in full but only this many of its lines are stored)."`
	MemoryBudgetMB      int  `envconfig:"MEMORY_BUDGET_MB" default:"400" example:"900" desc:"Memory each dynowatch process keeps itself within (Go's soft memory limit); a third of it holds the request rollups between flushes. The default fits a 512 MB dyno; raise it on larger ones."`

	RetentionEvents  duration.Duration `envconfig:"RETENTION_EVENTS" default:"30d" example:"30d" desc:"How long events (H/R/L codes, crashes, releases …) with their lines are kept."`
	RetentionMinute  duration.Duration `envconfig:"RETENTION_MINUTE_ROLLUPS" default:"30d" example:"30d" desc:"How long per-minute request rollups and metric samples are kept."`
	RetentionHourly  duration.Duration `envconfig:"RETENTION_HOURLY_ROLLUPS" default:"365d" example:"365d" desc:"How long hourly rollups are kept."`
	RollupFlushEvery duration.Duration `envconfig:"ROLLUP_FLUSH_INTERVAL" default:"5s" example:"5s" desc:"How often each web dyno writes its in-memory request rollups to the database (also on shutdown)."`

	SendGridAPIKey       string   `envconfig:"SENDGRID_API_KEY" example:"SG.xxxx" secret:"true" desc:"SendGrid API key: alerts by email through SendGrid."`
	SendGridHost         string   `envconfig:"SENDGRID_HOST" url:"http,https" default:"https://api.sendgrid.com" example:"https://api.eu.sendgrid.com" desc:"SendGrid API host; the EU one for EU data residency."`
	SMTPURL              string   `envconfig:"SMTP_URL" url:"smtp,smtps" example:"smtp://user:pass@smtp.example.com:587" secret:"true" desc:"SMTP server (STARTTLS): alerts by email through it. With SendGrid too, both are channels."`
	EmailFrom            string   `envconfig:"ALERT_EMAIL_FROM" example:"dynowatch@example.com" desc:"Sender address of alert emails."`
	EmailTo              List     `envconfig:"ALERT_EMAIL_TO" example:"ops@example.com,oncall@example.com" desc:"Recipients of alert emails, comma-separated."`
	EmailMinSeverity     string   `envconfig:"ALERT_EMAIL_MIN_SEVERITY" default:"info" example:"warning" desc:"Least severity emailed: info, warning or critical."`
	EmailApps            List     `envconfig:"ALERT_EMAIL_APPS" example:"shop-prod-*,billing" desc:"Apps whose alerts are emailed: names or patterns (* and ?), comma-separated; unset: every app. See Routing."`
	EmailRules           List     `envconfig:"ALERT_EMAIL_RULES" example:"R14,H_CODES" desc:"Rules whose alerts are emailed, as the README spells them (R14, H_CODES, 5XX_RATE …), comma-separated; unset: every rule."`
	EmailStormCap        StormCap `envconfig:"ALERT_EMAIL_STORM_CAP" default:"off" example:"10 per 5m" desc:"New incidents emailed at most, as N per duration; more collapse into one summary with the dashboard link. off: no cap. See Routing."`
	InfobipBaseURL       string   `envconfig:"INFOBIP_BASE_URL" example:"https://xxxxx.api.infobip.com" desc:"Your Infobip account's API base URL: alerts by SMS."`
	InfobipAPIKey        string   `envconfig:"INFOBIP_API_KEY" example:"0123456789abcdef-0123" secret:"true" desc:"Infobip API key."`
	InfobipSender        string   `envconfig:"INFOBIP_SENDER" default:"dynowatch" example:"InfoSMS" desc:"Sender name or number of alert SMS."`
	SMSTo                List     `envconfig:"ALERT_SMS_TO" example:"41793026727,447700900123" desc:"Phone numbers (international format) of alert SMS, comma-separated."`
	SMSMinSeverity       string   `envconfig:"ALERT_SMS_MIN_SEVERITY" default:"critical" example:"warning" desc:"Least severity sent by SMS: info, warning or critical."`
	SMSApps              List     `envconfig:"ALERT_SMS_APPS" example:"shop-prod-*,billing" desc:"Apps whose alerts are sent by SMS: names or patterns (* and ?), comma-separated; unset: every app. See Routing."`
	SMSRules             List     `envconfig:"ALERT_SMS_RULES" example:"R14,H_CODES" desc:"Rules whose alerts are sent by SMS, as the README spells them (R14, H_CODES, 5XX_RATE …), comma-separated; unset: every rule."`
	SMSStormCap          StormCap `envconfig:"ALERT_SMS_STORM_CAP" default:"5 per 10m" example:"10 per 5m" desc:"New incidents sent by SMS at most, as N per duration; more collapse into one summary with the dashboard link. off: no cap. See Routing."`
	WebhookURL           string   `envconfig:"ALERT_WEBHOOK_URL" url:"http,https" example:"https://hooks.example.com/dynowatch" secret:"true" desc:"URL that gets every alert as JSON."`
	WebhookSecret        string   `envconfig:"ALERT_WEBHOOK_SECRET" example:"whsec-3f9c2a7e" secret:"true" desc:"Key of the HMAC-SHA256 signatures of webhook requests: X-Dynowatch-Signature-V2 (of X-Dynowatch-Timestamp and the body) and X-Dynowatch-Signature (of the body)."`
	WebhookMinSeverity   string   `envconfig:"ALERT_WEBHOOK_MIN_SEVERITY" default:"info" example:"warning" desc:"Least severity sent to the webhook."`
	WebhookApps          List     `envconfig:"ALERT_WEBHOOK_APPS" example:"shop-prod-*,billing" desc:"Apps whose alerts are sent to the webhook: names or patterns (* and ?), comma-separated; unset: every app. See Routing."`
	WebhookRules         List     `envconfig:"ALERT_WEBHOOK_RULES" example:"R14,H_CODES" desc:"Rules whose alerts are sent to the webhook, as the README spells them (R14, H_CODES, 5XX_RATE …), comma-separated; unset: every rule."`
	WebhookStormCap      StormCap `envconfig:"ALERT_WEBHOOK_STORM_CAP" default:"off" example:"10 per 5m" desc:"New incidents sent to the webhook at most, as N per duration; more collapse into one summary with the dashboard link. off: no cap. See Routing."`
	PagerDutyRoutingKey  string   `envconfig:"PAGERDUTY_ROUTING_KEY" example:"0123456789abcdef0123456789abcdef" secret:"true" desc:"Integration key (32 characters) of a PagerDuty service's Events API v2 integration: alerts open and resolve PagerDuty incidents."`
	PagerDutyAPIURL      string   `envconfig:"PAGERDUTY_API_URL" url:"http,https" default:"https://events.pagerduty.com" example:"https://events.eu.pagerduty.com" desc:"PagerDuty Events API host; the EU one for an EU service region."`
	PagerDutyMinSeverity string   `envconfig:"PAGERDUTY_MIN_SEVERITY" default:"critical" example:"warning" desc:"Least severity sent to PagerDuty: info, warning or critical."`
	PagerDutyApps        List     `envconfig:"PAGERDUTY_APPS" example:"shop-prod-*,billing" desc:"Apps whose alerts are sent to PagerDuty: names or patterns (* and ?), comma-separated; unset: every app. See Routing."`
	PagerDutyRules       List     `envconfig:"PAGERDUTY_RULES" example:"R14,H_CODES" desc:"Rules whose alerts are sent to PagerDuty, as the README spells them (R14, H_CODES, 5XX_RATE …), comma-separated; unset: every rule."`
	PagerDutyStormCap    StormCap `envconfig:"PAGERDUTY_STORM_CAP" default:"off" example:"10 per 5m" desc:"New incidents sent to PagerDuty at most, as N per duration; more collapse into one summary with the dashboard link. off: no cap. See Routing."`
	NtfyURL              string   `envconfig:"NTFY_URL" url:"http,https" example:"https://ntfy.sh/dynowatch-alerts-7f3a9c" secret:"true" desc:"URL of an ntfy topic (ntfy.sh or your own server; user:pass@ in it for basic auth): alerts as phone push notifications. On ntfy.sh the topic name is the password: pick one nobody guesses."`
	NtfyToken            string   `envconfig:"NTFY_TOKEN" example:"tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2" secret:"true" desc:"ntfy access token, for a topic that needs one (instead of user:pass in NTFY_URL)."`
	NtfyMinSeverity      string   `envconfig:"NTFY_MIN_SEVERITY" default:"warning" example:"critical" desc:"Least severity pushed through ntfy: info, warning or critical."`
	NtfyApps             List     `envconfig:"NTFY_APPS" example:"shop-prod-*,billing" desc:"Apps whose alerts are pushed through ntfy: names or patterns (* and ?), comma-separated; unset: every app. See Routing."`
	NtfyRules            List     `envconfig:"NTFY_RULES" example:"R14,H_CODES" desc:"Rules whose alerts are pushed through ntfy, as the README spells them (R14, H_CODES, 5XX_RATE …), comma-separated; unset: every rule."`
	NtfyStormCap         StormCap `envconfig:"NTFY_STORM_CAP" default:"off" example:"10 per 5m" desc:"New incidents pushed through ntfy at most, as N per duration; more collapse into one summary with the dashboard link. off: no cap. See Routing."`
	PushoverToken        string   `envconfig:"PUSHOVER_TOKEN" example:"azGDORePK8gMaC0QOYAMyEEuzJnyUi" secret:"true" desc:"API token of your Pushover application: alerts as Pushover notifications, a critical one as an emergency that repeats until acknowledged (needs PUSHOVER_USER)."`
	PushoverUser         string   `envconfig:"PUSHOVER_USER" example:"uQiRzpo4DXghDmr9QzzfQu27cmVRsG" secret:"true" desc:"Pushover user or group key that gets the alerts."`
	PushoverAPIURL       string   `envconfig:"PUSHOVER_API_URL" url:"http,https" default:"https://api.pushover.net" example:"https://api.pushover.net" desc:"Pushover API host."`
	PushoverMinSeverity  string   `envconfig:"PUSHOVER_MIN_SEVERITY" default:"warning" example:"critical" desc:"Least severity sent through Pushover: info, warning or critical."`
	PushoverApps         List     `envconfig:"PUSHOVER_APPS" example:"shop-prod-*,billing" desc:"Apps whose alerts are sent through Pushover: names or patterns (* and ?), comma-separated; unset: every app. See Routing."`
	PushoverRules        List     `envconfig:"PUSHOVER_RULES" example:"R14,H_CODES" desc:"Rules whose alerts are sent through Pushover, as the README spells them (R14, H_CODES, 5XX_RATE …), comma-separated; unset: every rule."`
	PushoverStormCap     StormCap `envconfig:"PUSHOVER_STORM_CAP" default:"off" example:"10 per 5m" desc:"New incidents sent through Pushover at most, as N per duration; more collapse into one summary with the dashboard link. off: no cap. See Routing."`
	SlackBotToken        string   `envconfig:"SLACK_BOT_TOKEN" example:"xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp" secret:"true" desc:"Slack bot token (chat:write scope): alerts in SLACK_CHANNEL, one message per incident edited in place."`
	SlackChannel         string   `envconfig:"SLACK_CHANNEL" example:"C0123456789" desc:"Slack channel (its ID, or #name) the bot posts in; invite the bot to it."`
	SlackWebhookURL      string   `envconfig:"SLACK_WEBHOOK_URL" url:"http,https" example:"https://hooks.slack.com/services/T000/B000/XXXXXXXX" secret:"true" desc:"Slack incoming webhook, instead of a bot token: it can't edit, so an incident's later news are follow-ups."`
	SlackSigningSecret   string   `envconfig:"SLACK_SIGNING_SECRET" example:"8f742231b10e8888abcd99yyyzzz85a5" secret:"true" desc:"Signing secret of your Slack app (Basic Information): its Acknowledge button then acknowledges in Slack, through the app's Interactivity Request URL DYNOWATCH_URL/slack/interactions."`
	SlackAPIURL          string   `envconfig:"SLACK_API_URL" url:"http,https" default:"https://slack.com/api" example:"https://slack.com/api" desc:"Slack Web API base URL."`
	SlackMinSeverity     string   `envconfig:"SLACK_MIN_SEVERITY" default:"info" example:"warning" desc:"Least severity sent to Slack."`
	SlackApps            List     `envconfig:"SLACK_APPS" example:"shop-prod-*,billing" desc:"Apps whose alerts are sent to Slack: names or patterns (* and ?), comma-separated; unset: every app. See Routing."`
	SlackRules           List     `envconfig:"SLACK_RULES" example:"R14,H_CODES" desc:"Rules whose alerts are sent to Slack, as the README spells them (R14, H_CODES, 5XX_RATE …), comma-separated; unset: every rule."`
	SlackStormCap        StormCap `envconfig:"SLACK_STORM_CAP" default:"30 per 5m" example:"10 per 5m" desc:"New incidents sent to Slack at most, as N per duration; more collapse into one summary with the dashboard link. off: no cap. See Routing."`
	DiscordWebhookURL    string   `envconfig:"DISCORD_WEBHOOK_URL" url:"http,https" example:"https://discord.com/api/webhooks/123456789012345678/AbCdEf-token" secret:"true" desc:"Discord webhook: alerts as embeds, one message per incident edited in place."`
	DiscordMinSeverity   string   `envconfig:"DISCORD_MIN_SEVERITY" default:"info" example:"warning" desc:"Least severity sent to Discord."`
	DiscordApps          List     `envconfig:"DISCORD_APPS" example:"shop-prod-*,billing" desc:"Apps whose alerts are sent to Discord: names or patterns (* and ?), comma-separated; unset: every app. See Routing."`
	DiscordRules         List     `envconfig:"DISCORD_RULES" example:"R14,H_CODES" desc:"Rules whose alerts are sent to Discord, as the README spells them (R14, H_CODES, 5XX_RATE …), comma-separated; unset: every rule."`
	DiscordStormCap      StormCap `envconfig:"DISCORD_STORM_CAP" default:"30 per 5m" example:"10 per 5m" desc:"New incidents sent to Discord at most, as N per duration; more collapse into one summary with the dashboard link. off: no cap. See Routing."`
	TelegramBotToken     string   `envconfig:"TELEGRAM_BOT_TOKEN" example:"123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" secret:"true" desc:"Telegram bot token (from @BotFather): alerts in TELEGRAM_CHAT_ID, one message per incident edited in place."`
	TelegramChatID       string   `envconfig:"TELEGRAM_CHAT_ID" example:"-1001234567890" desc:"Telegram chat the bot writes to: its number (-100… for a group or channel) or @channelname."`
	TelegramAPIURL       string   `envconfig:"TELEGRAM_API_URL" url:"http,https" default:"https://api.telegram.org" example:"https://telegram-bot-api.example.com" desc:"Telegram Bot API base URL; a local Bot API server's."`
	TelegramMinSeverity  string   `envconfig:"TELEGRAM_MIN_SEVERITY" default:"info" example:"warning" desc:"Least severity sent to Telegram."`
	TelegramApps         List     `envconfig:"TELEGRAM_APPS" example:"shop-prod-*,billing" desc:"Apps whose alerts are sent to Telegram: names or patterns (* and ?), comma-separated; unset: every app. See Routing."`
	TelegramRules        List     `envconfig:"TELEGRAM_RULES" example:"R14,H_CODES" desc:"Rules whose alerts are sent to Telegram, as the README spells them (R14, H_CODES, 5XX_RATE …), comma-separated; unset: every rule."`
	TelegramStormCap     StormCap `envconfig:"TELEGRAM_STORM_CAP" default:"30 per 5m" example:"10 per 5m" desc:"New incidents sent to Telegram at most, as N per duration; more collapse into one summary with the dashboard link. off: no cap. See Routing."`
	TeamsWebhookURL      string   `envconfig:"TEAMS_WEBHOOK_URL" url:"http,https" example:"https://prod-00.westeurope.logic.azure.com:443/workflows/0123abcd/triggers/manual/paths/invoke?sig=XXXX" secret:"true" desc:"Microsoft Teams Workflows webhook (Post to a channel when a webhook request is received): alerts as Adaptive Cards."`
	TeamsMinSeverity     string   `envconfig:"TEAMS_MIN_SEVERITY" default:"info" example:"warning" desc:"Least severity sent to Teams."`
	TeamsApps            List     `envconfig:"TEAMS_APPS" example:"shop-prod-*,billing" desc:"Apps whose alerts are sent to Teams: names or patterns (* and ?), comma-separated; unset: every app. See Routing."`
	TeamsRules           List     `envconfig:"TEAMS_RULES" example:"R14,H_CODES" desc:"Rules whose alerts are sent to Teams, as the README spells them (R14, H_CODES, 5XX_RATE …), comma-separated; unset: every rule."`
	TeamsStormCap        StormCap `envconfig:"TEAMS_STORM_CAP" default:"30 per 5m" example:"10 per 5m" desc:"New incidents sent to Teams at most, as N per duration; more collapse into one summary with the dashboard link. off: no cap. See Routing."`
	MetricsPublic        bool     `envconfig:"METRICS_PUBLIC" default:"false" example:"true" desc:"Serve /metrics (Prometheus) without the dashboard password."`
	HerokuAPIKey         string   `envconfig:"HEROKU_API_KEY" example:"HRKU-0123abcd-…" secret:"true" desc:"Heroku API key (heroku authorizations:create) for pull mode (dynowatch tail and TAIL_APPS) and dynowatch add."`
	HerokuAPIURL         string   `envconfig:"HEROKU_API_URL" url:"http,https" default:"https://api.heroku.com" example:"https://api.heroku.com" desc:"Heroku Platform API, for pull mode and dynowatch add."`
	TailApps             List     `envconfig:"TAIL_APPS" example:"my-app,my-fir-app" desc:"Apps, Cedar or Fir, the worker follows through Platform API log sessions, for apps where a drain can't be added (needs HEROKU_API_KEY)."`
	HeartbeatURL         string   `envconfig:"HEARTBEAT_URL" url:"http,https" example:"https://hc-ping.com/your-uuid" secret:"true" desc:"Pinged (GET) every minute by a worker: point an outside dead-man's switch at it to hear when dynowatch itself stops."`
	Timezone             string   `envconfig:"ALERT_TIMEZONE" default:"UTC" example:"Europe/Zurich" desc:"Time zone of the times in alert messages (an IANA name)."`

	Escalation         alert.Tiers `envconfig:"ALERT_ESCALATION" example:"slack,email now; sms after 10m; pagerduty after 30m" desc:"Escalation tiers: channels (as their routing vars name them: email, sms, webhook, pagerduty, ntfy, pushover, slack, discord, telegram, teams) told at once, then others if nobody acknowledged the alert after a delay; channels not named are told at once. Unset: every channel at once. See Escalation."`
	EscalationCritical alert.Tiers `envconfig:"ALERT_ESCALATION_CRITICAL" example:"slack now; sms after 5m; pagerduty after 15m" desc:"Escalation tiers of critical alerts, instead of ALERT_ESCALATION's."`
	EscalationWarning  alert.Tiers `envconfig:"ALERT_ESCALATION_WARNING" example:"slack now; email after 1h" desc:"Escalation tiers of warnings, instead of ALERT_ESCALATION's."`
	EscalationInfo     alert.Tiers `envconfig:"ALERT_ESCALATION_INFO" example:"slack now" desc:"Escalation tiers of info alerts, instead of ALERT_ESCALATION's."`

	// Rules are the alert rules and policy, read from the ALERT_ vars that
	// are not a channel's (the fields above).
	Rules *alert.Rules
	// Checks are the status checks of the CHECK_<NAME> vars, sorted by var.
	Checks []checks.Check

	env map[string]string // every var Load was given
}

// OnHeroku reports whether dynowatch runs in a Heroku dyno.
func (c *Config) OnHeroku() bool { return c.Dyno != "" }

// Embedded reports whether the embedded database is used.
func (c *Config) Embedded() bool { return c.DatabaseURL == "" }

// Load reads the configuration from environ, given in os.Environ's form
// ("NAME=value"; of a name given twice the later wins, as in exec.Cmd.Env),
// and validates it. It reads nothing else, so that tests can load configs
// side by side. Each var goes to one reader: the fields of Config, the
// alert rules (other ALERT_ vars) or the checks (CHECK_ vars). It returns
// every problem at once, joined.
func Load(environ []string) (*Config, error) {
	c := &Config{env: make(map[string]string, len(environ))}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		c.env[name] = value
	}
	errs := c.decode()
	if len(errs) == 0 {
		// Values that did not decode would be blamed twice.
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	rules, checkVars := map[string]string{}, map[string]string{}
	for name, value := range c.env {
		switch {
		case strings.HasPrefix(name, checks.VarPrefix):
			checkVars[name] = value
		case strings.HasPrefix(name, alert.VarPrefix):
			if _, ours := fieldByVar(name); !ours {
				rules[name] = value
			}
		}
	}
	var err error
	if c.Rules, err = alert.ParseRules(rules); err != nil {
		errs = append(errs, err)
	}
	if c.Checks, err = checks.ParseVars(checkVars, c.LookupEnv); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// LookupEnv returns the value of the var name as Load was given it, as
// os.LookupEnv would: checks read their env:VAR targets with it.
func (c *Config) LookupEnv(name string) (string, bool) {
	v, ok := c.env[name]
	return v, ok
}

// decode sets each var's field from c.env, or from its default when the var
// is not set (a var set to "" is set, as envconfig has it).
func (c *Config) decode() []error {
	var errs []error
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name := f.Tag.Get("envconfig")
		if name == "" {
			continue
		}
		value, set := c.env[name]
		if !set {
			if value = f.Tag.Get("default"); value == "" {
				continue
			}
		}
		if err := decodeField(v.Field(i), value); err != nil {
			shown := value
			if f.Tag.Get("secret") == "true" {
				shown = "(redacted)"
			}
			errs = append(errs, varError(name, shown, err.Error()))
		}
	}
	return errs
}

// wantWhole says why a var is not the whole number its field takes.
func wantWhole(err error) error {
	if errors.Is(err, strconv.ErrRange) {
		return errors.New("too large a number")
	}
	return errors.New("want a whole number")
}

// decoder is a type that reads itself from a var's value, as
// envconfig.Decoder.
type decoder interface{ Decode(value string) error }

func decodeField(field reflect.Value, value string) error {
	switch d := field.Addr().Interface().(type) {
	case decoder:
		return d.Decode(value)
	case encoding.TextUnmarshaler:
		return d.UnmarshalText([]byte(value))
	}
	switch field.Kind() {
	case reflect.String:
		field.SetString(value)
	case reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return errors.New("want true or false")
		}
		field.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(value, 10, field.Type().Bits())
		if err != nil {
			return wantWhole(err)
		}
		field.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(value, 10, field.Type().Bits())
		if err != nil {
			return wantWhole(err)
		}
		field.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(value, field.Type().Bits())
		if err != nil {
			return errors.New("want a number")
		}
		field.SetFloat(n)
	default:
		// A field of another type is a mistake in Config, not in the var.
		return fmt.Errorf("config: a %s field can't be read from a config var; give its type a Decode method", field.Type())
	}
	return nil
}

// Validate checks values that parse but make no sense.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, value, why string) { errs = append(errs, varError(name, value, why)) }
	if c.Port < 0 || c.Port > 65535 {
		bad("PORT", strconv.Itoa(c.Port), "not a TCP port")
	}
	c.validateURLs(bad)
	for _, s := range []struct {
		name string
		v    Secrets
	}{{"DRAIN_SECRET", c.DrainSecret}, {"DASHBOARD_PASSWORD", c.DashboardPassword}, {"DASHBOARD_VIEW_PASSWORD", c.DashboardViewPassword}} {
		for _, p := range s.v {
			if why := checkPassword(p); why != "" {
				bad(s.name, "(redacted)", why)
			}
		}
	}
	for _, p := range c.DashboardViewPassword {
		if slices.Contains(c.DashboardPassword, p) {
			bad("DASHBOARD_VIEW_PASSWORD", "(redacted)", "it is also one of DASHBOARD_PASSWORD's, which may act: give the read-only password a value of its own")
		}
	}
	if c.DatabaseMaxConns < 1 {
		bad("DATABASE_MAX_CONNS", strconv.Itoa(int(c.DatabaseMaxConns)), "want at least 1")
	}
	for _, sv := range []struct{ name, v string }{{"ALERT_EMAIL_MIN_SEVERITY", c.EmailMinSeverity}, {"ALERT_SMS_MIN_SEVERITY", c.SMSMinSeverity}, {"ALERT_WEBHOOK_MIN_SEVERITY", c.WebhookMinSeverity},
		{"PAGERDUTY_MIN_SEVERITY", c.PagerDutyMinSeverity}, {"NTFY_MIN_SEVERITY", c.NtfyMinSeverity}, {"PUSHOVER_MIN_SEVERITY", c.PushoverMinSeverity},
		{"SLACK_MIN_SEVERITY", c.SlackMinSeverity}, {"DISCORD_MIN_SEVERITY", c.DiscordMinSeverity},
		{"TELEGRAM_MIN_SEVERITY", c.TelegramMinSeverity}, {"TEAMS_MIN_SEVERITY", c.TeamsMinSeverity}} {
		if _, err := alert.ParseSeverity(sv.v); err != nil {
			bad(sv.name, sv.v, "want info, warning or critical")
		}
	}
	for _, r := range c.Routes() {
		for _, p := range r.Apps {
			if _, err := path.Match(p, ""); err != nil || strings.ContainsAny(p, "[]\\") {
				bad(r.Prefix+"_APPS", r.Apps.String(), fmt.Sprintf("%q is not an app name or a pattern with * and ?", p))
			}
		}
		for _, n := range r.Rules {
			if _, err := alert.ParseRuleName(n); err != nil {
				bad(r.Prefix+"_RULES", r.Rules.String(), err.Error())
			}
		}
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		bad("ALERT_TIMEZONE", c.Timezone, "not a time zone name")
	}
	// An API host pasted with the endpoint's path would post to the path
	// twice: a 404 at the first alert instead of an error now.
	for _, u := range []struct{ name, v string }{{"PAGERDUTY_API_URL", c.PagerDutyAPIURL}, {"PUSHOVER_API_URL", c.PushoverAPIURL}} {
		if p, err := url.Parse(u.v); err == nil && (strings.Trim(p.Path, "/") != "" || p.RawQuery != "" || p.User != nil) {
			bad(u.name, redact.URL(u.v), "want the API host only, without a path")
		}
	}
	if (c.SendGridAPIKey != "" || c.SMTPURL != "") && (c.EmailFrom == "" || len(c.EmailTo) == 0) {
		bad("ALERT_EMAIL_TO", c.EmailTo.String(), "email is configured: set ALERT_EMAIL_FROM and ALERT_EMAIL_TO")
	}
	for _, a := range c.TailApps {
		if !heroku.ValidApp(a) {
			bad("TAIL_APPS", c.TailApps.String(), fmt.Sprintf("%q is not %s", a, heroku.AppNameRule))
		}
	}
	for _, to := range c.EmailTo {
		if _, err := mail.ParseAddress(to); err != nil {
			bad("ALERT_EMAIL_TO", c.EmailTo.String(), fmt.Sprintf("%q is not an email address", to))
		}
	}
	for _, to := range c.SMSTo {
		if !phoneNumber.MatchString(to) {
			bad("ALERT_SMS_TO", c.SMSTo.String(), fmt.Sprintf("%q is not a phone number in international format (country code first, digits only)", to))
		}
	}
	if len(c.TailApps) > 0 && c.HerokuAPIKey == "" {
		bad("TAIL_APPS", c.TailApps.String(), "pull mode needs HEROKU_API_KEY too")
	}
	if (c.InfobipAPIKey != "") != (c.InfobipBaseURL != "") || (c.InfobipAPIKey != "" && len(c.SMSTo) == 0) {
		bad("ALERT_SMS_TO", c.SMSTo.String(), "SMS needs INFOBIP_BASE_URL, INFOBIP_API_KEY and ALERT_SMS_TO together")
	}
	errs = append(errs, c.validateChat()...)
	errs = append(errs, c.validateEscalation()...)
	if k := c.PagerDutyRoutingKey; k != "" && (len(k) != 32 || strings.ContainsAny(k, " \t/:@")) {
		bad("PAGERDUTY_ROUTING_KEY", "(redacted)", "want the 32-character integration key of an Events API v2 integration (the service's Integrations tab), not a REST API key or a URL")
	}
	// NTFY_URL's scheme and host are checked with the other URLs; here,
	// that it is a topic's.
	if u, err := url.Parse(c.NtfyURL); c.NtfyURL != "" && err == nil {
		switch _, pass := u.User.Password(); {
		case strings.Trim(u.Path, "/") == "" || u.RawQuery != "":
			bad("NTFY_URL", "(redacted)", "want the topic's URL, such as https://ntfy.sh/my-topic")
		case pass && c.NtfyToken != "":
			bad("NTFY_TOKEN", "(redacted)", "NTFY_URL has a password too: set one of them")
		}
	}
	if c.PushoverToken != "" || c.PushoverUser != "" {
		for _, k := range []struct{ name, v string }{{"PUSHOVER_TOKEN", c.PushoverToken}, {"PUSHOVER_USER", c.PushoverUser}} {
			if !pushoverKey.MatchString(k.v) {
				bad(k.name, "(redacted)", "Pushover needs PUSHOVER_TOKEN and PUSHOVER_USER, each 30 letters and digits as Pushover shows them")
			}
		}
	}
	if c.NtfyToken != "" && c.NtfyURL == "" {
		bad("NTFY_TOKEN", "(redacted)", "set NTFY_URL, the topic's URL, too")
	}
	if c.MemoryBudgetMB < 64 {
		bad("MEMORY_BUDGET_MB", strconv.Itoa(c.MemoryBudgetMB), "want at least 64")
	}
	if c.EventLinesPerMinute < 0 {
		bad("EVENT_LINES_PER_MINUTE", strconv.Itoa(c.EventLinesPerMinute), "want 0 or more")
	}
	for _, d := range []struct {
		name string
		v    duration.Duration
		min  time.Duration
	}{{"RETENTION_EVENTS", c.RetentionEvents, time.Hour}, {"RETENTION_MINUTE_ROLLUPS", c.RetentionMinute, time.Hour},
		{"RETENTION_HOURLY_ROLLUPS", c.RetentionHourly, time.Hour}, {"ROLLUP_FLUSH_INTERVAL", c.RollupFlushEvery, 100 * time.Millisecond}} {
		if d.v.D() < d.min {
			bad(d.name, d.v.String(), "want at least "+duration.Format(d.min))
		}
	}
	return errors.Join(errs...)
}

// Route is what one channel's vars say it is told of: <Prefix>_MIN_SEVERITY,
// <Prefix>_APPS and <Prefix>_RULES, and how much of it: <Prefix>_STORM_CAP.
type Route struct {
	Prefix      string // ALERT_SMS, SLACK …
	MinSeverity string
	Apps, Rules List
	StormCap    StormCap
}

// Routes returns the route of every channel, configured or not, by the
// prefix of its vars: the one table of which vars route which channel.
func (c *Config) Routes() map[string]Route {
	out := map[string]Route{}
	for _, r := range []Route{
		{"ALERT_EMAIL", c.EmailMinSeverity, c.EmailApps, c.EmailRules, c.EmailStormCap},
		{"ALERT_SMS", c.SMSMinSeverity, c.SMSApps, c.SMSRules, c.SMSStormCap},
		{"ALERT_WEBHOOK", c.WebhookMinSeverity, c.WebhookApps, c.WebhookRules, c.WebhookStormCap},
		{"PAGERDUTY", c.PagerDutyMinSeverity, c.PagerDutyApps, c.PagerDutyRules, c.PagerDutyStormCap},
		{"NTFY", c.NtfyMinSeverity, c.NtfyApps, c.NtfyRules, c.NtfyStormCap},
		{"PUSHOVER", c.PushoverMinSeverity, c.PushoverApps, c.PushoverRules, c.PushoverStormCap},
		{"SLACK", c.SlackMinSeverity, c.SlackApps, c.SlackRules, c.SlackStormCap},
		{"DISCORD", c.DiscordMinSeverity, c.DiscordApps, c.DiscordRules, c.DiscordStormCap},
		{"TELEGRAM", c.TelegramMinSeverity, c.TelegramApps, c.TelegramRules, c.TelegramStormCap},
		{"TEAMS", c.TeamsMinSeverity, c.TeamsApps, c.TeamsRules, c.TeamsStormCap},
	} {
		out[r.Prefix] = r
	}
	return out
}

// channelOn says, for each channel by the name escalation tiers give it
// (its routing prefix in lower case, without ALERT_), whether its vars
// switch it on.
func (c *Config) channelOn() map[string]bool {
	return map[string]bool{
		"email":     c.SendGridAPIKey != "" || c.SMTPURL != "",
		"sms":       c.InfobipAPIKey != "",
		"webhook":   c.WebhookURL != "",
		"pagerduty": c.PagerDutyRoutingKey != "",
		"ntfy":      c.NtfyURL != "",
		"pushover":  c.PushoverToken != "",
		"slack":     c.SlackBotToken != "" || c.SlackWebhookURL != "",
		"discord":   c.DiscordWebhookURL != "",
		"telegram":  c.TelegramBotToken != "",
		"teams":     c.TeamsWebhookURL != "",
	}
}

// escalationVars are the vars of the escalation tiers, with the severity
// each is of ("" for every severity without its own).
func (c *Config) escalationVars() []struct {
	name string
	sev  alert.Severity
	v    alert.Tiers
} {
	return []struct {
		name string
		sev  alert.Severity
		v    alert.Tiers
	}{{"ALERT_ESCALATION", "", c.Escalation}, {"ALERT_ESCALATION_CRITICAL", alert.Critical, c.EscalationCritical},
		{"ALERT_ESCALATION_WARNING", alert.Warning, c.EscalationWarning}, {"ALERT_ESCALATION_INFO", alert.Info, c.EscalationInfo}}
}

// validateEscalation checks that the escalation tiers name channels that
// exist and are configured: a tier of a channel that is off pages nobody.
func (c *Config) validateEscalation() []error {
	var errs []error
	on := c.channelOn()
	names := make([]string, 0, len(on))
	for _, r := range c.Routes() {
		names = append(names, strings.ToLower(strings.TrimPrefix(r.Prefix, alert.VarPrefix)))
	}
	slices.Sort(names)
	for _, ev := range c.escalationVars() {
		for _, n := range ev.v.Names() {
			set, known := on[n]
			switch {
			case !known:
				errs = append(errs, varError(ev.name, ev.v.String(), fmt.Sprintf("%q is not a channel: want %s", n, strings.Join(names, ", "))))
			case !set:
				errs = append(errs, varError(ev.name, ev.v.String(), fmt.Sprintf("%s is not configured: set its vars (see Channels), or leave it out", n)))
			}
		}
	}
	return errs
}

// EscalationTiers returns the escalation of each severity, for the alert
// engine.
func (c *Config) EscalationTiers() alert.Escalation {
	e := alert.Escalation{BySeverity: map[alert.Severity]alert.Tiers{}}
	for _, ev := range c.escalationVars() {
		if ev.sev == "" {
			e.Default = ev.v
		} else if len(ev.v) > 0 {
			e.BySeverity[ev.sev] = ev.v
		}
	}
	return e
}

// validateURLs checks every var with a url tag that is set.
func (c *Config) validateURLs(bad func(name, value, why string)) {
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		schemes := f.Tag.Get("url")
		if schemes == "" || v.Field(i).String() == "" {
			continue
		}
		raw := v.Field(i).String()
		if _, err := endpoint.Parse(raw, strings.Split(schemes, ",")...); err != nil {
			shown := raw
			if f.Tag.Get("secret") == "true" {
				shown = "(redacted)"
			}
			bad(f.Tag.Get("envconfig"), shown, err.Error())
		}
	}
}

// Shapes of the chat channels' credentials, to catch one pasted in
// another's place at start-up rather than at the first alert.
var (
	slackToken    = regexp.MustCompile(`^xox[bp]-[A-Za-z0-9-]+$`)
	telegramToken = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)
	telegramChat  = regexp.MustCompile(`^(-?[0-9]+|@[A-Za-z][A-Za-z0-9_]{3,})$`)
)

// validateChat checks the vars of Slack, Discord, Telegram and Teams: each
// channel's vars together, and each in its shape.
func (c *Config) validateChat() []error {
	var errs []error
	bad := func(name, value, why string) { errs = append(errs, varError(name, value, why)) }
	switch {
	case c.SlackBotToken != "" && c.SlackWebhookURL != "":
		bad("SLACK_WEBHOOK_URL", "(redacted)", "set SLACK_BOT_TOKEN and SLACK_CHANNEL, or SLACK_WEBHOOK_URL, not both")
	case c.SlackBotToken != "" && !slackToken.MatchString(c.SlackBotToken):
		bad("SLACK_BOT_TOKEN", "(redacted)", "want a bot token, xoxb-…")
	case c.SlackBotToken != "" && c.SlackChannel == "":
		bad("SLACK_CHANNEL", "", "SLACK_BOT_TOKEN is set: name the channel to post in")
	case c.SlackBotToken == "" && c.SlackChannel != "":
		bad("SLACK_BOT_TOKEN", "", "SLACK_CHANNEL is set: the bot token that posts there is missing")
	}
	if c.DiscordWebhookURL != "" && !strings.Contains(c.DiscordWebhookURL, "/webhooks/") {
		bad("DISCORD_WEBHOOK_URL", "(redacted)", "want a webhook URL, https://discord.com/api/webhooks/{id}/{token}")
	}
	switch {
	case c.TelegramBotToken != "" && !telegramToken.MatchString(c.TelegramBotToken):
		bad("TELEGRAM_BOT_TOKEN", "(redacted)", "want the token @BotFather gave, digits:letters")
	case c.TelegramBotToken != "" && c.TelegramChatID == "":
		bad("TELEGRAM_CHAT_ID", "", "TELEGRAM_BOT_TOKEN is set: name the chat to write to")
	case c.TelegramBotToken == "" && c.TelegramChatID != "":
		bad("TELEGRAM_BOT_TOKEN", "", "TELEGRAM_CHAT_ID is set: the bot token that writes there is missing")
	case c.TelegramChatID != "" && !telegramChat.MatchString(c.TelegramChatID):
		bad("TELEGRAM_CHAT_ID", c.TelegramChatID, "want a chat number or @channelname")
	}
	return errs
}

// checkPassword returns why p can't be a password in a drain URL, or "".
func checkPassword(p string) string {
	switch {
	case p == "":
		return "empty secret in the list"
	case strings.ContainsAny(p, ":@/?#% "):
		// Logplex splits the URL's userinfo on ':' and the rest must not need escaping.
		return "use only letters, digits, '-', '_', '.' and '~' (it goes into a URL)"
	}
	return ""
}

// varError is a config error a person can act on: it names the var and shows a good value.
func varError(name, value, why string) error {
	ex := ""
	if f, ok := fieldByVar(name); ok {
		ex = f.Tag.Get("example")
	}
	return fmt.Errorf("config var %s=%q: %s (example: %s=%s)", name, value, why, name, ex)
}

func fieldByVar(name string) (reflect.StructField, bool) {
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("envconfig") == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// Var describes one config var for `dynowatch config`, README.md and app.json.
type Var struct {
	Name        string
	Value       string // as parsed; secrets redacted
	Set         bool   // present in the environment Load read
	Default     string
	Example     string
	Description string
	Secret      bool
	Platform    bool // set by Heroku, not by the user
}

// Vars describes every config var, in declaration order, with c's values.
func (c *Config) Vars() []Var {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	vars := make([]Var, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("envconfig")
		if name == "" {
			continue // not a var: Rules, Checks
		}
		_, set := c.env[name]
		val := fmt.Sprint(v.Field(i).Interface())
		if f.Tag.Get("secret") == "true" && val != "" && val != "[]" {
			val = "(redacted)"
		}
		vars = append(vars, Var{Name: name, Value: val, Set: set, Default: f.Tag.Get("default"), Example: f.Tag.Get("example"),
			Description: f.Tag.Get("desc"), Secret: f.Tag.Get("secret") == "true", Platform: f.Tag.Get("platform") == "true"})
	}
	return vars
}

// List is a comma-separated config var. Spaces around an entry and empty
// entries ("a, b," is a and b) are dropped: people paste lists that way, and
// a kept space or an empty entry would be an app, address or number that
// never works.
type List []string

// Decode reads the var's value (Load's decoder interface, as envconfig's).
func (l *List) Decode(value string) error {
	*l = nil
	for _, v := range strings.Split(value, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// String writes the list as it is set.
func (l List) String() string { return strings.Join(l, ",") }

// phoneNumber is an international number as Infobip takes it: country code
// first, digits only, an optional leading '+'.
var phoneNumber = regexp.MustCompile(`^\+?[1-9][0-9]{6,14}$`)

// pushoverKey is a Pushover application token or user or group key.
var pushoverKey = regexp.MustCompile(`^[A-Za-z0-9]{30}$`)

// Secrets is a comma-separated list of passwords.
type Secrets []string

// Decode reads the var's value (Load's decoder interface, as envconfig's).
func (s *Secrets) Decode(value string) error {
	*s = nil
	for _, p := range strings.Split(value, ",") {
		*s = append(*s, strings.TrimSpace(p))
	}
	return nil
}

// String never shows the secrets.
func (s Secrets) String() string {
	if len(s) == 0 {
		return ""
	}
	return fmt.Sprintf("(%d redacted)", len(s))
}

// StormCap is a channel's <PREFIX>_STORM_CAP, "10 per 5m": at most Max new
// incidents told in any span of Per; more collapse into one summary. The
// zero StormCap ("off") caps nothing.
type StormCap struct {
	Max int
	Per time.Duration
}

// Storm cap bounds: a cap of over 1,000 or a span beyond a day is no cap a
// person notices, and one under a minute collapses a single outage.
const (
	maxStormCap = 1000
	minStormPer = time.Minute
	maxStormPer = duration.Day
)

// Decode reads "N per DURATION" (durations as duration.Parse reads them),
// or "off".
func (c *StormCap) Decode(value string) error {
	*c = StormCap{}
	f := strings.Fields(value)
	if len(f) == 1 && strings.EqualFold(f[0], "off") {
		return nil
	}
	const want = `want a number of incidents per a span of time, such as "10 per 5m", or off`
	if len(f) != 3 || !strings.EqualFold(f[1], "per") {
		return errors.New(want)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return errors.New(want)
	}
	per, err := duration.Parse(f[2])
	if err != nil {
		return fmt.Errorf("%s: %w", want, err)
	}
	switch {
	case n < 1 || n > maxStormCap:
		return fmt.Errorf("want 1 to %d incidents, or off", maxStormCap)
	case per < minStormPer || per > maxStormPer:
		return fmt.Errorf("want a span from %s to %s", duration.Format(minStormPer), duration.Format(maxStormPer))
	}
	*c = StormCap{Max: n, Per: per}
	return nil
}

// String writes the cap as Decode reads it.
func (c StormCap) String() string {
	if c.Max == 0 {
		return "off"
	}
	return strconv.Itoa(c.Max) + " per " + duration.Format(c.Per)
}

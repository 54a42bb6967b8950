package config

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 5000 || c.DBPath != "dynowatch.db" || c.DatabaseMaxConns != 5 || c.RetentionEvents.D() != 30*24*time.Hour ||
		c.RetentionHourly.D() != 365*24*time.Hour || c.KeepQueryStrings || c.OnHeroku() || !c.Embedded() ||
		c.SendGridHost != "https://api.sendgrid.com" || len(c.Checks) != 0 {
		t.Errorf("defaults = %+v", c)
	}
	if got, want := c.Rules.For("shop", alert.RuleHCodes), alert.DefaultRules().For("shop", alert.RuleHCodes); got != want {
		t.Errorf("rules = %+v, want the defaults %+v", got, want)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	c, err := Load([]string{
		"PORT=8080",
		"DYNO=web.1",
		"DRAIN_SECRET=old-one, new-one",
		"RETENTION_EVENTS=7d",
		"ROLLUP_FLUSH_INTERVAL=2s",
		"DATABASE_URL=postgres://u:p@db.example.com:5432/d",
		"KEEP_CLIENT_IPS=true",
		"PORT=8081", // the later wins, as in exec.Cmd.Env
		"EVENT_LINES_PER_MINUTE=0",
		"PATH=/usr/bin",
		"MALFORMED",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8081 || !c.OnHeroku() || c.Embedded() || len(c.DrainSecret) != 2 || c.DrainSecret[1] != "new-one" ||
		c.RetentionEvents.D() != 7*24*time.Hour || c.RollupFlushEvery.D() != 2*time.Second || !c.KeepClientIPs || c.EventLinesPerMinute != 0 {
		t.Errorf("config = %+v", c)
	}
	if v, ok := c.LookupEnv("PATH"); !ok || v != "/usr/bin" {
		t.Errorf("LookupEnv(PATH) = %q, %v", v, ok)
	}
	if _, ok := c.LookupEnv("HOME"); ok {
		t.Error("LookupEnv(HOME) found a var Load was not given")
	}
}

// TestLoadRoutesVars: each var goes to one reader: a channel's ALERT_ var
// to Config, other ALERT_ vars to the alert rules, CHECK_ vars to the
// checks, whose env:VAR targets are looked up among the vars given.
func TestLoadRoutesVars(t *testing.T) {
	t.Parallel()
	c, err := Load([]string{
		"ALERT_WEBHOOK_URL=https://hooks.example.com/x",
		"ALERT_WEBHOOK_MIN_SEVERITY=warning",
		"ALERT_WEBHOOK_APPS=shop-prod-*, billing",
		"ALERT_WEBHOOK_RULES=r14,H_CODES",
		"ALERT_H_CODES_THRESHOLD__MY_APP=50",
		"ALERT_REPEAT_INTERVAL=2h",
		"CHECK_API=http https://x.test every=1d",
		"CHECK_QUEUE=redis env:QUEUE_REDIS_URL list=jobs",
		"QUEUE_REDIS_URL=redis://h:6379",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.WebhookURL != "https://hooks.example.com/x" || c.WebhookMinSeverity != "warning" {
		t.Errorf("channel vars = %q, %q", c.WebhookURL, c.WebhookMinSeverity)
	}
	if r := c.Routes()["ALERT_WEBHOOK"]; r.MinSeverity != "warning" || r.Apps.String() != "shop-prod-*,billing" || r.Rules.String() != "r14,H_CODES" {
		t.Errorf("webhook route = %+v", r)
	}
	if r := c.Routes()["ALERT_SMS"]; r.MinSeverity != "critical" || len(r.Apps) != 0 || len(r.Rules) != 0 {
		t.Errorf("SMS route = %+v, want the default: critical alerts of every app and rule", r)
	}
	if got := c.Rules.For("my-app", alert.RuleHCodes).Threshold; got != 50 {
		t.Errorf("H_CODES threshold of my-app = %v, want 50", got)
	}
	if c.Rules.Policy.RepeatInterval != 2*time.Hour {
		t.Errorf("repeat interval = %v", c.Rules.Policy.RepeatInterval)
	}
	if len(c.Checks) != 2 || c.Checks[0].Name != "api" || c.Checks[0].Every != 24*time.Hour || c.Checks[1].URLVar != "QUEUE_REDIS_URL" {
		t.Fatalf("checks = %+v", c.Checks)
	}
	if u, err := c.Checks[1].ResolveURL(c.LookupEnv); err != nil || u != "redis://h:6379" {
		t.Errorf("env:QUEUE_REDIS_URL resolves to %q, %v", u, err)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		environ []string
		want    []string // parts of the error
	}{
		{[]string{"PORT=web"}, []string{`PORT="web": want a whole number`, "example: PORT=5000"}},
		{[]string{"PORT="}, []string{`PORT="": want a whole number`}},
		{[]string{"PORT=70000"}, []string{"not a TCP port"}},
		{[]string{"DATABASE_MAX_CONNS=99999999999"}, []string{`DATABASE_MAX_CONNS="99999999999": too large a number`}},
		{[]string{"DRAIN_SECRET=a:b"}, []string{"DRAIN_SECRET", "goes into a URL", "example: DRAIN_SECRET="}},
		{[]string{"DRAIN_SECRET=a,,b"}, []string{"empty secret"}},
		{[]string{"OTLP_MAP=colour=my.attr"}, []string{`OTLP_MAP="colour=my.attr": unknown field "colour"`, "example: OTLP_MAP=app=my.app.attr"}},
		{[]string{"OTLP_MAP=app"}, []string{"no FIELD=NAME pair"}},
		{[]string{"DASHBOARD_PASSWORD=ops-pw,old-pw", "DASHBOARD_VIEW_PASSWORD=old-pw"}, []string{`DASHBOARD_VIEW_PASSWORD="(redacted)": it is also one of DASHBOARD_PASSWORD's`, "example: DASHBOARD_VIEW_PASSWORD="}},
		{[]string{"RETENTION_EVENTS=a month"}, []string{`RETENTION_EVENTS="a month": want a number and a unit`, "example: RETENTION_EVENTS=30d"}},
		{[]string{"RETENTION_HOURLY_ROLLUPS=1m"}, []string{"at least 1h "}},
		{[]string{"DYNOWATCH_URL=my-dynowatch.herokuapp.com"}, []string{`DYNOWATCH_URL="my-dynowatch.herokuapp.com": want a URL starting http:// or https://`, "example: DYNOWATCH_URL=https://"}},
		{[]string{"DATABASE_URL=mysql://x"}, []string{"postgres://", "(redacted)"}},
		{[]string{"KEEP_CLIENT_IPS=maybe"}, []string{`KEEP_CLIENT_IPS="maybe": want true or false`}},
		{[]string{"SENDGRID_API_KEY=SG.x"}, []string{"set ALERT_EMAIL_FROM and ALERT_EMAIL_TO"}},
		{[]string{"INFOBIP_API_KEY=k"}, []string{"SMS needs INFOBIP_BASE_URL, INFOBIP_API_KEY and ALERT_SMS_TO together"}},
		{[]string{"ALERT_SMS_MIN_SEVERITY=urgent"}, []string{"want info, warning or critical", "example: ALERT_SMS_MIN_SEVERITY=warning"}},
		{[]string{"ALERT_TIMEZONE=Mars/Olympus"}, []string{"not a time zone name"}},
		{[]string{"SMTP_URL=http://x"}, []string{`SMTP_URL="(redacted)": want a URL starting smtp:// or smtps://`, "example: SMTP_URL=smtp://user:pass@"}},
		{[]string{"SENDGRID_HOST=api.sendgrid.com"}, []string{`SENDGRID_HOST="api.sendgrid.com": want a URL starting http:// or https://`}},
		{[]string{"ALERT_WEBHOOK_URL=https:///hook?token=abc"}, []string{`ALERT_WEBHOOK_URL="(redacted)": the URL has no host`}},
		{[]string{"HEROKU_API_URL=api.heroku.com"}, []string{"HEROKU_API_URL", "want a URL starting http://"}},
		{[]string{"ALERT_H_CODE_THRESHOLD=5"}, []string{"config var ALERT_H_CODE_THRESHOLD: unknown", "example: ALERT_H_CODES_THRESHOLD=5"}},
		{[]string{"CHECK_X=http https://x.test every=2d"}, []string{"config var CHECK_X: every=2d: want a duration from 1s to 1d", "for example CHECK_X="}},
		{[]string{"CHECK_Q=redis env:QUEUE_URL"}, []string{"config var CHECK_Q: its target env:QUEUE_URL is not set"}},
		{[]string{"PAGERDUTY_ROUTING_KEY=u+0123456789abcdef@example.com"}, []string{"PAGERDUTY_ROUTING_KEY=\"(redacted)\"", "32-character integration key", "example: PAGERDUTY_ROUTING_KEY=0123456789abcdef0123456789abcdef"}},
		{[]string{"PAGERDUTY_API_URL=events.pagerduty.com"}, []string{"want a URL starting http:// or https://", "example: PAGERDUTY_API_URL=https://events.eu.pagerduty.com"}},
		{[]string{"NTFY_URL=ntfy.sh/alerts"}, []string{"NTFY_URL=\"(redacted)\"", "want a URL starting http:// or https://", "example: NTFY_URL=https://ntfy.sh/"}},
		{[]string{"NTFY_URL=https://ntfy.sh/"}, []string{"want the topic's URL"}},
		{[]string{"NTFY_TOKEN=tk_x"}, []string{"set NTFY_URL, the topic's URL, too", "example: NTFY_TOKEN=tk_"}},
		{[]string{"NTFY_MIN_SEVERITY=loud"}, []string{"want info, warning or critical"}},
		{[]string{"PAGERDUTY_MIN_SEVERITY=high"}, []string{"want info, warning or critical", "example: PAGERDUTY_MIN_SEVERITY=warning"}},
		{[]string{"PUSHOVER_TOKEN=azGDORePK8gMaC0QOYAMyEEuzJnyUi"}, []string{"PUSHOVER_USER=\"(redacted)\"", "needs PUSHOVER_TOKEN and PUSHOVER_USER", "example: PUSHOVER_USER=u"}},
		{[]string{"PUSHOVER_USER=me@example.com"}, []string{"PUSHOVER_USER=\"(redacted)\"", "PUSHOVER_TOKEN=\"(redacted)\"", "30 letters and digits"}},
		{[]string{"PUSHOVER_MIN_SEVERITY=emergency"}, []string{"want info, warning or critical"}},
		{[]string{"SLACK_RULES=R14,H12"}, []string{`SLACK_RULES="R14,H12": rule "H12": unknown; rules are`, "H_CODES", "example: SLACK_RULES=R14,H_CODES"}},
		{[]string{"ALERT_SMS_APPS=shop-[prod"}, []string{`ALERT_SMS_APPS="shop-[prod": "shop-[prod" is not an app name or a pattern`, "example: ALERT_SMS_APPS=shop-prod-*"}},
		{[]string{"PAGERDUTY_APPS=shop-prod-*, billing\\"}, []string{"PAGERDUTY_APPS=", "example: PAGERDUTY_APPS=shop-prod-*"}},
		{[]string{"PAGERDUTY_API_URL=https://events.pagerduty.com/v2/enqueue"}, []string{"want the API host only, without a path", "example: PAGERDUTY_API_URL=https://events.eu.pagerduty.com"}},
		{[]string{"PUSHOVER_API_URL=https://api.pushover.net/1/messages.json"}, []string{"want the API host only, without a path"}},
		{[]string{"PUSHOVER_API_URL=https://u:topsecret3@proxy.example.com"}, []string{`PUSHOVER_API_URL="https://u:xxxxx@proxy.example.com"`, "want the API host only"}},
		{[]string{"PUSHOVER_API_URL=api.pushover.net"}, []string{`PUSHOVER_API_URL="api.pushover.net": want a URL starting http:// or https://`}},
		{[]string{"ALERT_SMS_STORM_CAP=10/5m"}, []string{`ALERT_SMS_STORM_CAP="10/5m": want a number of incidents per a span of time, such as "10 per 5m", or off`, "example: ALERT_SMS_STORM_CAP=10 per 5m"}},
		{[]string{"SLACK_STORM_CAP=10 per 5 minutes"}, []string{`SLACK_STORM_CAP="10 per 5 minutes"`, "example: SLACK_STORM_CAP=10 per 5m"}},
		{[]string{"SLACK_STORM_CAP=10 per 5min"}, []string{`SLACK_STORM_CAP="10 per 5min"`, "want a number and a unit"}},
		{[]string{"PAGERDUTY_STORM_CAP=0 per 5m"}, []string{`PAGERDUTY_STORM_CAP="0 per 5m": want 1 to 1000 incidents, or off`}},
		{[]string{"ALERT_SMS_STORM_CAP=5 per 10s"}, []string{`ALERT_SMS_STORM_CAP="5 per 10s": want a span from 1m to 1d`}},
		// Every problem at once: the settings', the rules' and the checks'.
		{[]string{"PORT=web", "MEMORY_BUDGET_MB=lots", "ALERT_R14_SEVERITY=urgent", "CHECK_X=ftp x"},
			[]string{`PORT="web"`, `MEMORY_BUDGET_MB="lots"`, `ALERT_R14_SEVERITY="urgent"`, "config var CHECK_X: the type ftp is unknown"}},
		{[]string{"DATABASE_MAX_CONNS=0", "EVENT_LINES_PER_MINUTE=-1", "ALERT_GROUP_WAIT=soon"},
			[]string{"DATABASE_MAX_CONNS", "EVENT_LINES_PER_MINUTE", "ALERT_GROUP_WAIT"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.environ, " "), func(t *testing.T) {
			t.Parallel()
			c, err := Load(tt.environ)
			if err == nil || c != nil {
				t.Fatalf("Load = %v, %v; want no config and an error", c, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "mysql") || strings.Contains(err.Error(), "token=abc") || strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error shows the secret: %q", err)
			}
		})
	}
}

// TestExamplesLoad: the example of every var, all set together, is a good
// config: the examples the README, app.json and errors show work, and
// every field's type can be read from a var.
func TestExamplesLoad(t *testing.T) {
	t.Parallel()
	// Vars that exclude another var the examples set: each loads on its own.
	alone := map[string]bool{"SLACK_WEBHOOK_URL": true}
	var environ []string
	for _, v := range (&Config{}).Vars() {
		if alone[v.Name] {
			if _, err := Load([]string{v.Name + "=" + v.Example}); err != nil {
				t.Errorf("the example of %s: %v", v.Name, err)
			}
			continue
		}
		environ = append(environ, v.Name+"="+v.Example)
	}
	c, err := Load(environ)
	if err != nil {
		t.Fatalf("the examples: %v", err)
	}
	for _, v := range c.Vars() {
		if !v.Set && !alone[v.Name] {
			t.Errorf("%s is not Set", v.Name)
		}
	}
}

// TestNtfyPasswordAndToken: a password in NTFY_URL and NTFY_TOKEN are two
// ways to log in; both set is a mistake, and the error shows neither.
func TestNtfyPasswordAndToken(t *testing.T) {
	t.Parallel()
	url := "NTFY_URL=https://phil:topsecret1@ntfy.example.com/alerts"
	_, err := Load([]string{url, "NTFY_TOKEN=tk_topsecret2"})
	if err == nil || !strings.Contains(err.Error(), "NTFY_URL has a password too: set one of them") {
		t.Fatalf("err=%v", err)
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("error shows a secret: %v", err)
	}
	if _, err := Load([]string{url, "NTFY_TOKEN="}); err != nil {
		t.Errorf("NTFY_URL with a password alone: %v", err)
	}
}

func TestVarsRedactSecrets(t *testing.T) {
	t.Parallel()
	c, err := Load([]string{"DRAIN_SECRET=topsecret1", "DATABASE_URL=postgres://u:topsecret2@h/d"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range c.Vars() {
		if strings.Contains(v.Value, "topsecret") {
			t.Errorf("%s shows its secret: %q", v.Name, v.Value)
		}
		if v.Description == "" || v.Example == "" {
			t.Errorf("%s lacks a description or an example", v.Name)
		}
	}
}

// TestDocsInStep keeps README.md and app.json in step with every config var
// the code reads.
func TestDocsInStep(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../app.json")
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		Env map[string]struct {
			Description string `json:"description"`
			Value       string `json:"value"`
			Required    *bool  `json:"required"`
			Generator   string `json:"generator"`
		} `json:"env"`
	}
	if err := json.Unmarshal(raw, &app); err != nil {
		t.Fatalf("app.json: %v", err)
	}
	known := map[string]bool{}
	for _, v := range (&Config{}).Vars() {
		known[v.Name] = true
		if !strings.Contains(string(readme), "`"+v.Name+"`") {
			t.Errorf("README.md does not document %s", v.Name)
		}
		e, ok := app.Env[v.Name]
		switch {
		case v.Platform && ok:
			t.Errorf("app.json sets %s, which Heroku sets itself", v.Name)
		case !v.Platform && !ok:
			t.Errorf("app.json does not declare %s", v.Name)
		case ok && e.Description == "":
			t.Errorf("app.json: %s has no description", v.Name)
		case ok && v.Default != "" && e.Value != v.Default:
			t.Errorf("app.json: %s defaults to %q, the code to %q", v.Name, e.Value, v.Default)
		}
	}
	for name := range app.Env {
		if !known[name] {
			t.Errorf("app.json declares %s, which the code does not read", name)
		}
	}
}

// TestListVarsTakeListsAsPeopleWriteThem: every comma-separated var drops
// the spaces around entries and empty entries.
func TestListVarsTakeListsAsPeopleWriteThem(t *testing.T) {
	t.Parallel()
	c, err := Load([]string{"TAIL_APPS=shop, cart ,", "HEROKU_API_KEY=k",
		"ALERT_EMAIL_TO= ops@example.com, oncall@example.com,", "ALERT_SMS_TO=41793026727, +447700900123"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		got, want []string
	}{
		{"TAIL_APPS", c.TailApps, []string{"shop", "cart"}},
		{"ALERT_EMAIL_TO", c.EmailTo, []string{"ops@example.com", "oncall@example.com"}},
		{"ALERT_SMS_TO", c.SMSTo, []string{"41793026727", "+447700900123"}},
	} {
		if strings.Join(tt.got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// TestListVarsRefuseBadEntries: an entry that can't work stops start-up
// with the var's name and the entry, instead of being retried forever.
func TestListVarsRefuseBadEntries(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, value, want string }{
		{"TAIL_APPS", "shop,My App", `"My App" is not a Heroku app name`},
		{"TAIL_APPS", "shop,https://shop.herokuapp.com", `"https://shop.herokuapp.com" is not a Heroku app name`},
		{"ALERT_EMAIL_TO", "ops@example.com,oncall", `"oncall" is not an email address`},
		{"ALERT_SMS_TO", "41793026727,call me", `"call me" is not a phone number`},
	} {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			_, err := Load([]string{"HEROKU_API_KEY=k", tt.name + "=" + tt.value})
			if err == nil || !strings.Contains(err.Error(), "config var "+tt.name) || !strings.Contains(err.Error(), tt.want) ||
				!strings.Contains(err.Error(), "example: "+tt.name+"=") {
				t.Errorf("Load() error = %v, want one naming %s and %s with an example", err, tt.name, tt.want)
			}
		})
	}
}

// TestChatChannelVars: each chat channel's vars are checked together at
// start-up, and an error names the var and shows an example.
func TestChatChannelVars(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // parts of the error; none for a good config
	}{
		{"slack bot", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_CHANNEL": "C0123"}, nil},
		{"slack webhook", map[string]string{"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x"}, nil},
		{"slack token without channel", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1-2-abc"}, []string{"SLACK_CHANNEL", "example: SLACK_CHANNEL=C0123456789"}},
		{"slack channel without token", map[string]string{"SLACK_CHANNEL": "C0123"}, []string{"SLACK_BOT_TOKEN", "example: SLACK_BOT_TOKEN=xoxb-"}},
		{"slack webhook pasted as token", map[string]string{"SLACK_BOT_TOKEN": "https://hooks.slack.com/services/T/B/x", "SLACK_CHANNEL": "C1"}, []string{"SLACK_BOT_TOKEN", "xoxb-"}},
		{"slack both", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_CHANNEL": "C1", "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x"}, []string{"SLACK_WEBHOOK_URL", "not both"}},
		{"slack webhook not a URL", map[string]string{"SLACK_WEBHOOK_URL": "hooks.slack.com/x"}, []string{"SLACK_WEBHOOK_URL", "want a URL starting http://"}},
		{"slack severity", map[string]string{"SLACK_MIN_SEVERITY": "page"}, []string{"SLACK_MIN_SEVERITY", "example: SLACK_MIN_SEVERITY=warning"}},
		{"discord", map[string]string{"DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/abc"}, nil},
		{"discord not a webhook", map[string]string{"DISCORD_WEBHOOK_URL": "https://discord.com/channels/1/2"}, []string{"DISCORD_WEBHOOK_URL", "example: DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/"}},
		{"telegram", map[string]string{"TELEGRAM_BOT_TOKEN": "123:AAH-x_y", "TELEGRAM_CHAT_ID": "-1001234"}, nil},
		{"telegram channel name", map[string]string{"TELEGRAM_BOT_TOKEN": "123:AAH-x_y", "TELEGRAM_CHAT_ID": "@dynoalerts"}, nil},
		{"telegram token without chat", map[string]string{"TELEGRAM_BOT_TOKEN": "123:AAH"}, []string{"TELEGRAM_CHAT_ID", "example: TELEGRAM_CHAT_ID=-100"}},
		{"telegram chat without token", map[string]string{"TELEGRAM_CHAT_ID": "-1001234"}, []string{"TELEGRAM_BOT_TOKEN"}},
		{"telegram bad token", map[string]string{"TELEGRAM_BOT_TOKEN": "AAH", "TELEGRAM_CHAT_ID": "1"}, []string{"TELEGRAM_BOT_TOKEN", "BotFather"}},
		{"telegram bad chat", map[string]string{"TELEGRAM_BOT_TOKEN": "123:AAH", "TELEGRAM_CHAT_ID": "ops room"}, []string{"TELEGRAM_CHAT_ID", "@channelname"}},
		{"teams", map[string]string{"TEAMS_WEBHOOK_URL": "https://prod-00.westeurope.logic.azure.com/workflows/x"}, nil},
		{"teams not a URL", map[string]string{"TEAMS_WEBHOOK_URL": "outlook.office.com/webhook"}, []string{"TEAMS_WEBHOOK_URL", "example: TEAMS_WEBHOOK_URL=https://"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var environ []string
			for k, v := range tc.env {
				environ = append(environ, k+"="+v)
			}
			_, err := Load(environ)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, secret := range []string{"xoxb-1-2-abc", "123:AAH", "hooks.slack.com/services/T/B/x"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows the secret %q: %v", secret, err)
				}
			}
		})
	}
}

// TestEscalationErrors: a bad ALERT_ESCALATION, or one naming a channel
// that does not exist or is off, is refused at start-up, naming the var
// and showing a good one.
func TestEscalationErrors(t *testing.T) {
	t.Parallel()
	on := []string{"ALERT_WEBHOOK_URL=https://hooks.example.com/x", "NTFY_URL=https://ntfy.sh/dynowatch-7f3a9c"}
	for _, tc := range []struct{ name, v, why string }{
		{"grammar", "ALERT_ESCALATION=webhook now; ntfy in 10m", `config var ALERT_ESCALATION="webhook now; ntfy in 10m": tier 2 "ntfy in 10m": want channels, then now or after a duration, such as sms after 10m (example: ALERT_ESCALATION=slack,email now; sms after 10m; pagerduty after 30m)`},
		{"unknown channel", "ALERT_ESCALATION=webhook now; phone after 10m", `"phone" is not a channel: want discord, email, ntfy, pagerduty, pushover, slack, sms, teams, telegram, webhook (example: ALERT_ESCALATION=`},
		{"channel off", "ALERT_ESCALATION_CRITICAL=webhook now; sms after 5m", `config var ALERT_ESCALATION_CRITICAL="webhook now; sms after 5m": sms is not configured: set its vars (see Channels), or leave it out (example: ALERT_ESCALATION_CRITICAL=slack now; sms after 5m; pagerduty after 15m)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(append(on, tc.v))
			if err == nil || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("Load(%s) = %v, want an error saying %s", tc.v, err, tc.why)
			}
		})
	}
	c, err := Load(append(on, "ALERT_ESCALATION=webhook now; ntfy after 30s", "ALERT_ESCALATION_CRITICAL=ntfy after 5m"))
	if err != nil {
		t.Fatal(err)
	}
	e := c.EscalationTiers()
	if got := e.For(alert.Warning).String(); got != "webhook now; ntfy after 30s" {
		t.Errorf("warnings escalate as %q", got)
	}
	if got := e.For(alert.Critical).String(); got != "ntfy after 5m" {
		t.Errorf("critical alerts escalate as %q", got)
	}
}

// TestStormCapVars: each channel's <PREFIX>_STORM_CAP reads as users write
// it, SMS is capped unless told otherwise, chat generously, the rest not.
func TestStormCapVars(t *testing.T) {
	t.Parallel()
	c, err := Load([]string{"ALERT_WEBHOOK_STORM_CAP=20 per 1h", "PAGERDUTY_STORM_CAP= 3  PER 1d ", "SLACK_STORM_CAP=off"})
	if err != nil {
		t.Fatal(err)
	}
	routes := c.Routes()
	for prefix, want := range map[string]string{"ALERT_WEBHOOK": "20 per 1h", "PAGERDUTY": "3 per 1d", "SLACK": "off",
		"ALERT_SMS": "5 per 10m", "DISCORD": "30 per 5m", "ALERT_EMAIL": "off", "PUSHOVER": "off"} {
		if got := routes[prefix].StormCap.String(); got != want {
			t.Errorf("%s_STORM_CAP = %q, want %q", prefix, got, want)
		}
	}
	if got := routes["ALERT_WEBHOOK"].StormCap; got.Max != 20 || got.Per != time.Hour {
		t.Errorf("ALERT_WEBHOOK_STORM_CAP = %+v, want 20 per hour", got)
	}
}

// FuzzStormCap: whatever a <PREFIX>_STORM_CAP holds, Decode takes it or
// refuses it with the grammar, and a cap it takes writes itself back as
// the same cap.
func FuzzStormCap(f *testing.F) {
	for _, s := range []string{"10 per 5m", "off", "OFF", "5 per 10m", "1000 per 1d", "1 per 1m", "0 per 5m", "10/5m", "10 per 5 minutes",
		"10 per -5m", "-1 per 5m", "10 per 1d12h", " 3  PER 90s ", "", "99999999999999999999 per 5m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var c StormCap
		if err := c.Decode(s); err != nil {
			if c != (StormCap{}) {
				t.Fatalf("Decode(%q) failed with %v but left %+v", s, err, c)
			}
			return
		}
		if c.Max != 0 && (c.Max > maxStormCap || c.Per < minStormPer || c.Per > maxStormPer) {
			t.Fatalf("Decode(%q) = %+v, out of bounds", s, c)
		}
		var again StormCap
		if err := again.Decode(c.String()); err != nil || again != c {
			t.Fatalf("Decode(%q) = %+v, written %q, read back %+v, %v", s, c, c.String(), again, err)
		}
	})
}

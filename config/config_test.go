package config

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// clearEnv unsets every config var for the test, so the machine's own
// environment (DATABASE_URL, PORT …) does not leak in.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, v := range (&Config{}).Vars() {
		t.Setenv(v.Name, "")
		os.Unsetenv(v.Name)
	}
}

func TestLoadDefaults(t *testing.T) {
	clearEnv(t)
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 5000 || c.DBPath != "dynowatch.db" || c.DatabaseMaxConns != 5 || c.RetentionEvents.D() != 30*24*time.Hour ||
		c.RetentionHourly.D() != 365*24*time.Hour || c.KeepQueryStrings || c.OnHeroku() || !c.Embedded() {
		t.Errorf("defaults = %+v", c)
	}
}

func TestLoad(t *testing.T) {
	clearEnv(t)
	t.Setenv("PORT", "8080")
	t.Setenv("DYNO", "web.1")
	t.Setenv("DRAIN_SECRET", "old-one, new-one")
	t.Setenv("RETENTION_EVENTS", "7d")
	t.Setenv("ROLLUP_FLUSH_INTERVAL", "2s")
	t.Setenv("DATABASE_URL", "postgres://u:p@db.example.com:5432/d")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || !c.OnHeroku() || c.Embedded() || len(c.DrainSecret) != 2 || c.DrainSecret[1] != "new-one" ||
		c.RetentionEvents.D() != 7*24*time.Hour || c.RollupFlushEvery.D() != 2*time.Second {
		t.Errorf("config = %+v", c)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, value string
		want        []string // parts of the error
	}{
		{"PORT", "web", []string{`PORT="web"`, "example: PORT=5000"}},
		{"PORT", "70000", []string{"not a TCP port"}},
		{"DRAIN_SECRET", "a:b", []string{"DRAIN_SECRET", "goes into a URL", "example: DRAIN_SECRET="}},
		{"DRAIN_SECRET", "a,,b", []string{"empty secret"}},
		{"RETENTION_EVENTS", "a month", []string{"RETENTION_EVENTS", "30d"}},
		{"RETENTION_HOURLY_ROLLUPS", "1m", []string{"at least 1h "}},
		{"DYNOWATCH_URL", "my-dynowatch.herokuapp.com", []string{"http or https URL", "example: DYNOWATCH_URL=https://"}},
		{"DATABASE_URL", "mysql://x", []string{"postgres://", "(redacted)"}},
		{"KEEP_CLIENT_IPS", "maybe", []string{"KEEP_CLIENT_IPS"}},
		{"SENDGRID_API_KEY", "SG.x", []string{"set ALERT_EMAIL_FROM and ALERT_EMAIL_TO"}},
		{"INFOBIP_API_KEY", "k", []string{"SMS needs INFOBIP_BASE_URL, INFOBIP_API_KEY and ALERT_SMS_TO together"}},
		{"ALERT_SMS_MIN_SEVERITY", "urgent", []string{"want info, warning or critical", "example: ALERT_SMS_MIN_SEVERITY=warning"}},
		{"ALERT_TIMEZONE", "Mars/Olympus", []string{"not a time zone name"}},
		{"SMTP_URL", "http://x", []string{"smtp://user:pass@host:587"}},
		{"PAGERDUTY_ROUTING_KEY", "u+0123456789abcdef@example.com", []string{"PAGERDUTY_ROUTING_KEY=\"(redacted)\"", "32-character integration key", "example: PAGERDUTY_ROUTING_KEY=0123456789abcdef0123456789abcdef"}},
		{"PAGERDUTY_API_URL", "events.pagerduty.com", []string{"want an http or https URL", "example: PAGERDUTY_API_URL=https://events.eu.pagerduty.com"}},
		{"NTFY_URL", "ntfy.sh/alerts", []string{"NTFY_URL=\"(redacted)\"", "want the topic's URL", "example: NTFY_URL=https://ntfy.sh/"}},
		{"NTFY_URL", "https://ntfy.sh/", []string{"want the topic's URL"}},
		{"NTFY_TOKEN", "tk_x", []string{"set NTFY_URL, the topic's URL, too", "example: NTFY_TOKEN=tk_"}},
		{"NTFY_MIN_SEVERITY", "loud", []string{"want info, warning or critical"}},
		{"PUSHOVER_TOKEN", "azGDORePK8gMaC0QOYAMyEEuzJnyUi", []string{"PUSHOVER_USER=\"(redacted)\"", "needs PUSHOVER_TOKEN and PUSHOVER_USER", "example: PUSHOVER_USER=u"}},
		{"PUSHOVER_USER", "me@example.com", []string{"PUSHOVER_USER=\"(redacted)\"", "PUSHOVER_TOKEN=\"(redacted)\"", "30 letters and digits"}},
		{"PUSHOVER_MIN_SEVERITY", "emergency", []string{"want info, warning or critical"}},
		{"PAGERDUTY_API_URL", "https://events.pagerduty.com/v2/enqueue", []string{"want the API host only, without a path", "example: PAGERDUTY_API_URL=https://events.eu.pagerduty.com"}},
		{"PUSHOVER_API_URL", "https://api.pushover.net/1/messages.json", []string{"want the API host only, without a path"}},
		{"PUSHOVER_API_URL", "https://u:topsecret3@proxy.example.com", []string{`PUSHOVER_API_URL="https://u:xxxxx@proxy.example.com"`, "want the API host only"}},
		{"PAGERDUTY_MIN_SEVERITY", "high", []string{"want info, warning or critical", "example: PAGERDUTY_MIN_SEVERITY=warning"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tt.name, tt.value)
			_, err := Load()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.name == "DATABASE_URL" && strings.Contains(err.Error(), "mysql") || strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error shows the secret: %q", err)
			}
		})
	}
}

// TestNtfyPasswordAndToken: a password in NTFY_URL and NTFY_TOKEN are two
// ways to log in; both set is a mistake, and the error shows neither.
func TestNtfyPasswordAndToken(t *testing.T) {
	clearEnv(t)
	t.Setenv("NTFY_URL", "https://phil:topsecret1@ntfy.example.com/alerts")
	t.Setenv("NTFY_TOKEN", "tk_topsecret2")
	_, err := Load()
	if err == nil || !strings.Contains(err.Error(), "NTFY_URL has a password too: set one of them") {
		t.Fatalf("err=%v", err)
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("error shows a secret: %v", err)
	}
	t.Setenv("NTFY_TOKEN", "")
	if _, err := Load(); err != nil {
		t.Errorf("NTFY_URL with a password alone: %v", err)
	}
}

func TestVarsRedactSecrets(t *testing.T) {
	clearEnv(t)
	t.Setenv("DRAIN_SECRET", "topsecret1")
	t.Setenv("DATABASE_URL", "postgres://u:topsecret2@h/d")
	c, err := Load()
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
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../app.json")
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
	clearEnv(t)
	t.Setenv("TAIL_APPS", "shop, cart ,")
	t.Setenv("HEROKU_API_KEY", "k")
	t.Setenv("ALERT_EMAIL_TO", " ops@example.com, oncall@example.com,")
	t.Setenv("ALERT_SMS_TO", "41793026727, +447700900123")
	c, err := Load()
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
	for _, tt := range []struct{ name, value, want string }{
		{"TAIL_APPS", "shop,My App", `"My App" is not a Heroku app name`},
		{"TAIL_APPS", "shop,https://shop.herokuapp.com", `"https://shop.herokuapp.com" is not a Heroku app name`},
		{"ALERT_EMAIL_TO", "ops@example.com,oncall", `"oncall" is not an email address`},
		{"ALERT_SMS_TO", "41793026727,call me", `"call me" is not a phone number`},
	} {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("HEROKU_API_KEY", "k")
			t.Setenv(tt.name, tt.value)
			_, err := Load()
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
		{"slack webhook not a URL", map[string]string{"SLACK_WEBHOOK_URL": "hooks.slack.com/x"}, []string{"SLACK_WEBHOOK_URL", "http or https"}},
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
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := Load()
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

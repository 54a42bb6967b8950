package main

// The README's examples, executed. Each example is read out of README.md
// (so the two cannot drift apart) and run the way a user would, and the test
// checks that it does what the text beside it says.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/dynowatch/dynowatch/internal/ack"
	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/notify"
	"github.com/dynowatch/dynowatch/internal/store/pgtest"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readmeChecks returns every CHECK_<NAME>="…" the README shows, by var.
func readmeChecks(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(CHECK_[A-Z0-9_]+)="((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(readme(t), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestREADMECheckExamplesParse: every CHECK_ example of the README is
// accepted as written, with the env: vars it names set.
func TestREADMECheckExamplesParse(t *testing.T) {
	t.Parallel()
	ex := readmeChecks(t)
	for _, name := range []string{"CHECK_API", "CHECK_QUEUE", "CHECK_DB"} {
		if ex[name] == "" {
			t.Fatalf("README.md no longer shows %s; this test runs it", name)
		}
	}
	environ := []string{"QUEUE_REDIS_URL=redis://h:6379", "APP_DATABASE_URL=postgres://u:p@h:5432/d"}
	for name, v := range ex {
		environ = append(environ, name+"="+v)
	}
	cfg, err := config.Load(environ)
	if err != nil {
		t.Fatalf("README's checks: %v", err)
	}
	cs := cfg.Checks
	if len(cs) != len(ex) {
		t.Errorf("loaded %d checks of the README's %d", len(cs), len(ex))
	}
}

// probeREADME runs the README's check var once, its target rewritten by
// rewrite (the README's hosts are not reachable from a test).
func probeREADME(t *testing.T, name string, rewrite func(string) string, env map[string]string, client *http.Client) checks.Result {
	t.Helper()
	c, err := checks.Parse(name, rewrite(readmeChecks(t)[name]))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p := &checks.Prober{HTTPClient: client, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	return p.Probe(context.Background(), &c)
}

// TestREADMECheckAPI: CHECK_API "http https://myapp.herokuapp.com/health
// every=30s timeout=5s status=200" passes on a 200 and fails, with the
// status as the reason, on anything else.
func TestREADMECheckAPI(t *testing.T) {
	t.Parallel()
	status := 200
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	rewrite := func(v string) string { return strings.Replace(v, "https://myapp.herokuapp.com", srv.URL, 1) }
	if r := probeREADME(t, "CHECK_API", rewrite, nil, srv.Client()); !r.OK || r.Warning != "" {
		t.Errorf("healthy endpoint: %+v", r)
	}
	status = 503
	if r := probeREADME(t, "CHECK_API", rewrite, nil, srv.Client()); r.OK || !strings.Contains(r.Error, "503") {
		t.Errorf("failing endpoint: %+v, want a failure naming the 503", r)
	}
}

// TestREADMECheckQueue: CHECK_QUEUE "redis env:QUEUE_REDIS_URL list=jobs
// max=1000" reads the URL from QUEUE_REDIS_URL, passes while the list holds
// at most 1000 items and fails beyond. The list is renamed to a key of the
// test's own: the test Redis is shared.
func TestREADMECheckQueue(t *testing.T) {
	t.Parallel()
	rawURL := "redis://127.0.0.1:6379/0"
	opt, _ := redis.ParseURL(rawURL)
	client := redis.NewClient(opt)
	defer client.Close()
	ctx := context.Background()
	if err := client.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the test Redis is unreachable: %v", err)
		}
		t.Skipf("the test Redis is unreachable: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	key := "dynowatch-test:" + hex.EncodeToString(b[:]) + ":jobs"
	defer client.Del(ctx, key)
	rewrite := func(v string) string { return strings.Replace(v, "list=jobs", "list="+key, 1) }
	env := map[string]string{"QUEUE_REDIS_URL": rawURL}
	for _, tt := range []struct {
		items int
		ok    bool
	}{{0, true}, {1000, true}, {1001, false}} {
		client.Del(ctx, key)
		if tt.items > 0 {
			vals := make([]any, tt.items)
			for i := range vals {
				vals[i] = i
			}
			client.RPush(ctx, key, vals...)
		}
		r := probeREADME(t, "CHECK_QUEUE", rewrite, env, nil)
		if r.OK != tt.ok || r.Value == nil || *r.Value != float64(tt.items) {
			t.Errorf("list of %d items: %+v, want ok=%v", tt.items, r, tt.ok)
		}
		if !tt.ok && !strings.Contains(r.Error, "over max=1000") {
			t.Errorf("list of %d items: reason %q", tt.items, r.Error)
		}
	}
}

// TestREADMECheckDB: CHECK_DB "postgres env:APP_DATABASE_URL table=users"
// passes while the table exists and fails, naming it, once it is gone.
func TestREADMECheckDB(t *testing.T) {
	t.Parallel()
	rawURL := pgtest.URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE users (id int)"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"APP_DATABASE_URL": rawURL}
	same := func(v string) string { return v }
	if r := probeREADME(t, "CHECK_DB", same, env, nil); !r.OK {
		t.Errorf("with the table: %+v", r)
	}
	if _, err := conn.Exec(ctx, "DROP TABLE users"); err != nil {
		t.Fatal(err)
	}
	if r := probeREADME(t, "CHECK_DB", same, env, nil); r.OK || !strings.Contains(r.Error, "users") {
		t.Errorf("without the table: %+v, want a failure naming it", r)
	}
}

// TestREADMEAlertVarExamples: every ALERT_<RULE>_<SETTING>[__<APP>]=value
// the README shows is accepted and sets what its name says, for the app it
// names and no other.
func TestREADMEAlertVarExamples(t *testing.T) {
	t.Parallel()
	found := regexp.MustCompile("`(ALERT_[A-Z0-9_]+)=([^`\\s]+)`").FindAllStringSubmatch(readme(t), -1)
	if len(found) < 2 {
		t.Fatalf("README.md shows %d ALERT_ examples, want the two of the Alerts section", len(found))
	}
	defaults := alert.DefaultRules()
	for _, m := range found {
		name, value := m[1], m[2]
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load([]string{name + "=" + value})
			if err != nil {
				t.Fatalf("%s=%s: %v", name, value, err)
			}
			rules := cfg.Rules
			key, app, _ := strings.Cut(strings.TrimPrefix(name, "ALERT_"), "__")
			app = strings.ReplaceAll(strings.ToLower(app), "_", "-")
			setting := key[strings.LastIndex(key, "_")+1:]
			rule, err := alert.ParseRuleName(strings.TrimSuffix(key, "_"+setting))
			if err != nil {
				t.Fatal(err)
			}
			if setting != "THRESHOLD" {
				t.Fatalf("%s: this test checks THRESHOLD examples only; teach it what %s does", name, setting)
			}
			want, _ := strconv.ParseFloat(value, 64)
			target := app
			if target == "" {
				target = "any-app"
			}
			if got := rules.For(target, rule).Threshold; got != want {
				t.Errorf("%s=%s: threshold of %s for %s is %v", name, value, rule, target, got)
			}
			if app != "" {
				if got := rules.For("other-app", rule).Threshold; got != defaults.For("other-app", rule).Threshold {
					t.Errorf("%s=%s changed %s for other apps too (%v)", name, value, rule, got)
				}
			}
		})
	}
}

// TestREADMESilenceExample: the README's silence, posted as shown, is
// created, listed, and mutes its app's alerts while another app's still
// reach the webhook.
func TestREADMESilenceExample(t *testing.T) {
	t.Parallel()
	m := regexp.MustCompile("`POST /api/v1/silences` with `(\\{[^`]+\\})`").FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md no longer shows the POST /api/v1/silences example")
	}
	var ex struct{ App string }
	if err := json.Unmarshal([]byte(m[1]), &ex); err != nil || ex.App == "" {
		t.Fatalf("README's silence %s: %v", m[1], err)
	}
	got := make(chan map[string]any, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n map[string]any
		json.NewDecoder(r.Body).Decode(&n)
		got <- n
	}))
	defer hook.Close()
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw", "ALERT_WEBHOOK_URL": hook.URL,
		"ALERT_GROUP_WAIT": "0s"})

	req, _ := http.NewRequest("POST", base+"/api/v1/silences", strings.NewReader(m[1]))
	req.SetBasicAuth("ops", "pw")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST the README's silence: %d %s", resp.StatusCode, body)
	}
	var listed struct {
		Silences []struct{ App string } `json:"silences"`
	}
	getJSON(t, base+"/api/v1/silences", "pw", &listed)
	if len(listed.Silences) != 1 || listed.Silences[0].App != ex.App {
		t.Fatalf("silences = %+v, want the README's", listed)
	}

	ts := time.Now().UTC().Format(time.RFC3339)
	r14 := frame("<45>1 " + ts + " host heroku worker.1 - Error R14 (Memory quota exceeded)\n")
	for _, app := range []string{ex.App, "other-app"} {
		if code := post(t, base+"/drain/"+app, "s", r14, nil); code != 204 {
			t.Fatalf("drain %s: %d", app, code)
		}
	}
	select {
	case n := <-got:
		if n["app"] != "other-app" {
			t.Errorf("webhook got %v; the silenced app's alert went out", n)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no webhook for the app not silenced within 15 s; logs:\n%s", logs)
	}
	select {
	case n := <-got:
		t.Errorf("webhook got a second message %v; the silenced app's alert went out", n)
	case <-time.After(2 * time.Second):
	}
}

// TestREADMEWebhookSignatureExample: the README's worked signature is the
// one dynowatch sends for its secret, timestamp and body, VerifyWebhook
// takes it, and the openssl command it shows prints it.
func TestREADMEWebhookSignatureExample(t *testing.T) {
	t.Parallel()
	text := readme(t)
	m := regexp.MustCompile("the secret `([^`]+)`, `X-Dynowatch-Timestamp: ([0-9]+)` and\\s+the body `([^`]+)`").FindStringSubmatch(text)
	sig := regexp.MustCompile("`X-Dynowatch-Signature-V2: (sha256=[0-9a-f]{64})`").FindStringSubmatch(text)
	cmd := regexp.MustCompile("`(printf [^`]+ \\| openssl dgst -sha256 -hmac [^`]+)`").FindStringSubmatch(text)
	if m == nil || sig == nil || cmd == nil {
		t.Fatal("README.md no longer shows the worked webhook signature (secret, timestamp, body, openssl command, signature)")
	}
	secret, ts, body := []byte(m[1]), m[2], []byte(m[3])
	if got := notify.WebhookSignatureV2(secret, ts, body); got != sig[1] {
		t.Errorf("README's signature %s, dynowatch signs %s", sig[1], got)
	}
	h := http.Header{}
	h.Set("X-Dynowatch-Timestamp", ts)
	h.Set("X-Dynowatch-Signature-V2", sig[1])
	sec, _ := strconv.ParseInt(ts, 10, 64)
	if err := notify.VerifyWebhook(secret, h, body, time.Unix(sec, 0).Add(time.Minute), notify.DefaultWebhookTolerance); err != nil {
		t.Errorf("VerifyWebhook refuses the README's example: %v", err)
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Log("openssl not installed: the README's command is not run")
		return
	}
	out, err := exec.Command("sh", "-c", cmd[1]).Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd[1], err)
	}
	if hex := strings.TrimPrefix(sig[1], "sha256="); !strings.Contains(string(out), hex) {
		t.Errorf("%s prints %q, not the README's %s", cmd[1], out, hex)
	}
}

// readmeConfigSets returns the vars of every `heroku config:set NAME=value …`
// example of the README whose names start with prefix.
func readmeConfigSets(t *testing.T, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range regexp.MustCompile("`heroku config:set ([^`]+)`").FindAllStringSubmatch(readme(t), -1) {
		// Words as the shell splits them: a value in double quotes, such
		// as PAGERDUTY_CHANGE_CAP="5 per 10m", is one word, without them.
		for _, kv := range regexp.MustCompile(`(?:[^\s"]+|"[^"]*")+`).FindAllString(m[1], -1) {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, prefix) {
				out[k] = strings.ReplaceAll(v, `"`, "")
			}
		}
	}
	return out
}

// TestREADMEPagingExamples: each paging channel's example, set as the
// README shows it (with the provider's host pointed at a fake of it), makes
// a channel that `dynowatch alert test` reaches with the example's
// credentials.
func TestREADMEPagingExamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefix string
		// fake starts a fake provider, and returns the vars that point
		// the channel at it and what it heard.
		fake func(t *testing.T, example map[string]string) (override map[string]string, heard func() []string)
		want func(example map[string]string) []string
	}{
		{"PAGERDUTY_", func(t *testing.T, _ map[string]string) (map[string]string, func() []string) {
			var mu sync.Mutex
			var heard []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var e struct {
					RoutingKey  string `json:"routing_key"`
					EventAction string `json:"event_action"`
				}
				json.NewDecoder(r.Body).Decode(&e)
				mu.Lock()
				heard = append(heard, r.URL.Path+" "+e.EventAction+" "+e.RoutingKey)
				mu.Unlock()
				w.WriteHeader(http.StatusAccepted)
				io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"x"}`)
			}))
			t.Cleanup(srv.Close)
			return map[string]string{"PAGERDUTY_API_URL": srv.URL}, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(heard) }
		}, func(ex map[string]string) []string {
			return []string{"/v2/enqueue trigger " + ex["PAGERDUTY_ROUTING_KEY"], "/v2/enqueue resolve " + ex["PAGERDUTY_ROUTING_KEY"]}
		}},
		{"NTFY_", func(t *testing.T, ex map[string]string) (map[string]string, func() []string) {
			topic, err := url.Parse(ex["NTFY_URL"])
			if err != nil {
				t.Fatalf("README's NTFY_URL: %v", err)
			}
			var mu sync.Mutex
			var heard []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				heard = append(heard, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
				mu.Unlock()
				io.WriteString(w, `{"id":"hwQ2YpKdmg","time":1741944365,"event":"message","topic":"dynowatch","message":"…"}`)
			}))
			t.Cleanup(srv.Close)
			// The README's topic, on the fake's host.
			return map[string]string{"NTFY_URL": srv.URL + topic.Path}, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(heard) }
		}, func(ex map[string]string) []string {
			u, _ := url.Parse(ex["NTFY_URL"])
			return []string{"POST " + u.Path + " Bearer " + ex["NTFY_TOKEN"]}
		}},
		{"PUSHOVER_", func(t *testing.T, _ map[string]string) (map[string]string, func() []string) {
			var mu sync.Mutex
			var heard []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				mu.Lock()
				heard = append(heard, r.URL.Path+" "+r.PostForm.Get("token")+" "+r.PostForm.Get("user")+" "+r.PostForm.Get("priority"))
				mu.Unlock()
				io.WriteString(w, `{"status":1,"request":"647d2300-702c-4b38-8b2f-d56326ae460b"}`)
			}))
			t.Cleanup(srv.Close)
			return map[string]string{"PUSHOVER_API_URL": srv.URL}, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(heard) }
		}, func(ex map[string]string) []string {
			// A test is never an emergency: it would repeat until acknowledged.
			return []string{"/1/messages.json " + ex["PUSHOVER_TOKEN"] + " " + ex["PUSHOVER_USER"] + " 0"}
		}},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			t.Parallel()
			example := readmeConfigSets(t, tc.prefix)
			if len(example) == 0 {
				t.Fatalf("README.md shows no `heroku config:set %s…` example", tc.prefix)
			}
			// The example's vars and no other config var, the override's
			// over the example's.
			override, heard := tc.fake(t, example)
			vars := maps.Clone(example)
			maps.Copy(vars, override)
			stdout, stderr, code := runMain(t, envOf(vars), "", "alert", "test")
			if code != 0 {
				t.Fatalf("dynowatch alert test with the README's %s example: exit %d\n%s%s", tc.prefix, code, stdout, stderr)
			}
			if got, want := heard(), tc.want(example); !slices.Equal(got, want) {
				t.Errorf("the fake heard %q, want %q", got, want)
			}
		})
	}
}

// readmeRouting returns the vars of the README's Routing example, as the
// shell would set them.
func readmeRouting(t *testing.T) map[string]string {
	t.Helper()
	m := regexp.MustCompile("(?s)### Routing\n.*?```sh\n(.*?)```").FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md no longer shows the Routing example")
	}
	out := map[string]string{}
	for _, kv := range strings.Fields(strings.ReplaceAll(m[1], "\\\n", " ")) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}

// TestREADMERoutingExample: with the README's routing set as shown, a
// critical alert of a production app reaches Slack, SMS and PagerDuty, while
// a critical alert of a staging app and a warning of a production app reach
// Slack only.
func TestREADMERoutingExample(t *testing.T) {
	t.Parallel()
	example := readmeRouting(t)
	if example["ALERT_SMS_APPS"] == "" || example["PAGERDUTY_APPS"] == "" {
		t.Fatalf("README's Routing example %v routes neither SMS nor PagerDuty by app", example)
	}
	// One fake for the three providers, telling them apart by path.
	var mu sync.Mutex
	heard := map[string][]string{}
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		channel := "slack"
		switch {
		case strings.HasPrefix(r.URL.Path, "/sms/"):
			channel = "sms"
			io.WriteString(w, `{"messages":[{"status":{"groupId":1,"groupName":"PENDING"}}]}`)
		case strings.HasPrefix(r.URL.Path, "/v2/enqueue"):
			channel = "pagerduty"
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"x"}`)
		default:
			io.WriteString(w, "ok")
		}
		mu.Lock()
		heard[channel] = append(heard[channel], string(body))
		mu.Unlock()
	}))
	defer fake.Close()
	vars := map[string]string{"DRAIN_SECRET": "s", "ALERT_GROUP_WAIT": "0s",
		"SLACK_WEBHOOK_URL": fake.URL + "/services/T000/B000/XXXXXXXX",
		"INFOBIP_BASE_URL":  fake.URL, "INFOBIP_API_KEY": "k", "ALERT_SMS_TO": "41793026727",
		"PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef", "PAGERDUTY_API_URL": fake.URL}
	maps.Copy(vars, example)
	base, logs, _ := startServer(t, vars)

	prod := strings.ReplaceAll(example["ALERT_SMS_APPS"], "*", "eu")
	prodWarning := strings.ReplaceAll(example["ALERT_SMS_APPS"], "*", "us")
	ts := time.Now().UTC().Format(time.RFC3339)
	for _, p := range []struct{ app, line string }{
		{prod, "Error R15 (Memory quota vastly exceeded)"},           // critical
		{"shop-staging", "Error R15 (Memory quota vastly exceeded)"}, // critical, not production
		{prodWarning, "Error R14 (Memory quota exceeded)"},           // production, a warning
	} {
		if code := post(t, base+"/drain/"+p.app, "s", frame("<45>1 "+ts+" host heroku web.1 - "+p.line+"\n"), nil); code != 204 {
			t.Fatalf("drain %s: %d", p.app, code)
		}
	}
	// mentions counts, per channel, the messages that name app.
	mentions := func(channel, app string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, b := range heard[channel] {
			if strings.Contains(b, app) {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for mentions("slack", prod) == 0 || mentions("slack", "shop-staging") == 0 || mentions("slack", prodWarning) == 0 ||
		mentions("sms", prod) == 0 || mentions("pagerduty", prod) == 0 {
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("within 20 s: heard %q; logs:\n%s", heard, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // the same pass sent the others, if it was to
	for _, ch := range []string{"sms", "pagerduty"} {
		for _, app := range []string{"shop-staging", prodWarning} {
			if n := mentions(ch, app); n != 0 {
				t.Errorf("%s got %d messages of %s; the README routes it only critical alerts of production apps", ch, n, app)
			}
		}
	}
}

// TestREADMEAckLinkExample: the README's ack link is the one dynowatch
// signs for its password, alert and time, and verifies until a day later.
func TestREADMEAckLinkExample(t *testing.T) {
	t.Parallel()
	m := regexp.MustCompile("`DASHBOARD_PASSWORD=([0-9a-f]+)`, the R14 of\\s+`my-app` `web.1` that started at ([0-9-]+ [0-9:]+) UTC and paged at\\s+([0-9:]+) carries\\s+`(https://my-dynowatch.herokuapp.com/ack/[A-Za-z0-9_-]+)`").FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md no longer shows the example ack link; this test checks it")
	}
	started, err := time.Parse("2006-01-02 15:04", m[2])
	if err != nil {
		t.Fatal(err)
	}
	paged, err := time.Parse("2006-01-02 15:04", m[2][:11]+m[3])
	if err != nil {
		t.Fatal(err)
	}
	links, err := ack.NewLinks("https://my-dynowatch.herokuapp.com", []string{m[1]})
	if err != nil {
		t.Fatal(err)
	}
	if got := links.URL("r14|my-app|web.1", started, paged); got != m[4] {
		t.Fatalf("dynowatch signs %s, the README shows %s", got, m[4])
	}
	tok := strings.TrimPrefix(m[4], "https://my-dynowatch.herokuapp.com/ack/")
	if key, ep, _, err := links.Verify(tok, paged.Add(ack.LinkTTL-time.Second)); err != nil || key != "r14|my-app|web.1" || !ep.Equal(started) {
		t.Fatalf("the README's link just before a day: %q of the episode of %v, %v", key, ep, err)
	}
	if _, _, _, err := links.Verify(tok, paged.Add(ack.LinkTTL)); err == nil {
		t.Fatal("the README's link still works a day on")
	}
}

// TestREADMEActingExamples: the README's DASHBOARD_VIEW_PASSWORD command
// makes a password config accepts, and its curl commands, run by sh against
// a dynowatch with both passwords, silence the app as ana and show that in
// the audit log; the first one with the view password is refused.
func TestREADMEActingExamples(t *testing.T) {
	t.Parallel()
	text := readme(t)
	gen := regexp.MustCompile(`heroku config:set DASHBOARD_VIEW_PASSWORD=\$\(([^)]+)\)`).FindStringSubmatch(text)
	block := regexp.MustCompile(`(?m)^    (curl -s -u ana:\$DASHBOARD_PASSWORD .*\\\n(?:      .*\n)+    curl -s -u ana:\$DASHBOARD_VIEW_PASSWORD .*)\n`).FindStringSubmatch(text)
	if gen == nil || block == nil {
		t.Fatal("README.md no longer shows the DASHBOARD_VIEW_PASSWORD command and the two curl commands after it; this test runs them")
	}
	out, err := exec.Command("sh", "-c", gen[1]).Output()
	if err != nil {
		t.Fatalf("%s: %v", gen[1], err)
	}
	view := strings.TrimSpace(string(out))
	if _, err := config.Load([]string{"DASHBOARD_PASSWORD=ops-pw", "DASHBOARD_VIEW_PASSWORD=" + view}); err != nil {
		t.Fatalf("the README's generated view password: %v", err)
	}
	base, _, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "ops-pw", "DASHBOARD_VIEW_PASSWORD": view})
	script := strings.ReplaceAll(block[1], "https://<your-dynowatch>.herokuapp.com", base)
	sh := func(script string) []string {
		t.Helper()
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = append(os.Environ(), "DASHBOARD_PASSWORD=ops-pw", "DASHBOARD_VIEW_PASSWORD="+view)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	lines := sh(script)
	if len(lines) != 2 {
		t.Fatalf("the README's curl commands printed %q, want two JSON lines", lines)
	}
	var silence struct {
		App       string `json:"app"`
		CreatedBy string `json:"created_by"`
	}
	var audit struct {
		Entries []struct{ Actor, Action, App, Reason string } `json:"entries"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &silence); err != nil || silence.App != "shop" || silence.CreatedBy != "ana" {
		t.Errorf("the silence: %s (%v), want shop's, by ana", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &audit); err != nil || len(audit.Entries) != 1 ||
		audit.Entries[0] != (struct{ Actor, Action, App, Reason string }{"ana", "silence", "shop", "planned maintenance"}) {
		t.Errorf("the audit log: %s (%v), want ana's silence of shop", lines[1], err)
	}
	first, _, _ := strings.Cut(script, "\n    curl")
	refused := sh(strings.Replace(first, "$DASHBOARD_PASSWORD", "$DASHBOARD_VIEW_PASSWORD", 1))
	if !strings.Contains(refused[0], "may look, not act") {
		t.Errorf("the silence posted with the view password: %q, want it refused", refused)
	}
}

// TestREADMEAckExample runs the README's acknowledgements against a server
// whose R14 of my-app web.1 fired: the ack link of its webhook JSON, opened
// without the dashboard password, asks and acknowledges; and the curl
// command answers the ack (the first kept), and the alerts list shows it.
func TestREADMEAckExample(t *testing.T) {
	t.Parallel()
	m := regexp.MustCompile(`(?s)curl -u ops:\$DASHBOARD_PASSWORD -H 'Content-Type: application/json' \\\s+-d '([^']+)' \\\s+https://my-dynowatch\.herokuapp\.com(/api/v1/alerts/\S+/ack)`).FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md no longer shows the curl acknowledgement; this test runs it")
	}
	body, path := m[1], m[2]
	got := make(chan map[string]any, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n map[string]any
		json.NewDecoder(r.Body).Decode(&n)
		got <- n
	}))
	defer hook.Close()
	base, logs, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw", "ALERT_WEBHOOK_URL": hook.URL,
		"ALERT_GROUP_WAIT": "0s", "DYNOWATCH_URL": "https://my-dynowatch.herokuapp.com"})
	ts := time.Now().UTC().Format(time.RFC3339)
	if code := post(t, base+"/drain/my-app", "s", frame("<45>1 "+ts+" host heroku web.1 - Error R14 (Memory quota exceeded)\n"), nil); code != 204 {
		t.Fatalf("drain: %d", code)
	}
	var link string
	select {
	case n := <-got:
		if n["status"] != "firing" {
			t.Fatalf("webhook got %v, want the R14 firing", n)
		}
		link, _ = n["ack_url"].(string)
	case <-time.After(15 * time.Second):
		t.Fatalf("no firing within 15 s; logs:\n%s", logs)
	}
	linkPath, ok := strings.CutPrefix(link, "https://my-dynowatch.herokuapp.com")
	if !ok {
		t.Fatalf("the firing's ack_url %q is not under DYNOWATCH_URL", link)
	}
	resp, err := http.Get(base + linkPath) // no password: the link is the credential
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `name="name"`) {
		t.Fatalf("GET the ack link: %d\n%s", resp.StatusCode, page)
	}
	resp, err = http.PostForm(base+linkPath, url.Values{"name": {"Ana"}, "reason": {"restarting web.1"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Acknowledged by Ana") {
		t.Fatalf("POST the ack link's form: %d\n%s", resp.StatusCode, page)
	}
	select {
	case n := <-got:
		if n["status"] != "acknowledged" || n["acked_by"] != "Ana" {
			t.Fatalf("webhook got %v, want the R14 acknowledged by Ana", n)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no acknowledged within 15 s; logs:\n%s", logs)
	}

	req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
	req.SetBasicAuth("ops", "pw")
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var acked struct {
		Key string
		Ack struct{ By, Reason string }
	}
	json.NewDecoder(resp.Body).Decode(&acked)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || acked.Key != "r14|my-app|web.1" || acked.Ack.By != "Ana" || acked.Ack.Reason != "restarting web.1" {
		t.Fatalf("POST the README's ack: %d %+v", resp.StatusCode, acked)
	}
	var listed struct {
		Alerts []struct {
			Key string
			Ack *struct{ By string }
		}
	}
	getJSON(t, base+"/api/v1/alerts?state=firing", "pw", &listed)
	if len(listed.Alerts) != 1 || listed.Alerts[0].Ack == nil || listed.Alerts[0].Ack.By != "Ana" {
		t.Fatalf("firing alerts = %+v, want the R14 acknowledged by Ana", listed)
	}
}

// TestREADMEParseExample runs the README's `dynowatch parse` example with a
// bad line, through the shell as shown (the binary in place of `go run .`),
// and checks that stdout has a line for each message, the bad one's as the
// README shows it, stderr the README's report, and the exit status is 1.
func TestREADMEParseExample(t *testing.T) {
	t.Parallel()
	m := regexp.MustCompile(`\n    (printf '%s\\n' [^\n]*) \| go run \. parse\n\n((?:    [^\n]*\n)+)\nand on stderr:\n\n((?:    [^\n]*\n)+)`).FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md no longer shows the `dynowatch parse` example with a bad line and its stderr")
	}
	dedent := func(block string) string { return strings.ReplaceAll(block, "\n    ", "\n")[4:] }
	bin := filepath.Join(t.TempDir(), "dynowatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command("sh", "-c", m[1]+" | "+bin+" parse")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("exit: %v, want status 1 for a message that could not be parsed", err)
	}
	if got, want := stdout.String(), dedent(m[2]); got != want {
		t.Errorf("stdout:\n%s\nwant the README's:\n%s", got, want)
	}
	if got, want := stderr.String(), dedent(m[3]); got != want {
		t.Errorf("stderr:\n%s\nwant the README's:\n%s", got, want)
	}
}

// TestREADMESilenceShape: a silence of every field, posted as the README
// says (created_by included), is listed by GET /api/v1/silences with
// exactly the keys, in the order, of the README's shape.
func TestREADMESilenceShape(t *testing.T) {
	t.Parallel()
	m := regexp.MustCompile("`(\\{\"silences\":\\[\\{.*?\\}\\]\\})`").FindStringSubmatch(readme(t))
	if m == nil {
		t.Fatal("README.md no longer shows the shape of GET /api/v1/silences; this test checks it")
	}
	var want []string
	for _, k := range regexp.MustCompile(`"(\w+)":`).FindAllStringSubmatch(m[1], -1) {
		want = append(want, k[1])
	}
	base, _, _ := startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw"})
	if code := post(t, base+"/api/v1/silences", "pw",
		`{"app":"shop","rule":"R14","key":"r14|shop|web.1","duration":"2h","reason":"planned maintenance","created_by":"ops@example.com"}`, nil); code != http.StatusCreated {
		t.Fatalf("POST /api/v1/silences with created_by: %d, want 201", code)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/silences", nil)
	req.SetBasicAuth("ana", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got []string
	for _, k := range regexp.MustCompile(`"(\w+)":`).FindAllStringSubmatch(string(body), -1) {
		got = append(got, k[1])
	}
	if !slices.Equal(got, append([]string{"silences"}, want[1:]...)) || !strings.Contains(string(body), `"created_by":"ops@example.com"`) {
		t.Errorf("GET /api/v1/silences: %s, want the keys %v of the README, created by ops@example.com", body, want)
	}
}

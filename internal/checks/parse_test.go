package checks

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func i64(n int64) *int64 { return &n }

// httpCheck is what Parse makes of an http check with only a URL.
func httpCheck(name, url string) Check {
	return Check{Name: strings.ToLower(strings.TrimPrefix(name, "CHECK_")), Var: name, Kind: HTTP, URL: url,
		Every: time.Minute, Timeout: 10 * time.Second, Fail: 2, Pass: 1, Status: Statuses{"2xx"}, Method: "GET", CertDays: 14}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, varName, value string
		want                 func(c *Check)
	}{
		{"issue http", "CHECK_API", "http https://myapp.herokuapp.com/health every=30s timeout=5s status=200", func(c *Check) {
			*c = httpCheck("CHECK_API", "https://myapp.herokuapp.com/health")
			c.Every, c.Timeout, c.Status = 30*time.Second, 5*time.Second, Statuses{"200"}
		}},
		{"issue redis", "CHECK_QUEUE", "redis env:REDIS_URL list=jobs max=1000 every=1m timeout=3s", func(c *Check) {
			*c = Check{Name: "queue", Var: "CHECK_QUEUE", Kind: Redis, URLVar: "REDIS_URL", Every: time.Minute, Timeout: 3 * time.Second,
				Fail: 2, Pass: 1, List: "jobs", Max: i64(1000)}
		}},
		{"issue postgres", "CHECK_DB", "postgres env:DATABASE_URL table=users every=1m timeout=5s", func(c *Check) {
			*c = Check{Name: "db", Var: "CHECK_DB", Kind: Postgres, URLVar: "DATABASE_URL", Every: time.Minute, Timeout: 5 * time.Second,
				Fail: 2, Pass: 1, Table: "users"}
		}},
		{"defaults", "CHECK_WEB", "http http://example.com", func(c *Check) { *c = httpCheck("CHECK_WEB", "http://example.com") }},
		{"short every halves the default timeout", "CHECK_WEB", "http http://example.com every=5s", func(c *Check) {
			*c = httpCheck("CHECK_WEB", "http://example.com")
			c.Every, c.Timeout = 5*time.Second, 2500*time.Millisecond
		}},
		{"every http option", "CHECK_My_Api",
			"http\thttps://u:pw@example.com/h?x=1   method=post status=200,2XX,301,200 contains=\"all \\\"good\\\"\" max_latency=750ms " +
				`header="X-Token: abc" header="Accept:text/plain" follow_redirects=true cert_days=0 fail=3 pass=2 app=shop-prod severity=warning`,
			func(c *Check) {
				*c = httpCheck("CHECK_My_Api", "https://u:pw@example.com/h?x=1")
				c.Name, c.Method, c.Status, c.Contains, c.MaxLatency = "my_api", "POST", Statuses{"200", "2xx", "301"}, `all "good"`, 750*time.Millisecond
				c.Headers = []Header{{"X-Token", "abc"}, {"Accept", "text/plain"}}
				c.FollowRedirects, c.CertDays, c.Fail, c.Pass, c.App, c.Severity = true, 0, 3, 2, "shop-prod", "warning"
			}},
		{"redis ping over TLS, verified", "CHECK_CACHE", "redis rediss://:pw@ec2-1-2-3-4.compute-1.amazonaws.com:6380 tls_verify=true", func(c *Check) {
			*c = Check{Name: "cache", Var: "CHECK_CACHE", Kind: Redis, URL: "rediss://:pw@ec2-1-2-3-4.compute-1.amazonaws.com:6380",
				Every: time.Minute, Timeout: 10 * time.Second, Fail: 2, Pass: 1, TLSVerify: true}
		}},
		{"redis list without max, quoted key", "CHECK_Q", `redis redis://localhost:6379/2 list="queue:default jobs"`, func(c *Check) {
			*c = Check{Name: "q", Var: "CHECK_Q", Kind: Redis, URL: "redis://localhost:6379/2", Every: time.Minute, Timeout: 10 * time.Second,
				Fail: 2, Pass: 1, List: "queue:default jobs"}
		}},
		{"postgres socket, schema-qualified table", "CHECK_DB", `postgres "postgres:///app?host=/var/run" table=audit.Events`, func(c *Check) {
			*c = Check{Name: "db", Var: "CHECK_DB", Kind: Postgres, URL: "postgres:///app?host=/var/run", Every: time.Minute,
				Timeout: 10 * time.Second, Fail: 2, Pass: 1, Table: "audit.Events"}
		}},
		{"days, as every duration in dynowatch takes them", "CHECK_X", "http https://x.test every=1d timeout=1h30m", func(c *Check) {
			*c = httpCheck("CHECK_X", "https://x.test")
			c.Every, c.Timeout = 24*time.Hour, 90*time.Minute
		}},
		{"spaces around", "CHECK_WEB", "  http   http://example.com   every=2m  ", func(c *Check) {
			*c = httpCheck("CHECK_WEB", "http://example.com")
			c.Every = 2 * time.Minute
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.varName, c.value)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var want Check
			c.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("Parse(%q) (-want +got):\n%s", c.value, diff)
			}
			// What String shows parses back to the same check (no secrets here
			// but the URL's, which format(false) keeps).
			again, err := Parse(c.varName, got.format(false))
			if err != nil || !cmp.Equal(got, again) {
				t.Fatalf("Parse(format(%q)) = %+v, %v; want the same check", got.format(false), again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, varName, value string
		want                 string // in the error, after the var's name
	}{
		{"not a check var", "API", "http http://x.com", "CHECK_ and a name"},
		{"no name", "CHECK_", "http http://x.com", "CHECK_ and a name"},
		{"dash in name", "CHECK_MY-API", "http http://x.com", "CHECK_ and a name"},
		{"empty", "CHECK_API", "  ", "it is empty"},
		{"unknown type", "CHECK_API", "https https://x.com", "the type https is unknown"},
		{"no target", "CHECK_API", "http", "no target after http"},
		{"option as target", "CHECK_API", "http every=30s", "no target after http"},
		{"wrong scheme", "CHECK_API", "http ftp://x.com", "target ftp://x.com: want a URL starting http:// or https://"},
		{"redis scheme for postgres", "CHECK_DB", "postgres redis://x.com", "want a URL starting postgres:// or postgresql://"},
		{"no host", "CHECK_API", "http https:///health", "no host"},
		{"bad redis URL option", "CHECK_Q", "redis redis://x.com:6379?nope=1", "unexpected option"},
		{"bad env var", "CHECK_Q", "redis env:1BAD", "does not name a config var"},
		{"unknown option", "CHECK_API", "http http://x.com evry=30s", "unknown option evry=; http options are cert_days=, contains=, "},
		{"other kind's option", "CHECK_API", "http http://x.com list=jobs", "option list= is for redis checks; http options are"},
		{"twice", "CHECK_API", "http http://x.com every=1m every=2m", "option every= is given twice"},
		{"bad duration", "CHECK_API", "http http://x.com every=30", "every=30: want a duration from 1s to 1d"},
		{"every too short", "CHECK_API", "http http://x.com every=500ms", "every=500ms: want a duration"},
		{"every over a day", "CHECK_API", "http http://x.com every=1d1s", "every=1d1s: want a duration from 1s to 1d"},
		{"every in weeks", "CHECK_API", "http http://x.com every=1w", "every=1w: want a duration"},
		{"timeout not under every", "CHECK_API", "http http://x.com every=30s timeout=30s", "timeout=30s is not under every=30s"},
		{"default timeout not under a short every is fine, set one is not", "CHECK_API", "http http://x.com every=5s timeout=10s", "timeout=10s is not under every=5s"},
		{"fail 0", "CHECK_API", "http http://x.com fail=0", "fail=0: want a number of consecutive runs from 1 to 100"},
		{"pass too many", "CHECK_API", "http http://x.com pass=101", "pass=101: want a number"},
		{"bad app", "CHECK_API", "http http://x.com app=Shop", "app=Shop: want a Heroku app name"},
		{"bad severity", "CHECK_API", "http http://x.com severity=page", `severity=page: severity "page"`},
		{"status 600", "CHECK_API", "http http://x.com status=600", "status=600: want statuses (200) or classes (2xx)"},
		{"status 2x", "CHECK_API", "http http://x.com status=2x", "status=2x: want statuses"},
		{"status empty item", "CHECK_API", "http http://x.com status=200,", "status=200,: want statuses"},
		{"bad method", "CHECK_API", "http http://x.com method=FETCH", "method=FETCH: want GET, HEAD"},
		{"empty contains", "CHECK_API", "http http://x.com contains=", `contains="": want the text`},
		{"contains with HEAD", "CHECK_API", "http http://x.com method=HEAD contains=ok", "contains= needs a body"},
		{"max_latency over timeout", "CHECK_API", "http http://x.com timeout=2s max_latency=2s", "max_latency=2s is not under timeout=2s"},
		{"header without colon", "CHECK_API", `http http://x.com header="X-Token abc"`, "header=(value hidden): want \"Name: value\""},
		{"bad header name", "CHECK_API", `http http://x.com header="X Token: abc"`, "header=(value hidden)"},
		{"bad bool", "CHECK_API", "http http://x.com follow_redirects=yes", "follow_redirects=yes: want true or false"},
		{"bad cert_days", "CHECK_API", "http http://x.com cert_days=-1", "cert_days=-1: want a number of days"},
		{"max without list", "CHECK_Q", "redis redis://x.com max=10", "max= needs list="},
		{"negative max", "CHECK_Q", "redis redis://x.com list=jobs max=-1", "max=-1: want the most items"},
		{"empty list", "CHECK_Q", "redis redis://x.com list=", `list="": want the key of a list`},
		{"bad table", "CHECK_DB", `postgres postgres://x.com/d table="users; drop table users"`, "want a table name"},
		{"three-part table", "CHECK_DB", "postgres postgres://x.com/d table=a.b.c", "want a table name"},
		{"unterminated quote", "CHECK_API", `http http://x.com contains="all good`, "word 3 has no closing quote"},
		{"bad escape", "CHECK_API", `http http://x.com contains="a\qb"`, "bad escape"},
		{"quote inside a word", "CHECK_API", `http http://x.com contains=all"good"`, "has a quote inside"},
		{"text after a quote", "CHECK_API", `http http://x.com contains="all"good`, "goes on after its closing quote"},
		{"not key=value", "CHECK_API", "http http://x.com every 30s", "every is not key=value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.varName, c.value)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Parse(%q) = %v, want a *ConfigError", c.value, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config var "+c.varName+": ") || !strings.Contains(msg, c.want) {
				t.Fatalf("Parse(%q) error:\n%s\nwant it to name %s and contain %q", c.value, msg, c.varName, c.want)
			}
			// The example is a good check of the same kind, under the same var.
			ex, _ := strings.CutPrefix(ce.Example, c.varName+"=")
			if ex == ce.Example {
				t.Fatalf("example %s is not for %s", ce.Example, c.varName)
			}
			if _, err := Parse("CHECK_X", strings.Trim(ex, `"`)); err != nil {
				t.Fatalf("the example %s does not parse: %v", ce.Example, err)
			}
		})
	}
}

// No error and no String shows a password or a header's value.
func TestParseRedacts(t *testing.T) {
	t.Parallel()
	const secret = "s3cretpw"
	for _, value := range []string{
		"redis redis://:s3cretpw@x.com:6379 list=jobs max=-1",
		"redis rediss://h:s3cretpw@x.com:6379/99x",
		"http https://user:s3cretpw@x.com bogus=1",
		"http https://user:s3cretpw@x.com?api_key=s3cretpw every=nope",
		"http https://x.com?token=s3cretpw timeout=1h",
		`http https://x.com header="X Token: s3cretpw"`,
		"postgres postgres://u:s3cretpw@x.com/d?sslmode=require table=1x",
		"postgres ftp://u:s3cretpw@x.com/d",
		"https://u:s3cretpw@x.com",
		"http https://u:s3cretpw@x.com every=1m timeout=1m",
	} {
		_, err := Parse("CHECK_X", value)
		if err == nil {
			t.Fatalf("Parse(%q) succeeded, want an error", value)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Parse(%q) error leaks the secret: %v", value, err)
		}
	}
	c, err := Parse("CHECK_X", `http https://user:s3cretpw@x.com/h?token=s3cretpw&page=2 header="Authorization: Bearer s3cretpw"`)
	if err != nil {
		t.Fatal(err)
	}
	s := c.String()
	if strings.Contains(s, secret) || !strings.Contains(s, "https://user:xxxxx@x.com/h?page=2&token=xxxxx") || !strings.Contains(s, `header="Authorization: xxxxx"`) {
		t.Fatalf("String() = %s, want the password, token and header value redacted", s)
	}
	if got := c.Target(); strings.Contains(got, secret) {
		t.Fatalf("Target() = %s", got)
	}
}

func TestCheckString(t *testing.T) {
	t.Parallel()
	c, err := Parse("CHECK_QUEUE", "redis env:REDIS_URL list=jobs max=1000 every=1m timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	want := "redis env:REDIS_URL every=1m timeout=3s fail=2 pass=1 list=jobs max=1000 tls_verify=false"
	if got := c.String(); got != want {
		t.Fatalf("String() = %s\nwant        %s", got, want)
	}
	c, err = Parse("CHECK_API", `http https://x.com every=1h30m timeout=1m30s contains="all good"`)
	if err != nil {
		t.Fatal(err)
	}
	want = `http https://x.com every=1h30m timeout=1m30s fail=2 pass=1 status=2xx method=GET contains="all good" follow_redirects=false cert_days=14`
	if got := c.String(); got != want {
		t.Fatalf("String() = %s\nwant        %s", got, want)
	}
}

func TestStatusesMatch(t *testing.T) {
	t.Parallel()
	s := Statuses{"200", "3xx"}
	for code, want := range map[int]bool{200: true, 204: false, 301: true, 399: true, 404: false, 500: false, 20: false} {
		if got := s.Match(code); got != want {
			t.Errorf("%v.Match(%d) = %v, want %v", s, code, got, want)
		}
	}
}

// lookupMap returns a lookup of env, as config.Config.LookupEnv is.
func lookupMap(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) { v, ok := env[name]; return v, ok }
}

func TestParseVars(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"CHECK_QUEUE": "redis env:REDIS_URL list=jobs max=1000",
		"CHECK_API":   "http https://myapp.herokuapp.com/health",
		"CHECK_DB":    "postgres env:DATABASE_URL table=users",
	}
	env := lookupMap(map[string]string{
		"REDIS_URL":    "rediss://:pw@ec2-1-2-3-4.compute-1.amazonaws.com:6380",
		"DATABASE_URL": "postgres://u:pw@ec2-5-6-7-8.compute-1.amazonaws.com:5432/d8x",
	})
	cs, err := ParseVars(vars, env)
	if err != nil {
		t.Fatalf("ParseVars: %v", err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	if want := []string{"api", "db", "queue"}; !cmp.Equal(names, want) {
		t.Fatalf("ParseVars names %v, want %v", names, want)
	}
	if cs, err := ParseVars(nil, env); err != nil || len(cs) != 0 {
		t.Fatalf("ParseVars without checks = %v, %v", cs, err)
	}
	if _, err := ParseVars(vars, nil); err == nil || !strings.Contains(err.Error(), "its target env:DATABASE_URL is not set") {
		t.Fatalf("ParseVars with a nil lookup = %v, want env: targets unset", err)
	}
}

func TestParseVarsErrors(t *testing.T) {
	t.Parallel()
	cs, err := ParseVars(map[string]string{
		"CHECK_API":   "http https://myapp.herokuapp.com/health",
		"CHECK_api":   "http https://other.herokuapp.com/health",
		"CHECK_QUEUE": "redis env:QUEUE_REDIS_URL list=jobs",
		"CHECK_DB":    "postgres env:DATABASE_URL",
		"CHECK_BAD":   "http every=1m",
		"CHECK_GOOD":  "http https://x.com",
	}, lookupMap(map[string]string{"DATABASE_URL": "mysql://u:s3cretpw@x.com/d"}))
	if err == nil || cs != nil {
		t.Fatalf("ParseVars = %v, %v; want no checks and an error", cs, err)
	}
	msg := err.Error()
	for _, want := range []string{
		"config var CHECK_api: names the same check as CHECK_API",
		"config var CHECK_QUEUE: its target env:QUEUE_REDIS_URL is not set",
		"config var CHECK_DB: its target env:DATABASE_URL holds mysql://u:xxxxx@x.com/d: want a URL starting postgres:// or postgresql://",
		"config var CHECK_BAD: no target after http",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("ParseVars error:\n%s\nwant it to contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cretpw") || strings.Contains(msg, "CHECK_GOOD") {
		t.Errorf("ParseVars error leaks a secret or blames a good var:\n%s", msg)
	}
	if n := strings.Count(msg, "\n") + 1; n != 4 {
		t.Errorf("ParseVars error has %d lines, want one a bad var:\n%s", n, msg)
	}
}

func TestResolveURL(t *testing.T) {
	t.Parallel()
	c, err := Parse("CHECK_Q", "redis env:QUEUE_REDIS_URL list=jobs")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"QUEUE_REDIS_URL": "redis://:old@h:6379"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, want := range []string{"redis://:old@h:6379", "redis://:new@h:6379"} {
		env["QUEUE_REDIS_URL"] = want // Heroku rotated the credentials
		if got, err := c.ResolveURL(lookup); err != nil || got != want {
			t.Fatalf("ResolveURL = %q, %v; want %q", got, err, want)
		}
	}
	env["QUEUE_REDIS_URL"] = "http://:s3cretpw@h"
	if _, err := c.ResolveURL(lookup); err == nil || strings.Contains(err.Error(), "s3cretpw") || !strings.Contains(err.Error(), "CHECK_Q") {
		t.Fatalf("ResolveURL of a bad URL = %v", err)
	}
	delete(env, "QUEUE_REDIS_URL")
	if _, err := c.ResolveURL(lookup); err == nil || !strings.Contains(err.Error(), "QUEUE_REDIS_URL is not set") {
		t.Fatalf("ResolveURL of an unset var = %v", err)
	}
}

// FuzzParse checks that Parse never panics, that what it accepts is
// consistent, and that a check's full form parses back to the same check.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"http https://myapp.herokuapp.com/health every=30s timeout=5s status=200",
		"redis env:REDIS_URL list=jobs max=1000 every=1m timeout=3s",
		"postgres env:DATABASE_URL table=users every=1m timeout=5s",
		`http https://x.com contains="all good" header="X-Token: abc" header="A: b" status=2xx,301 method=head`,
		`http https://u:p@x.com/h?q=1 max_latency=1s timeout=2s every=3s follow_redirects=true cert_days=7 app=shop severity=info`,
		`redis rediss://:p@h:6380/3 list="a b" tls_verify=true fail=5 pass=3`,
		`postgres postgres:///d table=s.t`,
		`http "https://x.com/a b" contains="\u00e9\t\"\\"`,
		`http https://x.com contains="unterminated`,
		"http https://x.com every=",
		"\t",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		c, err := Parse("CHECK_FUZZ", value)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Var != "CHECK_FUZZ" {
				t.Fatalf("Parse(%q) = %v, want a *ConfigError naming the var", value, err)
			}
			return
		}
		if c.Name != "fuzz" || c.Timeout <= 0 || c.Timeout >= c.Every || c.Every < MinEvery || c.Fail < 1 || c.Pass < 1 {
			t.Fatalf("Parse(%q) accepted an inconsistent check: %+v", value, c)
		}
		if (c.URL == "") == (c.URLVar == "") {
			t.Fatalf("Parse(%q) = URL %q, URLVar %q; want exactly one", value, c.URL, c.URLVar)
		}
		full := c.format(false)
		again, err := Parse("CHECK_FUZZ", full)
		if err != nil {
			t.Fatalf("Parse(%q) = %v; it is the full form of Parse(%q)", full, err, value)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("Parse(%q) round trip through %q (-first +again):\n%s", value, full, diff)
		}
		_ = c.String()
	})
}

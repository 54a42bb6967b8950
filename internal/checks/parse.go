package checks

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/duration"
	"github.com/dynowatch/dynowatch/internal/endpoint"
	"github.com/dynowatch/dynowatch/internal/heroku"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// VarPrefix starts the name of every check's config var.
const VarPrefix = "CHECK_"

// ParseVars parses the CHECK_<NAME> vars (name → value), sorted by name.
// A target env:VAR must name a var that lookup (os.LookupEnv's shape; nil
// finds none) finds holding a URL of the check's kind. It returns every
// problem at once, as ConfigErrors joined, and no checks when there is one.
func ParseVars(vars map[string]string, lookup func(string) (string, bool)) ([]Check, error) {
	var checks []Check
	var errs []error
	byName := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		c, err := Parse(name, vars[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, dup := byName[c.Name]; dup {
			errs = append(errs, configError(name, c.Kind, "names the same check as %s (check names are not case-sensitive)", other))
			continue
		}
		byName[c.Name] = name
		if c.URLVar != "" {
			v, ok := lookupIn(lookup, c.URLVar)
			if problem := resolveProblem(&c, v, ok); problem != "" {
				errs = append(errs, configError(name, c.Kind, "%s", problem))
				continue
			}
		}
		checks = append(checks, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return checks, nil
}

var (
	checkName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	varName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// table is an unquoted identifier, optionally schema-qualified; Postgres
	// folds it to lower case.
	tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$`)
	// headerName is an HTTP token (RFC 9110).
	headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// Parse reads the value of the config var name (CHECK_<NAME>): a type
// (http, redis or postgres), a target (a URL, or env:VAR for the config var
// that holds it), then key=value options, values with spaces in double
// quotes:
//
//	http https://myapp.herokuapp.com/health every=30s timeout=5s status=200,204 contains="all good" header="X-Token: abc"
//	redis env:REDIS_URL list=jobs max=1000 every=1m timeout=3s
//	postgres env:DATABASE_URL table=public.users
//
// Unknown options and bad values are errors (a *ConfigError); no error text
// contains a password of the target or a header's value.
func Parse(name, value string) (Check, error) {
	suffix, ok := strings.CutPrefix(name, VarPrefix)
	if !ok || !checkName.MatchString(suffix) {
		return Check{}, configError(name, "", "a check's var is CHECK_ and a name of letters, digits and _")
	}
	c := Check{Name: strings.ToLower(suffix), Var: name, Every: DefaultEvery, Fail: DefaultFail, Pass: DefaultPass}
	l := lexer{s: value}
	err := c.parseHead(&l)
	if err == nil {
		var set map[string]bool
		if set, err = c.parseOptions(&l); err == nil {
			err = c.crossCheck(set["timeout"])
		}
	}
	if err != nil {
		return Check{}, configError(name, c.Kind, "%v", err)
	}
	return c, nil
}

// parseHead reads the type and the target. It sets c.Kind only to a known
// kind, so that errors show an example of it.
func (c *Check) parseHead(l *lexer) error {
	if l.done() {
		return errors.New("it is empty; want a type (http, redis or postgres), a target and options")
	}
	kind, err := l.word()
	if err != nil {
		return err
	}
	switch Kind(kind) {
	case HTTP:
		c.Status, c.Method, c.CertDays = Statuses{"2xx"}, "GET", DefaultCertDays
	case Redis, Postgres:
	default:
		return fmt.Errorf("the type %s is unknown; want http, redis or postgres first", quote(clipWord(kind)))
	}
	c.Kind = Kind(kind)
	if l.done() {
		return fmt.Errorf("no target after %s; want a URL or env:VAR", kind)
	}
	target, err := l.word()
	if err != nil {
		return err
	}
	if v, ok := strings.CutPrefix(target, "env:"); ok {
		if !varName.MatchString(v) {
			return fmt.Errorf("env:%s does not name a config var", quote(clipWord(v)))
		}
		c.URLVar = v
		return nil
	}
	if strings.Contains(target, "=") && !strings.Contains(target, "://") {
		return fmt.Errorf("no target after %s; want a URL or env:VAR before the options", kind)
	}
	if err := validURL(c.Kind, target); err != nil {
		return fmt.Errorf("target %s: %v", redact.URL(target), err)
	}
	c.URL = target
	return nil
}

// parseOptions reads the key=value options and returns the keys given.
func (c *Check) parseOptions(l *lexer) (map[string]bool, error) {
	set := map[string]bool{}
	for !l.done() {
		key, v, err := l.option()
		if err != nil {
			return nil, err
		}
		o, ok := options[key]
		switch {
		case !ok:
			return nil, fmt.Errorf("unknown option %s=; %s", clipWord(key), optionList(c.Kind))
		case o.kind != "" && o.kind != c.Kind:
			return nil, fmt.Errorf("option %s= is for %s checks; %s", key, o.kind, optionList(c.Kind))
		case set[key] && key != "header":
			return nil, fmt.Errorf("option %s= is given twice", key)
		}
		set[key] = true
		if err := o.set(c, v); err != nil {
			shown := quote(clipWord(v))
			if key == "header" {
				shown = "(value hidden)" // it may be a token
			}
			return nil, fmt.Errorf("%s=%s: %v", key, shown, err)
		}
	}
	return set, nil
}

// crossCheck applies the defaults that depend on other options and checks
// the options against each other.
func (c *Check) crossCheck(timeoutSet bool) error {
	if !timeoutSet {
		c.Timeout = min(DefaultTimeout, c.Every/2)
	}
	switch {
	case c.Timeout >= c.Every:
		return fmt.Errorf("timeout=%s is not under every=%s: a run must end before the next one starts", duration.Format(c.Timeout), duration.Format(c.Every))
	case c.MaxLatency > 0 && c.MaxLatency >= c.Timeout:
		return fmt.Errorf("max_latency=%s is not under timeout=%s: the timeout would end the run first", duration.Format(c.MaxLatency), duration.Format(c.Timeout))
	case c.Max != nil && c.List == "":
		return errors.New("max= needs list=, the list whose length it limits")
	case c.Contains != "" && c.Method == "HEAD":
		return errors.New("contains= needs a body, which method=HEAD does not get")
	}
	return nil
}

// option is what one key=value may be given for and how it is read.
type option struct {
	kind Kind // "" for every kind
	set  func(c *Check, v string) error
}

var options = map[string]option{
	"every": {"", func(c *Check, v string) error {
		return setDuration(v, MinEvery, MaxEvery, &c.Every)
	}},
	"timeout": {"", func(c *Check, v string) error {
		return setDuration(v, time.Millisecond, MaxEvery, &c.Timeout)
	}},
	"fail": {"", func(c *Check, v string) error { return parseRuns(v, &c.Fail) }},
	"pass": {"", func(c *Check, v string) error { return parseRuns(v, &c.Pass) }},
	"app": {"", func(c *Check, v string) error {
		if !heroku.ValidApp(v) {
			return errors.New("want " + heroku.AppNameRule)
		}
		c.App = v
		return nil
	}},
	"severity": {"", func(c *Check, v string) error {
		s, err := alert.ParseSeverity(v)
		c.Severity = s
		return err
	}},
	"status": {HTTP, func(c *Check, v string) error {
		c.Status = nil
		for _, s := range strings.Split(v, ",") {
			s = strings.ToLower(strings.TrimSpace(s))
			code, err := strconv.Atoi(s)
			class := len(s) == 3 && s[0] >= '1' && s[0] <= '5' && s[1:] == "xx"
			if !class && (err != nil || code < 100 || code > 599 || len(s) != 3) {
				return errors.New("want statuses (200) or classes (2xx), separated by commas: 200,204 or 2xx,301")
			}
			if !slices.Contains(c.Status, s) {
				c.Status = append(c.Status, s)
			}
		}
		return nil
	}},
	"method": {HTTP, func(c *Check, v string) error {
		m := strings.ToUpper(v)
		if !slices.Contains([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, m) {
			return errors.New("want GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS")
		}
		c.Method = m
		return nil
	}},
	"contains": {HTTP, func(c *Check, v string) error {
		if v == "" {
			return errors.New(`want the text the body must contain, in quotes if it has spaces: contains="all good"`)
		}
		c.Contains = v
		return nil
	}},
	"max_latency": {HTTP, func(c *Check, v string) error {
		return setDuration(v, time.Millisecond, MaxEvery, &c.MaxLatency)
	}},
	"header": {HTTP, func(c *Check, v string) error {
		n, val, ok := strings.Cut(v, ":")
		n, val = strings.TrimSpace(n), strings.TrimSpace(val)
		if !ok || !headerName.MatchString(n) || strings.ContainsAny(val, "\r\n") {
			return errors.New(`want "Name: value" in quotes: header="X-Token: abc"`)
		}
		c.Headers = append(c.Headers, Header{Name: n, Value: val})
		return nil
	}},
	"follow_redirects": {HTTP, func(c *Check, v string) error { return parseBool(v, &c.FollowRedirects) }},
	"cert_days": {HTTP, func(c *Check, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 365 {
			return errors.New("want a number of days from 0 (never warn) to 365, e.g. 14")
		}
		c.CertDays = n
		return nil
	}},
	"list": {Redis, func(c *Check, v string) error {
		if v == "" {
			return errors.New("want the key of a list, e.g. list=jobs")
		}
		c.List = v
		return nil
	}},
	"max": {Redis, func(c *Check, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return errors.New("want the most items the list may hold, a whole number of 0 or more, e.g. max=1000")
		}
		c.Max = &n
		return nil
	}},
	"tls_verify": {Redis, func(c *Check, v string) error { return parseBool(v, &c.TLSVerify) }},
	"table": {Postgres, func(c *Check, v string) error {
		if !tableName.MatchString(v) {
			return errors.New("want a table name, optionally with its schema: users or public.users")
		}
		c.Table = v
		return nil
	}},
}

// optionList names the options a check of kind takes.
func optionList(kind Kind) string {
	var own, common []string
	for k, o := range options {
		switch o.kind {
		case "":
			common = append(common, k+"=")
		case kind:
			own = append(own, k+"=")
		}
	}
	slices.Sort(own)
	slices.Sort(common)
	if len(own) == 0 {
		return "options are " + strings.Join(common, ", ")
	}
	return fmt.Sprintf("%s options are %s and the common %s", kind, strings.Join(own, ", "), strings.Join(common, ", "))
}

// setDuration reads v into dst when it is a duration from lo to hi.
func setDuration(v string, lo, hi time.Duration, dst *time.Duration) error {
	d, err := duration.Parse(v)
	if err != nil || d < lo || d > hi {
		return fmt.Errorf("want a duration from %s to %s, such as 500ms, 30s, 5m, 1h or 1d", duration.Format(lo), duration.Format(hi))
	}
	*dst = d
	return nil
}

func parseRuns(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxRuns {
		return fmt.Errorf("want a number of consecutive runs from 1 to %d", MaxRuns)
	}
	*dst = n
	return nil
}

func parseBool(v string, dst *bool) error {
	switch v {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		return errors.New("want true or false")
	}
	return nil
}

// validURL checks that raw is a URL a check of kind can probe.
func validURL(kind Kind, raw string) error {
	schemes := map[Kind][]string{HTTP: {"http", "https"}, Redis: {"redis", "rediss"}, Postgres: {"postgres", "postgresql"}}[kind]
	if _, err := endpoint.Parse(raw, schemes...); err != nil {
		return err
	}
	if kind == Redis {
		if _, err := redis.ParseURL(raw); err != nil {
			return errors.New(redact.URLScrubber(raw).Scrub(strings.TrimPrefix(err.Error(), "redis: ")))
		}
	}
	return nil
}

// lookupIn finds name with lookup; a nil lookup finds nothing.
func lookupIn(lookup func(string) (string, bool), name string) (string, bool) {
	if lookup == nil {
		return "", false
	}
	return lookup(name)
}

// resolveProblem says what is wrong with the value v of c.URLVar (found
// says whether it is set), or "".
func resolveProblem(c *Check, v string, found bool) string {
	if !found || v == "" {
		return fmt.Sprintf("its target env:%s is not set", c.URLVar)
	}
	if err := validURL(c.Kind, v); err != nil {
		return fmt.Sprintf("its target env:%s holds %s: %v", c.URLVar, redact.URL(v), err)
	}
	return ""
}

// clipWord shortens what a user wrote for an error message, and hides a
// URL's password.
func clipWord(s string) string {
	if strings.Contains(s, "://") {
		s = redact.URL(s)
	}
	if len(s) > 40 {
		i := 40
		for i > 0 && s[i]&0xC0 == 0x80 {
			i--
		}
		s = s[:i] + "…"
	}
	return s
}

// lexer splits a CHECK_ value into words and key=value options, with
// logfmt's quoting: a value in double quotes may hold spaces and Go escapes.
type lexer struct {
	s string
	i int
	n int // words read, for error messages
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// done skips spaces and reports whether nothing is left.
func (l *lexer) done() bool {
	for l.i < len(l.s) && isSpace(l.s[l.i]) {
		l.i++
	}
	return l.i >= len(l.s)
}

// word reads a bare word (up to a space) or a quoted one.
func (l *lexer) word() (string, error) {
	l.n++
	if l.i < len(l.s) && l.s[l.i] == '"' {
		return l.quoted()
	}
	start := l.i
	for l.i < len(l.s) && !isSpace(l.s[l.i]) {
		if l.s[l.i] == '"' {
			return "", fmt.Errorf("word %d has a quote inside; quote a whole value: key=\"a value\"", l.n)
		}
		l.i++
	}
	return l.s[start:l.i], nil
}

func (l *lexer) quoted() (string, error) {
	start := l.i
	for l.i++; l.i < len(l.s); l.i++ {
		switch l.s[l.i] {
		case '\\':
			l.i++
		case '"':
			l.i++
			v, err := strconv.Unquote(l.s[start:l.i])
			if err != nil {
				return "", fmt.Errorf("word %d is quoted with a bad escape; escape only \\\" and \\\\", l.n)
			}
			if l.i < len(l.s) && !isSpace(l.s[l.i]) {
				return "", fmt.Errorf("word %d goes on after its closing quote; put a space after it", l.n)
			}
			return v, nil
		}
	}
	return "", fmt.Errorf("word %d has no closing quote", l.n)
}

// option reads key=value.
func (l *lexer) option() (key, value string, err error) {
	start := l.i
	for l.i < len(l.s) && l.s[l.i] != '=' && !isSpace(l.s[l.i]) {
		l.i++
	}
	key = l.s[start:l.i]
	if l.i >= len(l.s) || l.s[l.i] != '=' {
		return "", "", fmt.Errorf("%s is not key=value; options are like every=30s", quote(clipWord(key)))
	}
	l.i++
	if l.i >= len(l.s) || isSpace(l.s[l.i]) {
		l.n++
		return key, "", nil // an empty value: each option says what it wants
	}
	value, err = l.word()
	return key, value, err
}

package parse

import (
	"fmt"
	"math"
	"strings"
)

// classify sets e.Kind from the source, process and text of the message and
// fills the kind's fields. Lines that match no Heroku format are app lines.
func classify(e *Entry) error {
	err := classifyKind(e)
	if e.Kind != KindRouter && e.Router != (Router{}) {
		e.Router = Router{} // left by an earlier message: see reset
	}
	return err
}

func classifyKind(e *Entry) error {
	msg := e.Message
	switch e.Source {
	case SourceHeroku:
		switch e.Process {
		case "router":
			return parseRouter(e)
		case "api":
			// Older apps have their Platform API events as heroku[api].
			if parsePlatform(e) {
				return nil
			}
		case "logplex":
			if parseLogplexError(e) {
				return nil
			}
		default:
			if ok, err := parseDynoEvent(e); ok || err != nil {
				return err
			}
		}
	case SourceApp:
		switch {
		case e.Process == "api":
			if parsePlatform(e) {
				return nil
			}
		case e.Process == "heroku-postgres" && strings.HasPrefix(msg, "source="):
			return parseAddonMetrics(e, KindPostgresMetrics)
		case e.Process == "heroku-redis" && strings.HasPrefix(msg, "source="):
			return parseAddonMetrics(e, KindRedisMetrics)
		case e.Process == "heroku-pgbouncer" && strings.HasPrefix(msg, "source="):
			return parseAddonMetrics(e, KindPgBouncerMetrics)
		case e.Process == "log-shuttle":
			if parseLogplexError(e) {
				return nil
			}
		case strings.HasPrefix(e.Process, "postgres."): // or an app's process type named postgres: see parsePostgresLog
			if parsePostgresLog(e) {
				return nil
			}
		case strings.HasPrefix(msg, "Error R13 ") && isOneOff(e.Process):
			// R13 is the one R code Heroku writes under the app source, for
			// the one-off dyno itself: app[run.3]. Any other "Error R…" under
			// app is what the app printed, and must not page as a dyno error.
			if parseDynoError(e) {
				return nil
			}
		}
	}
	return parseAppLine(e)
}

// isOneOff reports whether proc is a one-off dyno such as run.3.
func isOneOff(proc string) bool {
	n, ok := strings.CutPrefix(proc, "run.")
	_, isNum := parseInt(n)
	return ok && isNum
}

// routerKeys are the keys of a router line that become fields, in the order Heroku writes them.
var routerKeys = [...]string{"sock", "at", "code", "desc", "cause", "method", "path", "host",
	"request_id", "fwd", "dyno", "connect", "service", "status", "bytes", "protocol", "tls", "tls_version", "queue", "wait"}

// routerKey returns the index of key in routerKeys, or -1.
func routerKey(key string) int {
	switch key {
	case "sock":
		return 0
	case "at":
		return 1
	case "code":
		return 2
	case "desc":
		return 3
	case "cause":
		return 4
	case "method":
		return 5
	case "path":
		return 6
	case "host":
		return 7
	case "request_id":
		return 8
	case "fwd":
		return 9
	case "dyno":
		return 10
	case "connect":
		return 11
	case "service":
		return 12
	case "status":
		return 13
	case "bytes":
		return 14
	case "protocol":
		return 15
	case "tls":
		return 16
	case "tls_version":
		return 17
	case "queue":
		return 18
	case "wait":
		return 19
	}
	return -1
}

// parseRouter fills a router line. It needs at=, or the older form without
// it (see parseLegacy); every other field may be missing or empty, and
// unknown keys are ignored.
//
// Router lines are most of what a drain receives, and nearly all of them
// carry Heroku's keys in Heroku's order: parseOrdered reads those with each
// key known in advance, and parsePairs reads any other line.
func parseRouter(e *Entry) error {
	e.Kind = KindRouter
	r := &e.Router
	if !r.parseOrdered(e.Message) {
		*r = Router{} // it may hold the previous message's: see reset
		if err := r.parsePairs(e.Message); err != nil {
			return err
		}
	}
	return r.check(e.Message)
}

// check completes and checks the router line msg, whose pairs r holds.
func (r *Router) check(msg string) error {
	if r.At == "" && !r.parseLegacy(msg) {
		return fmt.Errorf("%w: router line without at=: %q", ErrMissingField, clipString(msg))
	}
	if err := checkName("router dyno", r.Dyno, MaxName); err != nil {
		return err
	}
	if r.Code != "" && !isCode(r.Code, 'H') {
		return fmt.Errorf("%w: router code=%q is not an H code", ErrBadValue, clipString(r.Code))
	}
	return nil
}

// parsePairs reads the key=value pairs of a router line into r, which must
// be zero: keys are found eight bytes at a time and dispatched by a switch,
// which the compiler turns into a jump on the length and a compare or two.
func (r *Router) parsePairs(s string) error {
	r.ConnectMS, r.ServiceMS, r.Status, r.Bytes, r.Queue, r.WaitMS = Absent, Absent, Absent, Absent, Absent, Absent
	for {
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
		}
		if s == "" {
			return nil
		}
		i := indexEqOrSpace(s, 0)
		if i == len(s) || s[i] == ' ' || i == 0 {
			s = s[indexSpace(s, i):] // a bare word
			continue
		}
		id := routerKey(s[:i])
		s = s[i+1:]
		var v string
		if len(s) > 0 && s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				v, s = s[1:], ""
			} else {
				v, s = s[1:end+1], s[end+2:]
			}
		} else {
			end := indexSpace(s, 0)
			v, s = s[:end], s[end:]
		}
		if err := r.set(id, v); err != nil {
			return err
		}
	}
}

// parseOrdered reads into r a router line whose keys come in the order
// Heroku writes them, one space apart:
//
//	[sock=] at= [code=] [desc=] [cause=] method= path= host= [request_id=] fwd= dyno=
//	connect= service= status= bytes= [protocol=] [tls=] [tls_version=]
//
// Comparing each key with the one expected there costs a fraction of finding
// it and looking it up. On any other line, or a value parsePairs would
// reject, it reports false and leaves r as it was. When it reports true, it
// has written every field of r, as parsePairs would have filled a zero r
// (TestOrderedRouterLines and FuzzRouterOrdered hold it to that).
func (r *Router) parseOrdered(s string) bool {
	// Each key is written out at its place, so that the compiler compares it
	// as a constant: a load or two. Everything is kept in locals until the
	// end: each string written through a pointer costs a write barrier while
	// the GC runs.
	var v Router
	ok := true
	if strings.HasPrefix(s, "sock=") {
		if v.Sock, s, ok = readValue(s, len("sock=")); !ok {
			return false
		}
	}
	if !strings.HasPrefix(s, "at=") {
		return false
	}
	if v.At, s, ok = readValue(s, len("at=")); !ok {
		return false
	}
	if strings.HasPrefix(s, "code=") {
		if v.Code, s, ok = readValue(s, len("code=")); !ok {
			return false
		}
	}
	if strings.HasPrefix(s, "desc=") {
		if v.Desc, s, ok = readValue(s, len("desc=")); !ok {
			return false
		}
	}
	if strings.HasPrefix(s, "cause=") {
		if v.Cause, s, ok = readValue(s, len("cause=")); !ok {
			return false
		}
	}
	if !strings.HasPrefix(s, "method=") {
		return false
	}
	if v.Method, s, ok = readValue(s, len("method=")); !ok {
		return false
	}
	if !strings.HasPrefix(s, "path=") {
		return false
	}
	if v.Path, s, ok = readValue(s, len("path=")); !ok {
		return false
	}
	if !strings.HasPrefix(s, "host=") {
		return false
	}
	if v.Host, s, ok = readValue(s, len("host=")); !ok {
		return false
	}
	if strings.HasPrefix(s, "request_id=") {
		if v.RequestID, s, ok = readValue(s, len("request_id=")); !ok {
			return false
		}
	}
	if !strings.HasPrefix(s, "fwd=") {
		return false
	}
	if v.Fwd, s, ok = readValue(s, len("fwd=")); !ok {
		return false
	}
	if !strings.HasPrefix(s, "dyno=") {
		return false
	}
	if v.Dyno, s, ok = readValue(s, len("dyno=")); !ok {
		return false
	}
	if !strings.HasPrefix(s, "connect=") {
		return false
	}
	if v.ConnectMS, s, ok = readMillis(s, len("connect=")); !ok {
		return false
	}
	if !strings.HasPrefix(s, "service=") {
		return false
	}
	if v.ServiceMS, s, ok = readMillis(s, len("service=")); !ok {
		return false
	}
	if !strings.HasPrefix(s, "status=") {
		return false
	}
	if v.Status, s, ok = readCount(s, len("status="), 999); !ok {
		return false
	}
	if !strings.HasPrefix(s, "bytes=") {
		return false
	}
	var n int
	if n, s, ok = readCount(s, len("bytes="), math.MaxInt); !ok {
		return false
	}
	v.Bytes = int64(n)
	if strings.HasPrefix(s, "protocol=") {
		if v.Protocol, s, ok = readValue(s, len("protocol=")); !ok {
			return false
		}
	}
	if strings.HasPrefix(s, "tls=") {
		if v.TLS, s, ok = readValue(s, len("tls=")); !ok {
			return false
		}
	}
	if strings.HasPrefix(s, "tls_version=") {
		if v.TLSVersion, s, ok = readValue(s, len("tls_version=")); !ok {
			return false
		}
	}
	if s != "" {
		return false
	}
	v.Queue, v.WaitMS = Absent, Absent
	*r = v
	return true
}

// readValue reads the value after the key of n bytes that s starts with, as
// parsePairs would, and one space after it. It returns the value and the
// rest of the line, and false where parsePairs would read differently.
func readValue(s string, n int) (v, rest string, ok bool) {
	s = s[n:]
	if len(s) > 0 && s[0] == '"' {
		end := indexQuote(s, 1)
		if end < 0 {
			return "", "", false // parsePairs takes the rest of the line
		}
		v, s = s[1:end], s[end+1:]
	} else {
		end := indexSpace(s, 0)
		v, s = s[:end], s[end:]
	}
	if s != "" {
		if s[0] != ' ' {
			return "", "", false // a quoted value with the next word stuck to it
		}
		s = s[1:]
	}
	return v, s, true
}

// readMillis reads a duration as readValue reads a value, and as Router.set
// does: Absent when empty.
func readMillis(s string, n int) (int, string, bool) {
	v, rest, ok := readValue(s, n)
	if !ok || v == "" {
		return Absent, rest, ok
	}
	ms, ok := parseMillis(v)
	return ms, rest, ok
}

// readCount reads a number up to limit as readValue reads a value, and as
// Router.set does: Absent when empty.
func readCount(s string, n, limit int) (int, string, bool) {
	v, rest, ok := readValue(s, n)
	if !ok || v == "" {
		return Absent, rest, ok
	}
	c, ok := parseInt(v)
	return c, rest, ok && c <= limit
}

// set stores the value of routerKeys[id]; unknown keys (id -1) are ignored.
func (r *Router) set(id int, v string) error {
	switch id {
	case 0:
		r.Sock = v
	case 1:
		r.At = v
	case 2:
		r.Code = v
	case 3:
		r.Desc = v
	case 4:
		r.Cause = v
	case 5:
		r.Method = v
	case 6:
		r.Path = v
	case 7:
		r.Host = v
	case 8:
		r.RequestID = v
	case 9:
		r.Fwd = v
	case 10:
		r.Dyno = v
	case 11, 12:
		if v == "" {
			return nil
		}
		ms, ok := parseMillis(v)
		if !ok {
			return fmt.Errorf("%w: router %s=%q is not a duration in ms", ErrBadValue, routerKeys[id], v)
		}
		if id == 11 {
			r.ConnectMS = ms
		} else {
			r.ServiceMS = ms
		}
	case 13:
		if v == "" {
			return nil
		}
		n, ok := parseInt(v)
		if !ok || n > 999 {
			return fmt.Errorf("%w: router status=%q is not an HTTP status", ErrBadValue, v)
		}
		r.Status = n
	case 14:
		if v == "" {
			return nil
		}
		n, ok := parseInt(v)
		if !ok {
			return fmt.Errorf("%w: router bytes=%q is not a byte count", ErrBadValue, v)
		}
		r.Bytes = int64(n)
	case 15:
		r.Protocol = v
	case 16:
		r.TLS = v
	case 17:
		r.TLSVersion = v
	case 18:
		if v == "" {
			return nil
		}
		n, ok := parseInt(v)
		if !ok {
			return fmt.Errorf("%w: router queue=%q is not a count", ErrBadValue, v)
		}
		r.Queue = n
	case 19:
		if v == "" {
			return nil
		}
		ms, ok := parseMillis(v)
		if !ok {
			return fmt.Errorf("%w: router wait=%q is not a duration in ms", ErrBadValue, v)
		}
		r.WaitMS = ms
	}
	return nil
}

// parseLegacy reads what the router wrote before at= (until about 2012),
// whose key=value pairs the caller has already read:
//
//	Error H12 (Request timeout) -> POST host/path dyno=web.1 queue= wait= service=30000ms status=503 bytes=0
//	GET host/path dyno=web.1 queue=0 wait=0ms service=226ms status=200 bytes=5
//
// It reports false for any other line. at= is inferred as today's router
// writes it for the code: info for H80–H89, warning for H27 and H28, else error.
func (r *Router) parseLegacy(msg string) bool {
	r.At = "info"
	if rest, ok := strings.CutPrefix(msg, "Error "); ok {
		code, rest, ok1 := strings.Cut(rest, " (")
		desc, rest, ok2 := strings.Cut(rest, ") -> ")
		if !ok1 || !ok2 || !isCode(code, 'H') {
			r.At = ""
			return false
		}
		r.Code, r.Desc, msg = code, desc, rest
		switch {
		case code >= "H80" && code <= "H89":
		case code == "H27" || code == "H28":
			r.At = "warning"
		default:
			r.At = "error"
		}
	}
	method, rest := field(msg)
	target, _ := field(rest)
	if !isHTTPMethod(method) || target == "" || strings.IndexByte(target, '=') >= 0 {
		r.At, r.Code, r.Desc = "", "", ""
		return false
	}
	r.Method = method
	r.Host, r.Path = target, ""
	if i := strings.IndexByte(target, '/'); i >= 0 {
		r.Host, r.Path = target[:i], target[i:]
	}
	return true
}

// isHTTPMethod reports whether s looks like an HTTP method: GET, PROPFIND, …
func isHTTPMethod(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// parseDynoEvent recognises the dyno manager's lines about one dyno. It
// reports false for text it does not know, which is then an app line.
func parseDynoEvent(e *Entry) (bool, error) {
	msg := e.Message
	switch {
	case strings.HasPrefix(msg, "Error R"):
		return parseDynoError(e), nil
	case strings.HasPrefix(msg, "source="):
		return true, parseRuntimeMetrics(e)
	case strings.HasPrefix(msg, "Process running mem="):
		return true, parseMemoryUsage(e)
	case strings.HasPrefix(msg, "State changed from "):
		from, to, ok := strings.Cut(msg[len("State changed from "):], " to ")
		if !ok || from == "" || to == "" {
			return false, nil
		}
		e.Kind = KindStateChange
		e.Lifecycle.From, e.Lifecycle.To = from, to
		return true, nil
	case strings.HasPrefix(msg, "Process exited"):
		return true, parseProcessExit(e)
	case strings.HasPrefix(msg, "Starting process with command"):
		cmd := strings.TrimPrefix(msg[len("Starting process with command"):], ":")
		cmd = strings.TrimSpace(cmd)
		if len(cmd) < 2 || cmd[0] != '`' {
			return false, nil
		}
		end := strings.LastIndexByte(cmd, '`')
		if end == 0 {
			return false, nil
		}
		e.Kind = KindProcessStart
		e.Lifecycle.Command = cmd[1:end]
		return true, nil
	case strings.HasPrefix(msg, "Stopping "):
		// Stopping all processes with SIGTERM, Stopping process with SIGKILL, …
		i := strings.LastIndex(msg, " with SIG")
		if i < 0 {
			return false, nil
		}
		e.Kind = KindProcessStop
		e.Lifecycle.Signal = msg[i+len(" with "):]
		return true, nil
	}
	return false, nil
}

// parseDynoError reads `Error R14 (Memory quota exceeded)` and
// `Error R10 (Boot timeout) -> Web process failed to bind …`.
func parseDynoError(e *Entry) bool {
	rest := e.Message[len("Error "):]
	if len(rest) < 3 || rest[0] != 'R' || !isDigit(rest[1]) || !isDigit(rest[2]) {
		return false
	}
	code, rest := rest[:3], rest[3:]
	var desc, detail string
	if strings.HasPrefix(rest, " (") {
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return false
		}
		desc, rest = rest[2:end], rest[end+1:]
	}
	if d, ok := strings.CutPrefix(rest, " -> "); ok {
		detail = d
	}
	e.Kind = KindDynoError
	e.DynoError = DynoError{Code: code, Desc: desc, Detail: detail}
	return true
}

// parseMemoryUsage reads `Process running mem=1028MB(103.3%)`, which
// Heroku has also written as `mem=807M(157.7%)`.
func parseMemoryUsage(e *Entry) error {
	rest := e.Message[len("Process running mem="):]
	mb, unit := splitNumber(rest)
	v, ok := parseFloat(mb)
	pct, closing := "", ""
	if after, isMB := strings.CutPrefix(unit, "MB("); ok && isMB {
		pct, closing = splitNumber(after)
	} else if after, isM := strings.CutPrefix(unit, "M("); ok && isM {
		pct, closing = splitNumber(after)
	}
	p, ok2 := parseFloat(pct)
	if !ok || !ok2 || !strings.HasPrefix(closing, "%)") {
		return fmt.Errorf("%w: want mem=<n>MB(<pct>%%) or mem=<n>M(<pct>%%) in %q", ErrBadValue, clipString(e.Message))
	}
	e.Kind = KindMemoryUsage
	e.Memory = MemoryUsage{MB: v, Percent: p}
	return nil
}

func parseProcessExit(e *Entry) error {
	e.Kind = KindProcessExit
	e.Lifecycle.ExitStatus = Absent
	rest := strings.TrimSpace(e.Message[len("Process exited"):])
	if rest == "" {
		return nil
	}
	s, ok := strings.CutPrefix(rest, "with status ")
	n, ok2 := parseInt(s)
	if !ok || !ok2 {
		return fmt.Errorf("%w: want `Process exited with status <n>`, got %q", ErrBadValue, clipString(e.Message))
	}
	e.Lifecycle.ExitStatus = n
	return nil
}

// parseLogplexError reads Logplex's and log-shuttle's reports of lost lines:
//
//	Error L10 (output buffer overflow): 500 messages dropped since 2013-04-17T19:04:46+00:00.
//	Error L10 (output buffer overflow): drain 'd.…' dropped 12 messages since 2024-…
//	Error L12: 222 messages dropped since 2024-….
//	L11 (Tail buffer overflow) -> This tail session dropped 1101 messages since …
func parseLogplexError(e *Entry) bool {
	msg := strings.TrimPrefix(e.Message, "Error ")
	if len(msg) < 3 || msg[0] != 'L' || !isDigit(msg[1]) || !isDigit(msg[2]) || (len(msg) > 3 && msg[3] != ' ' && msg[3] != ':') {
		return false
	}
	e.Kind = KindLogplexError
	l := &e.Logplex
	l.Code = msg[:3]
	l.Dropped = Absent
	rest := msg[3:]
	if i := strings.Index(rest, " messages "); i >= 0 {
		j := strings.LastIndexByte(rest[:i], ' ')
		if n, ok := parseInt(rest[j+1 : i]); ok {
			l.Dropped = n
		}
	}
	if _, since, ok := strings.Cut(rest, " since "); ok {
		l.Since = strings.TrimSuffix(strings.TrimSpace(since), ".")
	}
	return true
}

// parsePlatform reads the Platform API's release, deploy and scale events.
func parsePlatform(e *Entry) bool {
	msg := e.Message
	switch {
	case strings.HasPrefix(msg, "Release v"):
		version, rest := field(msg[len("Release "):])
		by, ok := strings.CutPrefix(rest, "created by ")
		if !ok {
			return false
		}
		e.Kind = KindRelease
		e.Platform.Version = version
		e.Platform.User = strings.TrimPrefix(by, "user ")
		return true
	case strings.HasPrefix(msg, "Deploy "):
		commit, rest := field(msg[len("Deploy "):])
		by, ok := strings.CutPrefix(rest, "by ")
		if !ok {
			return false
		}
		e.Kind = KindDeploy
		e.Platform.Commit = commit
		e.Platform.User = strings.TrimPrefix(by, "user ")
		return true
	case strings.HasPrefix(msg, "Scaled to "):
		return parseScale(e)
	case strings.HasPrefix(msg, "Scale to "):
		return parseOldScale(e)
	}
	return false
}

// parseOldScale reads the older `Scale to web=1, worker=2 by x@example.com`,
// which names no dyno size.
func parseOldScale(e *Entry) bool {
	spec, by, _ := strings.Cut(e.Message[len("Scale to "):], " by ")
	var formation []Formation
	for _, f := range strings.Fields(strings.ReplaceAll(spec, ",", " ")) {
		typ, qty, ok := strings.Cut(f, "=")
		n, ok2 := parseInt(qty)
		if !ok || !ok2 || typ == "" {
			return false
		}
		formation = append(formation, Formation{Type: typ, Quantity: n})
	}
	if len(formation) == 0 {
		return false
	}
	e.Kind = KindScale
	e.Platform.Formation = formation
	e.Platform.User = strings.TrimPrefix(by, "user ")
	return true
}

// parseScale reads `Scaled to mailer@3:Performance-L web@5:Standard-2X by user x`.
func parseScale(e *Entry) bool {
	spec, by, _ := strings.Cut(e.Message[len("Scaled to "):], " by ")
	var formation []Formation
	for _, f := range strings.Fields(spec) {
		typ, rest, ok1 := strings.Cut(f, "@")
		qty, size, ok2 := strings.Cut(rest, ":")
		n, ok3 := parseInt(qty)
		if !ok1 || !ok2 || !ok3 || typ == "" {
			return false
		}
		formation = append(formation, Formation{Type: typ, Quantity: n, Size: size})
	}
	if len(formation) == 0 {
		return false
	}
	e.Kind = KindScale
	e.Platform.Formation = formation
	e.Platform.User = strings.TrimPrefix(by, "user ")
	return true
}

// postgresSeverities are the message levels of a Postgres server log line.
var postgresSeverities = [...]string{"LOG", "ERROR", "FATAL", "PANIC", "WARNING", "NOTICE", "INFO", "DEBUG",
	"STATEMENT", "DETAIL", "HINT", "CONTEXT", "QUERY", "LOCATION"}

// parsePostgresLog reads a Heroku Postgres server log line:
//
//	[RED] [1846263-1]  sql_error_code = 23503 ERROR:  insert or update …
//	[15521-1] [CHARCOAL] LOG: checkpoint starting: time
//	[DATABASE] [9-1]  sql_error_code = 00000 time_ms = "…" pid="1991397" … LOG:  duration: …
func parsePostgresLog(e *Entry) bool {
	rest := e.Message
	var p PostgresLog
	numbered := false
	for strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return false
		}
		tag := rest[1:end]
		if seq, part, ok := sequence(tag); ok {
			numbered, p.Seq, p.Part = true, seq, part
		} else {
			p.Attachment = tag
		}
		rest = strings.TrimLeft(rest[end+1:], " ")
	}
	// Heroku Postgres numbers every line it drains ([1846263-1]: the
	// statement and its part). A line without that number is not Heroku
	// Postgres's: an app's own process type named postgres has dynos
	// postgres.1, postgres.2, … as Heroku Postgres's processes are
	// postgres.<pid>, and its "ERROR:" must not count as the database's.
	if !numbered {
		return false
	}
	if after, ok := strings.CutPrefix(rest, "sql_error_code = "); ok {
		p.SQLErrorCode, rest = field(after)
	}
	// The severity is the first word that is a level followed by a colon;
	// newer lines put key=value metadata before it. A continuation without
	// a code is the message's own text, where such a word means nothing
	// unless it comes first.
	for text := rest; text != ""; {
		var word string
		word, text = field(text)
		if sev, ok := strings.CutSuffix(word, ":"); ok && isPostgresSeverity(sev) {
			p.Severity = sev
			rest = strings.TrimLeft(text, " ")
			break
		}
		if p.SQLErrorCode == "" && p.Part > 1 {
			break
		}
	}
	if p.SQLErrorCode == "" && p.Severity == "" && p.Part < 2 {
		return false
	}
	p.Message = rest
	e.Kind = KindPostgresLog
	e.Postgres = p
	return true
}

// sequence reads the [1846263-2] of a Postgres line: its number and part.
func sequence(tag string) (seq, part int, ok bool) {
	s, p, ok := strings.Cut(tag, "-")
	seq, ok1 := parseInt(s)
	part, ok2 := parseInt(p)
	return seq, part, ok && ok1 && ok2
}

func isPostgresSeverity(s string) bool {
	for _, sev := range postgresSeverities {
		if s == sev {
			return true
		}
	}
	return false
}

// parseAppLine keeps app output as it is, with its key=value pairs and
// l2met-style measure#, sample# and count# metrics picked out.
func parseAppLine(e *Entry) error {
	e.Kind = KindApp
	if strings.IndexByte(e.Message, '=') < 0 {
		return nil
	}
	var pairs []Pair
	var metrics []Metric
	for key, value, rest, ok := nextPair(e.Message); ok; key, value, rest, ok = nextPair(rest) {
		if typ, name, ok := strings.Cut(key, "#"); ok && (typ == "measure" || typ == "sample" || typ == "count") && name != "" {
			num, unit := splitNumber(value)
			if v, ok := parseFloat(num); ok {
				metrics = append(metrics, Metric{Type: typ, Name: name, Value: v, Unit: unit})
				continue
			}
		}
		pairs = append(pairs, Pair{Key: key, Value: value})
	}
	e.App = AppLine{Pairs: pairs, Metrics: metrics}
	return nil
}

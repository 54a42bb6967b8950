package parse

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// routerMessages returns the text of every router line in the fixtures, good
// or bad, and of the benchmark's body.
func routerMessages(tb testing.TB) []string {
	tb.Helper()
	var msgs []string
	for _, path := range []string{"testdata/mixed.txt", realTxt, samplesTxt} {
		sc := bufio.NewScanner(bytes.NewReader(readFixture(tb, path)))
		for sc.Scan() {
			if _, msg, ok := strings.Cut(sc.Text(), " heroku[router]: "); ok {
				msgs = append(msgs, msg)
			}
		}
	}
	body, _ := batch()
	for _, b := range [][]byte{body, readFixture(tb, samplesLogplex)} {
		for line := range strings.Lines(string(b)) {
			if _, msg, ok := strings.Cut(line, " host heroku router - "); ok {
				msgs = append(msgs, strings.TrimSuffix(msg, "\n"))
			}
		}
	}
	return msgs
}

// parseRouterPairs parses a router line without parseOrdered: what
// parseRouter must give for any line.
func parseRouterPairs(e *Entry) error {
	e.Kind = KindRouter
	if err := e.Router.parsePairs(e.Message); err != nil {
		return err
	}
	return e.Router.check(e.Message)
}

// sameAsPairs fails t unless parseRouter, with its ordered path, gives msg
// exactly the entry and error parsePairs gives it. It reports whether the
// ordered path read the line.
func sameAsPairs(t *testing.T, msg string) bool {
	t.Helper()
	fast := Entry{Source: SourceHeroku, Process: "router", Message: msg}
	errFast := parseRouter(&fast)
	general := Entry{Source: SourceHeroku, Process: "router", Message: msg}
	errGeneral := parseRouterPairs(&general)
	if (errFast == nil) != (errGeneral == nil) || (errFast != nil && errFast.Error() != errGeneral.Error()) {
		t.Fatalf("%q: error %v, parsePairs gives %v", msg, errFast, errGeneral)
	}
	if diff := cmp.Diff(general, fast); diff != "" {
		t.Fatalf("%q: entry differs from parsePairs' (-pairs +parseRouter):\n%s", msg, diff)
	}
	var r Router
	return r.parseOrdered(msg)
}

// TestOrderedRouterLines checks that the ordered path reads Heroku's router
// lines of today (and so is worth having) exactly as parsePairs does, and
// that every other form falls back to parsePairs.
func TestOrderedRouterLines(t *testing.T) {
	ordered, all := 0, 0
	for _, msg := range routerMessages(t) {
		all++
		if sameAsPairs(t, msg) {
			ordered++
		}
	}
	// 104 of the 113: all 66 of the benchmark body, and most of the
	// fixtures', which also hold the pre-2013 forms and mangled lines.
	if ordered < 100 {
		t.Errorf("ordered path read %d of %d router lines", ordered, all)
	}
	for _, c := range []struct {
		msg     string
		ordered bool
	}{
		{`at=info method=GET path="/" host=h request_id=r fwd="1.2.3.4" dyno=web.1 connect=1ms service=5ms status=200 bytes=10 protocol=https`, true},
		{`sock=client at=warning code=H27 desc="Client Request Interrupted" method=POST path="/submit/" host=h fwd=17.17.17.17 dyno=web.1 connect=1ms service=0ms status=499 bytes=0`, true},
		{`at=error code=H26 desc="Request Error" cause="bad header" method=GET path="/" host=h request_id=r fwd="1.1.1.1" dyno= connect= service= status=400 bytes=`, true},
		{`at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0 protocol=http2.0 tls=true tls_version=tls1.3`, true},
		{`at=info method=GET path="/a b" host=h fwd="1" dyno=web.1 connect=0 service=2 status=200 bytes=0`, true},
		{`at= method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0`, true}, // at= empty: parseLegacy's error
		{`at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0 `, true},
		// Anything else falls back, with the same result.
		{`at=info  method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0`, false},
		{`at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0 extra=1`, false},
		{`at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0 method=POST`, false},
		{`at=info method=GET path="/"host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0`, false},
		{`at=info method=GET path="/ host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0`, false},
		{`at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0s service=0ms status=200 bytes=0`, false},
		{`at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=1000 bytes=0`, false},
		{`at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=-1`, false},
		{`at=info method=GET path="/" host=h fwd="1" dyno=web.1 queue=0 wait=0ms connect=0ms service=0ms status=200 bytes=0`, false},
		{`protocol=https at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0`, false},
		{`at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200`, false},
		{` at=info method=GET path="/" host=h fwd="1" dyno=web.1 connect=0ms service=0ms status=200 bytes=0`, false},
		{`GET stormy-reef-2997.herokuapp.com/ dyno=web.1 queue=0 wait=0ms service=700ms status=200 bytes=52`, false},
	} {
		if got := sameAsPairs(t, c.msg); got != c.ordered {
			t.Errorf("%q: ordered path %v, want %v", c.msg, got, c.ordered)
		}
	}
}

// FuzzRouterOrdered holds parseRouter's ordered path to parsePairs: for any
// router line, the same entry and the same error.
func FuzzRouterOrdered(f *testing.F) {
	for _, msg := range routerMessages(f) {
		f.Add(msg)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		sameAsPairs(t, msg)
	})
}

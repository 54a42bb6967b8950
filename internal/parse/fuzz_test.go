package parse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func addSeeds(f *testing.F) {
	f.Helper()
	for _, path := range []string{"testdata/mixed.txt", realTxt, samplesTxt, samplesLogplex} {
		b := readFixture(f, path)
		// Small seeds keep the fuzzer fast: it minimises every new input.
		for len(b) > 0 {
			n := min(len(b), 1500)
			f.Add(b[:n])
			b = b[n:]
		}
	}
	f.Add([]byte(frame(routerFrame) + frame(l10Frame) + frame(appFrame)))
	f.Add([]byte("-5 <158>1 x" + frame(appFrame)))
	f.Add([]byte("70 " + appFrame + frame(appFrame)))
	f.Add([]byte("9999999 <1>1 "))
	// Prefixes past the size cap or past the body, with good frames after them.
	f.Add([]byte("9999999 " + appFrame + frame(routerFrame) + frame(appFrame)))
	f.Add([]byte("65537 " + appFrame + frame(appFrame)))
	f.Add([]byte("500 " + appFrame + frame(appFrame) + frame(l10Frame)))
	f.Add([]byte("2024-03-15T12:00:00Z app[web.1: x\n\xff\xfe"))
}

// FuzzScanner feeds arbitrary bodies to the scanner in every form: it must not
// panic, must make progress, and must only produce valid JSON.
func FuzzScanner(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, form := range []Form{FormAuto, FormLogplex, FormPlain} {
			s := NewScanner(bytes.NewReader(body), form)
			n := 0
			for s.Scan() {
				n++
				if n > len(body) {
					t.Fatalf("form %d: %d messages from %d bytes", form, n, len(body))
				}
				e, err := s.Entry()
				if err != nil {
					var pe *Error
					if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > int64(len(body)) {
						t.Fatalf("form %d: bad error %v", form, err)
					}
					continue
				}
				checkEntry(t, e)
			}
			if err := s.Err(); err != nil {
				t.Fatalf("form %d: %v", form, err)
			}
		}
	})
}

// FuzzScannerSize checks that the size hint the drain gives (the body's
// Content-Length, or a wrong one) changes nothing of what is read.
func FuzzScannerSize(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		want := describeAll(t, NewScanner(bytes.NewReader(body), FormAuto))
		for _, size := range []int64{-1, 0, 1, int64(len(body)) / 3, int64(len(body)), int64(len(body)) + 100} {
			if got := describeAll(t, NewScannerSize(bytes.NewReader(body), FormAuto, size)); got != want {
				t.Fatalf("size %d: read\n%s\nwant\n%s", size, got, want)
			}
		}
	})
}

// describeAll describes every message s reads: its entry or its error.
func describeAll(t *testing.T, s *Scanner) string {
	t.Helper()
	var out strings.Builder
	for s.Scan() {
		e, err := s.Entry()
		if err != nil {
			fmt.Fprintf(&out, "error %v\n", err)
			continue
		}
		fmt.Fprintf(&out, "%+v\n", *e)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// FuzzLine parses arbitrary single lines, both plain and framed.
func FuzzLine(f *testing.F) {
	for _, l := range []string{
		"2024-03-15T12:00:00Z heroku[router]: at=info method=GET path=\"/\" dyno=web.1 connect=1ms service=5ms status=200 bytes=10",
		"2024-03-15T12:00:00Z heroku[web.1]: source=web.1 dyno=heroku.1.u sample#memory_rss=1MB sample#load_avg_1m=1",
		"2024-03-15T12:00:00Z app[postgres.1]: [RED] [1-1]  sql_error_code = 53300 FATAL:  x",
		"2024-03-15T12:00:00Z app[api]: Scaled to web@1:Basic by user x",
		"2024-03-15T12:00:00Z heroku[logplex]: Error L10 (output buffer overflow): 5 messages dropped since x.",
		"2024-03-15T12:00:00Z heroku[web.1]: Process running mem=1MB(1%)",
		"2024-03-15T12:00:00Z app[web.1]: a=\"b c\" measure#x=1e5ms",
		"2012-08-06T19:11:20+00:00 heroku[web.1]: Process running mem=667M(130.3%)",
		"2012-01-20T02:10:47+00:00 heroku[router]: Error H12 (Request timeout) -> POST h.herokuapp.com/a/58 dyno=web.1 queue= wait= service=30000ms status=503 bytes=0",
		"2012-08-06T16:29:45+00:00 heroku[router]: GET h.herokuapp.com/ dyno=web.1 queue=0 wait=0ms service=700ms status=200 bytes=52",
		"2013-04-01T21:37:36+00:00 heroku[api]: Scale to worker=1, web=2 by x@example.com",
		"2022-07-02T00:54:04Z app[postgres.1167776]: [YELLOW] [13-4] \tworld",
		"2026-01-09T19:29:07Z heroku[router]: at=info dyno=web.1 status=200 protocol=http1.1 tls=true tls_version=unknown",
		"2026-01-09T19:29:49Z app[heroku-redis]: source=REDIS sample#connection-percentage-used=0.22222 sample#db-max-size=1",
	} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var e Entry
		if err := parsePlainLine(&e, line, &stampCache{}); err == nil {
			checkEntry(t, &e)
		}
		e = Entry{}
		if err := parseFrame(&e, "<134>1 2024-03-15T12:00:00Z host app web.1 - "+line, &stampCache{}); err == nil {
			checkEntry(t, &e)
		}
	})
}

func checkEntry(t *testing.T, e *Entry) {
	t.Helper()
	out := e.AppendJSON(nil)
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("invalid JSON %q: %v", out, err)
	}
	if m["kind"] != e.Kind.String() || m["time"] != e.Stamp {
		t.Fatalf("JSON %s lacks kind or time", out)
	}
	if _, ok := parseTimestamp(e.Stamp); !ok {
		t.Fatalf("entry with bad stamp %q", e.Stamp)
	}
}

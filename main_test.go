package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runMain runs the program with the config vars environ (os.Environ's form)
// and returns its output and exit status.
func runMain(t *testing.T, environ []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"dynowatch"}, args...), environ, strings.NewReader(stdin), &out, &errOut)
	code = 0
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return out.String(), errOut.String(), code
}

func TestParseCommand(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := runMain(t, nil, "", "parse", "testdata/samples.txt")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 25 {
		t.Fatalf("%d lines of output, want 25", len(lines))
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"time": "2010-10-06T21:51:12-07:00", "source": "heroku", "process": "router", "kind": "router",
		"at": "error", "code": "H10", "desc": "App crashed", "method": "GET", "path": "/", "host": "myapp.herokuapp.com",
		"fwd": "17.17.17.17", "status": float64(503)}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %v, want %v", k, first[k], v)
		}
	}
	if len(first) != len(want) {
		t.Errorf("first line has fields %v, want exactly %v", first, want)
	}
}

func TestParseCommandStdinWithBadLines(t *testing.T) {
	t.Parallel()
	in := "2024-03-15T12:00:00Z heroku[web.1]: Error R14 (Memory quota exceeded)\nnot a log line\n2024-03-15T12:00:01Z app[web.1]: ok\n"
	stdout, stderr, code := runMain(t, nil, in, "parse", "-")
	if code != 1 {
		t.Fatalf("exit %d, want 1 for a bad message", code)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines printed, want one for each of the 3 messages:\n%s", len(lines), stdout)
	}
	var bad map[string]string
	if err := json.Unmarshal([]byte(lines[1]), &bad); err != nil {
		t.Fatalf("line 2 %s: %v", lines[1], err)
	}
	want := map[string]string{"kind": "error", "error": `message 2 at byte 70: bad timestamp: "not" is not RFC 3339`, "line": "not a log line"}
	if !maps.Equal(bad, want) {
		t.Errorf("line 2 = %v, want %v", bad, want)
	}
	if !strings.Contains(stderr, "stdin: message 2 at byte 70: bad timestamp") {
		t.Errorf("stderr %q does not say which message failed and why", stderr)
	}
}

func TestParseCommandErrors(t *testing.T) {
	t.Parallel()
	if _, _, code := runMain(t, nil, "", "parse", filepath.Join(t.TempDir(), "missing.log")); code != 2 {
		t.Errorf("missing file: exit %d, want 2", code)
	}
	if _, _, code := runMain(t, nil, "", "parse", "a", "b"); code != 2 {
		t.Errorf("two files: exit %d, want 2", code)
	}
	if _, stderr, code := runMain(t, nil, "", "parse", "-h"); code != 0 || !strings.Contains(stderr, "heroku logs") {
		t.Errorf("help: exit %d, stderr %q", code, stderr)
	}
	if _, _, code := runMain(t, nil, "", "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

func TestParseCommandLogplexFile(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/samples.logplex")
	if err != nil {
		t.Fatal(err)
	}
	fromFile, _, code := runMain(t, nil, string(body), "parse")
	plain, _, _ := runMain(t, nil, "", "parse", "testdata/samples.txt")
	if code != 0 || fromFile != plain {
		t.Errorf("logplex body parsed differently from the same lines in plain form (exit %d)", code)
	}
}

func TestLoggerWritesLogfmt(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	newLogger(&b, true).Warn("drain batch not stored", "app", "my-app", "messages", 3)
	if got, want := b.String(), "at=warn msg=\"drain batch not stored\" app=my-app messages=3\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

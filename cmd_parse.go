package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dynowatch/dynowatch/internal/parse"
)

const parseUsage = `Usage: dynowatch parse [FILE]

Reads Heroku log messages from FILE, or from stdin when FILE is "-" or absent,
and prints each one as a JSON object on its own line: exactly what dynowatch
sees in your logs. Both forms Heroku produces are understood, and detected:

  - plain lines as "heroku logs" prints them:
      heroku logs -a myapp -n 1500 | dynowatch parse
  - Logplex drain bodies (application/logplex-1), as a drain receives them.

Each object has "time" (as received), "source" (heroku or app), "process"
(router, web.1, heroku-postgres, …), "kind" (router, dyno_error,
runtime_metrics, …) and the fields of that kind. A message that can't be
parsed gets its line too, {"kind":"error","error":…,"line":…}: the reason
with the message's position, and the message as read. The same report goes
to stderr, and parsing goes on.

Exit status: 0 if every message parsed, 1 if any did not, 2 for usage or I/O errors.
`

// runParse implements "dynowatch parse".
func runParse(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, parseUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2}
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return usageError("parse takes at most one FILE, got %d", fs.NArg())
	}
	name, in := "stdin", stdin
	if path := fs.Arg(0); path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		defer f.Close()
		name, in = path, f
	}

	out := bufio.NewWriter(stdout)
	// Errors are rare; encoding/json writes their line, turning bytes that
	// are not UTF-8 into U+FFFD, and leaves the <PRI> of a frame readable.
	bad := json.NewEncoder(out)
	bad.SetEscapeHTML(false)
	s := parse.NewScanner(in, parse.FormAuto)
	var line []byte
	total, failed := 0, 0
	for s.Scan() {
		if total%1024 == 0 && ctx.Err() != nil {
			break
		}
		total++
		e, err := s.Entry()
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			if err := bad.Encode(badMessage{Kind: "error", Error: err.Error(), Line: s.Text()}); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("writing output: %w", err)}
			}
			continue
		}
		line = e.AppendJSON(line[:0])
		line = append(line, '\n')
		if _, err := out.Write(line); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("writing output: %w", err)}
		}
	}
	if err := out.Flush(); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("writing output: %w", err)}
	}
	if err := s.Err(); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("reading %s: %w", name, err)}
	}
	if err := ctx.Err(); err != nil {
		return &exitError{code: 2, err: err}
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("parse: %d of %d messages in %s could not be parsed", failed, total, name)}
	}
	return nil
}

// badMessage is the line "dynowatch parse" prints for a message it could not
// parse, so that every input message has one.
type badMessage struct {
	Kind  string `json:"kind"`
	Error string `json:"error"`
	Line  string `json:"line"`
}

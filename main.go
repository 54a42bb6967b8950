// Command dynowatch monitors Heroku apps through their log drains and alerts
// when dynos, routers, databases or queues get into trouble.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // ALERT_TIMEZONE must work on a dyno without a zoneinfo database

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintln(os.Stderr, "dynowatch:", ee.err)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "dynowatch:", err)
		os.Exit(1)
	}
}

// exitError asks main for a particular exit status.
type exitError struct {
	code int
	err  error // printed unless nil
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is a command line mistake: exit status 2.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

const usage = `dynowatch watches Heroku apps through their log drains and alerts you.

Usage:
  dynowatch [all]                  web and worker in one process (the default; one-dyno setups)
  dynowatch web                    the drain receiver, API and dashboard (Procfile web)
  dynowatch worker                 scheduled jobs: pruning old data (Procfile worker)
  dynowatch migrate                apply database migrations (Procfile release)
  dynowatch replay --app NAME FILE push a saved log, either form, through the pipeline
  dynowatch parse [FILE]           print every log message of FILE (or stdin) as JSON
  dynowatch config                 print the configuration read from config vars
  dynowatch alert test             send a test notification through every configured channel
  dynowatch tail --app NAME        follow an app through a Platform API log session (no drain needed)
  dynowatch add APP [--apply]      print (or create) the drain that sends APP's logs here, Cedar or Fir
  dynowatch loadgen -url URL ...   post realistic Logplex batches to a drain and measure it

Configuration comes from config vars (environment variables); see README.md.
`

// run is the whole program: main only adds the process's signals, streams,
// environment (environ, in os.Environ's form) and exit status. Nothing below
// run reads the process's environment, so that tests can run side by side,
// each with its own config vars.
func run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := "all", []string(nil)
	if len(args) > 1 {
		cmd, rest = args[1], args[2:]
	}
	switch cmd {
	case "parse":
		return runParse(ctx, rest, stdin, stdout, stderr)
	case "loadgen":
		return runLoadgen(ctx, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "all", "web", "worker", "migrate":
		// They take no arguments: anything after them, --help included, must
		// not start a server.
		if len(rest) > 0 {
			if isHelp(rest[0]) {
				fmt.Fprint(stdout, usage)
				return nil
			}
			fmt.Fprint(stderr, usage)
			return usageError("dynowatch %s takes no arguments, got %q", cmd, rest[0])
		}
	case "replay", "config", "alert", "tail", "add":
	default:
		fmt.Fprint(stderr, usage)
		return usageError("unknown command %q", cmd)
	}

	// The one read of the environment: config hands every part its piece.
	cfg, err := config.Load(environ)
	if cmd == "config" {
		return runConfig(cfg, err, stdout)
	}
	if err != nil {
		return err
	}
	log := newLogger(stdout, cfg.OnHeroku())
	rules, checkList := cfg.Rules, cfg.Checks
	switch cmd {
	case "web":
		return runApp(ctx, cfg, rules, checkList, log, roles{web: true})
	case "worker":
		return runApp(ctx, cfg, rules, checkList, log, roles{worker: true})
	case "migrate":
		st, err := openStore(ctx, cfg, log)
		if err != nil {
			return err
		}
		st.Close()
		log.Info("migrations applied")
		return nil
	case "replay":
		return runReplay(ctx, cfg, log, rest, stderr)
	case "alert":
		return runAlertTest(ctx, cfg, rest, stdout)
	case "tail":
		// stdout carries the messages as JSON: the logs go to stderr.
		return runTail(ctx, cfg, newLogger(stderr, cfg.OnHeroku()), rest, stdout, stderr)
	case "add":
		return runAdd(ctx, cfg, rest, stdout, stderr)
	}
	return runApp(ctx, cfg, rules, checkList, log, roles{web: true, worker: true})
}

func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// runApp builds the process of roles r and runs it until ctx is done.
func runApp(ctx context.Context, cfg *config.Config, rules *alert.Rules, checkList []checks.Check, log *slog.Logger, r roles) error {
	a, err := newApp(cfg, rules, checkList, log, r)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// newLogger writes logfmt to w, the Heroku convention: `at=info msg="…" app=…`.
// On Heroku the router adds timestamps, so the time is left out there.
func newLogger(w io.Writer, onHeroku bool) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				if onHeroku {
					return slog.Attr{}
				}
			case slog.LevelKey:
				return slog.String("at", strings.ToLower(a.Value.String()))
			}
			return a
		},
	}))
}

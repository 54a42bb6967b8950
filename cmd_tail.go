package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/heroku"
	"github.com/dynowatch/dynowatch/internal/logsession"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// tailOne is the role of "dynowatch tail": follow app through client,
// handing each message to show as well as to the pipeline.
type tailOne struct {
	client *logsession.Client
	app    string
	show   func(*parse.Entry)
}

// runTail implements "dynowatch tail --app NAME": follow one app through a
// Platform API log session, print its messages as `dynowatch parse` does,
// and feed them through the pipeline like a drain.
func runTail(ctx context.Context, cfg *config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) != 2 || args[0] != "--app" || !heroku.ValidApp(args[1]) {
		fmt.Fprintln(stderr, "Usage: dynowatch tail --app NAME\n\nFollows an app's logs through the Heroku Platform API (HEROKU_API_KEY), prints each message as JSON, and stores them as a drain would: for apps where a drain can't be added.")
		return usageError("tail needs --app with a Heroku app name")
	}
	client, err := sessionClient(cfg, log)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var line []byte
	show := func(e *parse.Entry) {
		mu.Lock()
		defer mu.Unlock()
		line = append(e.AppendJSON(line[:0]), '\n')
		stdout.Write(line)
	}
	return runApp(ctx, cfg, cfg.Rules, cfg.Checks, log, roles{tail: &tailOne{client: client, app: args[1], show: show}})
}

// sessionClient is the Platform API client of pull mode: the tail command's
// and the worker's for TAIL_APPS.
func sessionClient(cfg *config.Config, log *slog.Logger) (*logsession.Client, error) {
	if cfg.HerokuAPIKey == "" {
		return nil, errors.New("pull mode needs config var HEROKU_API_KEY (example: heroku config:set HEROKU_API_KEY=$(heroku authorizations:create -S -d dynowatch))")
	}
	return logsession.New(logsession.Options{APIURL: cfg.HerokuAPIURL, APIKey: cfg.HerokuAPIKey, Logger: log})
}

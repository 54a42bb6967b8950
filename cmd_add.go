package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/heroku"
	"github.com/dynowatch/dynowatch/internal/onboard"
	"github.com/dynowatch/dynowatch/internal/redact"
)

const addUsage = `Usage: dynowatch add APP [--apply]

Reads APP's generation from the Heroku Platform API (HEROKU_API_KEY) and
prints the command that sends its logs to this dynowatch (DYNOWATCH_URL):
a log drain for a Cedar app, a telemetry drain for a Fir app. With --apply
it creates that drain itself, with DRAIN_SECRET as its password.`

// runAdd implements "dynowatch add APP [--apply]".
func runAdd(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	var app string
	apply := false
	for _, a := range args {
		switch {
		case a == "--apply":
			apply = true
		case app == "" && heroku.ValidApp(a):
			app = a
		default:
			fmt.Fprintln(stderr, addUsage)
			return usageError("add takes %s and optionally --apply, got %q", heroku.AppNameRule, a)
		}
	}
	if app == "" {
		fmt.Fprintln(stderr, addUsage)
		return usageError("add needs the app's name")
	}
	if cfg.HerokuAPIKey == "" {
		return errors.New("dynowatch add needs config var HEROKU_API_KEY (example: HEROKU_API_KEY=$(heroku authorizations:create -S -d dynowatch) dynowatch add my-app)")
	}
	if strings.ContainsAny(cfg.HerokuAPIKey, " \t\r\n") {
		// A key pasted with its newline makes every request fail obscurely.
		return errors.New("config var HEROKU_API_KEY contains white space; check it (example: HEROKU_API_KEY=$(heroku auth:token))")
	}
	base := publicURL(cfg)
	secret := "$DRAIN_SECRET" // printed commands take it from the shell, as the README says
	if apply {
		// Heroku must reach the drain, with a password dynowatch accepts.
		if cfg.URL == "" {
			return errors.New("dynowatch add --apply needs config var DYNOWATCH_URL, the public URL Heroku posts to (example: DYNOWATCH_URL=https://my-dynowatch.herokuapp.com)")
		}
		if len(cfg.DrainSecret) == 0 {
			return errors.New("dynowatch add --apply needs config var DRAIN_SECRET, the drain's password (example: DRAIN_SECRET=$(heroku config:get DRAIN_SECRET -a my-dynowatch))")
		}
		secret = cfg.DrainSecret[len(cfg.DrainSecret)-1]
	} else if cfg.URL == "" {
		fmt.Fprintln(stderr, "note: DYNOWATCH_URL is unset, so the URL below is local and Heroku can't reach it; set DYNOWATCH_URL to dynowatch's public URL")
	}
	client := &onboard.Client{APIURL: cfg.HerokuAPIURL, APIKey: cfg.HerokuAPIKey, HTTP: &http.Client{}}
	a, err := client.App(ctx, app)
	if err != nil {
		return err
	}
	switch a.Generation {
	case heroku.Cedar:
		u := *base
		u.User = url.UserPassword("dynowatch", secret)
		u.Path = "/drain/" + app
		if !apply {
			fmt.Fprintf(stdout, "%s is a Cedar app: its logs come through a log drain.\n", app)
			fmt.Fprintf(stdout, "heroku drains:add %s -a %s\n", u.String(), app)
			fmt.Fprintf(stdout, "heroku labs:enable log-runtime-metrics -a %s\n", app)
			return nil
		}
		d, err := client.AddLogDrain(ctx, app, u.String())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is a Cedar app: added log drain %s to %s (token %s).\n", app, redact.URL(u.String()), app, d.Token)
		fmt.Fprintf(stdout, "For memory and load charts: heroku labs:enable log-runtime-metrics -a %s\n", app)
	case heroku.Fir:
		u := *base
		u.Path = "/otlp/" + app
		if !apply {
			fmt.Fprintf(stdout, "%s is a Fir app: its logs and metrics come through a telemetry drain.\n", app)
			fmt.Fprintf(stdout, "heroku telemetry:add %s --app %s --signals logs,metrics --transport http --headers \"{\\\"Authorization\\\":\\\"Bearer %s\\\"}\"\n", u.String(), app, secret)
			return nil
		}
		d, err := client.AddTelemetryDrain(ctx, a.ID, u.String(), map[string]string{"Authorization": "Bearer " + secret})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is a Fir app: added telemetry drain %s to %s (%s, with DRAIN_SECRET as bearer token).\n", app, u.String(), app, strings.Join(d.Signals, ", "))
	default:
		return fmt.Errorf("app %s is of generation %q: %w; dynowatch knows %s (log drains) and %s (telemetry drains)", app, a.Generation, onboard.ErrGeneration, heroku.Cedar, heroku.Fir)
	}
	return nil
}

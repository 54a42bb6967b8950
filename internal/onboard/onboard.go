// Package onboard points a Heroku app's logs at dynowatch: a log drain for a
// Cedar app, a telemetry drain for a Fir app, chosen by the app's generation
// as the Platform API reports it.
package onboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/dynowatch/dynowatch/internal/heroku"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// signals is what a telemetry drain sends dynowatch: it reads logs and
// metrics; traces would only be counted.
var signals = []string{"logs", "metrics"}

const (
	// version=3.sdk is the variant the Heroku CLI asks for when it reads an
	// app's generation and creates telemetry drains.
	accept    = "application/vnd.heroku+json; version=3.sdk"
	userAgent = "dynowatch-onboard"
)

// Client talks to the Platform API with one API key.
type Client struct {
	APIURL string       // Platform API base URL, without a trailing slash (HEROKU_API_URL)
	APIKey string       // HEROKU_API_KEY
	HTTP   *http.Client // sends the requests
}

// App is what dynowatch add needs of an app.
type App struct {
	ID         string // a telemetry drain's owner is the app's id, not its name
	Generation string // heroku.Cedar or heroku.Fir, or a generation yet unknown
}

// App reads app (a name or an id). An app whose answer names no generation
// is a Cedar app (see heroku.Generation).
func (c *Client) App(ctx context.Context, app string) (App, error) {
	var body struct {
		ID         string            `json:"id"`
		Generation heroku.Generation `json:"generation"`
	}
	if err := c.do(ctx, http.MethodGet, "/apps/"+url.PathEscape(app), nil, &body); err != nil {
		return App{}, fmt.Errorf("reading app %s: %w", app, err)
	}
	a := App{ID: body.ID, Generation: body.Generation.String()}
	if a.ID == "" {
		return App{}, fmt.Errorf("reading app %s: the API's answer has no id", app)
	}
	return a, nil
}

// LogDrain is a created log drain.
type LogDrain struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

// AddLogDrain adds a log drain posting to drainURL to a Cedar app.
func (c *Client) AddLogDrain(ctx context.Context, app, drainURL string) (LogDrain, error) {
	var d LogDrain
	err := c.do(ctx, http.MethodPost, "/apps/"+url.PathEscape(app)+"/log-drains", map[string]string{"url": drainURL}, &d)
	if err != nil {
		return LogDrain{}, fmt.Errorf("adding log drain %s to %s: %w", redact.URL(drainURL), app, err)
	}
	return d, nil
}

// TelemetryDrain is a created telemetry drain.
type TelemetryDrain struct {
	ID      string   `json:"id"`
	Signals []string `json:"signals"`
}

// telemetryDrainRequest is the body of POST /telemetry-drains, as
// `heroku telemetry:add --transport http` sends it.
type telemetryDrainRequest struct {
	Owner struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"owner"`
	Signals  []string `json:"signals"`
	Exporter struct {
		Type     string            `json:"type"`
		Endpoint string            `json:"endpoint"`
		Headers  map[string]string `json:"headers"`
	} `json:"exporter"`
}

// AddTelemetryDrain adds an OTLP/HTTP telemetry drain of logs and metrics
// to the Fir app of id appID, sending headers with every export.
func (c *Client) AddTelemetryDrain(ctx context.Context, appID, endpoint string, headers map[string]string) (TelemetryDrain, error) {
	var req telemetryDrainRequest
	req.Owner.Type, req.Owner.ID = "app", appID
	req.Signals = signals
	req.Exporter.Type, req.Exporter.Endpoint, req.Exporter.Headers = "otlphttp", endpoint, headers
	var d TelemetryDrain
	if err := c.do(ctx, http.MethodPost, "/telemetry-drains", req, &d); err != nil {
		return TelemetryDrain{}, fmt.Errorf("adding telemetry drain %s to app %s: %w", endpoint, appID, err)
	}
	return d, nil
}

// do sends one API request and decodes its answer into out. Error answers
// become *heroku.APIError, so errors.Is tells a bad key
// (heroku.ErrUnauthorized) and a missing app (heroku.ErrNoApp).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	a := heroku.API{URL: c.APIURL, Key: c.APIKey, Accept: accept, UserAgent: userAgent, HTTP: c.HTTP}
	return a.Do(ctx, method, path, in, out)
}

// ErrGeneration is an app of a generation dynowatch does not know.
var ErrGeneration = errors.New("unknown Heroku generation")

package logsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/dynowatch/dynowatch/internal/heroku"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// Bounds on the requests Open makes; the stream itself has none.
const (
	apiTimeout = 30 * time.Second
	// Fir takes a moment to provision a stream before it answers.
	streamHeaderTimeout = time.Minute
	userAgent           = "dynowatch-logsession"
)

// Open creates a log session for app (a name or an id) that tails the log
// from now on, and returns its stream as plain lines, as `heroku logs`
// prints them, whichever form the server sends them in. It reads the app's
// generation first, since Cedar and Fir apps' sessions are asked for
// differently. The stream lasts until Heroku ends the session (a Fir app's
// after about 15 minutes), ctx is done or it is closed.
//
// The session URL is a capability to read the app's log; errors show only
// its host. An error wrapping heroku.ErrUnauthorized or heroku.ErrNoApp will not go away by
// retrying; any other, ErrSessionExpired included, may.
func (c *Client) Open(ctx context.Context, app string) (io.ReadCloser, error) {
	if app == "" {
		return nil, errors.New("logsession: no app given")
	}
	gen, err := c.generation(ctx, app)
	if err != nil {
		return nil, err
	}
	return c.open(ctx, app, gen == heroku.Fir, 0)
}

// generation reads app's generation: heroku.Cedar, heroku.Fir or a later one.
func (c *Client) generation(ctx context.Context, app string) (string, error) {
	var body struct {
		Generation heroku.Generation `json:"generation"`
	}
	if err := c.api(ctx, http.MethodGet, "/apps/"+url.PathEscape(app), nil, &body); err != nil {
		return "", fmt.Errorf("logsession: reading app %s's generation: %w", app, err)
	}
	return body.Generation.String(), nil
}

// open is Open for an app whose generation is known, asking a Cedar app's
// session to replay up to lines recent lines first.
func (c *Client) open(ctx context.Context, app string, fir bool, lines int) (io.ReadCloser, error) {
	u, err := c.create(ctx, app, fir, lines)
	if err != nil {
		return nil, fmt.Errorf("logsession: creating a log session for %s: %w", app, err)
	}
	rc, err := c.stream(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("logsession: streaming %s's log session: %w", app, err)
	}
	return rc, nil
}

// cedarBody is the body of a Cedar app's log-session request.
type cedarBody struct {
	Tail  bool `json:"tail"`
	Lines int  `json:"lines,omitempty"`
}

// firBody is the body of a Fir app's. The Heroku CLI (src/lib/run/
// log-displayer.ts, buildRequestBodyParameters) sends a Fir app only its
// filters, {source, dyno, type}, and never lines or tail: the schema has
// lines "for Cedar-generation apps only", a Fir session always tails, and
// there is no history to replay. dynowatch reads every line, so it sends no
// filter either.
type firBody struct{}

// create asks the API for a log session and returns its logplex_url.
func (c *Client) create(ctx context.Context, app string, fir bool, lines int) (*url.URL, error) {
	var in any = cedarBody{Tail: true, Lines: lines}
	if fir {
		in = firBody{}
	}
	var session struct {
		LogplexURL string `json:"logplex_url"`
	}
	if err := c.api(ctx, http.MethodPost, "/apps/"+url.PathEscape(app)+"/log-sessions", in, &session); err != nil {
		return nil, err
	}
	// A Fir app's URL is on another host than a Cedar app's
	// (telemetry.heroku.com rather than logs.heroku.com in the CLI's tests):
	// whatever it is, it is used as given.
	u, err := url.Parse(session.LogplexURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("the API's answer has no usable logplex_url")
	}
	return u, nil
}

// api sends one Platform API request, with in as its JSON body if not nil,
// and decodes the answer into out. Error answers become *heroku.APIError.
func (c *Client) api(ctx context.Context, method, path string, in, out any) error {
	// Plain version=3: it has both the generation and the log-session
	// fields pull mode needs (the CLI asks for the 3.sdk variant, whose
	// generation is a bare name; heroku.Generation reads either).
	a := heroku.API{URL: c.apiURL, Key: c.apiKey, Accept: "application/vnd.heroku+json; version=3", UserAgent: userAgent, HTTP: c.http}
	return a.Do(ctx, method, path, in, out)
}

// stream GETs the session URL and returns its body as plain lines.
func (c *Client) stream(ctx context.Context, u *url.URL) (io.ReadCloser, error) {
	shown := redact.Origin(u)
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("request to %s failed", shown)
	}
	// No Authorization: the URL is the capability.
	req.Header.Set("Accept", "text/event-stream, text/plain")
	req.Header.Set("User-Agent", userAgent)
	timer := time.AfterFunc(streamHeaderTimeout, cancel)
	resp, err := c.http.Do(req)
	timedOut := !timer.Stop()
	if err == nil && timedOut {
		resp.Body.Close()
		err = context.DeadlineExceeded
	}
	if err != nil {
		cancel()
		if timedOut && ctx.Err() != nil {
			return nil, fmt.Errorf("%s did not answer within %v", shown, streamHeaderTimeout)
		}
		return nil, redact.Error(err, shown)
	}
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		cancel()
		if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%w: %s answered %d", ErrSessionExpired, shown, resp.StatusCode)
		}
		return nil, fmt.Errorf("%s answered %d", shown, resp.StatusCode)
	}
	body := &cancelCloser{ReadCloser: resp.Body, cancel: cancel}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/event-stream" {
		return newSSEReader(body), nil
	}
	return body, nil
}

// cancelCloser releases the request's context when the body is closed.
type cancelCloser struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelCloser) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// Package logsession pulls an app's logs through Heroku Platform API log
// sessions, for apps where a log drain can't be added.
//
// A drain (package drain) is the better feed: Logplex pushes every message
// and retries what fails. A log session is what `heroku logs --tail` reads:
// the API hands out a short-lived URL whose stream carries the app's log as
// plain lines. Heroku ends a Cedar app's session after about an hour, so
// Follow keeps opening new ones; lines logged in the moment between two
// sessions are lost unless Options.CatchUp asks for them again.
//
// Fir apps' sessions differ (heroku/cli src/lib/run/log-displayer.ts): the
// request takes no lines, since there is no history to replay; the stream
// is on another host; and the CLI replaces the session every 15 minutes.
// Follow reads the app's generation first, and replaces a Fir app's session
// every 15 minutes by opening the next one while the current one streams,
// so that nothing is lost at the switch.
package logsession

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/endpoint"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// DefaultAPIURL is the Platform API that Options.APIURL defaults to.
const DefaultAPIURL = "https://api.heroku.com"

// maxCatchUp is the most lines a session can replay: Logplex keeps the last
// 1500 lines of an app.
const maxCatchUp = 1500

// Errors that Open and Follow return, wrapped; test them with errors.Is.
var (
	// ErrSessionExpired is the session URL answering 403 or 404: it was not
	// streamed in time. A new session is the cure, and Follow opens one.
	ErrSessionExpired = errors.New("log session expired")
)

// Options configures a Client.
type Options struct {
	APIURL string // Platform API base URL (HEROKU_API_URL); DefaultAPIURL if empty
	APIKey string // required: an API key or OAuth token (HEROKU_API_KEY)
	// HTTPClient sends the requests; a new client if nil. Its Timeout must be
	// zero, since a session streams for up to an hour: Open bounds the
	// requests it makes itself.
	HTTPClient *http.Client
	Logger     *slog.Logger     // required
	Now        func() time.Time // optional; time.Now by default

	// BatchLines is the most lines Follow hands to deliver at once (500 if 0).
	BatchLines int
	// FlushAfter is the longest a line waits in Follow for its batch to fill
	// (1 s if 0), so that a quiet app's lines still arrive promptly.
	FlushAfter time.Duration
	// MaxSession is how long Follow keeps one session before opening the
	// next (1 h if 0, which is when Heroku ends Cedar apps' anyway). It also
	// cures a stream that stays open but goes silent. A Fir app's session is
	// replaced after 15 minutes, as the Heroku CLI does, or after MaxSession
	// if that is shorter.
	MaxSession time.Duration
	// CatchUp, when above 0, has Follow ask each new session of a Cedar app
	// after the first for up to this many recent lines (at most 1500) and
	// drop those it has already delivered, so nothing logged between two
	// sessions is lost. A Fir app has no history to ask for.
	CatchUp int
}

func (o *Options) validate() error {
	switch {
	case o.APIKey == "":
		return errors.New("logsession: Options.APIKey is required (set HEROKU_API_KEY)")
	case strings.ContainsAny(o.APIKey, " \t\r\n"):
		// A key pasted with its newline makes every request fail obscurely.
		return errors.New("logsession: Options.APIKey contains white space; check HEROKU_API_KEY")
	case o.Logger == nil:
		return errors.New("logsession: Options.Logger is required")
	case o.HTTPClient != nil && o.HTTPClient.Timeout != 0:
		return errors.New("logsession: Options.HTTPClient.Timeout must be 0: it would cut every log stream short")
	case o.BatchLines < 0:
		return fmt.Errorf("logsession: Options.BatchLines is %d, want 0 (the default) or more", o.BatchLines)
	case o.FlushAfter < 0:
		return fmt.Errorf("logsession: Options.FlushAfter is %v, want 0 (the default) or more", o.FlushAfter)
	case o.MaxSession < 0:
		return fmt.Errorf("logsession: Options.MaxSession is %v, want 0 (the default) or more", o.MaxSession)
	case o.CatchUp < 0 || o.CatchUp > maxCatchUp:
		return fmt.Errorf("logsession: Options.CatchUp is %d, want 0 to %d", o.CatchUp, maxCatchUp)
	}
	if o.APIURL != "" {
		if _, err := endpoint.HTTP(o.APIURL); err != nil {
			return fmt.Errorf("logsession: Options.APIURL %s: %w", redact.URL(o.APIURL), err)
		}
	}
	return nil
}

// Client opens log sessions with one API key. It is safe for concurrent use.
type Client struct {
	apiURL  string // without a trailing slash
	apiKey  string
	http    *http.Client
	log     *slog.Logger
	now     func() time.Time
	batch   int
	flush   time.Duration
	maxSess time.Duration
	catchUp int

	// sleep waits between sessions; tests replace it to skip the waiting.
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a Client for the options.
func New(o Options) (*Client, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	c := &Client{
		apiURL:  strings.TrimRight(o.APIURL, "/"),
		apiKey:  o.APIKey,
		http:    o.HTTPClient,
		log:     o.Logger,
		now:     o.Now,
		batch:   o.BatchLines,
		flush:   o.FlushAfter,
		maxSess: o.MaxSession,
		catchUp: o.CatchUp,
		sleep:   sleep,
	}
	if c.apiURL == "" {
		c.apiURL = DefaultAPIURL
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.batch == 0 {
		c.batch = 500
	}
	if c.flush == 0 {
		c.flush = time.Second
	}
	if c.maxSess == 0 {
		c.maxSess = time.Hour
	}
	return c, nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package heroku

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dynowatch/dynowatch/internal/redact"
)

// Errors an API request returns, wrapped in *APIError; test them with
// errors.Is.
var (
	// ErrUnauthorized is the API refusing the key (401 or 403): retrying a
	// bad key does not help.
	ErrUnauthorized = errors.New("the Heroku API refused the key: check HEROKU_API_KEY and its access to the app")
	// ErrNoApp is the API answering 404: there is no such app, or the key's
	// account cannot see it.
	ErrNoApp = errors.New("no such app, or the API key has no access to it")
)

// APIError is an error answer from the Platform API. It wraps
// ErrUnauthorized for 401 and 403 and ErrNoApp for 404.
type APIError struct {
	Status  int
	ID      string // Heroku's error id, such as "unauthorized" or "not_found"
	Message string // Heroku's explanation, clipped
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("Heroku API answered %d", e.Status)
	if e.ID != "" {
		s += " " + e.ID
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if k := e.Unwrap(); k != nil {
		s = k.Error() + " (" + s + ")"
	}
	return s
}

// Unwrap returns the sentinel for the status, or nil.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	case http.StatusNotFound:
		return ErrNoApp
	}
	return nil
}

// API sends Platform API requests: pull mode's log sessions and
// `dynowatch add`'s drains both go through it.
type API struct {
	URL       string       // base URL (HEROKU_API_URL)
	Key       string       // HEROKU_API_KEY
	Accept    string       // the API version asked for, such as "application/vnd.heroku+json; version=3"
	UserAgent string       // names the caller
	HTTP      *http.Client // sends the requests
}

// apiTimeout bounds one request.
const apiTimeout = 30 * time.Second

// Do sends one request, with in as its JSON body if not nil, and decodes
// the answer into out. Error answers become *APIError; the key never
// appears in an error.
func (a *API) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	endpoint := strings.TrimRight(a.URL, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, endpoint, body)
	if err != nil {
		return fmt.Errorf("bad request to %s", redact.URL(endpoint))
	}
	req.Header.Set("Authorization", "Bearer "+a.Key)
	req.Header.Set("Accept", a.Accept)
	req.Header.Set("User-Agent", a.UserAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return redact.Error(err, redact.URL(endpoint))
	}
	defer resp.Body.Close()
	// 201 is documented for a log session; the Heroku CLI's tests expect 200.
	if resp.StatusCode/100 != 2 {
		e := &APIError{Status: resp.StatusCode}
		var eb struct {
			ID      string `json:"id"`
			Message string `json:"message"`
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&eb) == nil {
			e.ID = Clip(eb.ID, 40)
			// Heroku does not echo the key, but a proxy in between might.
			e.Message = Clip(redact.NewScrubber(a.Key).Scrub(eb.Message), 200)
		}
		return e
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("reading the API's answer to %s %s: %w", method, path, err)
	}
	return nil
}

// Clip shortens s to about n bytes, on a rune boundary, marking the cut.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

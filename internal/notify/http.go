package notify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/redact"
)

// What the HTTP channels share, in the manner of Alertmanager's notify
// package: the JSON post, the reading of a failed answer, and its error.
// Which statuses are worth a retry is RetryableStatus; scrubbing is
// package redact's.

// postJSON posts body as JSON to url with the channel's headers. The caller
// reads and closes the answer. A request that cannot be made is not worth
// a retry; one that could not be sent (a network error, a timeout) is.
// Either error is named by prefix, scrubbed by r, and shows the URL as
// where.
func postJSON(ctx context.Context, c *http.Client, r redact.Scrubber, prefix, url, where string, header http.Header, body []byte) (resp *http.Response, retry bool, err error) {
	return sendJSON(ctx, c, r, http.MethodPost, prefix, url, where, header, body)
}

// sendJSON is postJSON with another method, such as Discord's PATCH of a
// message.
func sendJSON(ctx context.Context, c *http.Client, r redact.Scrubber, method, prefix, url, where string, header http.Header, body []byte) (resp *http.Response, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, false, r.Wrap(prefix, err, where)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err = c.Do(req)
	if err != nil {
		return nil, true, r.Wrap(prefix, err, where)
	}
	return resp, false, nil
}

// readAnswer reads up to 1 MB of an answer's body, scrubbed of secrets. A
// body cut short by the network is worth a retry.
func readAnswer(resp *http.Response, r redact.Scrubber, prefix, where string) (string, error) {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", r.Wrap(prefix+": reading the answer", err, where)
	}
	return r.Scrub(string(raw)), nil
}

// answerSnippet is what an error shows of an answer's body, already
// scrubbed: scrub before cutting, or a cut secret would slip through half
// shown.
func answerSnippet(scrubbed string) string { return clip(oneLine(scrubbed), 200, "…") }

// statusError says that an answer was not a success: its status, and what
// it says of it.
func statusError(r redact.Scrubber, prefix string, code int, detail string) error {
	return r.Errorf("%s: %d %s%s", prefix, code, http.StatusText(code), sep(detail, ": "))
}

// answerError is statusError for an answer, which keeps the answer's
// Retry-After when it is a 429 or 503 (see RetryAfter).
func answerError(r redact.Scrubber, prefix string, resp *http.Response, detail string) error {
	err := statusError(r, prefix, resp.StatusCode, detail)
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return err
	}
	if wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		return withRetryAfter(err, wait)
	}
	return err
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// retryAfterError is a failure whose provider said when to try again.
type retryAfterError struct {
	err  error
	wait time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// withRetryAfter marks err as one not to retry within wait.
func withRetryAfter(err error, wait time.Duration) error {
	return &retryAfterError{err: err, wait: wait}
}

// RetryAfter reports how long the provider asked to wait before the next
// attempt (a Retry-After header, or its JSON equivalent), if it did: the
// Sender retries no sooner.
func RetryAfter(err error) (time.Duration, bool) {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.wait, true
	}
	return 0, false
}

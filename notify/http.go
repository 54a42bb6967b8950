package notify

import (
	"bytes"
	"context"
	"net/http"

	"github.com/dynowatch/dynowatch/redact"
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
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

// answerSnippet is what an error shows of an answer's body, already
// scrubbed: scrub before cutting, or a cut secret would slip through half
// shown.
func answerSnippet(scrubbed string) string { return clip(oneLine(scrubbed), 200, "…") }

// statusError says that an answer was not a success: its status, and what
// it says of it.
func statusError(r redact.Scrubber, prefix string, code int, detail string) error {
	return r.Errorf("%s: %d %s%s", prefix, code, http.StatusText(code), sep(detail, ": "))
}

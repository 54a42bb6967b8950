package notify

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/alert"
	"github.com/dynowatch/dynowatch/endpoint"
)

// DefaultSendTimeout bounds one send on any channel when its options leave
// Timeout zero. It applies on top of the caller's context.
const DefaultSendTimeout = 10 * time.Second

// narrowed is a Notifier narrowed to a minimum severity (…_MIN_SEVERITY).
// The Sender applies it, not the channel, because who heard a firing decides
// who hears of the rest: a channel that heard a warning grouped with a
// critical is told when the warning resolves.
type narrowed interface {
	MinSeverity() alert.Severity // "" for every severity
}

// checkMinSeverity accepts an empty minimum (every alert) or a known one.
func checkMinSeverity(field string, s alert.Severity) error {
	if s != "" && s.Rank() == 0 {
		return fmt.Errorf("notify: %s %q: want critical, warning or info", field, string(s))
	}
	return nil
}

// sendTimeout returns d, or the default when d is zero.
func sendTimeout(field string, d time.Duration) (time.Duration, error) {
	switch {
	case d < 0:
		return 0, fmt.Errorf("notify: %s %v: must not be negative", field, d)
	case d == 0:
		return DefaultSendTimeout, nil
	}
	return d, nil
}

// channelHTTPClient returns c, or a client bounded by timeout.
func channelHTTPClient(c *http.Client, timeout time.Duration) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Timeout: timeout}
}

// checkRecipients rejects an empty list and empty entries.
func checkRecipients(field string, to []string) error {
	if len(to) == 0 {
		return fmt.Errorf("notify: %s is required", field)
	}
	for i, s := range to {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("notify: %s[%d] is empty", field, i)
		}
	}
	return nil
}

// parseHTTPURL parses the http(s) URL of the option field.
func parseHTTPURL(field, s string) (*url.URL, error) {
	u, err := endpoint.HTTP(s)
	if err != nil {
		return nil, fmt.Errorf("notify: %s: %w", field, err)
	}
	return u, nil
}

// redactor scrubs secrets from the error text a channel returns: API keys,
// passwords, webhook secrets and URLs that may carry them.
type redactor struct {
	secrets []string
}

// newRedactor keeps the secrets worth scrubbing: each non-empty one, and
// its escaped forms as they would appear inside a URL.
func newRedactor(secrets ...string) redactor {
	var r redactor
	for _, s := range secrets {
		// A secret of one or two characters would scrub ordinary words
		// (and is no secret).
		if len(s) < 3 {
			continue
		}
		r.secrets = append(r.secrets, s, url.QueryEscape(s), url.PathEscape(s))
	}
	return r
}

const redacted = "[REDACTED]"

func (r redactor) scrub(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

// errorf formats an error and scrubs its text.
func (r redactor) errorf(format string, args ...any) error {
	return &channelError{msg: r.scrub(fmt.Sprintf(format, args...))}
}

// wrap describes a transport error under prefix with its text scrubbed. If
// err is a *url.Error, the URL in it is replaced by safeURL. The result
// unwraps to the error beneath when that one's text holds no secret, so
// callers can still test for context.DeadlineExceeded.
func (r redactor) wrap(prefix string, err error, safeURL string) error {
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		err = &url.Error{Op: ue.Op, URL: safeURL, Err: ue.Err}
		cause = ue.Err
	}
	msg := r.scrub(prefix + ": " + err.Error())
	if cause != nil && r.scrub(cause.Error()) != cause.Error() {
		cause = nil
	}
	return &channelError{msg: msg, cause: cause}
}

// channelError is the error every built-in channel returns: its text was
// scrubbed of secrets when it was made.
type channelError struct {
	msg   string
	cause error
}

func (e *channelError) Error() string { return e.msg }
func (e *channelError) Unwrap() error { return e.cause }

// redactURL shows where a request went without what may authorize it: the
// scheme and host, never userinfo, path or query (a webhook path is often
// the token itself, as in Slack's).
func redactURL(u *url.URL) string {
	s := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		s += "/..."
	}
	return s
}

// parseEmailAddresses reads the From and To of an email channel whose
// options are named prefix, such as "SMTPOptions". A From without a name
// is shown as "dynowatch".
func parseEmailAddresses(prefix, from string, to []string) (*mail.Address, []*mail.Address, error) {
	if from == "" {
		return nil, nil, fmt.Errorf("notify: %s.From is required", prefix)
	}
	f, err := parseMailAddress(prefix+".From", from)
	if err != nil {
		return nil, nil, err
	}
	if f.Name == "" {
		f.Name = "dynowatch"
	}
	if err := checkRecipients(prefix+".To", to); err != nil {
		return nil, nil, err
	}
	var out []*mail.Address
	for i, s := range to {
		a, err := parseMailAddress(fmt.Sprintf("%s.To[%d]", prefix, i), s)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, a)
	}
	return f, out, nil
}

// parseMailAddress reads "addr@example.com" or "Name <addr@example.com>".
func parseMailAddress(field, s string) (*mail.Address, error) {
	a, err := mail.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("notify: %s %q: not an email address", field, s)
	}
	return a, nil
}

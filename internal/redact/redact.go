// Package redact hides secrets in what dynowatch shows people: URLs in
// errors, logs and config listings, and error texts that may quote a
// password, an API key or a URL that is itself a capability. It is the one
// place that decides what counts as secret.
package redact

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Mask stands where a secret was.
const Mask = "xxxxx"

// secretParams are the words that make a query parameter secret: its value
// is hidden when its name contains one of them, in any case
// ("access_token", "apiKey", "X-Amz-Signature").
var secretParams = []string{"pass", "secret", "token", "key", "sig", "auth"}

// secretParam reports whether the query parameter name holds a secret.
func secretParam(name string) bool {
	name = strings.ToLower(name)
	for _, s := range secretParams {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// URL returns raw as people may see it: its password, or a user name that
// comes without one (as in https://TOKEN@host), and the values of secret
// query parameters are replaced by Mask. Text that is not a URL comes back
// as a placeholder, since it may be a password.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a value that is not a URL)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), Mask)
		} else if u.User.Username() != "" {
			u.User = url.User(Mask)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if secretParam(k) {
				q[k] = []string{Mask}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Origin shows where a request went without what may authorize it: the
// scheme and host, never user info, path or query, since the path of a
// webhook or a log session is often the token itself. "/..." says that
// something was left out.
func Origin(u *url.URL) string {
	s := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		s += "/..."
	}
	return s
}

// Error returns err with the URL that net/http puts in a *url.Error
// replaced by shown (such as URL(raw) or Origin(u)). Any other error comes
// back as it is.
func Error(err error, shown string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: shown, Err: ue.Err}
	}
	return err
}

// Scrubber removes known secrets from text: API keys, passwords, signing
// secrets. The zero Scrubber removes nothing.
type Scrubber struct {
	secrets []string
}

// NewScrubber returns a Scrubber of secrets: each one of three characters
// or more, and its escaped forms as they would appear inside a URL. A
// shorter one would scrub ordinary words, and is no secret.
func NewScrubber(secrets ...string) Scrubber {
	var s Scrubber
	for _, secret := range secrets {
		if len(secret) < 3 {
			continue
		}
		s.secrets = append(s.secrets, secret, url.QueryEscape(secret), url.PathEscape(secret))
	}
	return s
}

// URLScrubber is the Scrubber of what raw carries that may authorize a
// request: its password or lone user name, and the values of its secret
// query parameters. Text that is not a URL is scrubbed whole, since it may
// be a password.
func URLScrubber(raw string) Scrubber {
	u, err := url.Parse(raw)
	if err != nil {
		return NewScrubber(raw)
	}
	var secrets []string
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		} else {
			secrets = append(secrets, u.User.Username())
		}
	}
	for k, vs := range u.Query() {
		if secretParam(k) {
			secrets = append(secrets, vs...)
		}
	}
	return NewScrubber(secrets...)
}

// Scrub returns text with every secret replaced by Mask.
func (s Scrubber) Scrub(text string) string {
	for _, secret := range s.secrets {
		text = strings.ReplaceAll(text, secret, Mask)
	}
	return text
}

// Errorf formats an error and scrubs its text.
func (s Scrubber) Errorf(format string, args ...any) error {
	return &scrubbed{msg: s.Scrub(fmt.Sprintf(format, args...))}
}

// Wrap describes err under prefix with its text scrubbed, and the URL of a
// *url.Error in it replaced by shown. The result unwraps to the error
// beneath when that one's text holds no secret, so callers can still test
// for context.DeadlineExceeded.
func (s Scrubber) Wrap(prefix string, err error, shown string) error {
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	msg := s.Scrub(prefix + ": " + Error(err, shown).Error())
	if cause != nil && s.Scrub(cause.Error()) != cause.Error() {
		cause = nil
	}
	return &scrubbed{msg: msg, cause: cause}
}

// scrubbed is an error whose text was scrubbed when it was made.
type scrubbed struct {
	msg   string
	cause error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.cause }

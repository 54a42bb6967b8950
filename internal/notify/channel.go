package notify

import (
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/endpoint"
)

// DefaultSendTimeout bounds one send on any channel when its options leave
// Timeout zero. It applies on top of the caller's context.
const DefaultSendTimeout = 10 * time.Second

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

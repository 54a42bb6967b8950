// Package endpoint checks the URLs dynowatch connects to (its database, the
// channels it alerts on, the targets of status checks) before it tries them,
// with one rule and one wording wherever a user hands one in.
package endpoint

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// hostless are the schemes whose URLs may name no host: postgres:///db is
// a Unix socket.
var hostless = []string{"postgres", "postgresql"}

// Parse parses raw as a URL of one of schemes (lower case) with a host. Its
// errors say what is wrong without quoting raw, which may hold a password
// or a token: callers name the var or field it came from.
func Parse(raw string, schemes ...string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if !slices.Contains(schemes, u.Scheme) {
		return nil, errors.New("want a URL starting " + strings.Join(schemes, ":// or ") + "://")
	}
	if u.Hostname() == "" && !slices.Contains(hostless, u.Scheme) {
		return nil, errors.New("the URL has no host")
	}
	return u, nil
}

// HTTP parses raw as an http or https URL with a host, as Parse does.
func HTTP(raw string) (*url.URL, error) { return Parse(raw, "http", "https") }

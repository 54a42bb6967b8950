// Package auth checks the shared passwords dynowatch's HTTP endpoints are
// reached with, by HTTP basic auth under any user name: the drain secrets
// Logplex sends, and the passwords of the dashboard, the API and /metrics:
// one whose holders may act, one whose holders may only look.
package auth

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
)

// Passwords are the passwords an endpoint accepts. There may be several,
// so that one can be rotated without refusing requests.
type Passwords struct {
	secrets [][]byte
}

// NewPasswords returns the set of passwords.
func NewPasswords(passwords ...string) Passwords {
	p := Passwords{secrets: make([][]byte, len(passwords))}
	for i, s := range passwords {
		p.secrets[i] = []byte(s)
	}
	return p
}

// Allow reports whether r carries basic auth with one of the passwords.
// The password is compared with every one in constant time, so neither a
// match nor its position leaks through timing.
func (p Passwords) Allow(r *http.Request) bool {
	_, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	match := 0
	for _, s := range p.secrets {
		match |= subtle.ConstantTimeCompare([]byte(pass), s)
	}
	return match == 1
}

// Match reports whether password is one of the passwords, compared with
// every one in constant time as in Allow: for a secret sent otherwise than
// by basic auth, such as a bearer token.
func (p Passwords) Match(password string) bool {
	match := 0
	for _, s := range p.secrets {
		match |= subtle.ConstantTimeCompare([]byte(password), s)
	}
	return match == 1
}

// CheckSecrets reports what is wrong with the secrets an intake is
// configured with (the drain and the OTLP intake take the same ones): none
// at all, or an empty one, which would let an empty password in.
func CheckSecrets(secrets []string) error {
	if len(secrets) == 0 {
		return errors.New("Options.Secrets is empty")
	}
	for i, s := range secrets {
		if s == "" {
			return fmt.Errorf("Options.Secrets[%d] is empty", i)
		}
	}
	return nil
}

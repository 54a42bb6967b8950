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

// Basic is middleware that lets a request through when Allow does, and
// otherwise answers 401 with a basic-auth challenge for realm and the
// API's JSON error body.
func Basic(passwords []string, realm string) func(http.Handler) http.Handler {
	p := NewPasswords(passwords...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !p.Allow(r) {
				w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"error":"unauthorized"}` + "\n"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
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

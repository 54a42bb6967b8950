package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRotatedPasswords: a guard with two passwords (one being rotated out)
// takes either, under any user name, and nothing else.
func TestRotatedPasswords(t *testing.T) {
	h := NewDashboard([]string{"old-secret", "new-secret"}, nil, "dynowatch").View(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	for _, tc := range []struct {
		name       string
		user, pass string
		basic      bool
		want       int
	}{
		{"no credentials", "", "", false, http.StatusUnauthorized},
		{"old password", "dynowatch", "old-secret", true, http.StatusNoContent},
		{"new password, any user", "someone", "new-secret", true, http.StatusNoContent},
		{"no user", "", "new-secret", true, http.StatusNoContent},
		{"wrong password", "dynowatch", "new-secret2", true, http.StatusUnauthorized},
		{"a prefix of a password", "dynowatch", "new", true, http.StatusUnauthorized},
		{"password as user name", "new-secret", "", true, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.basic {
				r.SetBasicAuth(tc.user, tc.pass)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d", w.Code, tc.want)
			}
			if tc.want != http.StatusUnauthorized {
				return
			}
			if got := w.Header().Get("WWW-Authenticate"); got != `Basic realm="dynowatch"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if got := w.Body.String(); got != `{"error":"unauthorized"}`+"\n" || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("body %q (%s)", got, w.Header().Get("Content-Type"))
			}
		})
	}
}

func TestNoPasswords(t *testing.T) {
	// With no password set, nothing is allowed, not even an empty one.
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth("", "")
	if NewPasswords().Allow(r) {
		t.Error("an empty set allowed a request")
	}
}

func TestMatch(t *testing.T) {
	p := NewPasswords("old-secret", "new-secret")
	for pass, want := range map[string]bool{"old-secret": true, "new-secret": true, "new": false, "": false, "new-secret ": false} {
		if got := p.Match(pass); got != want {
			t.Errorf("Match(%q) = %v, want %v", pass, got, want)
		}
	}
}

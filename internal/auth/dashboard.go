package auth

import (
	"context"
	"encoding/json"
	"net/http"
)

// Dashboard guards the dashboard and the API with their two passwords:
// DASHBOARD_PASSWORD, whose holders may act (silence, acknowledge, delete),
// and DASHBOARD_VIEW_PASSWORD, whose holders may only look.
//
// Requests that act are also refused when a browser sends them from
// another origin (CSRF): basic auth is sent by the browser on its own, so a
// page elsewhere could otherwise post a form to the dashboard with the
// user's credentials. Go's http.CrossOriginProtection judges by the
// Sec-Fetch-Site header every browser has sent since 2023 (else by Origin
// against Host), needs no token in forms and no secret shared between web
// dynos, and lets through scripts (curl), which send neither header and
// carry their credentials on purpose.
type Dashboard struct {
	act, view Passwords
	realm     string
	csrf      *http.CrossOriginProtection
}

// NewDashboard returns the guard of act's and view's passwords; view may
// be empty. Any user name is accepted: it names who acted (Actor).
func NewDashboard(act, view []string, realm string) *Dashboard {
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deny(w, http.StatusForbidden, "cross-origin request refused: act from the dashboard's own pages")
	}))
	return &Dashboard{act: NewPasswords(act...), view: NewPasswords(view...), realm: realm, csrf: csrf}
}

type canActKey struct{}

// View is middleware that lets in either password, and tells the handler
// through CanAct which one came.
func (d *Dashboard) View(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case d.act.Allow(r):
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), canActKey{}, true)))
		case d.view.Allow(r):
			next.ServeHTTP(w, r)
		default:
			d.challenge(w)
		}
	})
}

// Act is middleware that lets in only the password that may act, and only
// from the same origin: the view password gets 403, as does a cross-origin
// browser request.
func (d *Dashboard) Act(next http.Handler) http.Handler {
	return d.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case d.act.Allow(r):
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), canActKey{}, true)))
		case d.view.Allow(r):
			deny(w, http.StatusForbidden, "the view password (DASHBOARD_VIEW_PASSWORD) may look, not act: use DASHBOARD_PASSWORD")
		default:
			d.challenge(w)
		}
	}))
}

// CanAct reports whether r, let in by View or Act, came with the password
// that may act: the pages show their buttons only then.
func CanAct(r *http.Request) bool {
	ok, _ := r.Context().Value(canActKey{}).(bool)
	return ok
}

// Actor returns who sent r: its basic-auth user name, which the dashboard
// asks for beside the password. The audit log records it.
func Actor(r *http.Request) string {
	user, _, _ := r.BasicAuth()
	return user
}

func (d *Dashboard) challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="`+d.realm+`"`)
	deny(w, http.StatusUnauthorized, "unauthorized")
}

// deny answers status with the API's JSON error body.
func deny(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Write(append(b, '\n'))
}

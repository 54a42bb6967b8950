package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDashboardRoles(t *testing.T) {
	d := NewDashboard([]string{"act-pw"}, []string{"view-pw"}, "dynowatch")
	handler := func(w http.ResponseWriter, r *http.Request) {
		if CanAct(r) {
			w.Header().Set("Can-Act", "yes")
		}
		w.Header().Set("Actor", Actor(r))
		w.WriteHeader(http.StatusNoContent)
	}
	view, act := d.View(http.HandlerFunc(handler)), d.Act(http.HandlerFunc(handler))
	for _, tc := range []struct {
		name         string
		guard        http.Handler
		method, pass string
		header       map[string]string
		want         int
		wantCanAct   bool
	}{
		{"look without a password", view, "GET", "", nil, http.StatusUnauthorized, false},
		{"look with the view password", view, "GET", "view-pw", nil, http.StatusNoContent, false},
		{"look with the password that acts", view, "GET", "act-pw", nil, http.StatusNoContent, true},
		{"act without a password", act, "POST", "", nil, http.StatusUnauthorized, false},
		{"act with a wrong password", act, "POST", "nope", nil, http.StatusUnauthorized, false},
		{"act with the view password", act, "POST", "view-pw", nil, http.StatusForbidden, false},
		{"act with the view password from the page", act, "POST", "view-pw", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusForbidden, false},
		{"act from a script (no browser headers)", act, "POST", "act-pw", nil, http.StatusNoContent, true},
		{"act from the dashboard's page", act, "POST", "act-pw", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusNoContent, true},
		{"act from another site", act, "POST", "act-pw", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, false},
		{"delete from another site", act, "DELETE", "act-pw", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden, false},
		{"act from another origin, old browser", act, "POST", "act-pw", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden, false},
		{"act from the same origin, old browser", act, "POST", "act-pw", map[string]string{"Origin": "http://dynowatch.example"}, http.StatusNoContent, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://dynowatch.example/x", nil)
			if tc.pass != "" {
				r.SetBasicAuth("ana", tc.pass)
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			tc.guard.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tc.want, w.Body)
			}
			if got := w.Header().Get("Can-Act") == "yes"; got != tc.wantCanAct {
				t.Errorf("CanAct = %v, want %v", got, tc.wantCanAct)
			}
			if w.Code == http.StatusNoContent && w.Header().Get("Actor") != "ana" {
				t.Errorf("Actor = %q, want the user name ana", w.Header().Get("Actor"))
			}
			if w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") != `Basic realm="dynowatch"` {
				t.Errorf("401 without a basic-auth challenge: %v", w.Header())
			}
			if w.Code == http.StatusForbidden && !strings.HasPrefix(w.Body.String(), `{"error":`) {
				t.Errorf("403 body %q, want the API's JSON error", w.Body)
			}
		})
	}
}

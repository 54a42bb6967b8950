package onboard

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dynowatch/dynowatch/internal/heroku"
)

// TestAppGeneration: the generation comes from the answer's generation, an
// object or, as version=3.sdk (which onboard asks for) gives it, a bare
// name; an answer without one (as before Fir) is a Cedar app's.
func TestAppGeneration(t *testing.T) {
	for body, want := range map[string]string{
		`{"id":"7a3e9f10-5c2b-4d8e-9f61-0b2c4d6e8a10","name":"fir-shop","generation":{"id":"b1c2d3e4-0000-4000-8000-0000000000f1","name":"fir"}}`:  heroku.Fir,
		`{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"my-shop","generation":{"id":"b1c2d3e4-0000-4000-8000-0000000000c1","name":"cedar"}}`: heroku.Cedar,
		`{"id":"745c1486-ad78-4de7-8da7-20d4f8b15b71","name":"my-fir-app","generation":"fir"}`:                                                     heroku.Fir,
		`{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"old-shop","stack":{"id":"ee582d3c-717d-4a57-ba5f-8b3a39f3a817","name":"heroku-22"}}`: heroku.Cedar,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
		c := &Client{APIURL: srv.URL, APIKey: "HRKU-good", HTTP: srv.Client()}
		a, err := c.App(t.Context(), "any-app")
		srv.Close()
		if err != nil || a.Generation != want {
			t.Errorf("answer %s: %+v, %v; want generation %s", body, a, err, want)
		}
	}
}

// TestAPIErrorScrubsKey: an error body that echoes the key (a proxy might)
// does not carry it into the error, and the error says what kind it is.
func TestAPIErrorScrubsKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"id":"forbidden","message":"key HRKU-secret-key may not read this app"}`)
	}))
	defer srv.Close()
	c := &Client{APIURL: srv.URL, APIKey: "HRKU-secret-key", HTTP: srv.Client()}
	_, err := c.App(t.Context(), "my-shop")
	if !errors.Is(err, heroku.ErrUnauthorized) || strings.Contains(err.Error(), "HRKU-secret-key") {
		t.Errorf("error %v: want ErrUnauthorized without the key", err)
	}
}

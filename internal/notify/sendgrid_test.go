package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

var _ Notifier = (*SendGrid)(nil)

const testSendGridKey = "SG.test-key.0123456789abcdef"

// sendGridMail is what the test server reads of a Mail Send request.
type sendGridMail struct {
	Personalizations []struct {
		To []struct {
			Email string `json:"email"`
			Name  string `json:"name"`
		} `json:"to"`
	} `json:"personalizations"`
	From struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"from"`
	Subject string `json:"subject"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
	Headers          map[string]string `json:"headers"`
	TrackingSettings struct {
		ClickTracking struct {
			Enable *bool `json:"enable"`
		} `json:"click_tracking"`
	} `json:"tracking_settings"`
}

// newSendGridServer answers Mail Send like SendGrid with status and body,
// failing the test when the request is not what SendGrid expects.
func newSendGridServer(t *testing.T, status int, body string) (*httptest.Server, <-chan sendGridMail) {
	t.Helper()
	got := make(chan sendGridMail, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" {
			t.Errorf("request %s %s, want POST /v3/mail/send", r.Method, r.URL.Path)
		}
		if got, want := r.Header.Get("Authorization"), "Bearer "+testSendGridKey; got != want {
			t.Errorf("Authorization=%q, want %q", got, want)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type=%q, want application/json", got)
		}
		if got := r.Header.Get("Accept"); got != "application/json" {
			t.Errorf("Accept=%q, want application/json", got)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		var m sendGridMail
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("body is not JSON: %v: %s", err, b)
		}
		got <- m
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func newTestSendGrid(t *testing.T, host string) *SendGrid {
	t.Helper()
	s, err := NewSendGrid(SendGridOptions{
		APIKey: testSendGridKey,
		Host:   host + "/",
		From:   "alerts@example.com",
		To:     []string{"ops@example.com", "Jane Doe <jane@example.com>"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSendGridSends(t *testing.T) {
	srv, got := newSendGridServer(t, http.StatusAccepted, "")
	s := newTestSendGrid(t, srv.URL)
	n := fixtureGrouped()
	retry, err := s.Notify(context.Background(), n)
	if err != nil || retry {
		t.Fatalf("Notify=%v, %v; want false, nil", retry, err)
	}
	m := <-got
	want, err := RenderEmail(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Personalizations) != 1 || len(m.Personalizations[0].To) != 2 {
		t.Fatalf("personalizations=%+v, want one with two recipients", m.Personalizations)
	}
	to := m.Personalizations[0].To
	if to[0].Email != "ops@example.com" || to[1].Email != "jane@example.com" || to[1].Name != "Jane Doe" {
		t.Errorf("to=%+v", to)
	}
	if m.From.Email != "alerts@example.com" || m.From.Name != "dynowatch" {
		t.Errorf("from=%+v, want dynowatch <alerts@example.com>", m.From)
	}
	if m.Subject != want.Subject {
		t.Errorf("subject=%q, want %q", m.Subject, want.Subject)
	}
	if len(m.Content) != 2 ||
		m.Content[0].Type != "text/plain" || m.Content[0].Value != want.Text ||
		m.Content[1].Type != "text/html" || m.Content[1].Value != want.HTML {
		t.Errorf("content=%+v, want text/plain then text/html of RenderEmail", m.Content)
	}
	if m.Headers["X-Dynowatch-Delivery"] != n.ID {
		t.Errorf("headers=%v, want X-Dynowatch-Delivery %s", m.Headers, n.ID)
	}
	if e := m.TrackingSettings.ClickTracking.Enable; e == nil || *e {
		t.Errorf("click tracking not switched off")
	}
}

func TestSendGridErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		wantRetry bool
		wantErr   string
	}{
		{"bad request", 400,
			`{"errors":[{"message":"The from address does not match a verified Sender Identity.","field":"from","help":null},{"message":"Invalid type. Expected: object","field":"personalizations.0"}]}`,
			false, "sendgrid: 400 Bad Request: The from address does not match a verified Sender Identity. (from); Invalid type. Expected: object (personalizations.0)"},
		{"unauthorized", 401,
			`{"errors":[{"field":null,"message":"The provided authorization grant is invalid, expired, or revoked"}]}`,
			false, "sendgrid: 401 Unauthorized: The provided authorization grant is invalid, expired, or revoked"},
		{"forbidden", 403, `{"errors":[{"field":null,"message":"access forbidden"}]}`, false, "sendgrid: 403 Forbidden: access forbidden"},
		{"too large", 413, "", false, "sendgrid: 413 Request Entity Too Large"},
		{"rate limited", 429, `{"errors":[{"field":null,"message":"too many requests"}]}`, true, "sendgrid: 429 Too Many Requests: too many requests"},
		{"server error", 500, "<html>oops</html>", true, "sendgrid: 500 Internal Server Error: <html>oops</html>"},
		{"unavailable", 503, "", true, "sendgrid: 503 Service Unavailable"},
		{"200 is not 202", 200, "{}", false, "sendgrid: 200 OK: {}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := newSendGridServer(t, tc.status, tc.body)
			retry, err := newTestSendGrid(t, srv.URL).Notify(context.Background(), fixtureFiring())
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("err=%v, want %q", err, tc.wantErr)
			}
			if retry != tc.wantRetry {
				t.Errorf("retry=%v, want %v", retry, tc.wantRetry)
			}
		})
	}
}

func TestSendGridNetworkErrorRetries(t *testing.T) {
	srv, _ := newSendGridServer(t, http.StatusAccepted, "")
	srv.Close()
	retry, err := newTestSendGrid(t, srv.URL).Notify(context.Background(), fixtureFiring())
	if err == nil || !retry {
		t.Fatalf("Notify=%v, %v; want retry and an error", retry, err)
	}
	if !strings.HasPrefix(err.Error(), "sendgrid: Post \""+srv.URL+"/v3/mail/send\": dial tcp") {
		t.Errorf("err=%v", err)
	}
}

// TestSendGridConcurrentSends is for the race detector: each send builds
// its own request.
func TestSendGridConcurrentSends(t *testing.T) {
	srv, got := newSendGridServer(t, http.StatusAccepted, "")
	s := newTestSendGrid(t, srv.URL)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.Notify(context.Background(), fixtureFiring()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(got) != 20 {
		t.Errorf("%d requests, want 20", len(got))
	}
}

func TestNewSendGridValidates(t *testing.T) {
	good := func() SendGridOptions {
		return SendGridOptions{APIKey: "k", From: "a@example.com", To: []string{"b@example.com"}}
	}
	for _, tc := range []struct {
		name    string
		edit    func(*SendGridOptions)
		wantErr string
	}{
		{"no key", func(o *SendGridOptions) { o.APIKey = "" }, "notify: SendGridOptions.APIKey is required"},
		{"no from", func(o *SendGridOptions) { o.From = "" }, "notify: SendGridOptions.From is required"},
		{"bad from", func(o *SendGridOptions) { o.From = "not an address" }, `notify: SendGridOptions.From "not an address": not an email address`},
		{"no to", func(o *SendGridOptions) { o.To = nil }, "notify: SendGridOptions.To is required"},
		{"empty to", func(o *SendGridOptions) { o.To = []string{"b@example.com", " "} }, "notify: SendGridOptions.To[1] is empty"},
		{"bad to", func(o *SendGridOptions) { o.To = []string{"b@"} }, `notify: SendGridOptions.To[0] "b@": not an email address`},
		{"bad host", func(o *SendGridOptions) { o.Host = "api.sendgrid.com" }, "notify: SendGridOptions.Host: want a URL starting http:// or https://"},
		{"host with path", func(o *SendGridOptions) { o.Host = "https://api.sendgrid.com/v3" }, "notify: SendGridOptions.Host: want a scheme and host only, such as https://api.eu.sendgrid.com"},
		{"negative timeout", func(o *SendGridOptions) { o.Timeout = -1 }, "notify: SendGridOptions.Timeout -1ns: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good()
			tc.edit(&o)
			_, err := NewSendGrid(o)
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("err=%v, want %q", err, tc.wantErr)
			}
		})
	}
	s, err := NewSendGrid(good())
	if err != nil {
		t.Fatal(err)
	}
	if s.host != SendGridHost || s.Name() != "email:sendgrid" {
		t.Errorf("host=%q name=%q", s.host, s.Name())
	}
}

package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var _ Notifier = (*Webhook)(nil)

type webhookRequest struct {
	method, path string
	header       http.Header
	body         []byte
}

// newWebhookServer answers every request with status and records it.
func newWebhookServer(t *testing.T, status int, body string) (*httptest.Server, <-chan webhookRequest) {
	t.Helper()
	got := make(chan webhookRequest, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		got <- webhookRequest{r.Method, r.URL.RequestURI(), r.Header.Clone(), b}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestWebhookPostsSignedJSON(t *testing.T) {
	srv, got := newWebhookServer(t, http.StatusNoContent, "")
	const secret = "whsec-0123456789"
	w, err := NewWebhook(WebhookOptions{URL: srv.URL + "/hooks/dynowatch?team=ops", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	n := fixtureGrouped()
	if retry, err := w.Notify(context.Background(), n); err != nil || retry {
		t.Fatalf("Notify=%v, %v; want false, nil", retry, err)
	}
	r := <-got
	if r.method != http.MethodPost || r.path != "/hooks/dynowatch?team=ops" {
		t.Errorf("request %s %s, want POST /hooks/dynowatch?team=ops", r.method, r.path)
	}
	want, err := RenderWebhook(n)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.body) != string(want) {
		t.Errorf("body\n%s\nwant\n%s", r.body, want)
	}
	for k, v := range map[string]string{
		"Content-Type":         "application/json",
		"X-Dynowatch-Delivery": n.ID,
		"User-Agent":           "dynowatch",
	} {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	// Verify as a receiver would: the HMAC of the raw body it read.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(r.body)
	wantSig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if sig := r.header.Get("X-Dynowatch-Signature"); !hmac.Equal([]byte(sig), []byte(wantSig)) {
		t.Errorf("X-Dynowatch-Signature=%q, want %q", sig, wantSig)
	}
	if WebhookSignature([]byte(secret), r.body) != wantSig {
		t.Errorf("WebhookSignature disagrees with the receiver's HMAC")
	}
}

// TestWebhookSignsTheTimestamp: each attempt carries the time it was signed
// and a signature over that time and the body, which VerifyWebhook accepts
// then and refuses once stale or altered.
func TestWebhookSignsTheTimestamp(t *testing.T) {
	srv, got := newWebhookServer(t, http.StatusNoContent, "")
	const secret = "whsec-0123456789"
	signed := time.Date(2025, 3, 14, 9, 26, 5, 0, time.UTC)
	w, err := NewWebhook(WebhookOptions{URL: srv.URL, Secret: secret, Now: func() time.Time { return signed }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Notify(context.Background(), fixtureFiring()); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if ts := r.header.Get("X-Dynowatch-Timestamp"); ts != "1741944365" {
		t.Errorf("X-Dynowatch-Timestamp=%q, want 1741944365", ts)
	}
	// As a receiver in another language would: HMAC of "timestamp.body".
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("1741944365."))
	mac.Write(r.body)
	if sig, want := r.header.Get("X-Dynowatch-Signature-V2"), "sha256="+hex.EncodeToString(mac.Sum(nil)); sig != want {
		t.Errorf("X-Dynowatch-Signature-V2=%q, want %q", sig, want)
	}
	if r.header.Get("X-Dynowatch-Signature") != WebhookSignature([]byte(secret), r.body) {
		t.Errorf("X-Dynowatch-Signature, of the body alone, is no longer sent for older receivers")
	}

	altered := r.header.Clone()
	altered.Set("X-Dynowatch-Timestamp", "1741944999")
	for _, tc := range []struct {
		name    string
		secret  string
		header  http.Header
		body    []byte
		now     time.Time
		wantErr string
	}{
		{"as sent", secret, r.header, r.body, signed.Add(2 * time.Second), ""},
		{"clock of the receiver a little behind", secret, r.header, r.body, signed.Add(-time.Minute), ""},
		{"replayed ten minutes later", secret, r.header, r.body, signed.Add(10 * time.Minute), "signed 10m0s away from now"},
		{"timestamp moved forward", secret, altered, r.body, signed.Add(10 * time.Minute), "X-Dynowatch-Signature-V2 does not match"},
		{"body altered", secret, r.header, append([]byte(" "), r.body...), signed, "X-Dynowatch-Signature-V2 does not match"},
		{"another secret", "whsec-other", r.header, r.body, signed, "X-Dynowatch-Signature-V2 does not match"},
		{"no timestamp", secret, http.Header{}, r.body, signed, `X-Dynowatch-Timestamp "" is not Unix seconds`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhook([]byte(tc.secret), tc.header, tc.body, tc.now, DefaultWebhookTolerance)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("VerifyWebhook: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrWebhookSignature)):
				t.Errorf("VerifyWebhook=%v, want ErrWebhookSignature saying %q", err, tc.wantErr)
			}
		})
	}
}

// TestWebhookRetryIsSignedAnew: the outbox's retry an hour later carries
// a fresh timestamp, so a receiver's tolerance does not refuse it.
func TestWebhookRetryIsSignedAnew(t *testing.T) {
	srv, got := newWebhookServer(t, http.StatusNoContent, "")
	now := time.Date(2025, 3, 14, 9, 26, 5, 0, time.UTC)
	w, err := NewWebhook(WebhookOptions{URL: srv.URL, Secret: "whsec-0123456789", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	n := fixtureFiring()
	for range 2 {
		if _, err := w.Notify(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		r := <-got
		if err := VerifyWebhook([]byte("whsec-0123456789"), r.header, r.body, now, DefaultWebhookTolerance); err != nil {
			t.Errorf("attempt at %v: %v", now, err)
		}
		now = now.Add(time.Hour)
	}
}

func TestWebhookWithoutSecretSendsNoSignature(t *testing.T) {
	srv, got := newWebhookServer(t, http.StatusOK, "ok")
	w, err := NewWebhook(WebhookOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Notify(context.Background(), fixtureResolved()); err != nil {
		t.Fatal(err)
	}
	r := <-got
	for _, h := range []string{"X-Dynowatch-Signature", "X-Dynowatch-Signature-V2", "X-Dynowatch-Timestamp"} {
		if _, ok := r.header[h]; ok {
			t.Errorf("%s sent without a secret", h)
		}
	}
	if !strings.Contains(string(r.body), `"status":"resolved"`) || !strings.Contains(string(r.body), `"resolved_at":"2025-03-14T09:38:33Z"`) {
		t.Errorf("body %s, want status resolved and resolved_at", r.body)
	}
}

func TestWebhookStatuses(t *testing.T) {
	for _, tc := range []struct {
		status    int
		body      string
		wantRetry bool
		wantErr   string // "" for success
	}{
		{200, "", false, ""},
		{202, "", false, ""},
		{204, "", false, ""},
		{400, `{"error":"bad payload"}`, false, `400 Bad Request: {"error":"bad payload"}`},
		{401, "", false, "401 Unauthorized"},
		{404, "not found", false, "404 Not Found: not found"},
		{410, "", false, "410 Gone"},
		{429, "", true, "429 Too Many Requests"},
		{500, "boom", true, "500 Internal Server Error: boom"},
		{502, "", true, "502 Bad Gateway"},
		{503, strings.Repeat("x", 5000), true, "503 Service Unavailable: " + strings.Repeat("x", 199) + "…"},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv, _ := newWebhookServer(t, tc.status, tc.body)
			w, err := NewWebhook(WebhookOptions{URL: srv.URL + "/hook"})
			if err != nil {
				t.Fatal(err)
			}
			retry, err := w.Notify(context.Background(), fixtureFiring())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("err=%v, want none", err)
			case tc.wantErr != "" && (err == nil || err.Error() != "webhook "+srv.URL+"/...: "+tc.wantErr):
				t.Errorf("err=%v, want %q", err, "webhook "+srv.URL+"/...: "+tc.wantErr)
			}
			if retry != tc.wantRetry {
				t.Errorf("retry=%v, want %v", retry, tc.wantRetry)
			}
		})
	}
}

func TestWebhookDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Add(1) }))
	defer target.Close()
	srv := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer srv.Close()

	callers := &http.Client{} // follows redirects itself
	for name, client := range map[string]*http.Client{"default client": nil, "caller's client": callers} {
		t.Run(name, func(t *testing.T) {
			w, err := NewWebhook(WebhookOptions{URL: srv.URL, HTTPClient: client})
			if err != nil {
				t.Fatal(err)
			}
			retry, err := w.Notify(context.Background(), fixtureFiring())
			if want := "webhook " + srv.URL + ": 307 Temporary Redirect: redirects are not followed"; err == nil || err.Error() != want {
				t.Errorf("err=%v, want %q", err, want)
			}
			if retry {
				t.Errorf("retry on a redirect")
			}
		})
	}
	if followed.Load() != 0 {
		t.Errorf("the redirect was followed")
	}
	if callers.CheckRedirect != nil {
		t.Errorf("the caller's client was changed")
	}
}

func TestWebhookNetworkErrorRetries(t *testing.T) {
	srv, _ := newWebhookServer(t, 200, "")
	srv.Close()
	w, err := NewWebhook(WebhookOptions{URL: srv.URL + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := w.Notify(context.Background(), fixtureFiring())
	if err == nil || !retry {
		t.Fatalf("Notify=%v, %v; want retry and an error", retry, err)
	}
	if want := `webhook: Post "` + srv.URL + `/...": dial tcp`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err=%v, want it to start with %q", err, want)
	}
}

func TestNewWebhookValidates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       WebhookOptions
		wantErr string
	}{
		{"no URL", WebhookOptions{}, "notify: WebhookOptions.URL is required"},
		{"not http", WebhookOptions{URL: "ftp://example.com/x"}, "notify: WebhookOptions.URL: want a URL starting http:// or https://"},
		{"no host", WebhookOptions{URL: "https:///x"}, "notify: WebhookOptions.URL: the URL has no host"},
		{"unparsable, with a secret in it", WebhookOptions{URL: "https://u:sec%zzret@example.com/"}, "notify: WebhookOptions.URL: not a URL"},
		{"negative timeout", WebhookOptions{URL: "https://example.com", Timeout: -1}, "notify: WebhookOptions.Timeout -1ns: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWebhook(tc.o)
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("err=%v, want %q", err, tc.wantErr)
			}
		})
	}
}

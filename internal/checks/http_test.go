package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/redact"
)

var ctx = context.Background()

// mustParse parses a check of var CHECK_T.
func mustParse(t *testing.T, value string) *Check {
	t.Helper()
	c, err := Parse("CHECK_T", value)
	if err != nil {
		t.Fatalf("Parse(%q): %v", value, err)
	}
	return &c
}

// wantResult fails t unless r passed (wantErr "") or failed with an error
// containing wantErr.
func wantResult(t *testing.T, r Result, wantErr string) {
	t.Helper()
	switch {
	case wantErr == "" && (!r.OK || r.Error != ""):
		t.Fatalf("run failed: %s (result %+v)", r.Error, r)
	case wantErr != "" && (r.OK || !strings.Contains(r.Error, wantErr)):
		t.Fatalf("run: ok=%v error %q, want a failure with %q", r.OK, r.Error, wantErr)
	}
}

func value(r Result) float64 {
	if r.Value == nil {
		return -1
	}
	return *r.Value
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "status: all good") })
	mux.HandleFunc("/created", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Token") != "abc" || r.Header.Get("Accept") != "text/plain" || r.Host != "myapp.example.com" {
			http.Error(w, "who are you", http.StatusUnauthorized)
		}
	})
	mux.HandleFunc("/method", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, r.Method, http.StatusMethodNotAllowed)
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "all ")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/sluggish", func(w http.ResponseWriter, r *http.Request) { time.Sleep(150 * time.Millisecond) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u := srv.URL

	for _, c := range []struct {
		name, check, wantErr string
		wantStatus           float64
	}{
		{"200", "http " + u + "/ok", "", 200},
		{"201 is 2xx", "http " + u + "/created", "", 201},
		{"201 is not 200", "http " + u + "/created status=200,204", "HTTP 201 Created, want 200,204", 201},
		{"500", "http " + u + "/boom", "HTTP 500 Internal Server Error, want 2xx", 500},
		{"500 accepted", "http " + u + "/boom status=5xx", "", 500},
		{"redirect not followed", "http " + u + "/old", "HTTP 302 Found, want 2xx (a redirect to /ok, not followed without follow_redirects=true)", 302},
		{"redirect accepted as such", "http " + u + "/old status=302", "", 302},
		{"redirect followed", "http " + u + "/old follow_redirects=true contains=good", "", 200},
		{"redirect loop", "http " + u + "/loop follow_redirects=true", "stopped after 10 redirects", -1},
		{"contains", `http ` + u + `/ok contains="all good"`, "", 200},
		{"does not contain", `http ` + u + `/ok contains="all bad"`, `the body does not contain "all bad"`, 200},
		{"headers", `http ` + u + `/token header="X-Token: abc" header="Accept: text/plain" header="Host: myapp.example.com"`, "", 200},
		{"missing header", `http ` + u + `/token header="X-Token: abc"`, "HTTP 401 Unauthorized", 401},
		{"method", "http " + u + "/method method=POST", "", 200},
		{"wrong method", "http " + u + "/method", "HTTP 405 Method Not Allowed", 405},
		{"slow", "http " + u + "/slow every=2s timeout=200ms", "timed out after 200ms waiting for the response", -1},
		{"slow body", "http " + u + "/slow-body every=2s timeout=200ms contains=good", "timed out after 200ms reading the body", -1},
		{"over max_latency", "http " + u + "/sluggish timeout=5s max_latency=50ms", "over max_latency=50ms", 200},
		{"under max_latency", "http " + u + "/sluggish timeout=5s max_latency=3s", "", 200},
		{"several problems", `http ` + u + `/boom contains=nope`, `HTTP 500 Internal Server Error, want 2xx; the body does not contain "nope"`, 500},
		{"connection refused", "http http://" + closedAddr(t) + "/", "connect: connection refused", -1},
		{"https to plain HTTP", "http https://" + strings.TrimPrefix(u, "http://") + "/ok", "server gave HTTP response to HTTPS client", -1},
		{"DNS", "http http://no-such-host.invalid/ timeout=5s", "DNS lookup of no-such-host.invalid failed", -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			check := mustParse(t, c.check)
			start := time.Now()
			r := (&Prober{}).Probe(ctx, check)
			wantResult(t, r, c.wantErr)
			if got := value(r); got != c.wantStatus {
				t.Errorf("Value = %v, want %v", got, c.wantStatus)
			}
			if r.Latency <= 0 || time.Since(start) > check.Timeout+2*time.Second {
				t.Errorf("Latency %v, run took %v: want a hard deadline of %v", r.Latency, time.Since(start), check.Timeout)
			}
			if r.Check != "t" || r.Kind != "http" || r.Time.IsZero() {
				t.Errorf("result names %q/%q at %v", r.Check, r.Kind, r.Time)
			}
		})
	}
}

func TestHTTPTLS(t *testing.T) {
	t.Parallel()
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	quiet := log.New(io.Discard, "", 0) // the handshakes that fail on purpose
	srv := httptest.NewUnstartedServer(hello)
	srv.Config.ErrorLog = quiet
	srv.StartTLS()
	t.Cleanup(srv.Close)

	// Trusted: the days to expiry are recorded; httptest's certificate
	// lasts decades, so no warning.
	r := (&Prober{HTTPClient: srv.Client()}).Probe(ctx, mustParse(t, "http "+srv.URL))
	wantResult(t, r, "")
	if want := srv.Certificate().NotAfter; !r.CertExpiry.Equal(want) || r.Warning != "" {
		t.Fatalf("CertExpiry %v, warning %q; want %v and none", r.CertExpiry, r.Warning, want)
	}

	// Untrusted: a failure that says why.
	r = (&Prober{}).Probe(ctx, mustParse(t, "http "+srv.URL))
	wantResult(t, r, "TLS: the certificate is not trusted: x509: certificate signed by unknown authority")
	if !r.CertExpiry.IsZero() {
		t.Fatalf("CertExpiry %v of a failed handshake", r.CertExpiry)
	}

	// Near its end: still up, with a warning for the alert of its own.
	now := time.Now().UTC()
	cert := selfSigned(t, now.Add(5*24*time.Hour+time.Hour))
	soon := httptest.NewUnstartedServer(hello)
	soon.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	soon.StartTLS()
	t.Cleanup(soon.Close)
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
	p := &Prober{HTTPClient: trusting, Now: func() time.Time { return now }}
	r = p.Probe(ctx, mustParse(t, "http "+soon.URL))
	wantResult(t, r, "")
	want := "the certificate of 127.0.0.1 expires in 5 days, on " + cert.Leaf.NotAfter.UTC().Format(time.DateOnly) + " (cert_days=14)"
	if r.Warning != want {
		t.Fatalf("Warning %q, want %q", r.Warning, want)
	}
	r = p.Probe(ctx, mustParse(t, "http "+soon.URL+" cert_days=5"))
	if r.Warning != "" || !r.CertExpiry.Equal(cert.Leaf.NotAfter) {
		t.Fatalf("with cert_days=5: warning %q, expiry %v", r.Warning, r.CertExpiry)
	}

	// Expired: the handshake fails, with the reason.
	old := httptest.NewUnstartedServer(hello)
	old.Config.ErrorLog = quiet
	expired := selfSigned(t, time.Now().Add(-time.Hour))
	old.TLS = &tls.Config{Certificates: []tls.Certificate{expired}}
	old.StartTLS()
	t.Cleanup(old.Close)
	pool.AddCert(expired.Leaf)
	r = (&Prober{HTTPClient: trusting}).Probe(ctx, mustParse(t, "http "+old.URL))
	wantResult(t, r, "TLS: the certificate is not trusted: x509: certificate has expired")
}

func TestHTTPTargetFromEnv(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var hits []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hits = append(hits, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{}
	p := &Prober{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	c := mustParse(t, "http env:HEALTH_URL")
	wantResult(t, p.Probe(ctx, c), "CHECK_T: its target env:HEALTH_URL is not set")
	for _, path := range []string{"/a", "/b"} {
		env["HEALTH_URL"] = srv.URL + path // changed between runs: each run reads it
		wantResult(t, p.Probe(ctx, c), "")
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(hits, ","); got != "/a,/b" {
		t.Fatalf("requests to %s, want /a,/b", got)
	}
}

func TestHTTPErrorsHidePasswords(t *testing.T) {
	t.Parallel()
	for _, target := range []string{
		"http://user:s3cretpw@" + closedAddr(t) + "/?token=s3cretpw",
		"http://user:s3cretpw@no-such-host.invalid/",
	} {
		r := (&Prober{}).Probe(ctx, mustParse(t, "http "+target+" timeout=5s"))
		if r.OK || r.Error == "" || strings.Contains(r.Error, "s3cretpw") {
			t.Fatalf("run of %s: ok=%v error %q; want a failure without the secret", redact.URL(target), r.OK, r.Error)
		}
	}
}

// A run ends when its context does, and says so rather than blaming the
// target.
func TestProbeStopped(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(ctx)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	r := (&Prober{}).Probe(ctx, mustParse(t, "http "+srv.URL+" timeout=10s"))
	wantResult(t, r, "stopped: context canceled")
}

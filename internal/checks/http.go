package checks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/duration"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// maxBody is the most of a response body an http check reads: contains=
// looks within it.
const maxBody = 1 << 20

// maxRedirects is how many redirects follow_redirects=true follows.
const maxRedirects = 10

func (p *Prober) probeHTTP(ctx context.Context, c *Check, raw string, start, now time.Time) outcome {
	req, err := http.NewRequestWithContext(ctx, c.Method, raw, nil)
	if err != nil {
		return fail("bad request: %v", err)
	}
	req.Header.Set("User-Agent", "dynowatch-check/1")
	for _, h := range c.Headers {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	client := p.httpClient(c)
	if p.HTTPClient == nil {
		defer client.CloseIdleConnections()
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail("%s", describeHTTPError(ctx, c, err))
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	latency := time.Since(start)

	code := float64(resp.StatusCode)
	o := outcome{value: &code}
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		leaf := resp.TLS.PeerCertificates[0]
		o.certExpiry = leaf.NotAfter.UTC()
		days := int(math.Floor(leaf.NotAfter.Sub(now).Hours() / 24))
		if c.CertDays > 0 && days < c.CertDays {
			o.warning = fmt.Sprintf("the certificate of %s expires in %d days, on %s (cert_days=%d)",
				resp.Request.URL.Hostname(), days, leaf.NotAfter.UTC().Format(time.DateOnly), c.CertDays)
		}
	}
	var problems []string
	if !c.Status.Match(resp.StatusCode) {
		msg := fmt.Sprintf("HTTP %s, want %s", resp.Status, c.Status)
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
			msg += fmt.Sprintf(" (a redirect to %s, not followed without follow_redirects=true)", redact.URL(loc))
		}
		problems = append(problems, msg)
	}
	if readErr != nil {
		if t := timedOut(ctx, c, "reading the body"); t != "" {
			return fail("%s", t)
		}
		problems = append(problems, "reading the body: "+readErr.Error())
	}
	if c.MaxLatency > 0 && latency > c.MaxLatency {
		problems = append(problems, fmt.Sprintf("took %s, over max_latency=%s", latency.Round(time.Millisecond), duration.Format(c.MaxLatency)))
	}
	if c.Contains != "" && readErr == nil && !bytes.Contains(body, []byte(c.Contains)) {
		msg := fmt.Sprintf("the body does not contain %q", c.Contains)
		if len(body) == maxBody {
			msg += " within its first MiB"
		}
		problems = append(problems, msg)
	}
	o.err = strings.Join(problems, "; ")
	return o
}

// httpClient is the client for one run of c: p's, or one of the run's own,
// with the deadline left to the context and c's redirect rule.
func (p *Prober) httpClient(c *Check) *http.Client {
	var cl http.Client
	if p.HTTPClient != nil {
		cl = *p.HTTPClient
	} else {
		cl.Transport = &http.Transport{
			DialContext:         (&net.Dialer{}).DialContext,
			DisableKeepAlives:   true,
			ForceAttemptHTTP2:   true,
			TLSHandshakeTimeout: c.Timeout,
		}
	}
	cl.Timeout = 0
	if c.FollowRedirects {
		cl.CheckRedirect = func(_ *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		}
	} else {
		cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return &cl
}

// describeHTTPError says why a request got no response, in a user's words:
// DNS, connection, TLS or timeout.
func describeHTTPError(ctx context.Context, c *Check, err error) string {
	if t := timedOut(ctx, c, "waiting for the response"); t != "" {
		return t
	}
	var (
		dnsErr   *net.DNSError
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		opErr    *net.OpError
	)
	switch {
	case errors.As(err, &dnsErr):
		reason := dnsErr.Err
		if dnsErr.IsNotFound {
			reason = "no such host"
		}
		return fmt.Sprintf("DNS lookup of %s failed: %s", dnsErr.Name, reason)
	case errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid):
		return "TLS: the certificate is not trusted: " + certReason(err)
	case errors.As(err, &verify):
		return "TLS: the certificate is not trusted: " + verify.Err.Error()
	case errors.As(err, &record):
		return "TLS handshake failed: the server does not speak TLS on this port"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Sprintf("cannot connect to %s: %v", opErr.Addr, opErr.Err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error() // without the URL, which may hold a secret in its query
	}
	return err.Error()
}

// certReason is the innermost x509 error of err, without Go's prefixes.
func certReason(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return strings.TrimPrefix(err.Error(), "tls: failed to verify certificate: ")
		}
		err = next
	}
}

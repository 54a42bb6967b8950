package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/dynowatch/dynowatch/alert"
	"github.com/dynowatch/dynowatch/redact"
)

// WebhookOptions configure a webhook: a JSON POST to a URL of the user's.
type WebhookOptions struct {
	URL         string         // ALERT_WEBHOOK_URL; may carry credentials or a token, which never appear in errors
	Secret      string         // ALERT_WEBHOOK_SECRET: signs each body when set
	MinSeverity alert.Severity // the least severe alert sent; empty sends all
	// HTTPClient is optional. Redirects are never followed, even with a
	// client of the caller's: a 3xx answer is an error.
	HTTPClient *http.Client
	Timeout    time.Duration // of one send; default DefaultSendTimeout
}

// Webhook posts notifications as JSON (see RenderWebhook) with the headers
// X-Dynowatch-Delivery and, when a secret is set, X-Dynowatch-Signature:
// "sha256=" and the hex HMAC-SHA256 of the exact body under the secret.
type Webhook struct {
	url     string
	where   string // the URL as errors show it: scheme and host
	secret  []byte
	min     alert.Severity
	client  *http.Client
	timeout time.Duration
	redact  redact.Scrubber
}

// NewWebhook checks o and returns a webhook channel.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	if o.URL == "" {
		return nil, fmt.Errorf("notify: WebhookOptions.URL is required")
	}
	u, err := parseHTTPURL("WebhookOptions.URL", o.URL)
	if err != nil {
		return nil, err
	}
	if err := checkMinSeverity("WebhookOptions.MinSeverity", o.MinSeverity); err != nil {
		return nil, err
	}
	timeout, err := sendTimeout("WebhookOptions.Timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	// Copy the caller's client to switch redirects off without changing it.
	client := *channelHTTPClient(o.HTTPClient, timeout)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Webhook{
		url:     o.URL,
		where:   redact.Origin(u),
		secret:  []byte(o.Secret),
		min:     o.MinSeverity,
		client:  &client,
		timeout: timeout,
		redact:  redact.NewScrubber(webhookSecrets(u, o.Secret)...),
	}, nil
}

// webhookSecrets are the parts of the URL that may authorize a request,
// and the signing secret.
func webhookSecrets(u *url.URL, secret string) []string {
	s := []string{secret, u.RawQuery}
	if u.String() != redact.Origin(u) {
		s = append(s, u.String())
	}
	if u.User != nil {
		p, _ := u.User.Password()
		// Go sends userinfo as basic auth: a receiver echoing the header
		// would show it in base64.
		basic := base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + p))
		s = append(s, u.User.String(), p, basic)
	}
	if len(u.Path) > 1 {
		s = append(s, u.EscapedPath(), u.Path)
	}
	for _, vs := range u.Query() {
		s = append(s, vs...)
	}
	return s
}

// Name returns "webhook".
func (w *Webhook) Name() string { return "webhook" }

// MinSeverity is the least severe alert this channel is told of; the
// Sender applies it.
func (w *Webhook) MinSeverity() alert.Severity { return w.min }

// Notify posts n. Any 2xx is success; 429, 5xx and network errors are
// worth a retry, any other answer (a 3xx included) is not.
func (w *Webhook) Notify(ctx context.Context, n *alert.Notification) (retry bool, err error) {
	body, err := RenderWebhook(n)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	h := http.Header{}
	h.Set("User-Agent", "dynowatch")
	if id := oneLine(n.ID); id != "" {
		h.Set("X-Dynowatch-Delivery", id)
	}
	if len(w.secret) > 0 {
		h.Set("X-Dynowatch-Signature", WebhookSignature(w.secret, body))
	}
	resp, retry, err := postJSON(ctx, w.client, w.redact, "webhook", w.url, w.where, h, body)
	if err != nil {
		return retry, err
	}
	defer resp.Body.Close()
	ok, retry := RetryableStatus(resp.StatusCode)
	if ok {
		// Drain a little so the connection can be reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return false, nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	detail := answerSnippet(w.redact.Scrub(string(snippet)))
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		detail = "redirects are not followed"
	}
	return retry, answerError(w.redact, "webhook "+w.where, resp, detail)
}

// WebhookSignature is the X-Dynowatch-Signature of a webhook body: "sha256=" and
// the hex HMAC-SHA256 of body under secret. A receiver recomputes it over
// the raw body it read and compares with hmac.Equal.
func WebhookSignature(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

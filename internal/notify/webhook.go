package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// WebhookOptions configure a webhook: a JSON POST to a URL of the user's.
type WebhookOptions struct {
	URL    string // ALERT_WEBHOOK_URL; may carry credentials or a token, which never appear in errors
	Secret string // ALERT_WEBHOOK_SECRET: signs each body when set
	// HTTPClient is optional. Redirects are never followed, even with a
	// client of the caller's: a 3xx answer is an error.
	HTTPClient *http.Client
	Timeout    time.Duration    // of one send; default DefaultSendTimeout
	Now        func() time.Time // the clock of X-Dynowatch-Timestamp; time.Now when nil
}

// The headers of a signed webhook request.
const (
	// WebhookTimestampHeader is when the request was signed, in Unix
	// seconds: each attempt is signed anew, so a retry an hour later is
	// still fresh.
	WebhookTimestampHeader = "X-Dynowatch-Timestamp"
	// WebhookSignatureV2Header is WebhookSignatureV2: the timestamp and the
	// body signed together, so that a receiver can refuse a replay.
	WebhookSignatureV2Header = "X-Dynowatch-Signature-V2"
	// WebhookSignatureHeader is WebhookSignature, of the body alone. It is
	// kept for the receivers written before the timestamp: it proves who
	// sent a body but not when, so a captured request can be replayed.
	WebhookSignatureHeader = "X-Dynowatch-Signature"
)

// Webhook posts notifications as JSON (see RenderWebhook) with the header
// X-Dynowatch-Delivery and, when a secret is set, X-Dynowatch-Timestamp,
// X-Dynowatch-Signature-V2 and X-Dynowatch-Signature.
type Webhook struct {
	url     string
	where   string // the URL as errors show it: scheme and host
	secret  []byte
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
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
	timeout, err := sendTimeout("WebhookOptions.Timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	// Copy the caller's client to switch redirects off without changing it.
	client := *channelHTTPClient(o.HTTPClient, timeout)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Webhook{
		url:     o.URL,
		where:   redact.Origin(u),
		secret:  []byte(o.Secret),
		client:  &client,
		timeout: timeout,
		now:     o.Now,
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
		ts := strconv.FormatInt(w.now().Unix(), 10)
		h.Set(WebhookTimestampHeader, ts)
		h.Set(WebhookSignatureV2Header, WebhookSignatureV2(w.secret, ts, body))
		h.Set(WebhookSignatureHeader, WebhookSignature(w.secret, body))
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

// WebhookSignatureV2 is the X-Dynowatch-Signature-V2 of a webhook request:
// "sha256=" and the hex HMAC-SHA256, under secret, of the timestamp as
// sent in X-Dynowatch-Timestamp, a ".", and the raw body.
func WebhookSignatureV2(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp + "."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// DefaultWebhookTolerance is how far from the receiver's clock a
// timestamp may be: the time a request takes plus some clock skew, short
// enough that a replayed request is stale.
const DefaultWebhookTolerance = 5 * time.Minute

// ErrWebhookSignature is why VerifyWebhook refuses a request.
var ErrWebhookSignature = errors.New("notify: webhook signature")

// VerifyWebhook checks a webhook request as its receiver should: the
// X-Dynowatch-Signature-V2 of the raw body and X-Dynowatch-Timestamp,
// with a timestamp at most tolerance away from now. Within the tolerance, a
// receiver that must never act twice also drops an X-Dynowatch-Delivery it
// has seen (a retry of a delivery it did not take carries the same id and a
// new timestamp).
func VerifyWebhook(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := h.Get(WebhookTimestampHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not Unix seconds", ErrWebhookSignature, WebhookTimestampHeader, ts)
	}
	want := WebhookSignatureV2(secret, ts, body)
	if !hmac.Equal([]byte(h.Get(WebhookSignatureV2Header)), []byte(want)) {
		return fmt.Errorf("%w: %s does not match", ErrWebhookSignature, WebhookSignatureV2Header)
	}
	if d := now.Sub(time.Unix(sec, 0)).Abs(); d > tolerance {
		return fmt.Errorf("%w: signed %v away from now, more than %v: a replay, or a clock far off", ErrWebhookSignature, d.Round(time.Second), tolerance)
	}
	return nil
}

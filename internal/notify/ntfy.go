package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// ntfyMaxMessage is what ntfy takes as a message: a longer body becomes an
// attachment, or is refused where attachments are off.
const ntfyMaxMessage = 4096

// NtfyOptions configure push notifications through ntfy (ntfy.sh or a
// server of your own).
type NtfyOptions struct {
	// URL is NTFY_URL, the topic's: https://ntfy.sh/my-topic. User and
	// password in it (https://user:pass@ntfy.example.com/alerts) are sent
	// as basic auth.
	URL        string
	Token      string // NTFY_TOKEN: an access token (tk_…), sent as a bearer token; not with a password in URL
	HTTPClient *http.Client
	Timeout    time.Duration // of one send; default DefaultSendTimeout
}

// Ntfy publishes notifications to an ntfy topic: the title, priority and
// tags say how bad, a click opens the dashboard, and the reminders and
// resolution of an alert replace its notification on ntfy ≥ 2.16 (the same
// X-Sequence-ID), where older servers show them one after the other.
type Ntfy struct {
	url     string // without credentials
	where   string // as errors show it: scheme and host
	auth    string // the Authorization header, or ""
	client  *http.Client
	timeout time.Duration
	redact  redact.Scrubber
}

// NewNtfy checks o and returns an ntfy channel.
func NewNtfy(o NtfyOptions) (*Ntfy, error) {
	if o.URL == "" {
		return nil, fmt.Errorf("notify: NtfyOptions.URL is required")
	}
	u, err := parseHTTPURL("NtfyOptions.URL", o.URL)
	if err != nil {
		return nil, err
	}
	if strings.Trim(u.Path, "/") == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("notify: NtfyOptions.URL: want the topic's URL, such as https://ntfy.sh/my-alerts, without a query")
	}
	secrets := []string{o.Token, u.EscapedPath(), u.Path}
	var auth string
	if u.User != nil {
		if o.Token != "" {
			return nil, fmt.Errorf("notify: NtfyOptions: a password in URL and a Token: set one of them")
		}
		pass, _ := u.User.Password()
		basic := base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + pass))
		auth = "Basic " + basic
		secrets = append(secrets, pass, u.User.String(), basic)
		u.User = nil
	}
	if o.Token != "" {
		auth = "Bearer " + o.Token
	}
	timeout, err := sendTimeout("NtfyOptions.Timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	return &Ntfy{
		url: u.String(),
		// On a public server the topic name is the password: errors show
		// the host only.
		where:   redact.Origin(u),
		auth:    auth,
		client:  channelHTTPClient(o.HTTPClient, timeout),
		timeout: timeout,
		redact:  redact.NewScrubber(secrets...),
	}, nil
}

// Name returns "ntfy".
func (c *Ntfy) Name() string { return "ntfy" }

// ntfyMessage is a publish request: the headers ntfy reads, and the body.
type ntfyMessage struct {
	Title      string
	Priority   int // 1 (min) to 5 (max)
	Tags       []string
	Click      string
	Actions    string // ntfy's action buttons, "view, Acknowledge, https://…"
	SequenceID string
	Body       string
}

// header is m's headers, the title RFC 2047-encoded when it is not ASCII
// (ntfy decodes it).
func (m ntfyMessage) header() http.Header {
	h := http.Header{}
	h.Set("Title", mime.QEncoding.Encode("utf-8", m.Title))
	h.Set("Priority", strconv.Itoa(m.Priority))
	if len(m.Tags) > 0 {
		h.Set("Tags", strings.Join(m.Tags, ","))
	}
	if m.Click != "" {
		h.Set("Click", m.Click)
	}
	if m.Actions != "" {
		h.Set("Actions", m.Actions)
	}
	if m.SequenceID != "" {
		h.Set("X-Sequence-ID", m.SequenceID)
	}
	return h
}

// renderNtfy renders n as an ntfy message. Priority: a critical firing is
// 5 (max: a long vibration, and it breaks through Do Not Disturb where the
// user allowed it), a warning 4, info 3; reminders and flapping one lower,
// resolved and tests 3. Tags: an emoji for the status, then the app and
// the code.
func renderNtfy(n *alert.Notification) ntfyMessage {
	a := firstAlert(n)
	m := ntfyMessage{
		Title:    pushTitle(n),
		Priority: ntfyPriority(n),
		Click:    oneLine(n.URL),
		Body:     pushText(n, ntfyMaxMessage),
	}
	if u := oneLine(a.AckURL); u != "" && !strings.ContainsAny(u, ",;") {
		// A view action opens the ack page; clear=true dismisses the
		// notification as the page opens.
		m.Actions = "view, Acknowledge, " + u + ", clear=true"
	}
	m.Tags = append(m.Tags, ntfyEmoji(n))
	for _, t := range []string{string(n.Status), a.App, a.Code} {
		// A tag is one word of the comma-separated list.
		if t = strings.NewReplacer(",", " ").Replace(oneLine(t)); t != "" {
			m.Tags = append(m.Tags, t)
		}
	}
	if n.Status != alert.Test && a.Key != "" {
		m.SequenceID = ntfySequenceID(a.Key)
	}
	return m
}

func ntfyPriority(n *alert.Notification) int {
	p := 3
	switch n.Severity() {
	case alert.Critical:
		p = 5
	case alert.Warning:
		p = 4
	}
	switch n.Status {
	case alert.Reminder, alert.Flapping:
		return p - 1
	case alert.Resolved, alert.Test:
		return 3
	case alert.Acknowledged:
		return 2 // replaces the firing's notification without a sound
	}
	return p
}

// ntfyEmoji is the tag ntfy shows as an emoji before the title.
func ntfyEmoji(n *alert.Notification) string {
	switch n.Status {
	case alert.Resolved:
		return "white_check_mark"
	case alert.Test:
		return "test_tube"
	case alert.Acknowledged:
		return "eyes"
	}
	switch n.Severity() {
	case alert.Critical:
		return "rotating_light"
	case alert.Warning:
		return "warning"
	}
	return "information_source"
}

// ntfySequenceID names an alert's notification on ntfy, the same for each
// of its messages on every worker; letters, digits and '-' only.
func ntfySequenceID(alertKey string) string {
	h := sha256.Sum256([]byte(alertKey))
	return "dynowatch-" + hex.EncodeToString(h[:12])
}

// ntfyAnswer is ntfy's error body: {"code":40101,"http":401,"error":
// "unauthorized","link":"https://ntfy.sh/docs/publish/#authentication"}.
type ntfyAnswer struct {
	Code  int    `json:"code"`
	Error string `json:"error"`
	Link  string `json:"link"`
}

// Notify publishes n. Any 2xx is success; 429 (a rate or a daily quota),
// 5xx and network errors are worth a retry, any other answer (401 or 403
// for wrong credentials or a topic not theirs) is not.
func (c *Ntfy) Notify(ctx context.Context, n *alert.Notification) (retry bool, err error) {
	m := renderNtfy(n)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader([]byte(m.Body)))
	if err != nil {
		return false, c.redact.Wrap("ntfy", err, c.where)
	}
	req.Header = m.header()
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", "dynowatch")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return true, c.redact.Wrap("ntfy", err, c.where)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	ok, retry := RetryableStatus(resp.StatusCode)
	if ok {
		return false, nil
	}
	scrubbed := c.redact.Scrub(string(raw))
	detail := answerSnippet(scrubbed)
	var a ntfyAnswer
	if json.Unmarshal([]byte(scrubbed), &a) == nil && a.Error != "" {
		detail = oneLine(a.Error + " (" + strconv.Itoa(a.Code) + sep(a.Link, ", see ") + ")")
	}
	return retry, answerError(c.redact, "ntfy "+c.where, resp, detail)
}

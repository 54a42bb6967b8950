package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/redact"
	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"
)

// SendGrid hosts: the default (US) API and the EU one, for data residency.
const (
	SendGridHost   = "https://api.sendgrid.com"
	SendGridHostEU = "https://api.eu.sendgrid.com"
)

// sendGridMaxRecipients is SendGrid's limit per request.
const sendGridMaxRecipients = 1000

// SendGridOptions configure email through SendGrid's v3 Mail Send API.
type SendGridOptions struct {
	APIKey     string   // SENDGRID_API_KEY
	Host       string   // SENDGRID_HOST; default SendGridHost, SendGridHostEU for EU data residency
	From       string   // ALERT_EMAIL_FROM: "alerts@example.com" or "dynowatch <alerts@example.com>"
	To         []string // ALERT_EMAIL_TO
	HTTPClient *http.Client
	Timeout    time.Duration // of one send; default DefaultSendTimeout
}

// SendGrid sends notifications as email through SendGrid.
type SendGrid struct {
	key     string
	host    string
	from    *sgmail.Email
	to      []*sgmail.Email
	client  *rest.Client
	timeout time.Duration
	redact  redact.Scrubber
}

// NewSendGrid checks o and returns a SendGrid channel.
func NewSendGrid(o SendGridOptions) (*SendGrid, error) {
	if o.APIKey == "" {
		return nil, fmt.Errorf("notify: SendGridOptions.APIKey is required")
	}
	host := strings.TrimRight(o.Host, "/")
	if host == "" {
		host = SendGridHost
	}
	if u, err := parseHTTPURL("SendGridOptions.Host", host); err != nil {
		return nil, err
	} else if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("notify: SendGridOptions.Host: want a scheme and host only, such as %s", SendGridHostEU)
	}
	from, addrs, err := parseEmailAddresses("SendGridOptions", o.From, o.To)
	if err != nil {
		return nil, err
	}
	if len(addrs) > sendGridMaxRecipients {
		return nil, fmt.Errorf("notify: SendGridOptions.To: %d addresses, SendGrid takes at most %d", len(addrs), sendGridMaxRecipients)
	}
	var to []*sgmail.Email
	for _, a := range addrs {
		to = append(to, sgmail.NewEmail(a.Name, a.Address))
	}
	timeout, err := sendTimeout("SendGridOptions.Timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	return &SendGrid{
		key:     o.APIKey,
		host:    host,
		from:    sgmail.NewEmail(from.Name, from.Address),
		to:      to,
		client:  &rest.Client{HTTPClient: channelHTTPClient(o.HTTPClient, timeout)},
		timeout: timeout,
		redact:  redact.NewScrubber(o.APIKey),
	}, nil
}

// Name returns "email:sendgrid".
func (s *SendGrid) Name() string { return "email:sendgrid" }

// Notify sends n to every address in one request. Only 202 Accepted is
// success; 429, 5xx and network errors are worth a retry.
func (s *SendGrid) Notify(ctx context.Context, n *alert.Notification) (retry bool, err error) {
	e, err := RenderEmail(n)
	if err != nil {
		return false, err
	}
	m := sgmail.NewV3Mail()
	m.SetFrom(s.from)
	m.Subject = e.Subject
	p := sgmail.NewPersonalization()
	p.AddTos(s.to...)
	m.AddPersonalizations(p)
	m.AddContent(sgmail.NewContent("text/plain", e.Text), sgmail.NewContent("text/html", e.HTML))
	if n.ID != "" {
		m.SetHeader("X-Dynowatch-Delivery", oneLine(n.ID))
		m.SetCustomArg("dynowatch_delivery", n.ID)
	}
	// SendGrid would otherwise rewrite the dashboard link through its
	// click tracker and add a tracking pixel to an alert.
	off := false
	m.SetTrackingSettings(&sgmail.TrackingSettings{
		ClickTracking: &sgmail.ClickTrackingSetting{Enable: &off, EnableText: &off},
		OpenTracking:  &sgmail.OpenTrackingSetting{Enable: &off},
	})
	body, err := json.Marshal(m)
	if err != nil {
		return false, fmt.Errorf("notify: sendgrid: %w", err)
	}

	// A request of our own per send: the shared sendgrid.Client writes its
	// Body field on every send, so concurrent sends would race.
	req := sendgrid.GetRequest(s.key, "/v3/mail/send", s.host)
	req.Method = rest.Post
	req.Body = body
	req.Headers["Content-Type"] = "application/json"

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// sendgrid.MakeRequestWithContext is DefaultClient.SendWithContext on a
	// package-level client; the same call on our own client keeps the HTTP
	// client injectable without touching package state.
	resp, err := s.client.SendWithContext(ctx, req)
	if err != nil {
		return true, s.redact.Wrap("sendgrid", err, s.host+"/v3/mail/send")
	}
	if resp.StatusCode == http.StatusAccepted {
		return false, nil
	}
	_, retry = RetryableStatus(resp.StatusCode)
	return retry, answerError(s.redact, "sendgrid", &http.Response{StatusCode: resp.StatusCode, Header: resp.Headers},
		sendGridErrors(s.redact.Scrub(resp.Body)))
}

// sendGridErrors reads the messages of a scrubbed error body
// {"errors":[{"field":"from","message":"…"}]} as "message (field); …", or
// shows the start of a body of another shape.
func sendGridErrors(body string) string {
	var b struct {
		Errors []struct {
			Field   *string `json:"field"`
			Message string  `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(body), &b) != nil || len(b.Errors) == 0 {
		return answerSnippet(body)
	}
	var msgs []string
	for _, e := range b.Errors {
		m := oneLine(e.Message)
		if e.Field != nil && *e.Field != "" {
			m += " (" + oneLine(*e.Field) + ")"
		}
		msgs = append(msgs, m)
	}
	return clip(strings.Join(msgs, "; "), 500, "…")
}

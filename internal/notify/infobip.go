package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// InfobipOptions configure SMS through Infobip's SMS API v3.
type InfobipOptions struct {
	BaseURL    string   // INFOBIP_BASE_URL: the account's, such as "xyz123.api.infobip.com", with or without https://
	APIKey     string   // INFOBIP_API_KEY
	Sender     string   // INFOBIP_SENDER: a number or an alphanumeric name; empty lets Infobip choose
	To         []string // ALERT_SMS_TO: international numbers, such as "41793026727" or "+41 79 302 67 27"
	HTTPClient *http.Client
	Timeout    time.Duration // of one send; default DefaultSendTimeout
}

// Infobip sends notifications as one SMS to each number through Infobip.
type Infobip struct {
	endpoint string // {base}/sms/3/messages
	key      string
	sender   string
	to       []string
	client   *http.Client
	timeout  time.Duration
	redact   redact.Scrubber
}

// phoneNumber is an international number once spaces, dashes, dots and
// parentheses are gone: an optional +, then up to 15 digits (E.164).
var phoneNumber = regexp.MustCompile(`^\+?[1-9][0-9]{5,14}$`)

// NewInfobip checks o and returns an Infobip SMS channel.
func NewInfobip(o InfobipOptions) (*Infobip, error) {
	base := strings.TrimRight(strings.TrimSpace(o.BaseURL), "/")
	if base == "" {
		return nil, fmt.Errorf("notify: InfobipOptions.BaseURL is required")
	}
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	u, err := parseHTTPURL("InfobipOptions.BaseURL", base)
	if err != nil {
		return nil, err
	}
	if u.User != nil || u.RawQuery != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("notify: InfobipOptions.BaseURL: want the account's host only, such as xyz123.api.infobip.com")
	}
	if o.APIKey == "" {
		return nil, fmt.Errorf("notify: InfobipOptions.APIKey is required")
	}
	if err := checkRecipients("InfobipOptions.To", o.To); err != nil {
		return nil, err
	}
	var to []string
	for i, s := range o.To {
		num := strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "").Replace(s)
		if !phoneNumber.MatchString(num) {
			return nil, fmt.Errorf("notify: InfobipOptions.To[%d] %q: want an international number, such as 41793026727", i, s)
		}
		to = append(to, num)
	}
	timeout, err := sendTimeout("InfobipOptions.Timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	return &Infobip{
		endpoint: u.Scheme + "://" + u.Host + "/sms/3/messages",
		key:      o.APIKey,
		sender:   strings.TrimSpace(o.Sender),
		to:       to,
		client:   channelHTTPClient(o.HTTPClient, timeout),
		timeout:  timeout,
		redact:   redact.NewScrubber(o.APIKey),
	}, nil
}

// Name returns "sms".
func (b *Infobip) Name() string { return "sms" }

type infobipRequest struct {
	Messages []infobipMessage `json:"messages"`
}

type infobipMessage struct {
	Sender       string               `json:"sender,omitempty"`
	Destinations []infobipDestination `json:"destinations"`
	Content      infobipContent       `json:"content"`
}

type infobipDestination struct {
	To string `json:"to"`
}

type infobipContent struct {
	Text string `json:"text"`
}

// infobipResponse reads both the answer to a send and an error body: v3's
// top-level errorCode and description, and v2's requestError.
type infobipResponse struct {
	Messages []struct {
		Destination string `json:"destination"` // v3
		To          string `json:"to"`          // v2
		Status      struct {
			GroupID     int    `json:"groupId"`
			GroupName   string `json:"groupName"`
			Name        string `json:"name"`
			Description string `json:"description"`
		} `json:"status"`
	} `json:"messages"`
	RequestError struct {
		ServiceException struct {
			MessageID string `json:"messageId"`
			Text      string `json:"text"`
		} `json:"serviceException"`
	} `json:"requestError"`
	ErrorCode   string `json:"errorCode"`
	Description string `json:"description"`
}

// Infobip status groups a send can answer with; the others (0 OK,
// 1 PENDING, 3 DELIVERED) mean it was taken.
const (
	infobipUndeliverable = 2
	infobipExpired       = 4
	infobipRejected      = 5
)

// Notify sends RenderSMS(n) to every number in one request. A number whose
// status group comes back UNDELIVERABLE, EXPIRED or REJECTED is an error
// naming it, not worth a retry; 429, 5xx and network errors are.
func (b *Infobip) Notify(ctx context.Context, n *alert.Notification) (retry bool, err error) {
	msg := infobipMessage{Sender: b.sender, Content: infobipContent{Text: RenderSMS(n)}}
	for _, to := range b.to {
		msg.Destinations = append(msg.Destinations, infobipDestination{To: to})
	}
	body, err := json.Marshal(infobipRequest{Messages: []infobipMessage{msg}})
	if err != nil {
		return false, fmt.Errorf("notify: infobip: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "App "+b.key)
	h.Set("Accept", "application/json")
	resp, retry, err := postJSON(ctx, b.client, b.redact, "infobip", b.endpoint, b.endpoint, h, body)
	if err != nil {
		return retry, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return true, b.redact.Wrap("infobip: reading the answer", err, b.endpoint)
	}
	// Scrub before cutting, or a cut secret would slip through half shown.
	scrubbed := b.redact.Scrub(string(raw))
	var r infobipResponse
	decodeErr := json.Unmarshal([]byte(scrubbed), &r)

	ok, retry := RetryableStatus(resp.StatusCode)
	if !ok {
		detail := infobipErrorText(r)
		if decodeErr != nil || detail == "" {
			detail = answerSnippet(scrubbed)
		}
		return retry, answerError(b.redact, "infobip", resp, detail)
	}
	var failed []string
	for _, m := range r.Messages {
		switch m.Status.GroupID {
		case infobipUndeliverable, infobipExpired, infobipRejected:
			failed = append(failed, infobipFailure(m.Destination+m.To, m.Status.GroupID, m.Status.GroupName, m.Status.Name, m.Status.Description))
		}
	}
	if len(failed) > 0 {
		return false, b.redact.Errorf("infobip: %s", strings.Join(failed, "; "))
	}
	return false, nil
}

// infobipErrorText is what an error body says, or "".
func infobipErrorText(r infobipResponse) string {
	se := r.RequestError.ServiceException
	return joinNonEmpty(": ",
		oneLine(joinNonEmpty(": ", se.MessageID, se.Text)),
		oneLine(joinNonEmpty(": ", r.ErrorCode, r.Description)))
}

// infobipFailure names a refused destination and why, as in
// "41793026727 REJECTED (REJECTED_DESTINATION: Destination rejected)".
func infobipFailure(dest string, group int, groupName, name, desc string) string {
	if groupName == "" {
		groupName = "status group " + strconv.Itoa(group)
	}
	s := oneLine(dest) + " " + oneLine(groupName)
	if why := oneLine(joinNonEmpty(": ", name, desc)); why != "" {
		s += " (" + why + ")"
	}
	return s
}

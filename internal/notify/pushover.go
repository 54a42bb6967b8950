package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// PushoverAPIURL is Pushover's API host; PUSHOVER_API_URL overrides it (a
// proxy, a test server).
const PushoverAPIURL = "https://api.pushover.net"

// Pushover's limits.
const (
	pushoverMaxTitle    = 250
	pushoverMaxMessage  = 1024
	pushoverMaxURL      = 512
	pushoverMinRetry    = 30 * time.Second
	pushoverMaxExpire   = 3 * time.Hour
	pushoverEmergency   = 2
	pushoverHigh        = 1
	pushoverNormal      = 0
	defaultPushoverWait = time.Minute // between the repeats of an emergency
	defaultPushoverTill = time.Hour   // how long an emergency repeats
)

// pushoverKey is an application token or a user or group key: 30
// characters of [A-Za-z0-9].
var pushoverKey = regexp.MustCompile(`^[A-Za-z0-9]{30}$`)

// PushoverOptions configure push notifications through Pushover.
type PushoverOptions struct {
	Token  string // PUSHOVER_TOKEN: the application's API token
	User   string // PUSHOVER_USER: the user or group key
	APIURL string // PUSHOVER_API_URL; default PushoverAPIURL
	// Retry and Expire are how often an emergency message repeats until
	// acknowledged, and for how long: by default every minute for an
	// hour. Pushover wants Retry ≥ 30 s and Expire ≤ 3 h.
	Retry, Expire time.Duration
	HTTPClient    *http.Client
	Timeout       time.Duration // of one send; default DefaultSendTimeout
}

// Pushover sends notifications through Pushover, a critical firing as an
// emergency message that repeats until acknowledged. It is an
// IncidentNotifier: the emergency's receipt is the message ref the Sender
// keeps, and the alert's resolution cancels its repeats.
type Pushover struct {
	token, user   string
	messages      string // {api}/1/messages.json
	api           string
	retry, expire time.Duration
	client        *http.Client
	timeout       time.Duration
	redact        redact.Scrubber
}

// NewPushover checks o and returns a Pushover channel.
func NewPushover(o PushoverOptions) (*Pushover, error) {
	for _, k := range []struct{ field, v string }{{"PushoverOptions.Token", o.Token}, {"PushoverOptions.User", o.User}} {
		switch {
		case k.v == "":
			return nil, fmt.Errorf("notify: %s is required", k.field)
		case !pushoverKey.MatchString(k.v):
			return nil, fmt.Errorf("notify: %s: want 30 letters and digits, as Pushover shows it", k.field)
		}
	}
	api := strings.TrimRight(strings.TrimSpace(o.APIURL), "/")
	if api == "" {
		api = PushoverAPIURL
	}
	u, err := parseHTTPURL("PushoverOptions.APIURL", api)
	if err != nil {
		return nil, err
	}
	if u.User != nil || u.RawQuery != "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("notify: PushoverOptions.APIURL: want the API host only, such as %s", PushoverAPIURL)
	}
	retry, expire := o.Retry, o.Expire
	if retry == 0 {
		retry = defaultPushoverWait
	}
	if expire == 0 {
		expire = defaultPushoverTill
	}
	if retry < pushoverMinRetry || expire > pushoverMaxExpire || expire < retry {
		return nil, fmt.Errorf("notify: PushoverOptions.Retry %v, Expire %v: want Retry at least 30s and Expire from Retry to 3h", retry, expire)
	}
	timeout, err := sendTimeout("PushoverOptions.Timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	return &Pushover{
		token: o.Token, user: o.User,
		api:      api,
		messages: api + "/1/messages.json",
		retry:    retry, expire: expire,
		client:  channelHTTPClient(o.HTTPClient, timeout),
		timeout: timeout,
		redact:  redact.NewScrubber(o.Token, o.User),
	}, nil
}

// Name returns "pushover".
func (p *Pushover) Name() string { return "pushover" }

// renderPushover renders n as the fields of a Pushover message, without
// the token and user. Priority: a critical firing is an emergency (2:
// repeated every retry until acknowledged, for expire at most), a warning
// high (1: through quiet hours), info normal (0); a reminder or flapping
// at most high, since the emergency of the firing still repeats; resolved
// and tests normal.
func renderPushover(n *alert.Notification, retry, expire time.Duration) url.Values {
	f := url.Values{}
	f.Set("title", clip(pushTitle(n), pushoverMaxTitle, "…"))
	f.Set("message", cutRunes(pushText(n, 4*pushoverMaxMessage), pushoverMaxMessage, "…"))
	ack := oneLine(firstAlert(n).AckURL)
	if len(ack) > pushoverMaxURL {
		ack = ""
	}
	switch u := oneLine(n.URL); {
	case ack != "":
		f.Set("url", ack)
		f.Set("url_title", "Acknowledge in dynowatch")
	case u != "" && len(u) <= pushoverMaxURL:
		f.Set("url", u)
		f.Set("url_title", "Open in dynowatch")
	}
	if !n.CreatedAt.IsZero() {
		f.Set("timestamp", strconv.FormatInt(n.CreatedAt.Unix(), 10))
	}
	p := pushoverPriority(n)
	f.Set("priority", strconv.Itoa(p))
	if p == pushoverEmergency {
		f.Set("retry", strconv.Itoa(int(retry.Seconds())))
		f.Set("expire", strconv.Itoa(int(expire.Seconds())))
		if ack != "" {
			// Pushover posts here when someone acknowledges the emergency
			// on their phone: the alert is acknowledged in dynowatch too.
			f.Set("callback", ack)
		}
	}
	return f
}

// cutRunes is clip by characters without looking for a word end: a
// message's last log line is cut where the limit falls.
func cutRunes(s string, n int, mark string) string {
	if runeLen(s) <= n {
		return s
	}
	return string([]rune(s)[:n-runeLen(mark)]) + mark
}

func pushoverPriority(n *alert.Notification) int {
	p := pushoverNormal
	switch n.Severity() {
	case alert.Critical:
		p = pushoverEmergency
	case alert.Warning:
		p = pushoverHigh
	}
	switch n.Status {
	case alert.Firing:
		return p
	case alert.Reminder, alert.Flapping:
		return min(p, pushoverHigh)
	}
	return pushoverNormal
}

// pushoverAnswer is Pushover's answer: {"status":1,"request":…} with a
// "receipt" for an emergency, or a 4xx with {"status":0,"errors":[…]}.
type pushoverAnswer struct {
	Status  int      `json:"status"`
	Request string   `json:"request"`
	Receipt string   `json:"receipt"`
	Errors  []string `json:"errors"`
}

// Notify sends n, as NotifyIncident does with no message before it: a
// test, or a notification the Sender keeps no refs for.
func (p *Pushover) Notify(ctx context.Context, n *alert.Notification) (retry bool, err error) {
	_, retry, err = p.NotifyIncident(ctx, n, MessageRef{})
	return retry, err
}

// NotifyIncident sends n. The ref of an emergency message is its receipt
// and the key of the alert it is named after (the first, most severe); when
// that alert resolves, NotifyIncident first cancels the repeats (a grouped
// emergency goes on repeating for the others until then). Any 2xx is
// success; 429, 5xx and network errors are worth a retry, any other answer
// (an invalid token or user key) is not.
func (p *Pushover) NotifyIncident(ctx context.Context, n *alert.Notification, prior MessageRef) (ref MessageRef, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	receipt, named, _ := strings.Cut(prior.ID, "|")
	if n.Status == alert.Acknowledged {
		// Someone is on it: the emergency stops repeating, and nothing
		// more buzzes. The message keeps its ref for the resolution.
		if receipt == "" || (named != "" && named != firstAlert(n).Key) {
			return prior, false, nil
		}
		retry, err := p.cancelEmergency(ctx, receipt)
		return prior, retry, err
	}
	if n.Status == alert.Resolved && receipt != "" && (named == "" || named == firstAlert(n).Key) {
		if retry, err := p.cancelEmergency(ctx, receipt); err != nil {
			return prior, retry, err
		}
		// Cancelled: the resolution sends no ref, and a retry of it finds
		// the receipt gone, which is no error.
		prior = MessageRef{}
	}
	f := renderPushover(n, p.retry, p.expire)
	f.Set("token", p.token)
	f.Set("user", p.user)
	answer, retry, err := p.post(ctx, "pushover", p.messages, f)
	if err != nil {
		return prior, retry, err
	}
	if answer.Receipt != "" {
		return MessageRef{ID: answer.Receipt + "|" + firstAlert(n).Key}, false, nil
	}
	return prior, false, nil
}

// cancelEmergency cancels the repeats of the emergency message of receipt.
// A receipt Pushover no longer knows (expired, or cancelled before) is no
// error.
func (p *Pushover) cancelEmergency(ctx context.Context, receipt string) (retry bool, err error) {
	f := url.Values{}
	f.Set("token", p.token)
	endpoint := p.api + "/1/receipts/" + url.PathEscape(receipt) + "/cancel.json"
	if _, retry, err := p.post(ctx, "pushover cancelling the emergency", endpoint, f); err != nil && retry {
		return true, err
	}
	return false, nil
}

// post posts the form f to endpoint and reads Pushover's answer.
func (p *Pushover) post(ctx context.Context, prefix, endpoint string, f url.Values) (pushoverAnswer, bool, error) {
	var answer pushoverAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(f.Encode()))
	if err != nil {
		return answer, false, p.redact.Wrap(prefix, err, p.api)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "dynowatch")
	resp, err := p.client.Do(req)
	if err != nil {
		return answer, true, p.redact.Wrap(prefix, err, p.api)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return answer, true, p.redact.Wrap(prefix+": reading the answer", err, p.api)
	}
	scrubbed := p.redact.Scrub(string(raw))
	decodeErr := json.Unmarshal([]byte(scrubbed), &answer)
	ok, retry := RetryableStatus(resp.StatusCode)
	if ok && (decodeErr != nil || answer.Status == 1) {
		return answer, false, nil
	}
	detail := answerSnippet(scrubbed)
	if decodeErr == nil && len(answer.Errors) > 0 {
		detail = oneLine(strings.Join(answer.Errors, "; ")) + sep(oneLine(answer.Request), ", request ")
	}
	return answer, retry, answerError(p.redact, prefix, resp, detail)
}

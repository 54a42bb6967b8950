package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// SlackOptions configure Slack: a bot token and a channel, whose messages
// are edited in place (chat.postMessage, then chat.update), or an incoming
// webhook, which can't edit and follows up instead.
type SlackOptions struct {
	Token      string // SLACK_BOT_TOKEN, "xoxb-…", with the chat:write scope
	Channel    string // SLACK_CHANNEL: a channel ID (C…) or name the bot is in
	WebhookURL string // SLACK_WEBHOOK_URL, instead of Token and Channel
	APIURL     string // SLACK_API_URL; default https://slack.com/api
	HTTPClient *http.Client
	Timeout    time.Duration // of one send; default DefaultSendTimeout
	// Interactive: the Acknowledge button acknowledges in Slack (the Slack
	// app's interactivity posts to /slack/interactions, SLACK_SIGNING_SECRET
	// set) rather than opening the ack link.
	Interactive bool
}

// DefaultSlackAPIURL is Slack's Web API.
const DefaultSlackAPIURL = "https://slack.com/api"

// Slack posts notifications as Block Kit messages in an attachment of the
// status colour.
type Slack struct {
	token, channel string
	api            string // the Web API's base, without a trailing slash
	hook           string // the incoming webhook's URL, when set
	where          string // where errors say requests went
	interactive    bool
	client         *http.Client
	timeout        time.Duration
	redact         redact.Scrubber
}

// NewSlack checks o and returns a Slack channel.
func NewSlack(o SlackOptions) (*Slack, error) {
	timeout, err := sendTimeout("SlackOptions.Timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	s := &Slack{interactive: o.Interactive, client: channelHTTPClient(o.HTTPClient, timeout), timeout: timeout}
	switch {
	case o.WebhookURL != "" && o.Token != "":
		return nil, errors.New("notify: SlackOptions: set WebhookURL or Token, not both")
	case o.WebhookURL != "":
		u, err := parseHTTPURL("SlackOptions.WebhookURL", o.WebhookURL)
		if err != nil {
			return nil, err
		}
		s.hook, s.where, s.redact = o.WebhookURL, redact.Origin(u), redact.NewScrubber(webhookSecrets(u, "")...)
		return s, nil
	case o.Token == "":
		return nil, errors.New("notify: SlackOptions.Token or WebhookURL is required")
	case strings.TrimSpace(o.Channel) == "":
		return nil, errors.New("notify: SlackOptions.Channel is required with a Token")
	}
	api := o.APIURL
	if api == "" {
		api = DefaultSlackAPIURL
	}
	u, err := parseHTTPURL("SlackOptions.APIURL", api)
	if err != nil {
		return nil, err
	}
	s.token, s.channel, s.api, s.where = o.Token, strings.TrimSpace(o.Channel), strings.TrimRight(api, "/"), redact.Origin(u)
	s.redact = redact.NewScrubber(o.Token)
	return s, nil
}

// Name returns "slack".
func (s *Slack) Name() string { return "slack" }

// Notify posts n as a message of its own.
func (s *Slack) Notify(ctx context.Context, n *alert.Notification) (retry bool, err error) {
	_, retry, err = s.NotifyIncident(ctx, n, MessageRef{})
	return retry, err
}

// NotifyIncident posts n, or edits prior's message to say n (a follow-up
// in its thread when prior tells of other alerts too). Through a webhook it
// posts n, or after a first message a short follow-up naming it.
func (s *Slack) NotifyIncident(ctx context.Context, n *alert.Notification, prior MessageRef) (MessageRef, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v := newMessageView(n)
	channel, ts, posted := slackMessageRef(prior)
	if s.hook != "" {
		msg := renderSlack(n, "", s.interactive)
		ref := MessageRef{ID: firstName(n, v)}
		if prior.ID != "" && !posted {
			msg, ref = renderSlack(n, prior.ID, s.interactive), prior
		}
		retry, err := s.postWebhook(ctx, msg)
		return ref, retry, err
	}
	msg := renderSlack(n, "", s.interactive)
	switch {
	case !posted:
		// A new incident, or one whose first message went through the
		// webhook, before the bot token: nothing to edit.
		msg.Channel = s.channel
		return s.call(ctx, "chat.postMessage", msg)
	case followsUp(n, prior):
		msg = renderSlack(n, "the message above", s.interactive)
		msg.Channel, msg.ThreadTS = channel, ts
		_, retry, err := s.call(ctx, "chat.postMessage", msg)
		return prior, retry, err
	}
	msg.Channel, msg.TS = channel, ts
	ref, retry, err := s.call(ctx, "chat.update", msg)
	var se *slackError
	if errors.As(err, &se) && (se.code == "message_not_found" || se.code == "cant_update_message" || se.code == "edit_window_closed") {
		// Deleted, or no longer ours to edit: the incident goes on in a
		// new message.
		msg.Channel, msg.TS = s.channel, ""
		return s.call(ctx, "chat.postMessage", msg)
	}
	return ref, retry, err
}

// slackTS is the shape of a message's ts, Slack's id of it.
var slackTS = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

// slackMessageRef reads the channel and ts of a message the bot posted from
// its ref; posted is false for no ref, or one of the webhook (which names
// its first message in words).
func slackMessageRef(ref MessageRef) (channel, ts string, posted bool) {
	channel, ts, _ = strings.Cut(ref.ID, " ")
	return channel, ts, channel != "" && slackTS.MatchString(ts)
}

// slackAnswer is what every Web API method answers, with HTTP 200 even on
// failure: {"ok":false,"error":"channel_not_found"}.
type slackAnswer struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// slackError is a Web API method's refusal.
type slackError struct {
	code string
	err  error
}

func (e *slackError) Error() string { return e.err.Error() }
func (e *slackError) Unwrap() error { return e.err }

// slackRetryable are the Web API errors that may pass: the rest (a revoked
// token, an unknown channel, a bot not in it) won't without someone's help.
var slackRetryable = map[string]bool{"ratelimited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true, "team_added_to_org": true}

// call calls a Web API method with msg and returns the message's ref.
func (s *Slack) call(ctx context.Context, method string, msg SlackMessage) (MessageRef, bool, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return MessageRef{}, false, fmt.Errorf("notify: slack: %w", err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+s.token)
	prefix := "slack " + method
	resp, retry, err := sendJSON(ctx, s.client, s.redact, http.MethodPost, prefix, s.api+"/"+method, s.where, h, body)
	if err != nil {
		return MessageRef{}, retry, err
	}
	defer resp.Body.Close()
	text, err := readAnswer(resp, s.redact, prefix, s.where)
	if err != nil {
		return MessageRef{}, true, err
	}
	ok, retry := RetryableStatus(resp.StatusCode)
	if !ok {
		return MessageRef{}, retry, answerError(s.redact, prefix, resp, answerSnippet(text))
	}
	var a slackAnswer
	if err := json.Unmarshal([]byte(text), &a); err != nil {
		return MessageRef{}, true, s.redact.Errorf("%s: answer is not Slack's JSON: %s", prefix, answerSnippet(text))
	}
	if !a.OK {
		err := s.redact.Errorf("%s: %s", prefix, oneLine(a.Error))
		if wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			err = withRetryAfter(err, wait)
		}
		return MessageRef{}, slackRetryable[a.Error], &slackError{code: a.Error, err: err}
	}
	if a.Channel == "" || a.TS == "" {
		return MessageRef{}, false, s.redact.Errorf("%s: answer names no message: %s", prefix, answerSnippet(text))
	}
	return MessageRef{ID: a.Channel + " " + a.TS}, false, nil
}

// postWebhook posts msg to the incoming webhook, which answers "ok", or a
// status with a plain-text reason ("invalid_payload", "channel_not_found").
func (s *Slack) postWebhook(ctx context.Context, msg SlackMessage) (bool, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return false, fmt.Errorf("notify: slack: %w", err)
	}
	resp, retry, err := postJSON(ctx, s.client, s.redact, "slack webhook", s.hook, s.where, nil, body)
	if err != nil {
		return retry, err
	}
	defer resp.Body.Close()
	text, err := readAnswer(resp, s.redact, "slack webhook", s.where)
	if err != nil {
		return true, err
	}
	ok, retry := RetryableStatus(resp.StatusCode)
	if ok {
		return false, nil
	}
	return retry, answerError(s.redact, "slack webhook "+s.where, resp, answerSnippet(text))
}

// SlackMessage is the JSON of chat.postMessage, chat.update and incoming
// webhooks: Block Kit blocks in one attachment, whose colour says the
// status, and a text for notifications and screen readers.
type SlackMessage struct {
	Channel     string            `json:"channel,omitempty"`
	TS          string            `json:"ts,omitempty"`
	ThreadTS    string            `json:"thread_ts,omitempty"`
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
	// Unfurling the dashboard link would repeat the message.
	UnfurlLinks bool `json:"unfurl_links"`
	UnfurlMedia bool `json:"unfurl_media"`
}

type slackAttachment struct {
	Color  string       `json:"color"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []any       `json:"elements,omitempty"` // slackText in a context, slackButton in actions
}

// slackButton is a Block Kit button: one that opens url, or, with no url,
// one whose click Slack posts to the app's interactivity URL.
type slackButton struct {
	Type     string    `json:"type"` // button
	Text     slackText `json:"text"`
	ActionID string    `json:"action_id,omitempty"`
	Value    string    `json:"value,omitempty"`
	URL      string    `json:"url,omitempty"`
	Style    string    `json:"style,omitempty"`
}

// SlackAckAction is the action_id of the interactive Acknowledge button; its
// value is SlackAckValue's.
const SlackAckAction = "dynowatch_ack"

// SlackAckValue is the value of a's interactive Acknowledge button: its key
// and when its episode started, so that a click on the message of an
// earlier episode (its resolved edit late or lost) does not acknowledge a
// later one, as ack links are bound to theirs.
func SlackAckValue(a alert.Alert) string {
	return a.Key + " " + strconv.FormatInt(a.StartedAt.Unix(), 10)
}

// ParseSlackAckValue is SlackAckValue's inverse: the alert key and the
// Unix second its episode started.
func ParseSlackAckValue(v string) (key string, started int64, ok bool) {
	i := strings.LastIndexByte(v, ' ')
	if i <= 0 {
		return "", 0, false
	}
	started, err := strconv.ParseInt(v[i+1:], 10, 64)
	return v[:i], started, err == nil
}

type slackText struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

// Block Kit's limits: a header's text, a section's text, a section's
// fields, the blocks of a message.
const (
	slackHeaderRunes  = 150
	slackSectionRunes = 3000
	slackMaxFields    = 10
	slackMaxBlocks    = 50
)

// RenderSlack renders n for Slack. With follows set, it is the short
// follow-up of a message that can't be edited, naming follows. An alert
// nobody acknowledged gets an Acknowledge button that opens its ack link.
func RenderSlack(n *alert.Notification, follows string) SlackMessage {
	return renderSlack(n, follows, false)
}

// renderSlack is RenderSlack; with interactive, the Acknowledge button
// acknowledges in Slack (SLACK_SIGNING_SECRET set: Slack posts the click to
// /slack/interactions) instead of opening the ack link.
func renderSlack(n *alert.Notification, follows string, interactive bool) SlackMessage {
	v := newMessageView(n)
	title := chatTitle(n, v)
	msg := SlackMessage{Text: slackEscape(title)}
	var blocks []slackBlock
	section := func(text string) {
		blocks = append(blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: clip(text, slackSectionRunes, "…")}})
	}
	blocks = append(blocks, slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: clip(title, slackHeaderRunes, "…")}})
	if follows != "" {
		section(slackEscape(followUpLine(follows)))
	} else {
		for _, s := range v.Intro {
			section(slackEscape(s))
		}
		for _, a := range v.Alerts {
			if len(blocks) >= slackMaxBlocks-4 {
				break
			}
			if v.Grouped {
				section("*" + slackEscape(a.Headline) + "*")
			}
			var fields []slackText
			for _, f := range a.Fields {
				if len(fields) == slackMaxFields {
					break
				}
				fields = append(fields, slackText{Type: "mrkdwn", Text: "*" + slackEscape(f.Name) + "*\n" + slackEscape(f.Value)})
			}
			if len(fields) > 0 {
				blocks = append(blocks, slackBlock{Type: "section", Fields: fields})
			}
			if ev, more := evidenceText(a); ev != "" {
				// Backticks can't be escaped in mrkdwn: a log line's own
				// would end the code block.
				text := "```" + slackEscape(strings.ReplaceAll(ev, "```", "'''")) + "```"
				if more > 0 {
					text += "\n(" + strconv.Itoa(more) + " more lines)"
				}
				section(text)
			}
		}
	}
	if a := firstAlert(n); v.AckURL != "" && follows == "" {
		b := slackButton{Type: "button", Text: slackText{Type: "plain_text", Text: "Acknowledge"}, Style: "primary"}
		if interactive {
			b.ActionID, b.Value = SlackAckAction, SlackAckValue(a)
		} else {
			b.URL = v.AckURL
		}
		blocks = append(blocks, slackBlock{Type: "actions", Elements: []any{b}})
	}
	var foot []string
	if v.URL != "" {
		foot = append(foot, "<"+slackEscape(v.URL)+"|Open in dynowatch>")
	}
	if v.ID != "" {
		foot = append(foot, "delivery "+slackEscape(v.ID))
	}
	if len(foot) > 0 {
		blocks = append(blocks, slackBlock{Type: "context", Elements: []any{slackText{Type: "mrkdwn", Text: strings.Join(foot, " · ")}}})
	}
	msg.Attachments = []slackAttachment{{Color: v.Color, Blocks: blocks}}
	return msg
}

// slackEscape escapes the three characters mrkdwn reads as markup: a log
// line can't mention @channel or make a link.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

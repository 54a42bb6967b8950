package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// TelegramOptions configure a Telegram bot.
type TelegramOptions struct {
	Token      string // TELEGRAM_BOT_TOKEN, from @BotFather: "123456:ABC-…"
	ChatID     string // TELEGRAM_CHAT_ID: a chat's number ("-100…" for a group or channel) or "@channelname"
	APIURL     string // TELEGRAM_API_URL; default https://api.telegram.org
	HTTPClient *http.Client
	Timeout    time.Duration // of one send; default DefaultSendTimeout
}

// DefaultTelegramAPIURL is the Bot API.
const DefaultTelegramAPIURL = "https://api.telegram.org"

// Telegram sends notifications with sendMessage and edits them with
// editMessageText for the rest of the incident.
type Telegram struct {
	token, chat string
	api, where  string
	client      *http.Client
	timeout     time.Duration
	redact      redact.Scrubber
}

// NewTelegram checks o and returns a Telegram channel.
func NewTelegram(o TelegramOptions) (*Telegram, error) {
	switch {
	case o.Token == "":
		return nil, errors.New("notify: TelegramOptions.Token is required")
	case strings.TrimSpace(o.ChatID) == "":
		return nil, errors.New("notify: TelegramOptions.ChatID is required")
	}
	api := o.APIURL
	if api == "" {
		api = DefaultTelegramAPIURL
	}
	u, err := parseHTTPURL("TelegramOptions.APIURL", api)
	if err != nil {
		return nil, err
	}
	timeout, err := sendTimeout("TelegramOptions.Timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	return &Telegram{token: o.Token, chat: strings.TrimSpace(o.ChatID), api: strings.TrimRight(api, "/"), where: redact.Origin(u), client: channelHTTPClient(o.HTTPClient, timeout), timeout: timeout, redact: redact.NewScrubber(o.Token)}, nil
}

// Name returns "telegram".
func (t *Telegram) Name() string { return "telegram" }

// Notify sends n as a message of its own.
func (t *Telegram) Notify(ctx context.Context, n *alert.Notification) (bool, error) {
	_, retry, err := t.NotifyIncident(ctx, n, MessageRef{})
	return retry, err
}

// NotifyIncident sends n, or edits prior's message to say n (a reply to it
// when it tells of other alerts too). A message gone meanwhile is sent anew.
func (t *Telegram) NotifyIncident(ctx context.Context, n *alert.Notification, prior MessageRef) (MessageRef, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	chat, id, _ := strings.Cut(prior.ID, " ")
	msgID, _ := strconv.ParseInt(id, 10, 64)
	msg := RenderTelegram(n, "")
	switch {
	case prior.ID == "" || msgID == 0:
		msg.ChatID = t.chat
		return t.call(ctx, "sendMessage", msg)
	case followsUp(n, prior):
		msg = RenderTelegram(n, "the message this replies to")
		msg.ChatID, msg.ReplyParameters = chat, &telegramReply{MessageID: msgID, AllowSendingWithoutReply: true}
		_, retry, err := t.call(ctx, "sendMessage", msg)
		return prior, retry, err
	}
	msg.ChatID, msg.MessageID = chat, msgID
	ref, retry, err := t.call(ctx, "editMessageText", msg)
	var te *telegramError
	switch {
	case errors.As(err, &te) && strings.Contains(te.description, "message is not modified"):
		return prior, false, nil // a retry whose first attempt got through
	case errors.As(err, &te) && (strings.Contains(te.description, "message to edit not found") || strings.Contains(te.description, "message can't be edited")):
		msg.ChatID, msg.MessageID = t.chat, 0
		return t.call(ctx, "sendMessage", msg)
	}
	return ref, retry, err
}

// telegramError is the Bot API's refusal:
// {"ok":false,"error_code":400,"description":"Bad Request: chat not found"}.
type telegramError struct {
	description string
	err         error
}

func (e *telegramError) Error() string { return e.err.Error() }
func (e *telegramError) Unwrap() error { return e.err }

// call calls a Bot API method with msg and returns the message's ref.
func (t *Telegram) call(ctx context.Context, method string, msg TelegramMessage) (MessageRef, bool, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return MessageRef{}, false, fmt.Errorf("notify: telegram: %w", err)
	}
	prefix := "telegram " + method
	// The token is in the path: errors show only the host.
	resp, retry, err := postJSON(ctx, t.client, t.redact, prefix, t.api+"/bot"+t.token+"/"+method, t.where, nil, body)
	if err != nil {
		return MessageRef{}, retry, err
	}
	defer resp.Body.Close()
	text, err := readAnswer(resp, t.redact, prefix, t.where)
	if err != nil {
		return MessageRef{}, true, err
	}
	var a struct {
		OK          bool   `json:"ok"`
		ErrorCode   int    `json:"error_code"`
		Description string `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
		Result struct {
			MessageID int64 `json:"message_id"`
			Chat      struct {
				ID int64 `json:"id"`
			} `json:"chat"`
		} `json:"result"`
	}
	decodeErr := json.Unmarshal([]byte(text), &a)
	ok, retry := RetryableStatus(resp.StatusCode)
	if !ok || !a.OK {
		detail := answerSnippet(text)
		if decodeErr == nil && a.Description != "" {
			detail = oneLine(a.Description)
		}
		err := answerError(t.redact, prefix, resp, detail)
		if _, has := RetryAfter(err); !has && a.Parameters.RetryAfter > 0 {
			err = withRetryAfter(err, time.Duration(a.Parameters.RetryAfter)*time.Second)
		}
		return MessageRef{}, retry, &telegramError{description: a.Description, err: err}
	}
	if decodeErr != nil || a.Result.MessageID == 0 {
		return MessageRef{}, false, t.redact.Errorf("%s: answer names no message: %s", prefix, answerSnippet(text))
	}
	// The chat's number, not the @name it may have been sent to: edits
	// want either, and a number survives a rename.
	chat := msg.ChatID
	if a.Result.Chat.ID != 0 {
		chat = strconv.FormatInt(a.Result.Chat.ID, 10)
	}
	return MessageRef{ID: chat + " " + strconv.FormatInt(a.Result.MessageID, 10)}, false, nil
}

// TelegramMessage is the JSON of sendMessage and editMessageText: HTML text,
// without a link preview (the dashboard's would repeat the message).
type TelegramMessage struct {
	ChatID             string          `json:"chat_id"`
	MessageID          int64           `json:"message_id,omitempty"`
	Text               string          `json:"text"`
	ParseMode          string          `json:"parse_mode"`
	LinkPreviewOptions telegramPreview `json:"link_preview_options"`
	ReplyParameters    *telegramReply  `json:"reply_parameters,omitempty"`
}

type telegramPreview struct {
	IsDisabled bool `json:"is_disabled"`
}

type telegramReply struct {
	MessageID                int64 `json:"message_id"`
	AllowSendingWithoutReply bool  `json:"allow_sending_without_reply"`
}

// telegramTextRunes is the most a message's text holds, after entities are
// parsed; counting the markup too keeps within it.
const telegramTextRunes = 4096

// RenderTelegram renders n for Telegram. With follows set, it is the short
// follow-up naming follows.
func RenderTelegram(n *alert.Notification, follows string) TelegramMessage {
	v := newMessageView(n)
	esc := html.EscapeString
	parts := []string{"<b>" + esc(chatTitle(n, v)) + "</b>"}
	if follows != "" {
		parts = append(parts, esc(followUpLine(follows)))
	} else {
		for _, s := range v.Intro {
			parts = append(parts, esc(s))
		}
		for i, a := range v.Alerts {
			var b strings.Builder
			if v.Grouped {
				fmt.Fprintf(&b, "<b>%d. %s</b>\n", i+1, esc(a.Headline))
			}
			for _, f := range a.Fields {
				b.WriteString(esc(f.Name) + ": " + esc(f.Value) + "\n")
			}
			if ev, more := evidenceText(a); ev != "" {
				b.WriteString("<pre>" + esc(ev) + "</pre>")
				if more > 0 {
					b.WriteString("\n(" + strconv.Itoa(more) + " more lines)")
				}
			}
			parts = append(parts, strings.TrimRight(b.String(), "\n"))
		}
	}
	var foot []string
	if v.AckURL != "" && follows == "" {
		foot = append(foot, `<a href="`+esc(v.AckURL)+`">Acknowledge</a>`)
	}
	if v.URL != "" {
		foot = append(foot, `<a href="`+esc(v.URL)+`">Open in dynowatch</a>`)
	}
	if v.ID != "" {
		foot = append(foot, "delivery "+esc(v.ID))
	}
	parts = append(parts, strings.Join(foot, " · "))
	text := strings.Join(parts, "\n\n")
	if runeLen(text) > telegramTextRunes {
		// Cutting HTML could leave a tag open: drop the alerts' details
		// rather than cut them.
		text = strings.Join([]string{parts[0], esc(fmt.Sprintf("%d alerts on %s: see the dashboard.", len(n.Alerts), appsOf(n.Alerts))), parts[len(parts)-1]}, "\n\n")
	}
	return TelegramMessage{Text: text, ParseMode: "HTML", LinkPreviewOptions: telegramPreview{IsDisabled: true}}
}

package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// DiscordOptions configure a Discord webhook.
type DiscordOptions struct {
	WebhookURL string // DISCORD_WEBHOOK_URL: https://discord.com/api/webhooks/{id}/{token}
	HTTPClient *http.Client
	Timeout    time.Duration // of one send; default DefaultSendTimeout
}

// Discord posts notifications as an embed through a webhook, with
// ?wait=true to learn the message's id, and edits that message (PATCH
// …/messages/{id}) for the rest of the incident.
type Discord struct {
	base    *url.URL // the webhook URL without its query
	query   url.Values
	where   string
	client  *http.Client
	timeout time.Duration
	redact  redact.Scrubber
}

// NewDiscord checks o and returns a Discord channel.
func NewDiscord(o DiscordOptions) (*Discord, error) {
	if o.WebhookURL == "" {
		return nil, errors.New("notify: DiscordOptions.WebhookURL is required")
	}
	u, err := parseHTTPURL("DiscordOptions.WebhookURL", o.WebhookURL)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(u.Path, "/webhooks/") {
		return nil, fmt.Errorf("notify: DiscordOptions.WebhookURL: want https://discord.com/api/webhooks/{id}/{token}, got a path without /webhooks/")
	}
	timeout, err := sendTimeout("DiscordOptions.Timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	base := *u
	base.RawQuery, base.Fragment = "", ""
	return &Discord{base: &base, query: u.Query(), where: redact.Origin(u),
		client: channelHTTPClient(o.HTTPClient, timeout), timeout: timeout, redact: redact.NewScrubber(webhookSecrets(u, "")...)}, nil
}

// Name returns "discord".
func (d *Discord) Name() string { return "discord" }

// Notify posts n as a message of its own.
func (d *Discord) Notify(ctx context.Context, n *alert.Notification) (bool, error) {
	_, retry, err := d.NotifyIncident(ctx, n, MessageRef{})
	return retry, err
}

// NotifyIncident posts n, or edits prior's message to say n (a follow-up
// when prior tells of other alerts too). A message deleted meanwhile is
// posted anew.
func (d *Discord) NotifyIncident(ctx context.Context, n *alert.Notification, prior MessageRef) (MessageRef, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	switch {
	case prior.ID == "":
		return d.send(ctx, http.MethodPost, "", RenderDiscord(n, ""))
	case followsUp(n, prior):
		_, retry, err := d.send(ctx, http.MethodPost, "", RenderDiscord(n, "the message above"))
		return prior, retry, err
	}
	edit := RenderDiscord(n, "")
	edit.Username = "" // not a field of an edit
	ref, retry, err := d.send(ctx, http.MethodPatch, prior.ID, edit)
	var de *discordError
	if errors.As(err, &de) && de.code == discordUnknownMessage {
		return d.send(ctx, http.MethodPost, "", RenderDiscord(n, ""))
	}
	return ref, retry, err
}

// discordUnknownMessage is Discord's error code for a message that is gone.
const discordUnknownMessage = 10008

// discordError is Discord's refusal: {"message": "Unknown Message", "code": 10008}.
type discordError struct {
	code int
	err  error
}

func (e *discordError) Error() string { return e.err.Error() }
func (e *discordError) Unwrap() error { return e.err }

// send posts msg (or PATCHes message id with it) and returns the message's
// ref.
func (d *Discord) send(ctx context.Context, method, id string, msg DiscordMessage) (MessageRef, bool, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return MessageRef{}, false, fmt.Errorf("notify: discord: %w", err)
	}
	u := *d.base
	q := url.Values{}
	for k, v := range d.query {
		q[k] = v
	}
	if id == "" {
		q.Set("wait", "true") // answer with the message, for its id
	} else {
		u.Path += "/messages/" + url.PathEscape(id)
		u.RawPath = ""
	}
	u.RawQuery = q.Encode()
	prefix := "discord " + d.where
	resp, retry, err := sendJSON(ctx, d.client, d.redact, method, prefix, u.String(), d.where, http.Header{"User-Agent": {"dynowatch"}}, body)
	if err != nil {
		return MessageRef{}, retry, err
	}
	defer resp.Body.Close()
	text, err := readAnswer(resp, d.redact, prefix, d.where)
	if err != nil {
		return MessageRef{}, true, err
	}
	var a struct {
		ID         string  `json:"id"`
		Message    string  `json:"message"`
		Code       int     `json:"code"`
		RetryAfter float64 `json:"retry_after"`
	}
	decodeErr := json.Unmarshal([]byte(text), &a)
	ok, retry := RetryableStatus(resp.StatusCode)
	if !ok {
		detail := answerSnippet(text)
		if decodeErr == nil && a.Message != "" {
			detail = oneLine(a.Message) + " (code " + strconv.Itoa(a.Code) + ")"
		}
		err := answerError(d.redact, prefix, resp, detail)
		if _, has := RetryAfter(err); !has && a.RetryAfter > 0 {
			err = withRetryAfter(err, time.Duration(a.RetryAfter*float64(time.Second)))
		}
		return MessageRef{}, retry, &discordError{code: a.Code, err: err}
	}
	if decodeErr != nil || a.ID == "" {
		return MessageRef{}, false, d.redact.Errorf("%s: answer names no message: %s", prefix, answerSnippet(text))
	}
	return MessageRef{ID: a.ID}, false, nil
}

// DiscordMessage is the JSON of a webhook's message: one embed, whose
// colour says the status, and no mentions (a log line saying @everyone
// must not ping anyone).
type DiscordMessage struct {
	Username        string          `json:"username,omitempty"`
	Content         string          `json:"content"`
	Embeds          []discordEmbed  `json:"embeds"`
	AllowedMentions discordMentions `json:"allowed_mentions"`
}

type discordMentions struct {
	Parse []string `json:"parse"`
}

type discordEmbed struct {
	Title       string         `json:"title"`
	URL         string         `json:"url,omitempty"`
	Description string         `json:"description,omitempty"`
	Color       int            `json:"color"`
	Fields      []discordField `json:"fields,omitempty"`
	Footer      *discordFooter `json:"footer,omitempty"`
	Timestamp   string         `json:"timestamp,omitempty"`
}

type discordField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline"`
}

type discordFooter struct {
	Text string `json:"text"`
}

// Discord's limits on an embed.
const (
	discordTitleRunes       = 256
	discordDescriptionRunes = 4096
	discordMaxFields        = 25
	discordFieldRunes       = 1024
)

// RenderDiscord renders n for Discord. With follows set, it is the short
// follow-up naming follows.
func RenderDiscord(n *alert.Notification, follows string) DiscordMessage {
	v := newMessageView(n)
	e := discordEmbed{Title: clip(chatTitle(n, v), discordTitleRunes, "…"), URL: v.URL, Color: colorInt(v.Color)}
	if !n.CreatedAt.IsZero() {
		e.Timestamp = n.CreatedAt.UTC().Format(time.RFC3339)
	}
	var desc []string
	if follows != "" {
		desc = append(desc, followUpLine(follows))
	} else {
		if v.AckURL != "" { // first: the description is clipped at its end
			desc = append(desc, "**[Acknowledge]("+v.AckURL+")** (stops the reminders)")
		}
		desc = append(desc, v.Intro...)
		for i, a := range v.Alerts {
			if !v.Grouped {
				for _, f := range a.Fields {
					if len(e.Fields) < discordMaxFields {
						e.Fields = append(e.Fields, discordField{Name: f.Name, Value: clip(f.Value, discordFieldRunes, "…"), Inline: true})
					}
				}
			} else {
				desc = append(desc, fmt.Sprintf("**%d. %s**\n%s", i+1, discordEscape(a.Headline), discordEscape(fieldLine(a))))
			}
			if ev, more := evidenceText(a); ev != "" {
				block := "```\n" + strings.ReplaceAll(ev, "```", "'''") + "\n```"
				if more > 0 {
					block += "(" + strconv.Itoa(more) + " more lines)"
				}
				desc = append(desc, block)
			}
		}
	}
	e.Description = clipCodeBlocks(strings.Join(desc, "\n"), discordDescriptionRunes)
	if v.ID != "" {
		e.Footer = &discordFooter{Text: "dynowatch · delivery " + v.ID}
	}
	return DiscordMessage{Username: "dynowatch", Embeds: []discordEmbed{e}, AllowedMentions: discordMentions{Parse: []string{}}}
}

// discordEscape escapes Discord's markdown in text that is not code.
func discordEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`, ">", `\>`).Replace(s)
}

// clipCodeBlocks clips s to n runes, closing a code block the cut left open.
func clipCodeBlocks(s string, n int) string {
	if runeLen(s) <= n {
		return s
	}
	s = clip(s, n-4, "…")
	if strings.Count(s, "```")%2 == 1 {
		s += "\n```"
	}
	return s
}

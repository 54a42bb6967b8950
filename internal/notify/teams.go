package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// TeamsOptions configure Microsoft Teams through a Workflows (Power
// Automate) webhook: "Post to a channel when a webhook request is
// received". Office 365 connectors are retired.
type TeamsOptions struct {
	WebhookURL string // TEAMS_WEBHOOK_URL: the workflow's HTTP trigger URL, a secret
	HTTPClient *http.Client
	Timeout    time.Duration // of one send; default DefaultSendTimeout
}

// Teams posts notifications as Adaptive Cards. A workflow can't edit what
// it posted, so an incident's reminders and resolution are short cards
// that name its first.
type Teams struct {
	url, where string
	client     *http.Client
	timeout    time.Duration
	redact     redact.Scrubber
}

// NewTeams checks o and returns a Teams channel.
func NewTeams(o TeamsOptions) (*Teams, error) {
	if o.WebhookURL == "" {
		return nil, errors.New("notify: TeamsOptions.WebhookURL is required")
	}
	u, err := parseHTTPURL("TeamsOptions.WebhookURL", o.WebhookURL)
	if err != nil {
		return nil, err
	}
	timeout, err := sendTimeout("TeamsOptions.Timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	return &Teams{url: o.WebhookURL, where: redact.Origin(u), client: channelHTTPClient(o.HTTPClient, timeout),
		timeout: timeout, redact: redact.NewScrubber(webhookSecrets(u, "")...)}, nil
}

// Name returns "teams".
func (t *Teams) Name() string { return "teams" }

// Notify posts n as a card of its own.
func (t *Teams) Notify(ctx context.Context, n *alert.Notification) (bool, error) {
	_, retry, err := t.NotifyIncident(ctx, n, MessageRef{})
	return retry, err
}

// NotifyIncident posts n, or after a first card a short one naming it.
func (t *Teams) NotifyIncident(ctx context.Context, n *alert.Notification, prior MessageRef) (MessageRef, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	msg, ref := RenderTeams(n, ""), MessageRef{ID: firstName(n, newMessageView(n))}
	if prior.ID != "" {
		msg, ref = RenderTeams(n, prior.ID), prior
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return MessageRef{}, false, fmt.Errorf("notify: teams: %w", err)
	}
	prefix := "teams " + t.where
	resp, retry, err := postJSON(ctx, t.client, t.redact, prefix, t.url, t.where, http.Header{"User-Agent": {"dynowatch"}}, body)
	if err != nil {
		return MessageRef{}, retry, err
	}
	defer resp.Body.Close()
	text, err := readAnswer(resp, t.redact, prefix, t.where)
	if err != nil {
		return MessageRef{}, true, err
	}
	// A workflow answers 202 Accepted; a refusal is a status with
	// {"error":{"code":"…","message":"…"}}.
	ok, retry := RetryableStatus(resp.StatusCode)
	if ok {
		return ref, false, nil
	}
	var a struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	detail := answerSnippet(text)
	if json.Unmarshal([]byte(text), &a) == nil && a.Error.Code != "" {
		detail = answerSnippet(a.Error.Code + ": " + a.Error.Message)
	}
	return MessageRef{}, retry, answerError(t.redact, prefix, resp, detail)
}

// TeamsMessage is what a Workflows webhook takes: a message whose one
// attachment is an Adaptive Card.
type TeamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	ContentURL  *string   `json:"contentUrl"`
	Content     teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Body    []teamsElement `json:"body"`
	Actions []teamsAction  `json:"actions,omitempty"`
	MSTeams teamsWidth     `json:"msteams"`
}

type teamsWidth struct {
	Width string `json:"width"`
}

type teamsElement struct {
	Type     string      `json:"type"` // TextBlock or FactSet
	Text     string      `json:"text,omitempty"`
	Weight   string      `json:"weight,omitempty"`
	Size     string      `json:"size,omitempty"`
	Color    string      `json:"color,omitempty"`
	FontType string      `json:"fontType,omitempty"`
	Wrap     bool        `json:"wrap,omitempty"`
	Facts    []teamsFact `json:"facts,omitempty"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type teamsAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// teamsColor is the Adaptive Card colour of a status: cards take named
// colours, not hex.
func teamsColor(n *alert.Notification) string {
	switch {
	case n.Status == alert.Resolved:
		return "good"
	case n.Status == alert.Test:
		return "default"
	}
	switch n.Severity() {
	case alert.Critical:
		return "attention"
	case alert.Warning:
		return "warning"
	}
	return "accent"
}

// RenderTeams renders n as an Adaptive Card (version 1.4, which Teams
// renders everywhere). With follows set, it is the short card naming
// follows.
func RenderTeams(n *alert.Notification, follows string) TeamsMessage {
	v := newMessageView(n)
	// Card text is a markdown subset: a log line's * or _ would restyle it,
	// so facts and evidence are plain and monospace where it matters.
	body := []teamsElement{{Type: "TextBlock", Text: chatTitle(n, v), Weight: "Bolder", Size: "Medium", Color: teamsColor(n), Wrap: true}}
	text := func(s string) teamsElement { return teamsElement{Type: "TextBlock", Text: s, Wrap: true} }
	if follows != "" {
		body = append(body, text(followUpLine(follows)))
	} else {
		for _, s := range v.Intro {
			body = append(body, text(s))
		}
		for i, a := range v.Alerts {
			if v.Grouped {
				body = append(body, teamsElement{Type: "TextBlock", Text: strconv.Itoa(i+1) + ". " + a.Headline, Weight: "Bolder", Wrap: true})
			}
			var facts []teamsFact
			for _, f := range a.Fields {
				facts = append(facts, teamsFact{Title: f.Name, Value: f.Value})
			}
			if len(facts) > 0 {
				body = append(body, teamsElement{Type: "FactSet", Facts: facts})
			}
			if ev, more := evidenceText(a); ev != "" {
				if more > 0 {
					ev += "\n(" + strconv.Itoa(more) + " more lines)"
				}
				body = append(body, teamsElement{Type: "TextBlock", Text: ev, FontType: "Monospace", Wrap: true})
			}
		}
	}
	if v.ID != "" {
		body = append(body, teamsElement{Type: "TextBlock", Text: "dynowatch · delivery " + v.ID, Size: "Small", Wrap: true})
	}
	card := teamsCard{Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4",
		Body: body, MSTeams: teamsWidth{Width: "Full"}}
	if v.AckURL != "" && follows == "" {
		card.Actions = append(card.Actions, teamsAction{Type: "Action.OpenUrl", Title: "Acknowledge", URL: v.AckURL})
	}
	if v.URL != "" {
		card.Actions = append(card.Actions, teamsAction{Type: "Action.OpenUrl", Title: "Open in dynowatch", URL: v.URL})
	}
	return TeamsMessage{Type: "message", Attachments: []teamsAttachment{{ContentType: "application/vnd.microsoft.card.adaptive", Content: card}}}
}

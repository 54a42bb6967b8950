package notify

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/duration"
)

// Email is a notification rendered for email.
type Email struct {
	Subject string // one line, such as "[dynowatch] FIRING critical: R14 … on shop web.1"
	Text    string // the text/plain body
	HTML    string // the text/html body; every value in it is escaped
}

// Limits on what a message shows of an alert: log lines are untrusted and
// can be long, and a mail of many kilobytes of evidence helps nobody.
const (
	maxHeadlineRunes = 150
	maxEvidenceRunes = 500
	smsMaxChars      = 160 // one SMS in the GSM-7 alphabet
	smsMinSummary    = 40  // the summary keeps this much before the link is dropped
)

// RenderEmail renders n as an email: what happened, where, since when, how
// bad, the evidence, the release it followed and the link, with times in
// n.Timezone.
func RenderEmail(n *alert.Notification) (Email, error) {
	v := newMessageView(n)
	var h strings.Builder
	if err := emailHTML.Execute(&h, v); err != nil {
		return Email{}, fmt.Errorf("notify: render email: %w", err)
	}
	return Email{Subject: "[dynowatch] " + v.Title, Text: v.text(), HTML: h.String()}, nil
}

// RenderSMS renders n as one SMS: at most 160 characters, all of them in the
// basic GSM-7 alphabet. The most important facts come first (status,
// severity, code, app, dyno), then the summary, the number of other alerts
// grouped with the first, and the link when there is room for it.
func RenderSMS(n *alert.Notification) string {
	a := firstAlert(n)
	head, summary := smsHead(n, a), smsSummary(n, a)
	var more string
	if k := len(n.Alerts) - 1; k > 0 {
		more = " (+" + strconv.Itoa(k) + " more)"
	}
	link := strings.TrimSpace(n.URL)
	if a.AckURL != "" {
		link = strings.TrimSpace(a.AckURL) // on a phone, acting beats reading: the ack page shows the alert
	}
	if !isGSM7String(link) || strings.Contains(link, " ") {
		link = "" // a link with a character outside the set would break
	}

	fixed := runeLen(head) + len(": ") + runeLen(more)
	if link != "" && smsMaxChars-fixed-1-runeLen(link) < min(runeLen(summary), smsMinSummary) {
		link = "" // the facts come first
	}
	room := smsMaxChars - fixed
	if link != "" {
		room -= 1 + runeLen(link)
	}
	text := head
	if summary = clip(summary, room, "..."); summary != "" {
		text += ": " + summary
	}
	text += more
	if link != "" {
		text += " " + link
	}
	return clip(text, smsMaxChars, "...")
}

// smsHead is the facts an SMS starts with: "FIRING critical R14 shop
// web.1", and how long it lasted or has lasted.
func smsHead(n *alert.Notification, a alert.Alert) string {
	head := joinNonEmpty(" ",
		toGSM7(strings.ToUpper(string(n.Status))), toGSM7(string(n.Severity())),
		toGSM7(a.Code), toGSM7(a.App), toGSM7(a.Dyno))
	d := alertDuration(n, a)
	switch {
	case d <= 0:
	case n.Status == alert.Resolved:
		head += " after " + duration.Short(d)
	case n.Status == alert.Reminder, n.Status == alert.Flapping:
		head += " for " + duration.Short(d)
	}
	return head
}

// smsSummary is the summary without the code the head already shows.
func smsSummary(n *alert.Notification, a alert.Alert) string {
	summary := strings.TrimSpace(a.Summary)
	if rest, ok := strings.CutPrefix(summary, a.Code); ok && a.Code != "" && !startsWord(rest) {
		summary = strings.TrimLeft(rest, " :-")
	}
	switch {
	case n.Status == alert.Test && len(n.Alerts) == 0:
		return "dynowatch test message"
	case summary == "" && a.Code == "":
		return toGSM7(string(a.Rule))
	case a.Cause != "" && n.Status == alert.Firing:
		// The cause is what to act on; the dashboard has the rest.
		return toGSM7("caused by " + strings.TrimSpace(a.Cause))
	}
	return toGSM7(summary)
}

// startsWord reports whether s starts with a letter, digit or underscore,
// so that a prefix cut before it would cut a word.
func startsWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// webhookPayload is the webhook's JSON: the first alert's fields at the top
// level, for receivers that handle one alert (with the highest severity of
// all), and every alert in Alerts.
type webhookPayload struct {
	Status     alert.Status   `json:"status"`
	App        string         `json:"app"`
	Rule       string         `json:"rule"`
	Code       string         `json:"code"`
	Dyno       string         `json:"dyno"`
	Severity   alert.Severity `json:"severity"`
	Summary    string         `json:"summary"`
	StartedAt  time.Time      `json:"started_at,omitzero"`
	ResolvedAt time.Time      `json:"resolved_at,omitzero"`
	Evidence   []string       `json:"evidence"`
	Release    string         `json:"release,omitempty"`
	URL        string         `json:"url"`
	AckURL     string         `json:"ack_url,omitempty"`    // the first alert's; each alert has its own
	AckedBy    string         `json:"acked_by,omitempty"`   // on "acknowledged", and after
	AckReason  string         `json:"ack_reason,omitempty"` // ditto
	DeliveryID string         `json:"delivery_id"`
	Alerts     []alert.Alert  `json:"alerts"`
}

// RenderWebhook renders n as the webhook's JSON body. Times are RFC 3339 in
// UTC; the top-level fields are those of the first alert (the Sender puts
// the most severe first) but "severity", the highest of them all, and
// "alerts" holds every alert of a grouped notification.
func RenderWebhook(n *alert.Notification) ([]byte, error) {
	alerts := make([]alert.Alert, len(n.Alerts))
	for i, a := range n.Alerts {
		a.StartedAt, a.ResolvedAt, a.AckedAt = utc(a.StartedAt), utc(a.ResolvedAt), utc(a.AckedAt)
		alerts[i] = a
	}
	a := firstAlert(n)
	p := webhookPayload{
		Status: n.Status, App: a.App, Rule: string(a.Rule), Code: a.Code, Dyno: a.Dyno,
		Severity: n.Severity(), Summary: a.Summary,
		StartedAt: utc(a.StartedAt), ResolvedAt: utc(a.ResolvedAt),
		Evidence: a.Evidence, Release: a.Release, URL: n.URL, AckURL: a.AckURL, AckedBy: a.AckedBy, AckReason: a.AckReason, DeliveryID: n.ID,
		Alerts: alerts,
	}
	if p.Evidence == nil {
		p.Evidence = []string{}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("notify: render webhook: %w", err)
	}
	return b, nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// messageView is what the email templates show, every string already cut
// to one clean line.
type messageView struct {
	Title   string // "FIRING critical: R14 memory quota exceeded on shop web.1 (+2 more)"
	Intro   []string
	Grouped bool // several alerts: each shows its own headline
	Alerts  []alertView
	URL     string
	AckURL  string // the first alert's ack link, for channels with room for one
	ID      string
	Color   string // of the title: how bad, or green when resolved
}

type alertView struct {
	Headline     string
	Fields       []viewField
	Evidence     []string
	MoreEvidence int    // lines left out
	AckURL       string // the signed link that acknowledges it
}

type viewField struct{ Name, Value string }

func newMessageView(n *alert.Notification) messageView {
	loc := notificationLocation(n.Timezone)
	v := messageView{
		Grouped: len(n.Alerts) > 1,
		URL:     oneLine(n.URL),
		ID:      oneLine(n.ID),
		Color:   titleColor(n),
	}
	status := strings.ToUpper(string(n.Status))
	if s := n.Severity(); s != "" {
		status += " " + string(s)
	}
	a := firstAlert(n)
	title := headline(a)
	if len(n.Alerts) == 0 {
		title = "dynowatch test message"
	}
	if d := alertDuration(n, a); d > 0 && n.Status == alert.Resolved {
		title += " (lasted " + duration.Short(d) + ")"
	}
	if k := len(n.Alerts) - 1; k > 0 {
		title += " (+" + strconv.Itoa(k) + " more)"
	}
	v.Title = status + ": " + title

	switch n.Status {
	case alert.Flapping:
		v.Intro = append(v.Intro, "This alert keeps changing state. It stays firing, without further notices, until it calms down.")
	case alert.Test:
		v.Intro = append(v.Intro, "This is a test message from dynowatch: nothing is wrong. If you can read it, this channel works.")
	case alert.Acknowledged:
		v.Intro = append(v.Intro, oneLine(a.AckedBy)+" is on it: no more reminders. Its resolution will still be sent.")
	}
	if c := oneLine(a.Cause); c != "" && n.Status == alert.Firing {
		v.Intro = append(v.Intro, "Caused by "+c+": joined its incident.")
	}
	if v.Grouped {
		v.Intro = append(v.Intro, fmt.Sprintf("%d alerts on %s:", len(n.Alerts), appsOf(n.Alerts)))
	}
	for _, a := range n.Alerts {
		v.Alerts = append(v.Alerts, newAlertView(n, a, loc))
	}
	v.AckURL = oneLine(a.AckURL)
	return v
}

func newAlertView(n *alert.Notification, a alert.Alert, loc *time.Location) alertView {
	av := alertView{Headline: headline(a)}
	add := func(name, value string) {
		if value = oneLine(value); value != "" {
			av.Fields = append(av.Fields, viewField{name, value})
		}
	}
	add("App", a.App)
	add("Dyno", a.Dyno)
	add("Rule", string(a.Rule))
	add("Code", a.Code)
	add("Severity", string(a.Severity))
	d := alertDuration(n, a)
	switch {
	case n.Status == alert.Resolved:
		add("Started", showTime(a.StartedAt, loc))
		add("Resolved", showTime(a.ResolvedAt, loc))
		if d > 0 {
			add("Lasted", duration.Short(d))
		}
	case (n.Status == alert.Reminder || n.Status == alert.Flapping) && d > 0 && !a.StartedAt.IsZero():
		add("Since", showTime(a.StartedAt, loc)+" (firing for "+duration.Short(d)+")")
	default:
		add("Since", showTime(a.StartedAt, loc))
	}
	add("After release", a.Release)
	add("Caused by", a.Cause)
	if a.AckedBy != "" {
		add("Acknowledged", a.AckedBy+" at "+showTime(a.AckedAt, loc)+sep(oneLine(a.AckReason), ": "))
	}
	av.AckURL = oneLine(a.AckURL)
	for i, line := range a.Evidence {
		if i == alert.MaxEvidence {
			av.MoreEvidence = len(a.Evidence) - i
			break
		}
		av.Evidence = append(av.Evidence, clip(oneLine(line), maxEvidenceRunes, "…"))
	}
	return av
}

// text is the plain-text body.
func (v messageView) text() string {
	var b strings.Builder
	b.WriteString(v.Title + "\n\n")
	for _, s := range v.Intro {
		b.WriteString(s + "\n\n")
	}
	indent := ""
	if v.Grouped {
		indent = "   "
	}
	for i, a := range v.Alerts {
		if v.Grouped {
			fmt.Fprintf(&b, "%d. %s\n", i+1, a.Headline)
		}
		width := 0
		for _, f := range a.Fields {
			width = max(width, len(f.Name))
		}
		for _, f := range a.Fields {
			fmt.Fprintf(&b, "%s%-*s %s\n", indent, width+1, f.Name+":", f.Value)
		}
		if len(a.Evidence) > 0 {
			b.WriteString(indent + "Log lines:\n")
			for _, line := range a.Evidence {
				b.WriteString(indent + "  " + line + "\n")
			}
			if a.MoreEvidence > 0 {
				fmt.Fprintf(&b, "%s  (%d more)\n", indent, a.MoreEvidence)
			}
		}
		if a.AckURL != "" {
			b.WriteString(indent + "Acknowledge (stops the reminders): " + a.AckURL + "\n")
		}
		b.WriteString("\n")
	}
	if v.URL != "" {
		b.WriteString("Open in dynowatch: " + v.URL + "\n\n")
	}
	b.WriteString("-- \ndynowatch")
	if v.ID != "" {
		b.WriteString(", delivery " + v.ID)
	}
	b.WriteString("\n")
	return b.String()
}

// The email's HTML is a file of its own, like the dashboard's pages, so it
// can be read and changed as HTML.
//
//go:embed templates/email.html
var templates embed.FS

// emailHTML is parsed once and only executed after: html/template escapes
// every value for its context, so a log line cannot inject markup.
var emailHTML = template.Must(template.ParseFS(templates, "templates/email.html"))

func titleColor(n *alert.Notification) string {
	switch {
	case n.Status == alert.Resolved:
		return "#1a7f37"
	case n.Status == alert.Test:
		return "#656d76"
	}
	switch n.Severity() {
	case alert.Critical:
		return "#cf222e"
	case alert.Warning:
		return "#9a6700"
	}
	return "#0969da"
}

// firstAlert is the alert a notification is named after, or a zero one.
func firstAlert(n *alert.Notification) alert.Alert {
	if len(n.Alerts) == 0 {
		return alert.Alert{}
	}
	return n.Alerts[0]
}

// headline says what happened and where: the code and summary, then the app
// and dyno, as in "R14 memory quota exceeded on shop web.1".
func headline(a alert.Alert) string {
	what := oneLine(a.Summary)
	if dyno := oneLine(a.Dyno); dyno != "" {
		// Summaries name the dyno ("… on web.1", "web.1 memory …"); the
		// headline names it once, after the app.
		what = strings.TrimPrefix(strings.TrimSuffix(what, " on "+dyno), dyno+" ")
	}
	code := oneLine(a.Code)
	switch {
	case what == "":
		what = joinNonEmpty(" ", code, oneLine(string(a.Rule)))
	case code != "" && !strings.HasPrefix(what, code):
		what = code + " " + what
	}
	what = clip(what, maxHeadlineRunes, "…")
	if where := joinNonEmpty(" ", oneLine(a.App), oneLine(a.Dyno)); where != "" {
		what += " on " + where
	}
	return what
}

// appsOf lists the distinct apps of alerts, in order.
func appsOf(alerts []alert.Alert) string {
	var apps []string
	for _, a := range alerts {
		app := oneLine(a.App)
		if app != "" && !contains(apps, app) {
			apps = append(apps, app)
		}
	}
	if len(apps) == 0 {
		return "dynowatch"
	}
	return strings.Join(apps, ", ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// alertDuration is how long a has lasted: until it resolved, or until the
// notification was made. It is zero when unknown.
func alertDuration(n *alert.Notification, a alert.Alert) time.Duration {
	end := a.ResolvedAt
	if end.IsZero() {
		end = n.CreatedAt
	}
	if a.StartedAt.IsZero() || end.IsZero() || !end.After(a.StartedAt) {
		return 0
	}
	return end.Sub(a.StartedAt)
}

// notificationLocation is the IANA zone tz, or UTC when tz is empty or
// unknown (the config loader is where a bad ALERT_TIMEZONE is reported).
func notificationLocation(tz string) *time.Location {
	if tz == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

func showTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}

// oneLine makes an untrusted string safe to show on one line: control
// characters become spaces and bidirectional overrides, which can make a
// line read differently from what it says, are dropped.
func oneLine(s string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError:
			return '\uFFFD'
		case unicode.IsControl(r):
			return ' '
		case r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069':
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(clean)
}

// clip cuts s to at most n runes, ending it with mark when cut.
func clip(s string, n int, mark string) string {
	if runeLen(s) <= n {
		return s
	}
	keep := n - runeLen(mark)
	if keep <= 0 {
		return string([]rune(s)[:max(n, 0)])
	}
	rs := []rune(s)
	cut := rs[:keep]
	// End on a word when one ends close enough to the cut.
	if rs[keep] != ' ' {
		for i := len(cut) - 1; i > 0 && i >= len(cut)-clipWordSlack; i-- {
			if cut[i] == ' ' {
				cut = cut[:i]
				break
			}
		}
	}
	return strings.TrimRight(string(cut), " ") + mark
}

// clipWordSlack is how far clip goes back to end on a word.
const clipWordSlack = 12

func runeLen(s string) int { return utf8.RuneCountInString(s) }

func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}

// sep returns s preceded by separator, or "" when s is empty.
func sep(s, separator string) string {
	if s == "" {
		return ""
	}
	return separator + s
}

package notify

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

const testAckURL = "https://dw.example.com/ack/AbCdEfGhIjKlMnOpQrStUvWxr14-shop-web1"

// fixtureFiringWithAck is fixtureFiring with its ack link (DYNOWATCH_URL set).
func fixtureFiringWithAck() *alert.Notification {
	n := fixtureFiring()
	n.Alerts[0].AckURL = testAckURL
	return n
}

// fixtureAcknowledged is fixtureFiring's alert, acknowledged by Ana.
func fixtureAcknowledged() *alert.Notification {
	n := fixtureFiring()
	n.Status, n.CreatedAt = alert.Acknowledged, fixtureStart.Add(5*time.Minute)
	n.Alerts[0].AckedBy, n.Alerts[0].AckedAt, n.Alerts[0].AckReason = "Ana", fixtureStart.Add(5*time.Minute), "restarting web.1"
	return n
}

// TestEveryFiringCarriesItsAckLink: each channel shows the ack link of a
// firing in its own way; the SMS gives it the room of the dashboard link.
func TestEveryFiringCarriesItsAckLink(t *testing.T) {
	n := fixtureFiringWithAck()
	email, err := RenderEmail(n)
	if err != nil {
		t.Fatal(err)
	}
	webhook, err := RenderWebhook(n)
	if err != nil {
		t.Fatal(err)
	}
	var hook struct {
		AckURL string `json:"ack_url"`
		Alerts []struct {
			AckURL string `json:"ack_url"`
		}
	}
	if err := json.Unmarshal(webhook, &hook); err != nil {
		t.Fatal(err)
	}
	slack, _ := json.Marshal(RenderSlack(n, ""))
	interactive, _ := json.Marshal(renderSlack(n, "", true))
	teams, _ := json.Marshal(RenderTeams(n, ""))
	sms := RenderSMS(n)
	push := renderPushover(n, time.Minute, time.Hour)
	for _, tc := range []struct {
		channel string
		ok      bool
	}{
		{"email text", strings.Contains(email.Text, "Acknowledge (stops the reminders): "+testAckURL)},
		{"email html", strings.Contains(email.HTML, `<a href="`+testAckURL+`"`)},
		{"sms", strings.HasSuffix(sms, " "+testAckURL) && runeLen(sms) <= smsMaxChars && !strings.Contains(sms, n.URL)},
		{"webhook", hook.AckURL == testAckURL && hook.Alerts[0].AckURL == testAckURL},
		{"ntfy", renderNtfy(n).header().Get("Actions") == "view, Acknowledge, "+testAckURL+", clear=true"},
		{"pushover", push.Get("url") == testAckURL && push.Get("callback") == testAckURL && push.Get("priority") == "2"},
		{"slack", strings.Contains(string(slack), `{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Acknowledge"},"url":"`+testAckURL+`","style":"primary"}]}`)},
		{"slack interactive", strings.Contains(string(interactive), `"action_id":"dynowatch_ack","value":"`+n.Alerts[0].Key+` `+strconv.FormatInt(n.Alerts[0].StartedAt.Unix(), 10)+`"`) && !strings.Contains(string(interactive), testAckURL)},
		{"discord", strings.HasPrefix(RenderDiscord(n, "").Embeds[0].Description, "**[Acknowledge]("+testAckURL+")**")},
		{"telegram", strings.Contains(RenderTelegram(n, "").Text, `<a href="`+testAckURL+`">Acknowledge</a>`)},
		{"teams", strings.Contains(string(teams), `{"type":"Action.OpenUrl","title":"Acknowledge","url":"`+testAckURL+`"}`)},
	} {
		if !tc.ok {
			t.Errorf("%s: no ack link %s", tc.channel, testAckURL)
		}
	}
	if sms := RenderSMS(fixtureFiring()); !strings.Contains(sms, n.URL) && len(n.URL) < 60 {
		t.Errorf("an SMS without an ack link lost its dashboard link: %q", sms)
	}
}

// TestAcknowledgedGoesToWhoListens: through the Sender, an acknowledgement
// edits the Slack message to say who and why, and is passed over on a
// channel that does not hear acks (email, SMS: noise).
func TestAcknowledgedGoesToWhoListens(t *testing.T) {
	api := slackAPI(t)
	mail := &funcNotifier{name: "email:smtp", notify: func(*alert.Notification) (bool, error) { return false, nil }}
	box, refs := &memOutbox{}, &memRefs{}
	s, err := NewSender(SenderOptions{Outbox: box, Refs: refs, Notifiers: []Notifier{newTestSlack(t, api.srv.URL), mail}, Holder: "w1",
		Logger: discard(), Now: (&testClock{t0}).now})
	if err != nil {
		t.Fatal(err)
	}
	row := func(id int64, channel string, n *alert.Notification) *memRow {
		b, _ := json.Marshal(n)
		return &memRow{Delivery: Delivery{ID: id, Outgoing: alert.Outgoing{Channel: channel, App: "shop", AlertKey: n.Alerts[0].Key,
			Status: n.Status, Payload: b, CreatedAt: t0}, FiringHeard: n.Status != alert.Firing}}
	}
	box.rows = append(box.rows, row(1, "slack", fixtureFiringWithAck()), row(2, "email:smtp", fixtureFiringWithAck()))
	if _, _, err := s.SendDue(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	box.rows = append(box.rows, row(3, "slack", fixtureAcknowledged()), row(4, "email:smtp", fixtureAcknowledged()))
	if sent, _, err := s.SendDue(context.Background(), 10); sent != 1 || err != nil {
		t.Fatalf("SendDue of the ack: %d sent, %v; want Slack's edit only", sent, err)
	}
	if !box.row(4).skipped || len(mail.got) != 1 {
		t.Errorf("email heard %d notifications, ack row skipped %v: want the firing only", len(mail.got), box.row(4).skipped)
	}
	got := api.requests()
	edit, _ := json.Marshal(got[len(got)-1].Body)
	if got[len(got)-1].Path != "/api/chat.update" || !strings.HasPrefix(str(got[len(got)-1].Body, "text"), "👀 ACKNOWLEDGED critical") ||
		!strings.Contains(string(edit), `Acknowledged*\nAna at 2025-03-14 10:31:03 CET: restarting web.1`) || strings.Contains(string(edit), `"actions"`) {
		t.Fatalf("the ack's Slack request: %s %s; want the message edited to say Ana acknowledged it, without the button", got[len(got)-1].Path, edit)
	}
}

// TestPagerDutyAcknowledges: an acknowledgement is PagerDuty's acknowledge
// event for the alert's dedup key, which stops PagerDuty's own escalation.
func TestPagerDutyAcknowledges(t *testing.T) {
	srv := newPagerDutyServer(t)
	c := newTestPagerDuty(t, srv.srv.URL)
	for _, n := range []*alert.Notification{fixtureFiringWithAck(), fixtureAcknowledged(), fixtureResolved()} {
		if retry, err := c.Notify(context.Background(), n); err != nil || retry {
			t.Fatalf("%s: %v, %v", n.Status, retry, err)
		}
	}
	var actions []string
	for _, e := range srv.got() {
		actions = append(actions, e.EventAction+" "+e.DedupKey)
	}
	if want := "trigger dynowatch:r14/shop/web.1, acknowledge dynowatch:r14/shop/web.1, resolve dynowatch:r14/shop/web.1"; strings.Join(actions, ", ") != want {
		t.Fatalf("events %q, want %q", actions, want)
	}
}

// TestPushoverAckCancelsTheEmergency: acknowledged in dynowatch (a link,
// Slack), a Pushover emergency stops repeating, and no new message buzzes.
func TestPushoverAckCancelsTheEmergency(t *testing.T) {
	srv := newPushoverServer(t)
	box, refs := &memOutbox{}, &memRefs{}
	s, err := NewSender(SenderOptions{Outbox: box, Refs: refs, Notifiers: []Notifier{newTestPushover(t, srv)}, Holder: "w1",
		Logger: discard(), Now: (&testClock{t0}).now})
	if err != nil {
		t.Fatal(err)
	}
	box.rows = append(box.rows, pushoverRow(t, 1, fixtureFiringWithAck()))
	if _, _, err := s.SendDue(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	box.rows = append(box.rows, pushoverRow(t, 2, fixtureAcknowledged()))
	if sent, _, err := s.SendDue(context.Background(), 10); sent != 1 || err != nil {
		t.Fatalf("SendDue of the ack: %d, %v", sent, err)
	}
	msgs, repeating, cancelled := srv.state()
	if len(msgs) != 1 || len(repeating) != 0 || len(cancelled) != 1 {
		t.Fatalf("%d messages, %v repeating, %v cancelled; want the emergency cancelled and nothing sent", len(msgs), repeating, cancelled)
	}
}

// TestChatEditsSayWhoAcked: the acknowledged notice each chat channel edits
// its message to (or follows it up with) names who, when and why, and
// offers no ack button any more.
func TestChatEditsSayWhoAcked(t *testing.T) {
	n := fixtureAcknowledged()
	discord, _ := json.Marshal(RenderDiscord(n, ""))
	teams, _ := json.Marshal(RenderTeams(n, ""))
	for name, text := range map[string]string{
		"discord": string(discord), "telegram": RenderTelegram(n, "").Text, "teams": string(teams),
	} {
		if !strings.Contains(text, "Ana at 2025-03-14 10:31:03 CET: restarting web.1") || !strings.Contains(text, "ACKNOWLEDGED") || strings.Contains(text, ">Acknowledge<") {
			t.Errorf("%s: %s\nwant it acknowledged by Ana, with the time and reason", name, text)
		}
	}
}

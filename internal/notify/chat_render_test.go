package notify

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// TestRenderChatGolden: each chat channel's message for a firing, a grouped
// firing, a reminder and a resolution, and the follow-up of the channels
// that can't edit.
func TestRenderChatGolden(t *testing.T) {
	first := firstName(fixtureFiring(), newMessageView(fixtureFiring()))
	for _, tc := range []struct {
		name    string
		n       *alert.Notification
		follows string
	}{
		{"firing", fixtureFiring(), ""},
		{"grouped", fixtureGrouped(), ""},
		{"reminder", fixtureReminder(), ""},
		{"resolved", fixtureResolved(), ""},
		{"followup", fixtureResolved(), first},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for channel, msg := range map[string]any{
				"slack":    RenderSlack(tc.n, tc.follows),
				"discord":  RenderDiscord(tc.n, tc.follows),
				"telegram": RenderTelegram(tc.n, tc.follows),
				"teams":    RenderTeams(tc.n, tc.follows),
			} {
				checkGolden(t, "render-"+tc.name+"."+channel+".json", indentJSON(t, msg))
			}
		})
	}
}

func indentJSON(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestRenderChatKeepsWithinLimits: whatever the alerts, each message keeps
// within its provider's limits, and no log line becomes markup.
func TestRenderChatKeepsWithinLimits(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		n := randomNotification(r)
		s := RenderSlack(n, "")
		if b := s.Attachments[0].Blocks; len(b) > slackMaxBlocks || runeLen(b[0].Text.Text) > slackHeaderRunes {
			t.Fatalf("slack: %d blocks, header %q", len(b), b[0].Text.Text)
		}
		for _, b := range s.Attachments[0].Blocks {
			if b.Text != nil && runeLen(b.Text.Text) > slackSectionRunes || len(b.Fields) > slackMaxFields {
				t.Fatalf("slack block over its limits: %+v", b)
			}
		}
		d := RenderDiscord(n, "").Embeds[0]
		if runeLen(d.Title) > discordTitleRunes || runeLen(d.Description) > discordDescriptionRunes || len(d.Fields) > discordMaxFields {
			t.Fatalf("discord embed over its limits: title %d, description %d, fields %d", runeLen(d.Title), runeLen(d.Description), len(d.Fields))
		}
		if tg := RenderTelegram(n, ""); runeLen(tg.Text) > telegramTextRunes {
			t.Fatalf("telegram text of %d runes", runeLen(tg.Text))
		}
	}
	n := fixtureFiring()
	n.Alerts[0].Evidence = []string{"<!channel> @everyone <b>bold</b> <https://evil.example|click>"}
	if s := indentJSON(t, RenderSlack(n, "")); strings.Contains(s, "<!channel>") || strings.Contains(s, "<https://evil") {
		t.Errorf("slack message lets a log line mention or link: %s", s)
	}
	if tg := RenderTelegram(n, ""); strings.Contains(tg.Text, "<b>bold</b>") {
		t.Errorf("telegram message lets a log line be HTML: %s", tg.Text)
	}
	if d := RenderDiscord(n, ""); d.AllowedMentions.Parse == nil || len(d.AllowedMentions.Parse) != 0 {
		t.Errorf("discord allows mentions: %+v", d.AllowedMentions)
	}
}

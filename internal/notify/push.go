package notify

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dynowatch/dynowatch/internal/alert"
)

// What the phone push channels (ntfy, Pushover) show: a title and a short
// text, read on a lock screen, so a few evidence lines at most.

// pushEvidenceLines is how many log lines of each alert a push shows.
const pushEvidenceLines = 3

// pushTitle is the push's title: the status and severity, then what
// happened where, as in "FIRING critical: R14 memory quota exceeded: rss
// 612MB of 512MB on shop web.1".
func pushTitle(n *alert.Notification) string { return newMessageView(n).Title }

// pushText is the push's text, at most maxBytes bytes of UTF-8: for each
// alert (numbered when grouped) its headline when grouped, when it started
// or how long it lasted, the release it followed, and a few log lines.
func pushText(n *alert.Notification, maxBytes int) string {
	v := newMessageView(n)
	var b strings.Builder
	for _, s := range v.Intro {
		b.WriteString(s + "\n")
	}
	for i, a := range v.Alerts {
		if v.Grouped {
			b.WriteString(strconv.Itoa(i+1) + ". " + a.Headline + "\n")
		}
		for _, f := range a.Fields {
			switch f.Name {
			case "Since", "Resolved", "Lasted", "After release":
				b.WriteString(f.Name + ": " + f.Value + "\n")
			}
		}
		for j, line := range a.Evidence {
			if j == pushEvidenceLines {
				b.WriteString("(" + strconv.Itoa(len(a.Evidence)-j+a.MoreEvidence) + " more log lines)\n")
				break
			}
			b.WriteString("> " + clip(line, 200, "…") + "\n")
		}
	}
	text := strings.TrimRight(b.String(), "\n")
	if text == "" {
		// Pushover refuses a blank message, and ntfy would show
		// "triggered": say what happened again.
		text = headline(firstAlert(n))
	}
	return cutBytes(text, maxBytes, "…")
}

// cutBytes cuts s to at most n bytes on a rune boundary, ending it with
// mark when cut.
func cutBytes(s string, n int, mark string) string {
	if len(s) <= n {
		return s
	}
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:max(cut, 0)] + mark
}

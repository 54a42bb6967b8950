package ack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/notify"
)

// SlackTolerance is how far a Slack request's timestamp may be from our
// clock: Slack's own advice, so that a captured request can't be replayed
// later.
const SlackTolerance = 5 * time.Minute

// ErrSlackSignature is a request Slack did not sign with our signing secret,
// or signed too long ago.
var ErrSlackSignature = errors.New("ack: slack request signature")

// VerifySlack checks a request from Slack the way Slack documents it: the
// X-Slack-Signature header is "v0=" and the hex HMAC-SHA256, keyed with the
// app's signing secret, of "v0:", the X-Slack-Request-Timestamp header, ":"
// and the raw body; the timestamp is within SlackTolerance of now.
func VerifySlack(secret string, h http.Header, body []byte, now time.Time) error {
	ts := h.Get("X-Slack-Request-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: X-Slack-Request-Timestamp %q is not Unix seconds", ErrSlackSignature, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)).Abs(); d > SlackTolerance {
		return fmt.Errorf("%w: timestamp %d is %v from now, over %v: a replay?", ErrSlackSignature, sec, d.Round(time.Second), SlackTolerance)
	}
	got, ok := strings.CutPrefix(h.Get("X-Slack-Signature"), "v0=")
	sig, err := hex.DecodeString(got)
	if !ok || err != nil || !hmac.Equal(sig, slackSignature(secret, ts, body)) {
		return fmt.Errorf("%w: X-Slack-Signature does not match", ErrSlackSignature)
	}
	return nil
}

func slackSignature(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + ts + ":"))
	m.Write(body)
	return m.Sum(nil)
}

// slackPayload is the part of a block_actions payload the button needs.
type slackPayload struct {
	Type string `json:"type"`
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Name     string `json:"name"`
	} `json:"user"`
	Actions []struct {
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
	} `json:"actions"`
}

// maxSlackBody bounds an interaction: Slack sends the whole message with it.
const maxSlackBody = 1 << 20

// handleSlack handles "POST /slack/interactions", the Request URL of the
// Slack app's Interactivity: a click of a message's Acknowledge button
// acknowledges its alert as the Slack user who clicked. Slack wants a 200
// within 3 seconds; the message itself is edited by the acknowledged notice
// the outbox then sends.
func (s *server) handleSlack(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSlackBody))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := VerifySlack(s.o.SlackSigningSecret, r.Header, body, s.o.Now()); err != nil {
		s.o.Logger.Warn("slack interaction refused", "err", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	form, err := url.ParseQuery(string(body))
	var p slackPayload
	if err == nil {
		err = json.Unmarshal([]byte(form.Get("payload")), &p)
	}
	if err != nil {
		http.Error(w, "want a form with a JSON payload", http.StatusBadRequest)
		return
	}
	by := p.User.Name
	if by == "" {
		by = p.User.Username
	}
	by = strings.TrimSpace(by + " (Slack " + p.User.ID + ")")
	for _, a := range p.Actions {
		if p.Type != "block_actions" || a.ActionID != notify.SlackAckAction {
			continue
		}
		key, started, ok := notify.ParseSlackAckValue(a.Value)
		if !ok {
			s.o.Logger.Warn("ack from slack: not a button of ours", "value", a.Value, "by", by)
			continue
		}
		before, _, err := s.o.Store.Alert(r.Context(), key)
		if err == nil && before.StartedAt.Unix() != started {
			// The button of an earlier episode: its resolved edit is late
			// or was lost. This episode is not the one the clicker saw.
			err = errors.New("the button is of an earlier episode of the alert")
		}
		var acked alert.State
		if err == nil {
			acked, err = s.o.Acker.Ack(r.Context(), key, by, "")
		}
		switch {
		case err != nil:
			// Not firing any more, or gone: the message shows it soon.
			s.o.Logger.Warn("ack from slack", "key", key, "by", by, "err", err)
		case !before.Acked():
			s.audit(r, "slack", &acked) // this click acked it, not an earlier one
		}
	}
	w.WriteHeader(http.StatusOK)
}

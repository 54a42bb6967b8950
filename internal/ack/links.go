// Package ack lets people acknowledge an alert from where they heard of it,
// without the dashboard password: a signed, expiring link in every firing
// notification and the page it opens, Slack's interactive button, and
// Pushover's emergency receipt callback.
package ack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// LinkTTL is how long an ack link works. A day covers a night on call; a
// firing alert's reminders carry fresh links.
const LinkTTL = 24 * time.Hour

// Errors of Links.Verify.
var (
	ErrForged  = errors.New("ack: link not signed by this dynowatch")
	ErrExpired = errors.New("ack: link expired")
)

// macLen is how much of the HMAC-SHA256 a link keeps: 96 bits cannot be
// guessed online, and the link stays short enough for one SMS.
const macLen = 12

// Links signs and checks ack links: /ack/{token}, where the token holds the
// alert key, the start of the episode it was made for and an expiry, and an
// HMAC of them and the action under a key derived from the dashboard
// password. The episode binds the link to it: an old link of the same alert
// must not acknowledge its next episode, which starts unacknowledged.
//
// Why the dashboard password: a link grants one action (acknowledge) on one
// alert, a small part of what the password grants, so whoever holds the
// password gains nothing from the key; it is set on every dyno already (or
// generated and kept in the store locally), so there is no new var to
// forget; and rotating it (several, comma-separated, the first signs)
// revokes every link out there. The drain secret would be a poor choice: it
// sits in every drain URL, which Heroku shows to the apps' collaborators.
type Links struct {
	base string   // DYNOWATCH_URL, without a trailing slash
	keys [][]byte // the first signs; each verifies
}

// NewLinks returns Links under base (DYNOWATCH_URL) with keys derived from
// passwords (DASHBOARD_PASSWORD).
func NewLinks(base string, passwords []string) (*Links, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ack: base URL %q: want DYNOWATCH_URL such as https://my-dynowatch.herokuapp.com", base)
	}
	if len(passwords) == 0 {
		return nil, errors.New("ack: no password to derive the link key from")
	}
	l := &Links{base: strings.TrimSuffix(base, "/")}
	for _, p := range passwords {
		if p == "" {
			return nil, errors.New("ack: an empty password")
		}
		m := hmac.New(sha256.New, []byte(p))
		m.Write([]byte("dynowatch ack links v1")) // a key of its own, not the password itself
		l.keys = append(l.keys, m.Sum(nil))
	}
	return l, nil
}

// URL returns the link that acknowledges the episode of alertKey that
// started at episode (State.StartedAt), until now+LinkTTL.
func (l *Links) URL(alertKey string, episode, now time.Time) string {
	return l.base + "/ack/" + l.token(l.keys[0], alertKey, episode, now.Add(LinkTTL))
}

// head is the token's fixed part after the MAC: the expiry and the
// episode's start, Unix seconds each (good until 2106).
type head [8]byte

func (l *Links) token(key []byte, alertKey string, episode, expires time.Time) string {
	var h head
	binary.BigEndian.PutUint32(h[:4], uint32(expires.Unix()))
	binary.BigEndian.PutUint32(h[4:], uint32(episode.Unix()))
	b := append(sign(key, h, alertKey), h[:]...)
	return base64.RawURLEncoding.EncodeToString(append(b, alertKey...))
}

// sign is the MAC of the action, the expiry, the episode and the alert key:
// a link is good for acknowledging that episode of that alert only.
func sign(key []byte, h head, alertKey string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ack\x00"))
	m.Write(h[:])
	m.Write([]byte(alertKey))
	return m.Sum(nil)[:macLen]
}

// SameEpisode reports whether an alert's episode that started at started is
// the one a link made for episode (what Verify returned) acknowledges. Only
// seconds are signed, so a store that rounds the time still matches.
func SameEpisode(episode, started time.Time) bool {
	return uint32(episode.Unix()) == uint32(started.Unix())
}

// Verify returns the alert key token acknowledges, the start of the episode
// it was made for, and its expiry. It reports ErrForged for a token no key
// of l signed (changed, cut, or made up) and ErrExpired for one signed that
// is past its expiry.
func (l *Links) Verify(token string, now time.Time) (alertKey string, episode, expires time.Time, err error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) <= macLen+len(head{}) {
		return "", time.Time{}, time.Time{}, ErrForged
	}
	var h head
	copy(h[:], b[macLen:])
	alertKey = string(b[macLen+len(h):])
	ok := false
	for _, k := range l.keys {
		ok = hmac.Equal(b[:macLen], sign(k, h, alertKey)) || ok
	}
	if !ok {
		return "", time.Time{}, time.Time{}, ErrForged
	}
	expires = time.Unix(int64(binary.BigEndian.Uint32(h[:4])), 0).UTC()
	episode = time.Unix(int64(binary.BigEndian.Uint32(h[4:])), 0).UTC()
	if !now.Before(expires) {
		return alertKey, episode, expires, fmt.Errorf("%w on %s", ErrExpired, expires.Format(time.RFC1123))
	}
	return alertKey, episode, expires, nil
}

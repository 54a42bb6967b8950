package ack

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 30, 3, 14, 0, 0, time.UTC)

func mustLinks(t testing.TB, passwords ...string) *Links {
	t.Helper()
	l, err := NewLinks("https://my-dynowatch.herokuapp.com/", passwords)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// token is the token of link.
func token(t testing.TB, link string) string {
	t.Helper()
	tok, ok := strings.CutPrefix(link, "https://my-dynowatch.herokuapp.com/ack/")
	if !ok {
		t.Fatalf("link %q is not under DYNOWATCH_URL/ack/", link)
	}
	return tok
}

func TestLinkVerifiesUntilItExpires(t *testing.T) {
	l := mustLinks(t, "b7e1d04c9a2f5e36")
	tok := token(t, l.URL("r14|shop-prod|web.1", t0, t0))
	for _, tc := range []struct {
		name string
		at   time.Time
		err  error
	}{
		{"at once", t0, nil},
		{"a second before it expires", t0.Add(LinkTTL - time.Second), nil},
		{"when it expires", t0.Add(LinkTTL), ErrExpired},
		{"a week on", t0.Add(7 * LinkTTL), ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, _, exp, err := l.Verify(tok, tc.at)
			if !errors.Is(err, tc.err) || key != "r14|shop-prod|web.1" || !exp.Equal(t0.Add(LinkTTL)) {
				t.Fatalf("Verify = %q, %v, %v; want r14|shop-prod|web.1, %v, %v", key, exp, err, t0.Add(LinkTTL), tc.err)
			}
		})
	}
}

// TestForgedLinksAreRefused: a link changed anywhere, cut, signed with
// another password, or made for another alert by splicing is refused.
func TestForgedLinksAreRefused(t *testing.T) {
	l := mustLinks(t, "b7e1d04c9a2f5e36")
	tok := token(t, l.URL("r14|shop-prod|web.1", t0, t0))
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	for i := range raw {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		if key, _, _, err := l.Verify(base64.RawURLEncoding.EncodeToString(b), t0); !errors.Is(err, ErrForged) {
			t.Errorf("byte %d changed: %q, %v; want ErrForged", i, key, err)
		}
	}
	other := token(t, mustLinks(t, "another password").URL("r14|shop-prod|web.1", t0, t0))
	later := token(t, l.URL("r14|shop-prod|web.1", t0, t0.Add(30*24*time.Hour)))
	rawLater, _ := base64.RawURLEncoding.DecodeString(later)
	spliced := append(append([]byte(nil), raw[:macLen]...), rawLater[macLen:macLen+4]...) // a later expiry under the old MAC
	spliced = append(spliced, "r14|shop-prod|web.1"...)
	for name, tok := range map[string]string{
		"empty": "", "not base64": "!!!!", "cut": tok[:len(tok)-3], "MAC only": base64.RawURLEncoding.EncodeToString(raw[:macLen+4]),
		"another password": other, "expiry extended": base64.RawURLEncoding.EncodeToString(spliced),
		"another alert": base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), raw[:macLen+4]...), "r15|shop-prod|web.1"...)),
	} {
		if key, _, _, err := l.Verify(tok, t0); !errors.Is(err, ErrForged) {
			t.Errorf("%s: %q, %v; want ErrForged", name, key, err)
		}
	}
}

// TestLinksSurviveARotation: with DASHBOARD_PASSWORD=new,old, links the old
// password signed still work, and new ones are signed with the first.
func TestLinksSurviveARotation(t *testing.T) {
	old := token(t, mustLinks(t, "old").URL("r14|shop|web.1", t0, t0))
	rotated := mustLinks(t, "new", "old")
	if _, _, _, err := rotated.Verify(old, t0); err != nil {
		t.Fatalf("a link of the old password after the rotation: %v", err)
	}
	if _, _, _, err := mustLinks(t, "new").Verify(token(t, rotated.URL("r14|shop|web.1", t0, t0)), t0); err != nil {
		t.Fatalf("a new link, once the old password is gone: %v", err)
	}
	if _, _, _, err := mustLinks(t, "new").Verify(old, t0); !errors.Is(err, ErrForged) {
		t.Fatalf("a link of a password removed: %v, want ErrForged", err)
	}
}

// TestLinkFitsAnSMS: a link to a typical alert is short and made of
// characters of the GSM-7 basic set, so an SMS has room for its facts.
func TestLinkFitsAnSMS(t *testing.T) {
	link := mustLinks(t, "b7e1d04c9a2f5e36").URL("r14|shop-prod|web.1", t0, t0)
	if n := len(link); n > 96 { // 90 until the episode's start joined the token
		t.Errorf("link %q is %d characters, want at most 96", link, n)
	}
	if strings.Trim(link, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:/.") != "" {
		t.Errorf("link %q has characters outside [A-Za-z0-9-_:/.]", link)
	}
}

func TestNewLinksNeedsAURLAndAPassword(t *testing.T) {
	for _, tc := range []struct {
		base      string
		passwords []string
	}{
		{"", []string{"p"}}, {"my-dynowatch.herokuapp.com", []string{"p"}}, {"ftp://x", []string{"p"}},
		{"https://x", nil}, {"https://x", []string{""}},
	} {
		if _, err := NewLinks(tc.base, tc.passwords); err == nil {
			t.Errorf("NewLinks(%q, %q) accepted", tc.base, tc.passwords)
		}
	}
}

// FuzzVerify: no token makes Verify panic, and only what URL signed
// verifies, for the alert it was signed for.
func FuzzVerify(f *testing.F) {
	l := mustLinks(f, "b7e1d04c9a2f5e36")
	f.Add(token(f, l.URL("r14|shop|web.1", t0, t0)))
	f.Add(token(f, l.URL("check||api", t0, t0)))
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		key, ep, exp, err := l.Verify(tok, t0)
		if err != nil {
			return
		}
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		if signed := l.token(l.keys[0], key, ep, exp); signed != base64.RawURLEncoding.EncodeToString(raw) {
			t.Fatalf("Verify(%q) accepted key %q, which URL signs as %q", tok, key, signed)
		}
	})
}

// TestLinkSignsTheEpisode: a link says the episode it was made for, and a
// token whose episode was changed to another's is forged.
func TestLinkSignsTheEpisode(t *testing.T) {
	l := mustLinks(t, "b7e1d04c9a2f5e36")
	started := t0.Add(-2 * time.Minute)
	tok := token(t, l.URL("r14|shop-prod|web.1", started, t0))
	if _, ep, _, err := l.Verify(tok, t0); err != nil || !ep.Equal(started) || !SameEpisode(ep, started.Add(300*time.Microsecond)) {
		t.Fatalf("Verify: episode %v, %v; want %v", ep, err, started)
	}
	if SameEpisode(started, started.Add(time.Hour)) {
		t.Fatal("an episode an hour later is the same one")
	}
	b, _ := base64.RawURLEncoding.DecodeString(tok)
	b[macLen+4+3]++ // the episode's start, a second later
	if _, _, _, err := l.Verify(base64.RawURLEncoding.EncodeToString(b), t0); !errors.Is(err, ErrForged) {
		t.Fatalf("a link moved to another episode: %v, want ErrForged", err)
	}
}

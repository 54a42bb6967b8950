package redact

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"https://x.com/health", "https://x.com/health"},
		{"https://user:s3cretpw@x.com/h?page=2&token=s3cretpw", "https://user:xxxxx@x.com/h?page=2&token=xxxxx"},
		{"https://T0KENasUSER@x.com/", "https://xxxxx@x.com/"},
		{"postgres://u:pw@db/d?sslmode=disable&search_path=s", "postgres://u:xxxxx@db/d?search_path=s&sslmode=disable"},
		{"https://x.com/s?X-Amz-Signature=abc&apiKey=def&Password=ghi&auth=jkl&client_secret=mno", "https://x.com/s?Password=xxxxx&X-Amz-Signature=xxxxx&apiKey=xxxxx&auth=xxxxx&client_secret=xxxxx"},
		{"redis://:pw@h:6379/0", "redis://:xxxxx@h:6379/0"},
		{"http://us er:p%zz@x", "(a value that is not a URL)"},
	} {
		if got := URL(tc.raw); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestOrigin(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"https://hooks.example.com", "https://hooks.example.com"},
		{"https://hooks.example.com/", "https://hooks.example.com"},
		{"https://u:p@hooks.example.com/services/T0/B0/tok", "https://hooks.example.com/..."},
		{"http://127.0.0.1:5000?sig=abc", "http://127.0.0.1:5000/..."},
	} {
		u, err := url.Parse(tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := Origin(u); got != tc.want {
			t.Errorf("Origin(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestScrubber(t *testing.T) {
	s := NewScrubber("", "ab", "key/with space", "sk-123")
	for _, tc := range []struct{ text, want string }{
		{"about a cab", "about a cab"}, // too short to be a secret
		{"bad key key/with space", "bad key xxxxx"},
		{"?k=key%2Fwith+space", "?k=xxxxx"},
		{"/p/key%2Fwith%20space", "/p/xxxxx"},
		{"sk-123 and sk-123", "xxxxx and xxxxx"},
	} {
		if got := s.Scrub(tc.text); got != tc.want {
			t.Errorf("Scrub(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
	if got := (Scrubber{}).Scrub("sk-123"); got != "sk-123" {
		t.Errorf("the zero Scrubber changed %q", got)
	}
}

func TestWrap(t *testing.T) {
	s := NewScrubber("sk-123")
	ue := &url.Error{Op: "Post", URL: "https://x.com/send?key=sk-123", Err: context.DeadlineExceeded}
	err := s.Wrap("sendgrid", fmt.Errorf("sending: %w", ue), "https://x.com/...")
	if want := `sendgrid: Post "https://x.com/...": context deadline exceeded`; err.Error() != want {
		t.Errorf("Wrap = %q, want %q", err, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("Wrap hides a cause whose text holds no secret")
	}
	err = s.Wrap("smtp", errors.New("535 password sk-123 refused"), "smtp://h:587")
	if want := "smtp: 535 password xxxxx refused"; err.Error() != want || errors.Unwrap(err) != nil {
		t.Errorf("Wrap = %q unwrapping to %v, want %q unwrapping to nothing", err, errors.Unwrap(err), want)
	}
}

// TestNoSecretShown is the property every user of the package relies on:
// whatever shape a secret takes in a URL, nothing the package returns for
// people shows it, nor any error beneath what it returns.
func TestNoSecretShown(t *testing.T) {
	const secret = "leak/Check=01"
	shapes := []string{secret, url.QueryEscape(secret), url.PathEscape(secret)}
	for _, tc := range []struct {
		raw    string
		quoted string // what an error beside raw quotes: the secret, or raw itself when raw is no URL
	}{
		{"https://user:" + url.PathEscape(secret) + "@x.com/h", secret},
		{"https://" + url.PathEscape(secret) + "@x.com/h", secret},
		{"redis://:" + url.QueryEscape(secret) + "@x.com:6379", secret},
		{"https://x.com/h?page=1&access_token=" + url.QueryEscape(secret), secret},
		{"https://x.com/h?APIKEY=" + url.QueryEscape(secret) + "&sig=" + url.QueryEscape(secret), secret},
		{"http://x.com/?password=" + url.QueryEscape(secret), secret},
		{"postgres://u:" + url.QueryEscape(secret) + "@db/d?sslmode=disable", secret},
		{"http://u:" + secret + "%zz@x.com", "http://u:" + secret + "%zz@x.com"},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			// As a driver or net/http might quote it.
			cause := &url.Error{Op: "Get", URL: tc.raw, Err: fmt.Errorf("dial %s: refused, password %s", tc.raw, tc.quoted)}
			shown := []string{URL(tc.raw), URLScrubber(tc.raw).Scrub("error at " + tc.raw + ": " + tc.quoted)}
			if u, err := url.Parse(tc.raw); err == nil {
				shown = append(shown, Origin(u))
			}
			for err := URLScrubber(tc.raw).Wrap("probe", cause, URL(tc.raw)); err != nil; err = errors.Unwrap(err) {
				shown = append(shown, err.Error())
			}
			for _, text := range shown {
				for _, s := range shapes {
					if strings.Contains(text, s) {
						t.Errorf("%q shows the secret as %q", text, s)
					}
				}
			}
		})
	}
}

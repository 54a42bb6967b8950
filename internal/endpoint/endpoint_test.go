package endpoint

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	http := []string{"http", "https"}
	pg := []string{"postgres", "postgresql"}
	for _, tt := range []struct {
		raw     string
		schemes []string
		want    string // the error; "" for none
	}{
		{"https://hooks.example.com/x?token=abc", http, ""},
		{"http://127.0.0.1:8080", http, ""},
		{"postgres://u:p@db.example.com:5432/d", pg, ""},
		{"postgres:///app?host=/var/run", pg, ""},
		{"smtps://u:p@smtp.example.com", []string{"smtp", "smtps"}, ""},
		{"ftp://example.com", http, "want a URL starting http:// or https://"},
		{"example.com/hook", http, "want a URL starting http:// or https://"},
		{"mysql://u:p@x/d", pg, "want a URL starting postgres:// or postgresql://"},
		{"https:///x", http, "the URL has no host"},
		{"https://:8080/x", http, "the URL has no host"},
		{"smtp://u:p@:587", []string{"smtp"}, "the URL has no host"},
		{"https://u:sec%zzret@example.com/", http, "not a URL"},
		{"://secret", http, "not a URL"},
	} {
		_, err := Parse(tt.raw, tt.schemes...)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Parse(%q, %q) error = %q, want %q", tt.raw, tt.schemes, got, tt.want)
		}
		if strings.Contains(got, "sec") || strings.Contains(got, "u:p") {
			t.Errorf("Parse(%q) error shows the URL: %q", tt.raw, got)
		}
	}
}

func TestHTTP(t *testing.T) {
	if u, err := HTTP("https://api.sendgrid.com"); err != nil || u.Host != "api.sendgrid.com" {
		t.Errorf("HTTP = %v, %v", u, err)
	}
	if _, err := HTTP("redis://x"); err == nil {
		t.Error("HTTP accepted redis://")
	}
}

package parse

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFromPartsClassifiesAsAFrameWould(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 3, 123456000, time.FixedZone("CET", 3600))
	tests := []struct {
		name            string
		source, process string
		msg             string
		want            Kind
		line            string
	}{
		{"router H12", SourceHeroku, "router", `at=error code=H12 desc="Request timeout" method=GET path="/slow?t=1" host=a.herokuapp.com dyno=web-1234abcde-123ab connect=0ms service=30000ms status=503 bytes=0` + "\n",
			KindRouter, `2026-11-30T11:00:03.123456+00:00 heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/slow" host=a.herokuapp.com dyno=web-1234abcde-123ab connect=0ms service=30000ms status=503 bytes=0`},
		{"R14 of a Fir dyno", SourceHeroku, "web-1234abcde-123ab", "Error R14 (Memory quota exceeded)", KindDynoError,
			"2026-11-30T11:00:03.123456+00:00 heroku[web-1234abcde-123ab]: Error R14 (Memory quota exceeded)"},
		{"app output faking R14 stays app output", SourceApp, "web-1234abcde-123ab", "Error R14 (Memory quota exceeded)", KindApp,
			"2026-11-30T11:00:03.123456+00:00 app[web-1234abcde-123ab]: Error R14 (Memory quota exceeded)"},
		{"release", SourceApp, "api", "Release v42 created by user a@example.com", KindRelease,
			"2026-11-30T11:00:03.123456+00:00 app[api]: Release v42 created by user a@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Entry
			if err := FromParts(&e, at, tt.source, tt.process, tt.msg); err != nil {
				t.Fatal(err)
			}
			if e.Kind != tt.want {
				t.Errorf("Kind = %v, want %v", e.Kind, tt.want)
			}
			if got := e.Line(false, false); got != tt.line {
				t.Errorf("Line =\n %s\nwant\n %s", got, tt.line)
			}
		})
	}
}

func TestFromPartsRefusesWhatAFrameCouldNotCarry(t *testing.T) {
	at := time.Unix(1, 0)
	for _, tt := range []struct {
		name         string
		at           time.Time
		process, msg string
		want         error
	}{
		{"no time", time.Time{}, "web.1", "hi", ErrBadTimestamp},
		{"invalid UTF-8", at, "web.1", "\xff", ErrInvalidUTF8},
		{"process too long", at, strings.Repeat("w", MaxProcess+1), "hi", ErrBadValue},
	} {
		var e Entry
		if err := FromParts(&e, tt.at, SourceApp, tt.process, tt.msg); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

package duration

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"30d", 30 * Day},
		{"0d", 0},
		{"1d", Day},
		{"1d12h", 36 * time.Hour},
		{"2d30m", 2*Day + 30*time.Minute},
		{"12h", 12 * time.Hour},
		{"90s", 90 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"500ms", 500 * time.Millisecond},
		{"1.5h", 90 * time.Minute},
		{"0", 0},
		{"0s", 0},
		{"106751d", 106751 * Day},
	} {
		got, err := Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, in := range []string{
		"", "d", "3", "1w", "a month", "30 d", " 30d", "1.5d", "-1d", "-5m", "+5m", "1d-5m", "1d+5m",
		"1d2d", "1days", "0x10d", "106752d", "106751d24h", "99999999999999999999d",
	} {
		if d, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, d)
		} else if err.Error() != errSyntax.Error() {
			t.Errorf("Parse(%q) error = %q", in, err)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		in   time.Duration
		want string
	}{
		{30 * Day, "30d"},
		{365 * Day, "365d"},
		{36 * time.Hour, "1d12h"},
		{Day + 90*time.Second, "1d1m30s"},
		{24*time.Hour - time.Minute, "23h59m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{time.Minute, "1m"},
		{90 * time.Second, "1m30s"},
		{5 * time.Second, "5s"},
		{500 * time.Millisecond, "500ms"},
		{0, "0s"},
		{-time.Minute, "-1m0s"},
	} {
		got := Format(tt.in)
		if got != tt.want {
			t.Errorf("Format(%v) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.in < 0 {
			continue
		}
		if back, err := Parse(got); err != nil || back != tt.in {
			t.Errorf("Parse(Format(%v)) = %v, %v", tt.in, back, err)
		}
	}
}

func TestShort(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {45 * time.Second, "45s"}, {12 * time.Minute, "12m"}, {12*time.Minute + 30*time.Second, "12m30s"},
		{3*time.Hour + 5*time.Minute + 20*time.Second, "3h5m"}, {2 * time.Hour, "2h"},
		{59*time.Minute + 59*time.Second + 600*time.Millisecond, "1h"}, {Day, "24h"}, {36*time.Hour + 5*time.Minute, "36h5m"},
		{50 * time.Hour, "2d2h"}, {72*time.Hour + 59*time.Minute, "3d"},
	} {
		if got := Short(tc.d); got != tc.want {
			t.Errorf("Short(%v)=%q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestDurationText(t *testing.T) {
	var v struct{ D Duration }
	if err := json.Unmarshal([]byte(`{"D":"1d12h"}`), &v); err != nil || v.D.D() != 36*time.Hour {
		t.Fatalf("unmarshal = %v, %v", v.D, err)
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) != `{"D":"1d12h"}` {
		t.Errorf("marshal = %s, %v", b, err)
	}
	if err := json.Unmarshal([]byte(`{"D":"1w"}`), &v); err == nil {
		t.Error("unmarshal of 1w accepted")
	}
}

// Package duration is how dynowatch reads and writes a span of time: config
// vars, alert rule windows, check options and API parameters all take the
// same units, so "1d" means the same wherever a user writes it.
package duration

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Day is the unit time.ParseDuration lacks and retention periods need.
const Day = 24 * time.Hour

// maxDays keeps n*Day within a time.Duration.
const maxDays = int64(1<<63-1) / int64(Day)

// errSyntax says what a duration looks like. It does not repeat the input:
// every caller names the var or parameter and shows its value.
var errSyntax = errors.New("want a number and a unit (ms, s, m, h or d), such as 500ms, 90s, 5m, 12h, 30d or 1d12h")

// Parse reads a duration as people write it: time.ParseDuration's forms
// ("500ms", "90s", "1h30m") with whole days in front ("30d", "1d12h").
// Negative durations are refused: nothing in dynowatch counts backwards, and
// each caller checks its own range.
func Parse(s string) (time.Duration, error) {
	if s == "" || s[0] == '-' || s[0] == '+' {
		return 0, errSyntax
	}
	var days time.Duration
	if before, after, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.ParseInt(before, 10, 64)
		if err != nil || n > maxDays {
			return 0, errSyntax
		}
		days, s = time.Duration(n)*Day, after
		if s == "" {
			return days, nil
		}
		if s[0] == '-' || s[0] == '+' {
			return 0, errSyntax
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > time.Duration(1<<63-1)-days {
		return 0, errSyntax
	}
	return days + d, nil
}

// Format writes d as Parse reads it, the way people write it: "30d",
// "1d12h", "1h", "1m30s", "500ms" (time.Duration's String would say
// "720h0m0s" and "1h0m0s").
func Format(d time.Duration) string {
	if d < 0 {
		return d.String() // not a duration dynowatch takes; shown as it is
	}
	var b strings.Builder
	if d >= Day {
		b.WriteString(strconv.FormatInt(int64(d/Day), 10))
		b.WriteByte('d')
		if d %= Day; d == 0 {
			return b.String()
		}
	}
	s := d.String()
	if rest, ok := strings.CutSuffix(s, "m0s"); ok {
		s = rest + "m"
	}
	if rest, ok := strings.CutSuffix(s, "h0m"); ok {
		s = rest + "h"
	}
	b.WriteString(s)
	return b.String()
}

// Short writes d for people, to its two largest units with the rest cut
// off: 45s, 12m30s, 3h5m, 36h, 2d4h. Up to two days it counts hours, as
// people say "36 hours". Messages and the rules table say spans with it;
// Format is for values a user may write back into a var.
func Short(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d < time.Hour:
		return Format(d)
	case d < Day:
		return Format(d.Truncate(time.Minute))
	case d < 2*Day:
		s := strconv.FormatInt(int64(d/time.Hour), 10) + "h"
		if m := d % time.Hour / time.Minute; m > 0 {
			s += strconv.FormatInt(int64(m), 10) + "m"
		}
		return s
	}
	return Format(d.Truncate(time.Hour))
}

// Duration is a time.Duration that reads and writes itself with Parse and
// Format, for config vars ("RETENTION_EVENTS=30d") and JSON.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String writes d as Format does.
func (d Duration) String() string { return Format(time.Duration(d)) }

// UnmarshalText reads d as Parse does.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := Parse(string(text))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes d as Format does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

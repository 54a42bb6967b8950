package parse

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// parseFrame fills e from one frame without its length prefix:
//
//	<PRI>1 TIMESTAMP HOST APP PROC MSGID [SD] MSG
//
// Logplex sends no structured data; log-shuttle sends "-" for it. We decode the
// header ourselves: heroku/x's Decode costs ~20 allocations a message, and the
// whole frame here costs none: its fields point into the Scanner's text.
func parseFrame(e *Entry, s string, c *stampCache) error {
	if !utf8.ValidString(s) {
		return ErrInvalidUTF8
	}
	rest, ok := skipPRI(s)
	if !ok {
		return fmt.Errorf("%w: want <PRI>1 at the start of %q", ErrBadHeader, clipString(s))
	}
	var stamp, app, proc string
	stamp, rest = field(rest)
	_, rest = field(rest) // HOST: "host" on HTTPS drains
	app, rest = field(rest)
	proc, rest = field(rest)
	if proc == "" {
		return fmt.Errorf("%w: too few fields in %q", ErrBadHeader, clipString(s))
	}
	if proc == "-" {
		proc = ""
	}
	if err := checkName("process", proc, MaxProcess); err != nil {
		return err
	}
	_, rest = field(rest) // MSGID: always "-"
	// log-shuttle's nil structured data. A Logplex message that really begins
	// with "- " loses those two bytes; Postgres lines begin with "[" so SD
	// elements are not parsed at all.
	if rest == "-" {
		rest = ""
	} else if strings.HasPrefix(rest, "- ") {
		rest = rest[2:]
	}
	if err := setTime(e, stamp, c); err != nil {
		return err
	}
	// Every common field is written: reset leaves them.
	e.Source = internSource(app)
	e.Process = proc
	e.Message = strings.TrimSuffix(rest, "\n")
	return classify(e)
}

// parsePlainLine fills e from a line as `heroku logs` prints it:
//
//	2020-05-21T09:27:33.001084+00:00 heroku[router]: at=info method=GET …
//	2012-11-30T06:45:26+00:00 app: message without a process
func parsePlainLine(e *Entry, s string, c *stampCache) error {
	if !utf8.ValidString(s) {
		return ErrInvalidUTF8
	}
	stamp, rest := field(s)
	if err := setTime(e, stamp, c); err != nil {
		return err
	}
	colon := strings.Index(rest, ": ")
	if colon < 0 {
		if !strings.HasSuffix(rest, ":") {
			return fmt.Errorf("%w: want `source[process]: message` after the time in %q", ErrBadHeader, clipString(s))
		}
		colon = len(rest) - 1
	}
	src := rest[:colon]
	if strings.IndexByte(src, ' ') >= 0 {
		return fmt.Errorf("%w: want `source[process]: message` after the time in %q", ErrBadHeader, clipString(s))
	}
	proc := ""
	if i := strings.IndexByte(src, '['); i >= 0 {
		if !strings.HasSuffix(src, "]") || i == 0 {
			return fmt.Errorf("%w: unbalanced brackets in %q", ErrBadHeader, src)
		}
		proc = src[i+1 : len(src)-1]
		src = src[:i]
		if err := checkName("process", proc, MaxProcess); err != nil {
			return err
		}
	}
	msg := ""
	if colon+2 <= len(rest) {
		msg = rest[colon+2:]
	}
	// Every common field is written: reset leaves them.
	e.Source, e.Process, e.Message = internSource(src), proc, msg
	return classify(e)
}

func skipPRI(s string) (string, bool) {
	if len(s) < 4 || s[0] != '<' {
		return "", false
	}
	i := 1
	for i < len(s) && i < 5 && isDigit(s[i]) {
		i++
	}
	if i == 1 || i+2 >= len(s) || s[i] != '>' || !isDigit(s[i+1]) {
		return "", false
	}
	i++
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i >= len(s) || s[i] != ' ' {
		return "", false
	}
	return s[i+1:], true
}

// field splits s at its first space.
func field(s string) (string, string) {
	if i := indexSpace(s, 0); i < len(s) {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func internSource(s string) string {
	switch s {
	case SourceHeroku:
		return SourceHeroku
	case SourceApp:
		return SourceApp
	}
	return s
}

func setTime(e *Entry, stamp string, c *stampCache) error {
	t, ok := c.parse(stamp)
	if !ok {
		return fmt.Errorf("%w: %q is not RFC 3339", ErrBadTimestamp, clipString(stamp))
	}
	e.Time = t
	e.Stamp = stamp
	return nil
}

// stampCache remembers the minute of the last timestamp: the messages of a
// drain body mostly share it, and then only the seconds need parsing.
type stampCache struct {
	minute string // "2006-01-02T15:04"
	base   int64  // its Unix time, before the offset is applied
}

// parseTimestamp reads an RFC 3339 time with any number of fraction digits
// into UTC, without time.Parse's allocation of a zone for each offset.
func parseTimestamp(s string) (time.Time, bool) {
	var c stampCache
	return c.parse(s)
}

func (c *stampCache) parse(s string) (time.Time, bool) {
	// 2006-01-02T15:04:05 is 19 bytes; an offset needs at least "Z".
	if len(s) < 20 || s[16] != ':' {
		return time.Time{}, false
	}
	if s[:16] != c.minute {
		base, ok := parseMinute(s[:16])
		if !ok {
			return time.Time{}, false
		}
		c.minute, c.base = s[:16], base
	}
	sec, ok := digits(s[17:19])
	if !ok || sec > 60 {
		return time.Time{}, false
	}
	i, nsec := 19, 0
	if s[i] == '.' {
		i++
		start := i
		scale := 100_000_000
		for i < len(s) && isDigit(s[i]) {
			nsec += int(s[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start || i-start > 9 {
			return time.Time{}, false
		}
	}
	offset := 0
	switch {
	case i == len(s)-1 && (s[i] == 'Z' || s[i] == 'z'):
	case i == len(s)-6 && (s[i] == '+' || s[i] == '-') && s[i+3] == ':':
		oh, ok1 := digits(s[i+1 : i+3])
		om, ok2 := digits(s[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if s[i] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	// time.Date normalises every field and costs several times this.
	return time.Unix(c.base+int64(sec-offset), int64(nsec)).UTC(), true
}

// parseMinute reads "2006-01-02T15:04" as Unix seconds.
func parseMinute(s string) (int64, bool) {
	if s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' {
		return 0, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 {
		return 0, false
	}
	return daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60), true
}

// daysFromCivil returns the days from 1970-01-01 to the given date of the
// proleptic Gregorian calendar (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // years are 0000-9999 here, never negative
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468)
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func clipString(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

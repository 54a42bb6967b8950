package parse

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// StampLayout is how FromParts writes a message's time: the form Logplex
// stamps Cedar lines with, so evidence reads alike whatever brought it.
const StampLayout = "2006-01-02T15:04:05.000000+00:00"

// FromParts fills e from the parts of a message that came without a syslog
// frame (an OpenTelemetry log record from a Fir telemetry drain): its time,
// its source (SourceHeroku or SourceApp), its process and its text. The text
// is classified exactly as a frame's would be, so a router line or an R14
// reads the same whatever brought it. The strings are kept, not copied; e
// must be zero.
func FromParts(e *Entry, t time.Time, source, process, msg string) error {
	if !utf8.ValidString(process) || !utf8.ValidString(msg) {
		return ErrInvalidUTF8
	}
	if err := checkName("process", process, MaxProcess); err != nil {
		return err
	}
	if t.IsZero() {
		return fmt.Errorf("%w: the message has no time", ErrBadTimestamp)
	}
	e.Time = t.UTC()
	e.Stamp = e.Time.Format(StampLayout)
	e.Source = internSource(source)
	e.Process = process
	e.Message = strings.TrimRight(msg, "\r\n")
	return classify(e)
}

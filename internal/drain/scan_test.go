package drain

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/dynowatch/dynowatch/internal/parse"
)

func TestScanBatch(t *testing.T) {
	t.Parallel()
	const good = "2025-03-14T09:26:05.000000+00:00 heroku[web.1]: Error R14 (Memory quota exceeded)\n"
	const bad = "not a log line\n"
	stop := errors.New("stop")
	cut := errors.New("connection cut")
	for _, c := range []struct {
		name          string
		body          io.Reader
		stopAfter     int // next stops the scan at this many entries; 0: never
		want          error
		entries, bads int
	}{
		{"good and bad", strings.NewReader(good + bad + good), 0, nil, 2, 1},
		{"next stops it", strings.NewReader(good + good + good), 2, stop, 2, 0},
		{"read error", io.MultiReader(strings.NewReader(good), iotest.ErrReader(cut)), 0, cut, 1, 0},
	} {
		b := &Batch{App: "shop"}
		var next func(*Batch) error
		if c.stopAfter > 0 {
			next = func(b *Batch) error {
				if len(b.Entries) == c.stopAfter {
					return stop
				}
				return nil
			}
		}
		var badErrs []error
		err := ScanBatch(b, c.body, parse.FormPlain, next, func(err error) { badErrs = append(badErrs, err) })
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
		if len(b.Entries) != c.entries || b.BadFrames != c.bads || len(badErrs) != c.bads {
			t.Errorf("%s: %d entries and %d bad (%d handed on), want %d and %d", c.name, len(b.Entries), b.BadFrames, len(badErrs), c.entries, c.bads)
		}
	}
}

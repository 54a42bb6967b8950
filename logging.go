package main

import (
	"io"
	"log/slog"
	"strings"
)

// newLogger writes logfmt to w, the Heroku convention: `at=info msg="…" app=…`.
// On Heroku the router adds timestamps, so the time is left out there.
func newLogger(w io.Writer, onHeroku bool) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				if onHeroku {
					return slog.Attr{}
				}
			case slog.LevelKey:
				return slog.String("at", strings.ToLower(a.Value.String()))
			}
			return a
		},
	}))
}

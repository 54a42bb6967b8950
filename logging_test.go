package main

import (
	"bytes"
	"testing"
)

func TestLoggerWritesLogfmt(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	newLogger(&b, true).Warn("drain batch not stored", "app", "my-app", "messages", 3)
	if got, want := b.String(), "at=warn msg=\"drain batch not stored\" app=my-app messages=3\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

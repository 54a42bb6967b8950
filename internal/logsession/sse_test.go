package logsession

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSSEReader(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"one event", "data: a\n\n", "a\n"},
		{"several data lines", "data: a\ndata: b\ndata: c\n\n", "a\nb\nc\n"},
		{"several events", "data: a\n\ndata: b\n\n", "a\nb\n"},
		{"comments", ": hi\n\n: keep-alive\ndata: a\n: between\ndata: b\n\n", "a\nb\n"},
		{"fields beside data", "id: 7\nevent: message\nretry: 100\ndata: a\n\n", "a\n"},
		{"other event types", "event: heartbeat\ndata: x\n\nevent: message\ndata: a\n\ndata: b\n\n", "a\nb\n"},
		{"event type does not carry over", "event: ping\ndata: x\n\ndata: a\n\n", "a\n"},
		{"no space after colon", "data:a\n\n", "a\n"},
		{"only one space taken", "data:  a\n\n", " a\n"},
		{"colons in the value", "data: 2025-03-14T09:26:03+00:00 app[web.1]: a: b\n\n", "2025-03-14T09:26:03+00:00 app[web.1]: a: b\n"},
		{"field without colon", "data\ndata: a\n\n", "a\n"},
		{"empty lines dropped", "data: \ndata:\ndata: a\ndata:   \n\n", "a\n"},
		{"empty event", "data\n\n\n\ndata: a\n\n", "a\n"},
		{"CRLF", "data: a\r\ndata: b\r\n\r\n", "a\nb\n"},
		{"CR", "data: a\rdata: b\r\rdata: c\r\r", "a\nb\nc\n"},
		{"unknown field", "foo: bar\ndata: a\n\n", "a\n"},
		{"cut off event dropped", "data: a\n\ndata: b\n", "a\n"},
		{"cut off line dropped", "data: a\n\ndata: b", "a\n"},
		{"nothing", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, rd := range []struct {
				name string
				wrap func(io.Reader) io.Reader
			}{
				{"whole", func(r io.Reader) io.Reader { return r }},
				{"byte by byte", iotest.OneByteReader},
			} {
				r := newSSEReader(io.NopCloser(rd.wrap(strings.NewReader(tc.in))))
				got, err := io.ReadAll(iotest.OneByteReader(r)) // small reads out too
				if err != nil {
					t.Fatalf("%s: %v", rd.name, err)
				}
				if string(got) != tc.want {
					t.Errorf("%s: read %q, want %q", rd.name, got, tc.want)
				}
			}
		})
	}
}

func TestSSEReaderDeliversEachEvent(t *testing.T) {
	// An event must come out as soon as its blank line is in, even when the
	// line ends in a CR that may yet be followed by an LF.
	for _, end := range []string{"\n\n", "\r\n\r\n", "\r\r"} {
		pr, pw := io.Pipe()
		r := newSSEReader(pr)
		go io.WriteString(pw, "data: a"+end)
		buf := make([]byte, 10)
		n, err := r.Read(buf)
		if err != nil || string(buf[:n]) != "a\n" {
			t.Errorf("%q: read %q, %v", end, buf[:n], err)
		}
		pw.Close()
		r.Close()
	}
}

func TestSSEReaderErrors(t *testing.T) {
	boom := errors.New("connection reset")
	r := newSSEReader(io.NopCloser(io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom))))
	got, err := io.ReadAll(r)
	if string(got) != "a\n" || !errors.Is(err, boom) {
		t.Errorf("read %q, %v; want %q, %v", got, err, "a\n", boom)
	}

	long := "data: " + strings.Repeat("x", maxSSELine) + "\n\n"
	r = newSSEReader(io.NopCloser(strings.NewReader("data: a\n\n" + long)))
	got, err = io.ReadAll(r)
	if string(got) != "a\n" || err == nil {
		t.Errorf("over-long line: read %q, %v; want %q and an error", got, err, "a\n")
	}
}

func TestSSEReaderClose(t *testing.T) {
	var closed bool
	r := newSSEReader(closeFunc{bytes.NewReader(nil), func() error { closed = true; return nil }})
	r.Close()
	if !closed {
		t.Error("Close did not close the body")
	}
}

type closeFunc struct {
	io.Reader
	close func() error
}

func (c closeFunc) Close() error { return c.close() }

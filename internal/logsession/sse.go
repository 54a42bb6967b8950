package logsession

import (
	"bufio"
	"bytes"
	"io"
)

// maxSSELine bounds one line of an event stream. Heroku's log lines are at
// most about 10 KB.
const maxSSELine = 1 << 20

// sseReader decodes a text/event-stream body into the log lines its message
// events carry, one line per data field, each ending in "\n". It follows
// the WHATWG grammar: lines end in LF, CRLF or CR; a line starting with ':'
// is a comment; a blank line dispatches the event, and an event cut off by
// the end of the stream is dropped.
type sseReader struct {
	body  io.ReadCloser
	sc    *bufio.Scanner
	data  []byte // the data fields of the event being read, each ending in "\n"
	event []byte // its event type; empty means "message"
	out   []byte // decoded lines not yet read
	off   int
	err   error
}

func newSSEReader(body io.ReadCloser) *sseReader {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 16<<10), maxSSELine)
	sc.Split((&lineSplitter{}).split)
	return &sseReader{body: body, sc: sc}
}

func (r *sseReader) Read(p []byte) (int, error) {
	for r.off == len(r.out) {
		if r.err != nil {
			return 0, r.err
		}
		r.out, r.off = r.out[:0], 0
		r.next()
	}
	n := copy(p, r.out[r.off:])
	r.off += n
	return n, nil
}

func (r *sseReader) Close() error { return r.body.Close() }

// next reads fields until an event yields lines or the stream ends.
func (r *sseReader) next() {
	for r.sc.Scan() {
		line := r.sc.Bytes()
		if len(line) == 0 {
			if r.dispatch() {
				return
			}
			continue
		}
		if line[0] == ':' {
			continue // a comment, often a keep-alive
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "data":
			r.data = append(r.data, value...)
			r.data = append(r.data, '\n')
		case "event":
			r.event = append(r.event[:0], value...)
			// id and retry are for resuming a stream; a log session is never
			// resumed, only replaced.
		}
	}
	r.err = r.sc.Err()
	if r.err == nil {
		r.err = io.EOF
	}
}

// dispatch ends the current event and appends its lines to out, reporting
// whether there were any. Only message events carry log lines, as in the
// Heroku CLI, which also skips empty lines.
func (r *sseReader) dispatch() bool {
	if len(r.event) == 0 || string(r.event) == "message" {
		for rest := r.data; len(rest) > 0; {
			i := bytes.IndexByte(rest, '\n')
			if line := rest[:i]; len(bytes.TrimSpace(line)) > 0 {
				r.out = append(r.out, line...)
				r.out = append(r.out, '\n')
			}
			rest = rest[i+1:]
		}
	}
	r.data, r.event = r.data[:0], r.event[:0]
	return len(r.out) > 0
}

// lineSplitter cuts the lines of an event stream, which may end in LF,
// CRLF or a lone CR. A CR that ends the data read so far ends its line at
// once, so that an event is not held back waiting for the next byte; an LF
// that then follows it is skipped.
type lineSplitter struct{ skipLF bool }

func (s *lineSplitter) split(data []byte, atEOF bool) (int, []byte, error) {
	if s.skipLF && len(data) > 0 {
		s.skipLF = false
		if data[0] == '\n' {
			return 1, nil, nil
		}
	}
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0:
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 == len(data):
		s.skipLF = true
		return i + 1, data[:i], nil
	case data[i+1] == '\n':
		return i + 2, data[:i], nil
	}
	return i + 1, data[:i], nil
}

package parse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unsafe"
)

// MaxFrame is the largest message accepted. Logplex caps a message at 10240
// bytes, but a 10,000-byte line plus its header can exceed that a little and
// other senders are less strict, so we allow headroom and report anything
// larger as a bad frame, resynchronising on the next frame after it.
const MaxFrame = 64 << 10

// Errors for one message. The message is skipped; scanning goes on.
var (
	ErrBadFrame      = errors.New("bad frame")
	ErrFrameTooLarge = errors.New("frame too large")
	ErrBadHeader     = errors.New("bad syslog header")
	ErrBadTimestamp  = errors.New("bad timestamp")
	ErrInvalidUTF8   = errors.New("message is not valid UTF-8")
	ErrMissingField  = errors.New("missing field")
	ErrBadValue      = errors.New("bad value")
)

// Error reports a message that could not be parsed and where it was.
type Error struct {
	Index  int   // 1-based number of the message in the input
	Offset int64 // byte offset of the message in the input
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("message %d at byte %d: %v", e.Index, e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Form is the shape of an input.
type Form uint8

// Input forms.
const (
	FormAuto    Form = iota // decided from the first bytes
	FormLogplex             // octet-counted RFC 5424 frames, application/logplex-1
	FormPlain               // `TS source[proc]: MSG` lines, as `heroku logs` prints them
)

// Scanner reads messages one at a time, like bufio.Scanner:
//
//	s := parse.NewScanner(r, parse.FormAuto)
//	for s.Scan() {
//		e, err := s.Entry()
//		…
//	}
//	if err := s.Err(); err != nil { … }
//
// A bad message makes Entry return an *Error and does not stop the scan: the
// scanner resynchronises on the next frame or line.
//
// The entries' strings point into the buffer the input was read into: it is
// not copied again, and one allocation serves many messages. Keeping an entry
// keeps its buffer alive, so strings.Clone what is kept long.
type Scanner struct {
	r    io.Reader
	form Form

	buf      []byte // unconsumed input is buf[pos:end]
	pos, end int
	eof      bool
	readErr  error
	// shared is set once an entry's strings point into buf[:pos]: those
	// bytes are then never written again, and fill moves on to a new buffer.
	shared bool

	consumed int64 // input bytes advanced past
	tokenAt  int64 // offset of the current token
	index    int

	skippingLine bool  // discarding the rest of an oversized line
	resyncing    bool  // inside garbage that was already reported
	lastByte     byte  // the last byte advanced past
	splitErr     error // the problem with the current token, if any

	stamps stampCache
	entry  Entry
	err    error
	tok    []byte // the current message as read, until the next Scan
}

const (
	initialBuffer = 16 << 10
	minBuffer     = 512
	// The buffer must hold a whole frame plus the start of the next one, which
	// the boundary check looks at.
	maxBuffer = 2 * MaxFrame
)

// NewScanner returns a Scanner reading r in the given form.
func NewScanner(r io.Reader, form Form) *Scanner {
	if l, ok := r.(interface{ Len() int }); ok {
		// An input already in memory (bytes.Reader, strings.Reader,
		// bytes.Buffer) is read into one buffer of its size, plus the byte
		// that lets the read after it see the end: a single line does not
		// take 16 kB, and a body of a few hundred messages takes one
		// allocation. A size only announced, as NewScannerSize's, is not
		// trusted that far: the input is not there yet.
		return &Scanner{r: r, form: form, buf: make([]byte, min(max(l.Len()+1, minBuffer), maxBuffer))}
	}
	return NewScannerSize(r, form, initialBuffer)
}

// NewScannerSize is NewScanner for input of about size bytes, such as a
// request's Content-Length: a one-line drain request then gets a buffer of
// its size, not the 16 KiB meant for larger bodies, which the drain would
// allocate and clear on every request. The buffer still grows as needed.
func NewScannerSize(r io.Reader, form Form, size int64) *Scanner {
	n := initialBuffer
	if size > 0 && size < initialBuffer {
		n = max(int(size)+1, minBuffer) // +1: reading to EOF needs room for one more read
	}
	return &Scanner{r: r, form: form, buf: make([]byte, n)}
}

// Form returns the form being read; after the first Scan FormAuto has been
// resolved to FormLogplex or FormPlain.
func (s *Scanner) Form() Form { return s.form }

// Scan advances to the next message. It returns false at the end of the input
// or on a read error, which Err then returns.
func (s *Scanner) Scan() bool {
	s.splitErr = nil
	for {
		data := s.buf[s.pos:s.end]
		// A full buffer that still holds no whole message is judged as it is.
		atEOF := s.eof || (s.pos == 0 && s.end == len(s.buf) && len(s.buf) >= maxBuffer)
		adv, tok := s.split(data, atEOF)
		if adv == 0 && tok == nil {
			if atEOF {
				return false
			}
			s.fill()
			continue
		}
		s.pos += adv
		if tok == nil {
			continue
		}
		s.index++
		s.tok = tok
		s.entry.reset()
		if s.splitErr != nil {
			s.err = s.splitErr
			return true
		}
		// The entry's strings are the token's bytes, which nothing writes
		// again (see fill): a string copy of each buffer was a tenth of the
		// time of a drain body.
		s.shared = true
		text := unsafe.String(unsafe.SliceData(tok), len(tok))
		if s.form == FormLogplex {
			s.err = parseFrame(&s.entry, text, &s.stamps)
		} else {
			s.err = parsePlainLine(&s.entry, text, &s.stamps)
		}
		return true
	}
}

// fill reads more after the unconsumed input. When the buffer is full, it
// first moves that input to the front of the buffer, or of a new one when
// entries point into this one or it holds a single unfinished message.
func (s *Scanner) fill() {
	if s.end == len(s.buf) {
		size := len(s.buf)
		if s.pos == 0 {
			size = min(2*size, maxBuffer) // full of one unfinished message
		}
		if s.shared || size > len(s.buf) {
			buf := make([]byte, size)
			s.end = copy(buf, s.buf[s.pos:s.end])
			s.buf, s.pos, s.shared = buf, 0, false
		} else {
			s.end = copy(s.buf, s.buf[s.pos:s.end])
			s.pos = 0
		}
	}
	for tries := 0; tries < 100; tries++ {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.readErr = err
			}
			return
		}
		if n > 0 {
			return
		}
	}
	s.eof, s.readErr = true, io.ErrNoProgress
}

// Entry returns the current message, or an *Error if it could not be parsed.
// The Entry is overwritten by the next Scan; copy it (*e) to keep it.
func (s *Scanner) Entry() (*Entry, error) {
	if s.err != nil {
		return nil, &Error{Index: s.index, Offset: s.tokenAt, Err: s.err}
	}
	return &s.entry, nil
}

// Text returns the current message as it was read, without its trailing
// line break: the line, or the frame after its length prefix (with it when
// the prefix is what was wrong). It is what a caller shows of a message Entry
// could not parse, and it copies, so it is not for the hot path.
func (s *Scanner) Text() string {
	return string(bytes.TrimRight(s.tok, "\r\n"))
}

// Err returns the first read error, not counting bad messages.
func (s *Scanner) Err() error { return s.readErr }

// split cuts the next message from data. It returns how many bytes to
// advance and the message, which is nil when data holds no whole message or
// only bytes to skip; a problem with the message is left in s.splitErr.
func (s *Scanner) split(data []byte, atEOF bool) (advance int, token []byte) {
	advance, token, _ = s.splitForm(data, atEOF)
	if token != nil {
		// token is a subslice of data, so the capacities give its position.
		s.tokenAt = s.consumed + int64(cap(data)-cap(token))
	}
	s.consumed += int64(advance)
	if advance > 0 {
		s.lastByte = data[advance-1]
	}
	return advance, token
}

func (s *Scanner) splitForm(data []byte, atEOF bool) (int, []byte, error) {
	if s.skippingLine {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return len(data), nil, nil
		}
		s.skippingLine = false
		return i + 1, nil, nil
	}
	if s.form == FormAuto {
		lead := skipSpace(data)
		if lead == len(data) {
			if atEOF {
				return len(data), nil, nil
			}
			return lead, nil, nil
		}
		if !atEOF && len(data)-lead < 16 && bytes.IndexByte(data[lead:], '\n') < 0 {
			return 0, nil, nil
		}
		s.form = FormPlain
		if n, _ := frameStart(data[lead:]); n > 0 {
			s.form = FormLogplex
		}
	}
	if s.form == FormLogplex {
		return s.splitFrame(data, atEOF)
	}
	return s.splitLine(data, atEOF)
}

// splitFrame cuts one octet-counted frame, as heroku/x's SyslogSplitFunc
// would, but from the prefix frameStart has validated and read, rather than
// reading it again; bad bytes become an error token after which we
// resynchronise on the next thing that looks like a frame. (SyslogSplitFunc
// panics on a negative length, and its errors end a bufio.Scanner.)
func (s *Scanner) splitFrame(data []byte, atEOF bool) (int, []byte, error) {
	lead := skipSpace(data)
	if lead == len(data) {
		if atEOF {
			return len(data), nil, nil
		}
		return lead, nil, nil
	}
	rest := data[lead:]
	plen, status := frameStart(rest)
	switch status {
	case startNeedMore:
		if !atEOF {
			return lead, nil, nil
		}
		return s.garbage(data, lead, atEOF, fmt.Errorf("%w: truncated length prefix %q", ErrBadFrame, clip(rest)))
	case startBad:
		return s.garbage(data, lead, atEOF, fmt.Errorf("%w: no length prefix at %q", ErrBadFrame, clip(rest)))
	}
	if s.resyncing && lead == 0 && (isDigit(s.lastByte) || s.lastByte == '-') {
		// Inside garbage, digits that continue a number are not a frame start.
		return s.garbage(data, lead, atEOF, nil)
	}
	s.resyncing = false
	sp := 0 // the prefix's digits, then the space frameStart found
	for isDigit(rest[sp]) {
		sp++
	}
	if plen > MaxFrame {
		// Skipping plen bytes would trust the very prefix that is out of
		// bounds: a body whose first frame claims 9,999,999 bytes would lose
		// every good frame after it. Resynchronise on the next frame instead.
		return s.badLength(data, lead, sp, plen, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, plen, MaxFrame))
	}
	adv := sp + 1 + plen
	if adv > len(rest) {
		if !atEOF {
			return lead, nil, nil
		}
		// The body ends inside the frame: its length was wrong or the body was cut.
		return s.badLength(data, lead, sp, plen, fmt.Errorf("%w: length %d but only %d bytes left", ErrBadFrame, plen, len(rest)-sp-1))
	}
	tok := rest[sp+1 : adv]
	// The frame must end where the next one starts, or at the end of the body.
	next := rest[adv:]
	nl := skipSpace(next)
	switch _, st := frameStart(next[nl:]); {
	case nl == len(next) && atEOF, st == startOK:
		return lead + adv, tok, nil
	case st == startNeedMore && !atEOF:
		return lead, nil, nil
	}
	// What follows is not a frame: either this length is wrong, or this frame is
	// fine and garbage follows. Dyno lines end with a newline inside the count, so
	// a frame that does is taken as right.
	if tok[len(tok)-1] == '\n' {
		return lead + adv, tok, nil
	}
	return s.badLength(data, lead, sp, plen, fmt.Errorf("%w: length %d does not end at a frame boundary", ErrBadFrame, plen))
}

// badLength reports the frame at data[lead:] whose length prefix is wrong and
// skips to the next frame start after its prefix.
func (s *Scanner) badLength(data []byte, lead, sp, plen int, err error) (int, []byte, error) {
	s.splitErr = err
	from := lead + sp + 1
	if k := findFrameStart(data, from); k >= 0 {
		return k, data[lead:k], nil
	}
	// The rest is reported with this frame; keep skipping what follows until a
	// frame starts.
	s.resyncing = true
	return len(data), data[lead:], nil
}

// garbage reports bytes at data[lead:] that are not a frame, once, and skips to
// the next frame start.
func (s *Scanner) garbage(data []byte, lead int, atEOF bool, err error) (int, []byte, error) {
	k := findFrameStart(data, lead+1)
	var adv int
	switch {
	case k >= 0:
		adv = k
	case atEOF:
		adv = len(data)
	default:
		// Keep a tail that may hold the start of the next frame's prefix.
		adv = max(lead+1, len(data)-16)
	}
	if s.resyncing {
		return adv, nil, nil
	}
	s.resyncing = k < 0 && !atEOF
	s.splitErr = err
	return adv, data[lead:adv], nil
}

// splitLine cuts one plain line, skipping blank ones and lines over MaxFrame.
func (s *Scanner) splitLine(data []byte, atEOF bool) (int, []byte, error) {
	lead := skipSpace(data)
	if lead == len(data) {
		if atEOF {
			return len(data), nil, nil
		}
		return lead, nil, nil
	}
	rest := data[lead:]
	i := bytes.IndexByte(rest, '\n')
	switch {
	case i >= 0:
		if i > MaxFrame {
			s.splitErr = fmt.Errorf("%w: line of %d bytes, limit %d", ErrFrameTooLarge, i, MaxFrame)
			return lead + i + 1, rest[:0], nil
		}
		return lead + i + 1, dropCR(rest[:i]), nil
	case len(rest) > MaxFrame:
		// No newline within the limit: discard up to the next one.
		s.splitErr = fmt.Errorf("%w: line longer than %d bytes", ErrFrameTooLarge, MaxFrame)
		s.skippingLine = true
		return len(data), rest[:0], nil
	case atEOF:
		return len(data), dropCR(rest), nil
	}
	return lead, nil, nil
}

func dropCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// skipSpace returns the number of leading spaces and line breaks, which people
// testing with curl put between frames.
func skipSpace(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

type startStatus uint8

const (
	startOK startStatus = iota
	startNeedMore
	startBad
)

// frameStart checks that b begins like a frame, `LEN <PRI>`, and returns LEN.
// LEN may be over MaxFrame (the caller reports the frame) but not over 7 digits.
func frameStart(b []byte) (int, startStatus) {
	n, i := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i == 7 {
			return 0, startBad
		}
		n = n*10 + int(b[i]-'0')
	}
	switch {
	case i == len(b):
		return 0, startNeedMore
	case i == 0 || n == 0 || b[i] != ' ':
		return 0, startBad
	case i+1 == len(b):
		return 0, startNeedMore
	case b[i+1] != '<':
		return 0, startBad
	}
	// PRI: 1 to 3 digits and '>'.
	j := i + 2
	for ; j < len(b) && j < i+6 && b[j] >= '0' && b[j] <= '9'; j++ {
	}
	switch {
	case j == len(b):
		return 0, startNeedMore
	case j == i+2 || b[j] != '>':
		return 0, startBad
	}
	return n, startOK
}

// findFrameStart returns the index of the first plausible frame start in
// b[from:], or -1.
func findFrameStart(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		// A length is not preceded by a digit, nor by a minus sign.
		if b[i] < '0' || b[i] > '9' || (i > 0 && (isDigit(b[i-1]) || b[i-1] == '-')) {
			continue
		}
		if _, st := frameStart(b[i:]); st == startOK {
			return i
		}
	}
	return -1
}

// clip shortens b for an error message.
func clip(b []byte) string {
	if len(b) > 24 {
		b = b[:24]
	}
	return string(b)
}

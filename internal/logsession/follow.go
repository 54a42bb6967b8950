package logsession

import (
	"bytes"
	"context"
	"errors"
	"hash/maphash"
	"io"
	"sync"
	"time"

	"github.com/dynowatch/dynowatch/internal/heroku"
)

// Backoff between sessions. A session that lasted resetAfter was a good one:
// the next opens at once and the backoff starts over.
const (
	minBackoff = time.Second
	maxBackoff = time.Minute
	resetAfter = time.Minute
	// finalFlush bounds delivering the lines already read once ctx is done.
	finalFlush = 5 * time.Second
	// firSession is how long a Fir app's session is kept before it is
	// replaced: the Heroku CLI's HEROKU_LOG_STREAM_TIMEOUT, 15 minutes by
	// default (src/lib/run/log-displayer.ts).
	firSession = 15 * time.Minute
	// switchGrace is how long a Fir app's old session is still read once
	// the next one answers, for the lines already on their way through it.
	switchGrace = 2 * time.Second
	// maxOverlap is the most lines a Fir app's two sessions may both carry
	// and still be delivered once: a minute (streamHeaderTimeout) of a busy
	// app's log.
	maxOverlap = 5000
	// maxLine bounds one line of a plain stream; longer ones are skipped.
	// Heroku's are at most about 10 KB.
	maxLine = 256 << 10
)

// Follow streams app's log until ctx is done, handing deliver batches of
// whole lines, each ending in "\n", in the order Heroku sent them: at most
// Options.BatchLines lines, and a line waits at most Options.FlushAfter for
// its batch to fill. deliver must not keep lines after it returns.
//
// Follow reads the app's generation first. When a session ends or breaks,
// it opens another, at once if the last one lasted a while and otherwise
// after a backoff of 1 s doubling to 1 min. Sessions ending is the normal
// case (Heroku ends Cedar apps' after about an hour) and is logged at debug
// level; failures are logged as warnings. A Fir app's session is replaced
// every 15 minutes, as the Heroku CLI does: the next one is opened while
// the current one still streams, and Follow moves to it once it answers
// (see session), so the switch loses no lines and the few that both carry
// are delivered once.
//
// Follow returns nil once ctx is done, after delivering the lines already
// read with a context that outlives ctx by at most 5 s. It returns early
// with an error wrapping heroku.ErrUnauthorized or heroku.ErrNoApp, which retrying will
// not cure, or with deliver's error, which stops it.
func (c *Client) Follow(ctx context.Context, app string, deliver func(ctx context.Context, lines []byte) error) error {
	if deliver == nil {
		return errors.New("logsession: Follow needs a deliver function")
	}
	if app == "" {
		return errors.New("logsession: no app given")
	}
	gen, err := c.learnGeneration(ctx, app)
	if err != nil || ctx.Err() != nil {
		return err
	}
	// A generation after Fir is asked for as Cedar, as the Heroku CLI does
	// (firApp is generation === 'fir' in log-displayer.ts).
	f := &follower{c: c, app: app, fir: gen == heroku.Fir, deliver: deliver}
	memory := c.catchUp
	if f.fir {
		memory = maxOverlap
	}
	f.seen = newRecent(memory)
	c.log.Debug("following the log through log sessions", "app", app, "generation", gen)

	backoff := minBackoff
	var next *renewal // a Fir app's next session, already open
	for failures := 0; ; {
		var (
			lasted time.Duration
			err    error
		)
		if next != nil {
			lasted, next, err = f.session(ctx, next.body, next.overlap)
		} else {
			lines := 0
			if !f.fir && f.seen.len() > 0 {
				lines = c.catchUp
			}
			var body io.ReadCloser
			body, err = c.open(ctx, app, f.fir, lines)
			if err == nil {
				lasted, next, err = f.session(ctx, body, lines)
			}
		}
		var derr *deliverError
		switch {
		case errors.As(err, &derr):
			return derr.err
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, heroku.ErrUnauthorized), errors.Is(err, heroku.ErrNoApp):
			return err
		}
		if lasted >= resetAfter || next != nil {
			backoff, failures = minBackoff, 0
			c.log.Debug("log session ended; opening the next", "app", app, "lasted", lasted.Round(time.Second), "err", err)
			continue
		}
		wait := backoff
		backoff = min(2*backoff, maxBackoff)
		failures++
		// One early end or expiry is routine; more in a row are worth a warning.
		switch {
		case failures == 1 && (err == nil || errors.Is(err, ErrSessionExpired)):
			c.log.Debug("log session ended early; opening the next", "app", app, "retry_in", wait, "err", err)
		default:
			c.log.Warn("log session failed; retrying", "app", app, "err", err, "failures", failures, "retry_in", wait)
		}
		if c.sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// learnGeneration reads app's generation, retrying with backoff until it
// succeeds, ctx is done (nil error) or the API refuses the key or knows no
// such app.
func (c *Client) learnGeneration(ctx context.Context, app string) (string, error) {
	for backoff, failures := minBackoff, 1; ; backoff, failures = min(2*backoff, maxBackoff), failures+1 {
		gen, err := c.generation(ctx, app)
		switch {
		case err == nil:
			return gen, nil
		case ctx.Err() != nil:
			return "", nil
		case errors.Is(err, heroku.ErrUnauthorized), errors.Is(err, heroku.ErrNoApp):
			return "", err
		}
		c.log.Warn("reading the app's generation failed; retrying", "app", app, "err", err, "failures", failures, "retry_in", backoff)
		if c.sleep(ctx, backoff) != nil {
			return "", nil
		}
	}
}

// deliverError carries deliver's error out of a session.
type deliverError struct{ err error }

func (e *deliverError) Error() string { return e.err.Error() }

// follower is the state of one Follow call.
type follower struct {
	c       *Client
	app     string
	fir     bool
	deliver func(ctx context.Context, lines []byte) error

	out      []byte // whole lines waiting to be delivered
	n        int    // the number of lines in out
	partial  []byte // the start of a line still arriving
	skipping bool   // inside an over-long line
	dropped  int    // over-long lines skipped

	seen      *recent // the lines delivered last, for catch-up and overlaps
	replaying int     // lines at a session's start that may be a replay
	queued    int     // lines queued for delivery so far
}

// chunk is what one Read of the stream returned.
type chunk struct {
	b   []byte
	err error
}

// renewal is a Fir app's next session, opened while the current one
// streams.
type renewal struct {
	body io.ReadCloser
	err  error
	// overlap is how many lines the current session delivered since the
	// next was asked for: at most that many at the next one's start are
	// lines already delivered.
	overlap int
}

// session streams one open log session, whose first replay lines may
// repeat lines already delivered, and returns when it ends or ctx is done,
// with how long it streamed. A Cedar app's session is closed after
// Options.MaxSession. A Fir app's is replaced after firSession: session
// opens the next one, keeps streaming this one until the next answers and
// for switchGrace more, and returns the next one.
func (f *follower) session(ctx context.Context, body io.ReadCloser, replay int) (lasted time.Duration, next *renewal, err error) {
	start := f.c.now()
	defer func() { lasted = f.c.now().Sub(start) }() // whatever the returns below say
	f.replaying = min(replay, f.seen.len())
	f.partial, f.skipping = f.partial[:0], false

	// The stream is read on its own goroutine so that a batch can be flushed
	// while a read is blocked. It hands each chunk over and waits for it to
	// be consumed before reusing the buffer.
	chunks, consumed, done := make(chan chunk), make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := body.Read(buf)
			if n == 0 && err == nil {
				continue
			}
			select {
			case chunks <- chunk{buf[:n], err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
			select {
			case <-consumed:
			case <-done:
				return
			}
		}
	})
	// A Fir app's next session is opened on a goroutine of its own, so that
	// this one's lines keep coming while the next is provisioned.
	renewed := make(chan *renewal, 1)
	renewing := false
	defer func() {
		body.Close() // unblocks the Read
		close(done)
		wg.Wait()
		if renewing { // this session ended before the next answered
			if r := <-renewed; r.body != nil {
				r.body.Close()
			}
		}
	}()
	rctx, cancelRenew := context.WithCancel(ctx)
	defer func() { cancelRenew() }() // a renewal handed over has its own cancel

	timer := time.NewTimer(f.c.flush)
	timer.Stop()
	defer timer.Stop()
	var flushC <-chan time.Time // non-nil while the timer runs

	// limit fires when this session has lasted long enough, and then drives
	// a Fir app's renewal: its retries and the end of the overlap.
	limit := time.NewTimer(f.c.maxSess)
	if f.fir {
		limit.Reset(min(f.c.maxSess, firSession))
	}
	defer limit.Stop()
	renewBackoff := minBackoff
	var renewFrom int // f.queued when the next session was asked for
	closing := false  // the stream was closed on purpose: its end is no failure

	// Lines go to deliver with ctx until it is done. Then the body is closed,
	// and what the reader had read is still delivered, with a context that
	// outlives ctx a little.
	dctx, stop := ctx, ctx.Done()
	cancelFinal := context.CancelFunc(func() {})
	defer func() { cancelFinal() }()
	stopping := func() {
		if stop != nil {
			stop = nil
			dctx, cancelFinal = context.WithTimeout(context.WithoutCancel(ctx), finalFlush)
			body.Close() // the reader's Read fails, and its error chunk ends the loop
		}
	}
	for {
		select {
		case ch := <-chunks:
			if ctx.Err() != nil {
				stopping()
			}
			if err := f.add(dctx, ch.b); err != nil {
				return 0, nil, err
			}
			if ch.err != nil {
				err := f.end(dctx, ctx, closing, ch.err)
				var derr *deliverError
				if next != nil && (ctx.Err() != nil || errors.As(err, &derr)) {
					next.body.Close() // Follow stops: the next session is not needed
					next = nil
				} else if next != nil {
					next.overlap = f.queued - renewFrom
				}
				return 0, next, err
			}
			consumed <- struct{}{}
			if f.n == 0 && flushC != nil {
				timer.Stop()
				flushC = nil
			} else if f.n > 0 && flushC == nil {
				timer.Reset(f.c.flush)
				flushC = timer.C
			}
		case <-flushC:
			flushC = nil
			if err := f.flush(dctx); err != nil {
				return 0, nil, err
			}
		case <-limit.C:
			switch {
			case next != nil: // the overlap is over: on to the next session
				closing = true
				body.Close()
			case f.fir:
				renewing, renewFrom = true, f.queued
				f.c.log.Debug("renewing the Fir app's log session", "app", f.app)
				go func() {
					body, err := f.c.open(rctx, f.app, true, 0)
					renewed <- &renewal{body: body, err: err}
				}()
			default: // MaxSession: the next session opens at once
				closing = true
				body.Close()
			}
		case r := <-renewed:
			renewing = false
			switch {
			case r.err == nil:
				next = r
				next.body = &cancelCloser{ReadCloser: r.body, cancel: cancelRenew}
				cancelRenew = func() {}
				limit.Reset(switchGrace)
			case errors.Is(r.err, heroku.ErrUnauthorized), errors.Is(r.err, heroku.ErrNoApp):
				return 0, nil, r.err
			case ctx.Err() == nil:
				// This session still streams: keep it, and try again.
				f.c.log.Warn("renewing the log session failed; retrying", "app", f.app, "err", r.err, "retry_in", renewBackoff)
				limit.Reset(renewBackoff)
				renewBackoff = min(2*renewBackoff, maxBackoff)
			}
		case <-stop:
			stopping()
		}
	}
}

// end delivers what is left when a session's stream ends with err, and
// returns the error the session ended with: nil for the stream's end or
// for its closing on purpose (MaxSession, or a Fir app's renewal).
func (f *follower) end(dctx, ctx context.Context, closing bool, err error) error {
	if len(f.partial) > 0 {
		f.c.log.Debug("log session ended inside a line; dropped it", "app", f.app, "bytes", len(f.partial))
		f.partial = f.partial[:0]
	}
	if f.dropped > 0 {
		f.c.log.Warn("skipped over-long log lines", "app", f.app, "lines", f.dropped, "limit_bytes", maxLine)
		f.dropped = 0
	}
	if ferr := f.flush(dctx); ferr != nil {
		return ferr
	}
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err == io.EOF, closing:
		return nil
	}
	return err
}

// flush delivers the whole lines read so far.
func (f *follower) flush(ctx context.Context) error {
	if f.n == 0 {
		return nil
	}
	err := f.deliver(ctx, f.out)
	f.out, f.n = f.out[:0], 0
	if err != nil {
		return &deliverError{err}
	}
	return nil
}

// add cuts b into lines, joining the line left over from the last chunk,
// and delivers each batch as it fills.
func (f *follower) add(ctx context.Context, b []byte) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !f.skipping {
				f.partial = append(f.partial, b...)
				f.checkLength()
			}
			return nil
		}
		seg := b[:i]
		b = b[i+1:]
		if f.skipping {
			f.skipping = false
			continue
		}
		line := seg
		if len(f.partial) > 0 {
			f.partial = append(f.partial, seg...)
			line = f.partial
			if f.checkLength() {
				f.skipping = false
				continue
			}
		}
		f.line(line)
		f.partial = f.partial[:0]
		if f.n >= f.c.batch {
			if err := f.flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkLength starts skipping the partial line if it is too long.
func (f *follower) checkLength() bool {
	if len(f.partial) <= maxLine {
		return false
	}
	f.partial, f.skipping = f.partial[:0], true
	f.dropped++
	return true
}

// line queues one line for delivery, unless it is blank or a replay of one
// already delivered.
func (f *follower) line(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	if f.seen != nil {
		h := maphash.Bytes(f.seen.seed, line)
		// A replay is at most the lines asked for, and it is a run of lines
		// already delivered followed by the ones missed: the first line not
		// seen before ends it.
		if f.replaying > 0 {
			f.replaying--
			if f.seen.has(h) {
				return
			}
			f.replaying = 0
		}
		f.seen.add(h)
	}
	f.out = append(f.out, line...)
	f.out = append(f.out, '\n')
	f.n++
	f.queued++
}

// recent remembers the hashes of the last lines delivered.
type recent struct {
	seed  maphash.Seed
	ring  []uint64
	next  int
	count map[uint64]int
}

// newRecent returns a memory of n lines, or nil when n is 0.
func newRecent(n int) *recent {
	if n == 0 {
		return nil
	}
	return &recent{seed: maphash.MakeSeed(), ring: make([]uint64, 0, n), count: make(map[uint64]int, n)}
}

func (r *recent) len() int {
	if r == nil {
		return 0
	}
	return len(r.ring)
}

func (r *recent) has(h uint64) bool { return r.count[h] > 0 }

func (r *recent) add(h uint64) {
	if len(r.ring) < cap(r.ring) {
		r.ring = append(r.ring, h)
	} else {
		old := r.ring[r.next]
		if r.count[old]--; r.count[old] == 0 {
			delete(r.count, old)
		}
		r.ring[r.next] = h
		r.next = (r.next + 1) % len(r.ring)
	}
	r.count[h]++
}

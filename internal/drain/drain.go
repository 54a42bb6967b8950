// Package drain is the HTTP intake of Heroku log drains: it authenticates
// Logplex and log-shuttle, reads their bodies within limits, and hands the
// parsed messages on, keeping Logplex's retry rules.
package drain

import (
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/dynowatch/dynowatch/internal/auth"
	"github.com/dynowatch/dynowatch/internal/heroku"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// Limits on what one request may carry. Logplex sends about 100 KiB a batch
// and messages of at most ~10 KiB; log-shuttle similar, gzipped.
const (
	MaxBody = 4 << 20 // compressed or not, and again after decompression
)

// Defaults of the limits on requests in flight and how long a body may take.
const (
	// DefaultMaxInFlight is how many drain requests are read and stored at
	// once; more wait up to slotWait for a turn, then get a 503 that Logplex
	// retries. Logplex sends one batch at a time per drain, and a batch takes
	// a few milliseconds, so this is many apps' worth.
	DefaultMaxInFlight = 64
	// DefaultBodyTimeout bounds reading one request's body. Logplex itself
	// gives up on a request after 5 s; a body still arriving later is a slow
	// or hostile client holding a connection.
	DefaultBodyTimeout = 10 * time.Second
	slotWait           = 500 * time.Millisecond
)

// Bounds on the parsed messages that requests hold in memory until their
// batch is stored: each costs about 800 bytes, so a 4 MiB body of tiny
// frames is some 50 MB. Logplex sends a few hundred messages a batch; only a
// flood of tiny frames comes near these.
const (
	// MaxMessagesInFlight is how many parsed messages all requests in
	// flight may hold together (about 80 MB). A request that would go over
	// it waits up to slotWait for others to finish, then gets a 503 that
	// Logplex retries.
	MaxMessagesInFlight = 100 * messageChunk
	// MaxMessagesPerApp is an app's share of it: beyond, its requests get a
	// 429 (Logplex retries), so that one app's flood leaves room for the
	// others. It is also the most messages one request may carry (413): a
	// 4 MiB body of router lines has some 30,000.
	MaxMessagesPerApp = MaxMessagesInFlight / 2
	// messageChunk is how many messages a request takes from the budget at a time.
	messageChunk = 1024
	// pooledEntries is the largest slice of entries kept for the next
	// request: a flood's huge slice is left to the collector, not kept.
	pooledEntries = 4 * messageChunk
)

// errBusy is a request refused for want of room in MaxMessagesInFlight.
var errBusy = errors.New("too many messages in flight")

// errAppBusy is a request refused because its app holds its share of
// MaxMessagesInFlight.
var errAppBusy = errors.New("too many of the app's messages in flight")

// errTooManyMessages is a request of more messages than MaxMessagesPerApp.
var errTooManyMessages = fmt.Errorf("over %d messages in one request", MaxMessagesPerApp)

// Batch is what one drain request delivered.
type Batch struct {
	App        string
	Key        string    // dedupe key: "frame:"+Logplex-Frame-Id or "req:"+X-Request-Id; "" when neither was sent
	Received   time.Time // when the request arrived
	DrainToken string    // Logplex-Drain-Token, if sent
	Entries    []parse.Entry
	BadFrames  int // messages that could not be parsed
	// CountMismatch is set when Logplex-Msg-Count disagrees with the frames found.
	CountMismatch bool
	// Replayed marks history (dynowatch replay), not a live drain: it fills
	// the charts and events but moves no last-seen time and no alert.
	Replayed bool
}

// Sink takes delivered batches. Ingest returns once the batch is as durable
// as the README promises for an acknowledged batch; duplicate reports a retry
// of a batch already taken (it is then not counted again). The handler reuses
// b.Entries afterwards: Ingest must not keep the slice.
type Sink interface {
	Ingest(ctx context.Context, b *Batch) (duplicate bool, err error)
}

// Metrics counts what the drain sees, for /metrics.
type Metrics interface {
	// Request is called once per request: result is ok, duplicate,
	// unauthorized, bad_app, unsupported, busy, timeout, too_large,
	// bad_request, garbage or unavailable.
	Request(result string, parsed, bad int, countMismatch bool)
}

// Options configures a Handler.
type Options struct {
	Secrets []string // accepted basic-auth passwords; the user name is ignored
	Sink    Sink
	Logger  *slog.Logger
	Metrics Metrics          // optional
	Now     func() time.Time // optional; time.Now by default
	// MaxInFlight caps the requests read and stored at once (0 means
	// DefaultMaxInFlight), MaxInFlightPerApp those of one app (0 means a
	// quarter of MaxInFlight): one app then can't take every turn, and its
	// requests beyond its share get a 429, which Logplex retries.
	MaxInFlight, MaxInFlightPerApp int
	// MaxInFlightPerClient caps the requests of one client address (0 means
	// a quarter of MaxInFlight): someone holding the secret can't take every
	// slot with slow bodies spread over many app names. Beyond it, a 503
	// with Retry-After.
	MaxInFlightPerClient int
	// TrustForwardedFor takes the client's address from the last hop of
	// X-Forwarded-For, which Heroku's router appends to what the client
	// sent. Set it on Heroku only: there every request comes through the
	// router, from the router's address; elsewhere anyone may write the
	// header, and the connection's address is the client's.
	TrustForwardedFor bool
	BodyTimeout       time.Duration // 0 means DefaultBodyTimeout
}

func (o *Options) validate() error {
	if err := auth.CheckSecrets(o.Secrets); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	switch {
	case o.Sink == nil:
		return errors.New("drain: Options.Sink is required")
	case o.Logger == nil:
		return errors.New("drain: Options.Logger is required")
	case o.MaxInFlight < 0 || o.MaxInFlightPerApp < 0 || o.MaxInFlightPerClient < 0 || o.BodyTimeout < 0:
		return fmt.Errorf("drain: Options.MaxInFlight (%d), MaxInFlightPerApp (%d), MaxInFlightPerClient (%d) and BodyTimeout (%v) must not be negative",
			o.MaxInFlight, o.MaxInFlightPerApp, o.MaxInFlightPerClient, o.BodyTimeout)
	}
	return nil
}

// Handler serves "POST /drain/{app}".
type Handler struct {
	secrets auth.Passwords
	sink    Sink
	log     *slog.Logger
	metrics Metrics
	now     func() time.Time
	entries sync.Pool // *[]parse.Entry, reused between requests

	bodyTimeout time.Duration
	slots       chan struct{} // one token per request in flight
	perApp      int
	perClient   int
	forwarded   bool // trust X-Forwarded-For's last hop
	mu          sync.Mutex
	inFlight    map[string]int      // requests in flight per app; guarded by mu
	clients     map[string]int      // requests in flight per client address; guarded by mu
	messages    *semaphore.Weighted // of MaxMessagesInFlight
	appMessages map[string]int64    // of MaxMessagesPerApp, taken by each app's requests in flight; guarded by mu
}

// NewHandler returns the drain handler. Mount it on a ServeMux pattern with an
// {app} wildcard: mux.Handle("POST /drain/{app}", h).
func NewHandler(o Options) (*Handler, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	h := &Handler{sink: o.Sink, log: o.Logger, now: o.Now, metrics: o.Metrics, bodyTimeout: cmp.Or(o.BodyTimeout, DefaultBodyTimeout),
		forwarded: o.TrustForwardedFor, inFlight: map[string]int{}, clients: map[string]int{}, messages: semaphore.NewWeighted(MaxMessagesInFlight),
		appMessages: map[string]int64{}}
	maxInFlight := cmp.Or(o.MaxInFlight, DefaultMaxInFlight)
	h.slots = make(chan struct{}, maxInFlight)
	h.perApp = cmp.Or(o.MaxInFlightPerApp, max(1, maxInFlight/4))
	h.perClient = cmp.Or(o.MaxInFlightPerClient, max(1, maxInFlight/4))
	if h.metrics == nil {
		h.metrics = nopMetrics{}
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.secrets = auth.NewPasswords(o.Secrets...)
	h.entries.New = func() any { s := make([]parse.Entry, 0, 128); return &s }
	return h, nil
}

// ServeHTTP handles "POST /drain/{app}".
//
// Logplex drops a batch for good on any 4xx but 429 and retries 5xx and 429
// (3 attempts, same Logplex-Frame-Id). So: 401 only for bad credentials, 2xx
// for any body with a good frame in it (the bad frames are counted), 400 only
// when nothing in a body parses, 503 when the batch can't be stored or too
// many requests are in flight, 429 when too many of them are the app's.
//
// A request refused before its body is read closes the connection, so that
// no one holds it open by sending the body slowly.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	received := h.now()
	if !h.secrets.Allow(r) {
		h.metrics.Request("unauthorized", 0, 0, false)
		w.Header().Set("WWW-Authenticate", `Basic realm="dynowatch drain"`)
		refuse(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	app := r.PathValue("app")
	if !heroku.ValidApp(app) {
		h.metrics.Request("bad_app", 0, 0, false)
		refuse(w, "not a Heroku app name: "+strconv.Quote(app), http.StatusNotFound)
		return
	}
	form, ok := bodyForm(r.Header.Get("Content-Type"))
	if !ok {
		h.metrics.Request("unsupported", 0, 0, false)
		refuse(w, "Content-Type must be application/logplex-1 or text/plain", http.StatusUnsupportedMediaType)
		return
	}
	release, status := h.acquire(r.Context(), app, h.client(r))
	if status != 0 {
		h.metrics.Request("busy", 0, 0, false)
		w.Header().Set("Retry-After", "1")
		refuse(w, "too many drain requests in flight; retry", status)
		return
	}
	defer release()
	// Errors other than http.ErrNotSupported (a test's ResponseRecorder) can't
	// happen on a server's connection.
	_ = http.NewResponseController(w).SetReadDeadline(received.Add(h.bodyTimeout))
	body, err := h.body(w, r)
	if err != nil {
		h.metrics.Request("bad_request", 0, 0, false)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	defer body.Close()

	bufp := h.entries.Get().(*[]parse.Entry)
	var held int64 // of h.messages and the app's share
	defer func() {
		h.releaseMessages(app, held)
		if cap(*bufp) > pooledEntries {
			return
		}
		clear(*bufp) // drop references to the strings before pooling
		*bufp = (*bufp)[:0]
		h.entries.Put(bufp)
	}()
	b := &Batch{App: app, Received: received, Entries: *bufp}
	if err := b.setHeaders(r.Header); err != nil {
		h.metrics.Request("bad_request", 0, 0, false)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	size := r.ContentLength
	if r.Header.Get("Content-Encoding") != "" {
		size = -1 // the length of what is read is not known
	}
	if err := h.scan(r.Context(), b, body, form, size, &held); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.Is(err, errTooManyMessages) {
			h.metrics.Request("too_large", len(b.Entries), b.BadFrames, false)
			refuse(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		if errors.Is(err, errAppBusy) {
			h.metrics.Request("busy", len(b.Entries), b.BadFrames, false)
			w.Header().Set("Retry-After", "1")
			refuse(w, "too many of this app's drain messages in flight; retry", http.StatusTooManyRequests)
			return
		}
		if errors.Is(err, errBusy) {
			h.metrics.Request("busy", len(b.Entries), b.BadFrames, false)
			w.Header().Set("Retry-After", "1")
			refuse(w, "too many drain messages in flight; retry", http.StatusServiceUnavailable)
			return
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			h.metrics.Request("timeout", len(b.Entries), b.BadFrames, false)
			refuse(w, fmt.Sprintf("body not read within %v", h.bodyTimeout), http.StatusRequestTimeout)
			return
		}
		if errors.As(err, &tooLarge) {
			h.metrics.Request("too_large", len(b.Entries), b.BadFrames, false)
			http.Error(w, fmt.Sprintf("body over %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		h.metrics.Request("bad_request", len(b.Entries), b.BadFrames, false)
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	*bufp = b.Entries
	if n := r.Header.Get("Logplex-Msg-Count"); n != "" && n != strconv.Itoa(len(b.Entries)+b.BadFrames) {
		b.CountMismatch = true
	}
	if len(b.Entries) == 0 && b.BadFrames > 0 {
		h.metrics.Request("garbage", 0, b.BadFrames, b.CountMismatch)
		http.Error(w, fmt.Sprintf("none of the %d messages could be parsed", b.BadFrames), http.StatusBadRequest)
		return
	}

	dup, err := h.sink.Ingest(r.Context(), b)
	if err != nil {
		h.metrics.Request("unavailable", len(b.Entries), b.BadFrames, b.CountMismatch)
		h.log.Error("drain batch not stored; Logplex will retry", "app", app, "messages", len(b.Entries), "err", err)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	result := "ok"
	if dup {
		result = "duplicate"
		h.log.Info("duplicate drain batch skipped", "app", app, "key", b.Key)
	}
	h.metrics.Request(result, len(b.Entries), b.BadFrames, b.CountMismatch)
	w.WriteHeader(http.StatusNoContent)
}

// refuse answers with an error and closes the connection after it.
func refuse(w http.ResponseWriter, msg string, status int) {
	w.Header().Set("Connection", "close")
	// Before closing, Go's server reads up to 256 KB of a body the handler
	// left unread, as slowly as the client sends it (until ReadTimeout):
	// don't wait for it. (Only a test's ResponseRecorder can't do this.)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	http.Error(w, msg, status)
}

// client returns the address of r's client: the last hop of
// X-Forwarded-For when trusted (the one Heroku's router appended; earlier
// hops are the client's to write), else the connection's.
func (h *Handler) client(r *http.Request) string {
	if h.forwarded {
		if hops := r.Header.Values("X-Forwarded-For"); len(hops) > 0 {
			last := hops[len(hops)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if last = strings.TrimSpace(last); last != "" {
				return last
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// acquire takes a turn for a request of app from client: at once if both
// have fewer than their share in flight and a slot is free, else after
// waiting up to slotWait for a slot. It returns the release of the turn, or
// the status to answer instead: 429 over the app's share, 503 over the
// client's or for no slot.
func (h *Handler) acquire(ctx context.Context, app, client string) (release func(), status int) {
	h.mu.Lock()
	if h.inFlight[app] >= h.perApp {
		h.mu.Unlock()
		return nil, http.StatusTooManyRequests
	}
	if h.clients[client] >= h.perClient {
		h.mu.Unlock()
		return nil, http.StatusServiceUnavailable
	}
	h.inFlight[app]++
	h.clients[client]++
	h.mu.Unlock()
	done := func() {
		h.mu.Lock()
		if h.inFlight[app]--; h.inFlight[app] == 0 {
			delete(h.inFlight, app)
		}
		if h.clients[client]--; h.clients[client] == 0 {
			delete(h.clients, client)
		}
		h.mu.Unlock()
	}
	select {
	case h.slots <- struct{}{}:
	default:
		t := time.NewTimer(slotWait)
		defer t.Stop()
		select {
		case h.slots <- struct{}{}:
		case <-t.C:
			done()
			return nil, http.StatusServiceUnavailable
		case <-ctx.Done():
			done()
			return nil, http.StatusServiceUnavailable
		}
	}
	return func() { <-h.slots; done() }, 0
}

// MaxHeaderID is the longest Logplex-Frame-Id, X-Request-Id or
// Logplex-Drain-Token taken. Logplex sends 32 hex digits and d.<uuid>,
// log-shuttle a UUID; anything longer was made by hand.
const MaxHeaderID = 200

// setHeaders takes the dedupe key and drain token from the headers.
func (b *Batch) setHeaders(hd http.Header) error {
	for _, name := range []string{"Logplex-Frame-Id", "X-Request-Id", "Logplex-Drain-Token"} {
		if v := hd.Get(name); !printable(v) {
			return fmt.Errorf("%s must be at most %d printable ASCII characters", name, MaxHeaderID)
		}
	}
	switch {
	case hd.Get("Logplex-Frame-Id") != "":
		b.Key = "frame:" + hd.Get("Logplex-Frame-Id")
	case hd.Get("X-Request-Id") != "":
		b.Key = "req:" + hd.Get("X-Request-Id")
	}
	b.DrainToken = hd.Get("Logplex-Drain-Token")
	return nil
}

func printable(s string) bool {
	if len(s) > MaxHeaderID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func bodyForm(contentType string) (parse.Form, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, false
	}
	switch mt {
	case "application/logplex-1":
		return parse.FormLogplex, true
	case "text/plain":
		return parse.FormPlain, true
	}
	return 0, false
}

// body returns the request body, capped and decompressed.
func (h *Handler) body(w http.ResponseWriter, r *http.Request) (io.ReadCloser, error) {
	raw := http.MaxBytesReader(w, r.Body, MaxBody)
	switch r.Header.Get("Content-Encoding") {
	case "", "identity":
		return raw, nil
	case "gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, fmt.Errorf("bad gzip body: %w", err)
		}
		return &cappedReader{r: zr, c: raw, left: MaxBody}, nil
	}
	return nil, fmt.Errorf("unsupported Content-Encoding %q", r.Header.Get("Content-Encoding"))
}

// cappedReader stops a decompressed body at MaxBody, so a small gzip bomb
// can't make us parse gigabytes.
type cappedReader struct {
	r    io.Reader
	c    io.Closer
	left int64
}

// Read reads one byte past the limit, as http.MaxBytesReader does: a body of
// exactly MaxBody bytes is within it ("over 4 MiB" is the rule).
func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, &http.MaxBytesError{Limit: MaxBody}
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if int64(n) > c.left {
		n, c.left = int(c.left), -1
		return n, &http.MaxBytesError{Limit: MaxBody}
	}
	c.left -= int64(n)
	return n, err
}

func (c *cappedReader) Close() error { return c.c.Close() }

// scan parses the body into b. Bad messages are counted; only a read error
// (a cut connection, an oversized or corrupt body) fails the whole request.
//
// It takes room for the messages it keeps from MaxMessagesInFlight as it
// goes, adding what it took to *held, and fails with errBusy when there is
// none within slotWait.
//
// size is the body's length as sent, or -1 when unknown or gzipped.
func (h *Handler) scan(ctx context.Context, b *Batch, body io.Reader, form parse.Form, size int64, held *int64) error {
	room := func(b *Batch) error {
		if len(b.Entries) >= MaxMessagesPerApp {
			return errTooManyMessages // would never fit: no retry will
		}
		if int64(len(b.Entries)) >= *held {
			if err := h.takeMessages(ctx, b.App); err != nil {
				return err
			}
			*held += messageChunk
		}
		return nil
	}
	bad := func(err error) {
		if b.BadFrames <= 3 {
			h.log.Warn("bad drain message", "app", b.App, "err", err)
		}
	}
	if err := scanBatch(b, parse.NewScannerSize(body, form, size), room, bad); err != nil {
		return err
	}
	return ctx.Err()
}

// ScanBatch parses the messages of body, in form, into b: each one parsed
// is appended to b.Entries; each bad one is counted in b.BadFrames and its
// error handed to bad, if set. next, if set, runs before each message, and
// its error stops the scan: the drain's limits, replay's batching. It
// returns next's error or body's read error.
func ScanBatch(b *Batch, body io.Reader, form parse.Form, next func(*Batch) error, bad func(error)) error {
	return scanBatch(b, parse.NewScanner(body, form), next, bad)
}

func scanBatch(b *Batch, s *parse.Scanner, next func(*Batch) error, bad func(error)) error {
	for s.Scan() {
		if next != nil {
			if err := next(b); err != nil {
				return err
			}
		}
		e, err := s.Entry()
		if err != nil {
			b.BadFrames++
			if bad != nil {
				bad(err)
			}
			continue
		}
		b.Entries = append(b.Entries, *e)
	}
	return s.Err()
}

// takeMessages takes room for messageChunk more messages of app: from the
// app's share at once, or errAppBusy; then from MaxMessagesInFlight, waiting
// up to slotWait, or errBusy.
func (h *Handler) takeMessages(ctx context.Context, app string) error {
	h.mu.Lock()
	if h.appMessages[app]+messageChunk > MaxMessagesPerApp {
		h.mu.Unlock()
		return errAppBusy
	}
	h.appMessages[app] += messageChunk
	h.mu.Unlock()
	if !h.messages.TryAcquire(messageChunk) {
		wctx, cancel := context.WithTimeout(ctx, slotWait)
		err := h.messages.Acquire(wctx, messageChunk)
		cancel()
		if err != nil {
			h.releaseAppMessages(app, messageChunk)
			return errBusy
		}
	}
	return nil
}

// releaseMessages gives back n messages' room that app's request took.
func (h *Handler) releaseMessages(app string, n int64) {
	if n == 0 {
		return
	}
	h.messages.Release(n)
	h.releaseAppMessages(app, n)
}

// releaseAppMessages gives back n messages of app's share.
func (h *Handler) releaseAppMessages(app string, n int64) {
	h.mu.Lock()
	if h.appMessages[app] -= n; h.appMessages[app] <= 0 {
		delete(h.appMessages, app)
	}
	h.mu.Unlock()
}

type nopMetrics struct{}

func (nopMetrics) Request(string, int, int, bool) {}

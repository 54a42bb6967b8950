// Package otlp is the HTTP intake of Heroku telemetry drains, the only way
// Fir apps export their logs and metrics: it takes OTLP/HTTP requests,
// attributes each record to its app and dyno, and hands them on as drain
// batches, so Fir and Cedar apps meet the same rules, charts and evidence.
//
// It uses the OpenTelemetry project's generated Go types
// (go.opentelemetry.io/proto/otlp), nothing hand-written, and follows the
// OTLP/HTTP specification's answers: 200 with a partial success for records
// it could not use, 400 for a body it can't decode (not retried), 429 and
// 503 with Retry-After for what the exporter should retry.
package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/dynowatch/dynowatch/internal/auth"
	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/heroku"
)

// Limits on one request. OTLP exporters send batches of a few hundred to
// 8,192 records, well under a MiB of protobuf.
const (
	// MaxBody is the most a body may hold, compressed or not, and again
	// after decompression: as the Logplex drain's.
	MaxBody = drain.MaxBody
	// MaxRecords is the most log records or data points one request may
	// carry, as many as one Logplex request's messages.
	MaxRecords = drain.MaxMessagesPerApp
	// MaxObjects bounds the decoded messages (records, attributes, values)
	// one request may hold: decoded, each takes some 100–200 bytes, so a
	// 4 MiB body of empty records would otherwise take 400 MB. 200,000 is
	// some 16,000 records of a dozen attributes.
	MaxObjects = 200_000
	// maxDepth bounds how deeply a protobuf body nests (OTLP's values nest
	// a few levels), so that counting its objects can't exhaust the stack.
	maxDepth = 64
)

// Limits on the requests in flight together.
const (
	// DefaultMaxInFlight is how many requests are read and decoded at once.
	DefaultMaxInFlight = 8
	// maxObjectsInFlight is how many decoded objects all requests in flight
	// may hold together (about 100 MB).
	maxObjectsInFlight = 4 * MaxObjects
	// DefaultBodyTimeout bounds reading a body, as the Logplex drain's.
	DefaultBodyTimeout = drain.DefaultBodyTimeout
	// slotWait is how long a request waits for a turn or for room before
	// it gets a 503 with Retry-After.
	slotWait = 500 * time.Millisecond
)

// Metrics counts what the intake sees, for /metrics.
type Metrics interface {
	// Request is called once per request of a signal (logs, metrics,
	// traces): result is ok, partial (some records not used), duplicate,
	// unauthorized, bad_app, unsupported, busy, timeout, too_large,
	// bad_request or unavailable.
	Request(signal, result string)
	// Records counts a request's records (log records, data points,
	// spans) by what became of them: used, unattributed (no app), bad,
	// unknown (a metric dynowatch does not read) or ignored (traces).
	Records(signal, result string, n int)
}

// Options configures a Handler.
type Options struct {
	// Secrets are accepted as "Authorization: Bearer SECRET" or as the
	// password of basic auth (any user name): the drain secrets.
	Secrets []string
	Sink    drain.Sink
	Logger  *slog.Logger
	Metrics Metrics          // optional
	Now     func() time.Time // optional; time.Now by default
	// MaxInFlight caps the requests read at once (0 means DefaultMaxInFlight).
	MaxInFlight int
	BodyTimeout time.Duration // 0 means DefaultBodyTimeout
	// Map names attribute keys and metrics read besides the built-in ones (OTLP_MAP).
	Map Map
	// Store keeps the sightings of every web dyno, merged by Run every
	// SightingsFlushEvery (0 means DefaultSightingsFlushEvery). Without
	// one, each process shows its own.
	Store               SightingsStore
	SightingsFlushEvery time.Duration
}

func (o *Options) validate() error {
	if err := auth.CheckSecrets(o.Secrets); err != nil {
		return fmt.Errorf("otlp: %w", err)
	}
	switch {
	case o.Sink == nil:
		return errors.New("otlp: Options.Sink is required")
	case o.Logger == nil:
		return errors.New("otlp: Options.Logger is required")
	case o.MaxInFlight < 0 || o.BodyTimeout < 0 || o.SightingsFlushEvery < 0:
		return fmt.Errorf("otlp: Options.MaxInFlight (%d), BodyTimeout (%v) and SightingsFlushEvery (%v) must not be negative", o.MaxInFlight, o.BodyTimeout, o.SightingsFlushEvery)
	}
	return nil
}

// Handler serves the OTLP/HTTP routes of telemetry drains.
type Handler struct {
	secrets     auth.Passwords
	sink        drain.Sink
	log         *slog.Logger
	metrics     Metrics
	now         func() time.Time
	bodyTimeout time.Duration
	slots       chan struct{}       // one token per request in flight
	objects     *semaphore.Weighted // of maxObjectsInFlight
	buffers     sync.Pool           // *bytes.Buffer for bodies
	keys        *keys
	sightings   *Sightings     // gathered since the last flush
	store       SightingsStore // or nil
	flushEvery  time.Duration
	// flushMu makes a flush and a read of the sightings one at a time.
	flushMu sync.Mutex

	mu    sync.Mutex
	noted map[string]bool // unknown metrics and unattributed resources logged once; guarded by mu
}

// maxNoted bounds what is logged once: past it, nothing new is logged (the
// counts in /metrics and the partial successes still say it).
const maxNoted = 256

// NewHandler returns the OTLP handler. Mount its methods with and without
// an {app} wildcard: mux.HandleFunc("POST /otlp/{app}/v1/logs", h.ServeLogs).
func NewHandler(o Options) (*Handler, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	k, err := newKeys(o.Map)
	if err != nil {
		return nil, fmt.Errorf("otlp: Options.Map: %w", err)
	}
	h := &Handler{keys: k, sightings: newSightings(), store: o.Store, flushEvery: o.SightingsFlushEvery, secrets: auth.NewPasswords(o.Secrets...), sink: o.Sink, log: o.Logger, metrics: o.Metrics, now: o.Now,
		bodyTimeout: o.BodyTimeout, objects: semaphore.NewWeighted(maxObjectsInFlight), noted: map[string]bool{}}
	if h.metrics == nil {
		h.metrics = nopMetrics{}
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.flushEvery == 0 {
		h.flushEvery = DefaultSightingsFlushEvery
	}
	if h.bodyTimeout == 0 {
		h.bodyTimeout = DefaultBodyTimeout
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	h.slots = make(chan struct{}, o.MaxInFlight)
	h.buffers.New = func() any { return new(bytes.Buffer) }
	return h, nil
}

// ServeLogs handles "POST /otlp/v1/logs" and "POST /otlp/{app}/v1/logs".
func (h *Handler) ServeLogs(w http.ResponseWriter, r *http.Request) {
	req := &collogspb.ExportLogsServiceRequest{}
	h.serve(w, r, "logs", req, func(app string, bs *batches) error {
		if countLogs(req) > MaxRecords {
			return errTooManyRecords
		}
		h.addLogs(req, app, bs)
		return nil
	}, func(rejected int64, msg string) proto.Message {
		if rejected == 0 {
			return &collogspb.ExportLogsServiceResponse{}
		}
		return &collogspb.ExportLogsServiceResponse{PartialSuccess: &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: rejected, ErrorMessage: msg}}
	})
}

// ServeMetrics handles "POST /otlp/v1/metrics" and "POST /otlp/{app}/v1/metrics".
func (h *Handler) ServeMetrics(w http.ResponseWriter, r *http.Request) {
	req := &colmetricspb.ExportMetricsServiceRequest{}
	h.serve(w, r, "metrics", req, func(app string, bs *batches) error {
		if countPoints(req) > MaxRecords {
			return errTooManyRecords
		}
		h.addMetrics(req, app, bs)
		return nil
	}, func(rejected int64, msg string) proto.Message {
		if rejected == 0 {
			return &colmetricspb.ExportMetricsServiceResponse{}
		}
		return &colmetricspb.ExportMetricsServiceResponse{PartialSuccess: &colmetricspb.ExportMetricsPartialSuccess{RejectedDataPoints: rejected, ErrorMessage: msg}}
	})
}

// ServeTraces handles "POST /otlp/v1/traces" and "POST /otlp/{app}/v1/traces".
// dynowatch reads no spans yet: they are counted and answered with success,
// so that a drain of all signals does not retry them or log errors.
func (h *Handler) ServeTraces(w http.ResponseWriter, r *http.Request) {
	req := &coltracepb.ExportTraceServiceRequest{}
	h.serve(w, r, "traces", req, func(app string, bs *batches) error {
		n := 0
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				n += len(ss.GetSpans())
			}
		}
		h.metrics.Records("traces", "ignored", n)
		return nil
	}, func(int64, string) proto.Message { return &coltracepb.ExportTraceServiceResponse{} })
}

var errTooManyRecords = fmt.Errorf("over %d records in one request", MaxRecords)

// format is how a body is encoded: OTLP/HTTP's binary or JSON protobuf.
type format uint8

const (
	formatProto format = iota
	formatJSON
)

// serve runs one OTLP request of signal: authenticate, read and decode the
// body into req within the limits, add its records to batches with add,
// hand each app's batch to the sink, and answer with respond's message.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, signal string, req proto.Message,
	add func(app string, bs *batches) error, respond func(rejected int64, msg string) proto.Message) {
	received := h.now()
	f, ok := bodyFormat(r.Header.Get("Content-Type"))
	if !ok {
		h.metrics.Request(signal, "unsupported")
		refuse(w, formatProto, http.StatusUnsupportedMediaType, "Content-Type must be application/x-protobuf or application/json")
		return
	}
	if !h.allow(r) {
		h.metrics.Request(signal, "unauthorized")
		w.Header().Set("WWW-Authenticate", `Bearer realm="dynowatch telemetry drain"`)
		refuse(w, f, http.StatusUnauthorized, "unauthorized: send the drain secret as Authorization: Bearer")
		return
	}
	app := r.PathValue("app")
	if app != "" && !heroku.ValidApp(app) {
		h.metrics.Request(signal, "bad_app")
		refuse(w, f, http.StatusNotFound, "not a Heroku app name: "+app)
		return
	}
	release, ok := h.acquire(r.Context())
	if !ok {
		h.metrics.Request(signal, "busy")
		w.Header().Set("Retry-After", "1")
		refuse(w, f, http.StatusServiceUnavailable, "too many telemetry requests in flight; retry")
		return
	}
	defer release()
	_ = http.NewResponseController(w).SetReadDeadline(received.Add(h.bodyTimeout))
	buf := h.buffers.Get().(*bytes.Buffer)
	defer h.putBuffer(buf)
	if status, err := h.read(w, r, buf); err != nil {
		h.metrics.Request(signal, resultOf(status))
		writeStatus(w, f, status, err.Error())
		return
	}
	body := buf.Bytes()
	objects, err := countObjects(body, f, req)
	if err != nil {
		h.metrics.Request(signal, "bad_request")
		writeStatus(w, f, http.StatusBadRequest, err.Error())
		return
	}
	if objects > MaxObjects {
		h.metrics.Request(signal, "too_large")
		writeStatus(w, f, http.StatusRequestEntityTooLarge, fmt.Sprintf("over %d objects in one request; send smaller batches", MaxObjects))
		return
	}
	if !h.takeObjects(r.Context(), int64(objects)) {
		h.metrics.Request(signal, "busy")
		w.Header().Set("Retry-After", "1")
		writeStatus(w, f, http.StatusServiceUnavailable, "too many telemetry records in flight; retry")
		return
	}
	defer h.objects.Release(int64(objects))
	if err := decode(body, f, req); err != nil {
		h.metrics.Request(signal, "bad_request")
		writeStatus(w, f, http.StatusBadRequest, "not an OTLP "+signal+" request: "+err.Error())
		return
	}
	sum := sha256.Sum256(body)
	bs := newBatches(received, "otlp:"+hex.EncodeToString(sum[:16]))
	if err := add(app, bs); err != nil {
		h.metrics.Request(signal, "too_large")
		writeStatus(w, f, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	h.sightings.add(received, bs.seen)
	result, err := h.ingest(r.Context(), bs)
	if err != nil {
		h.metrics.Request(signal, "unavailable")
		h.log.Error("telemetry batch not stored; the exporter will retry", "signal", signal, "err", err)
		w.Header().Set("Retry-After", "1")
		writeStatus(w, f, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	h.count(signal, bs)
	rejected := bs.unattributed + bs.bad + bs.unknown
	if rejected > 0 && result == "ok" {
		result = "partial"
	}
	h.metrics.Request(signal, result)
	write(w, f, http.StatusOK, respond(int64(rejected), rejection(bs)))
}

// ingest hands each app's batch to the sink, in a fixed order. A batch
// that fails fails the request: the exporter retries it whole, and the
// batches stored already are recognised by their key and not counted again.
func (h *Handler) ingest(ctx context.Context, bs *batches) (result string, err error) {
	result = "ok"
	for _, app := range bs.apps() {
		b := bs.byApp[app]
		if len(b.Entries) == 0 && b.BadFrames == 0 {
			continue
		}
		dup, err := h.sink.Ingest(ctx, b)
		if err != nil {
			return "", fmt.Errorf("app %s, %d records: %w", app, len(b.Entries), err)
		}
		if dup {
			result = "duplicate"
		}
	}
	return result, nil
}

func (h *Handler) count(signal string, bs *batches) {
	for result, n := range map[string]int{"used": bs.used, "unattributed": bs.unattributed, "bad": bs.bad, "unknown": bs.unknown} {
		if n > 0 {
			h.metrics.Records(signal, result, n)
		}
	}
}

// rejection says why records were not used, for the partial success.
func rejection(bs *batches) string {
	var why []string
	if bs.unattributed > 0 {
		why = append(why, fmt.Sprintf("%d of no Heroku app (no heroku.app.name or service.name on the resource, nor an app in the URL /otlp/APP/v1/…)", bs.unattributed))
	}
	if bs.bad > 0 {
		why = append(why, fmt.Sprintf("%d unreadable (a body that is no text, a bad time, an over-long name)", bs.bad))
	}
	if bs.unknown > 0 {
		why = append(why, fmt.Sprintf("%d of metrics dynowatch does not read", bs.unknown))
	}
	return strings.Join(why, "; ")
}

// allow reports whether r carries a drain secret, as a bearer token or a
// basic-auth password, compared in constant time.
func (h *Handler) allow(r *http.Request) bool {
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return h.secrets.Match(strings.TrimSpace(token))
	}
	return h.secrets.Allow(r)
}

// acquire takes a turn, waiting up to slotWait.
func (h *Handler) acquire(ctx context.Context) (release func(), ok bool) {
	select {
	case h.slots <- struct{}{}:
	default:
		t := time.NewTimer(slotWait)
		defer t.Stop()
		select {
		case h.slots <- struct{}{}:
		case <-t.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
	return func() { <-h.slots }, true
}

// takeObjects takes room for n decoded objects, waiting up to slotWait.
func (h *Handler) takeObjects(ctx context.Context, n int64) bool {
	if h.objects.TryAcquire(n) {
		return true
	}
	wctx, cancel := context.WithTimeout(ctx, slotWait)
	defer cancel()
	return h.objects.Acquire(wctx, n) == nil
}

// read reads r's body into buf, capped at MaxBody before and after gzip,
// and returns the status to answer when it can't.
func (h *Handler) read(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) (int, error) {
	var body io.Reader = http.MaxBytesReader(w, r.Body, MaxBody)
	switch r.Header.Get("Content-Encoding") {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return http.StatusBadRequest, fmt.Errorf("bad gzip body: %w", err)
		}
		body = io.LimitReader(zr, MaxBody+1)
	default:
		return http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Encoding %q: send gzip or none", r.Header.Get("Content-Encoding"))
	}
	_, err := buf.ReadFrom(body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge) || buf.Len() > MaxBody:
		return http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes; send smaller batches", MaxBody)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout, fmt.Errorf("body not read within %v", h.bodyTimeout)
	case err != nil:
		return http.StatusBadRequest, fmt.Errorf("reading body: %w", err)
	}
	return 0, nil
}

func (h *Handler) putBuffer(b *bytes.Buffer) {
	if b.Cap() > 1<<20 {
		return // a rare large body's buffer is left to the collector
	}
	b.Reset()
	h.buffers.Put(b)
}

// noteUnattributed logs, once per set of keys, a resource whose records
// name no app: what keys it has is what a user needs to tell us.
func (h *Handler) noteUnattributed(attrs []*commonpb.KeyValue) {
	keys := make([]string, 0, len(attrs))
	for _, kv := range attrs {
		keys = append(keys, kv.GetKey())
	}
	slices.Sort(keys)
	if h.first("resource:" + strings.Join(keys, ",")) {
		h.log.Warn("telemetry of no Heroku app: its resource names none; drain it to /otlp/APP/v1/… or tell us the keys", "resource_keys", keys)
	}
}

// noteMetric logs, once per name and unit, a metric dynowatch does not read.
func (h *Handler) noteMetric(name, unit string) {
	if h.first("metric:" + name + " " + unit) {
		h.log.Info("telemetry metric not read", "metric", name, "unit", unit)
	}
}

// first reports whether key is new, up to maxNoted keys.
func (h *Handler) first(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.noted[key] || len(h.noted) >= maxNoted {
		return false
	}
	h.noted[key] = true
	return true
}

func bodyFormat(contentType string) (format, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, false
	}
	switch mt {
	case "application/x-protobuf":
		return formatProto, true
	case "application/json":
		return formatJSON, true
	}
	return 0, false
}

// countObjects returns how many messages a body holds, before it is
// decoded: in protobuf the length-delimited message fields of req's type,
// counted from the wire; in JSON the opening braces, at least one for each
// message (more when strings hold braces).
func countObjects(body []byte, f format, req proto.Message) (int, error) {
	if f == formatJSON {
		return bytes.Count(body, []byte{'{'}), nil
	}
	n := 0
	if err := countMessages(body, req.ProtoReflect().Descriptor(), 0, &n); err != nil {
		return 0, fmt.Errorf("not an OTLP protobuf body: %w", err)
	}
	return n, nil
}

func decode(body []byte, f format, req proto.Message) error {
	if f == formatJSON {
		// OTLP's receivers must ignore fields they don't know.
		return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, req)
	}
	return proto.Unmarshal(body, req)
}

// write answers with m in the request's format.
func write(w http.ResponseWriter, f format, status int, m proto.Message) {
	var b []byte
	var err error
	if f == formatJSON {
		w.Header().Set("Content-Type", "application/json")
		b, err = protojson.Marshal(m)
	} else {
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, err = proto.Marshal(m)
	}
	if err != nil { // only a string of invalid UTF-8, which writeStatus keeps out
		http.Error(w, "encoding the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeStatus answers an error as OTLP/HTTP asks: a google.rpc.Status in
// the request's format. A decoder's error may quote the body, which need
// not be UTF-8; a protobuf string must be.
func writeStatus(w http.ResponseWriter, f format, status int, msg string) {
	write(w, f, status, &spb.Status{Code: int32(grpcCode(status)), Message: strings.ToValidUTF8(msg, "\uFFFD")})
}

// refuse answers an error before the body is read, and closes the
// connection rather than read a body no one will use.
func refuse(w http.ResponseWriter, f format, status int, msg string) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	writeStatus(w, f, status, msg)
}

// resultOf names a status for Metrics.Request.
func resultOf(status int) string {
	switch status {
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusRequestTimeout:
		return "timeout"
	case http.StatusUnsupportedMediaType:
		return "unsupported"
	}
	return "bad_request"
}

func grpcCode(status int) codes.Code {
	switch status {
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusRequestTimeout:
		return codes.DeadlineExceeded
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	return codes.InvalidArgument
}

type nopMetrics struct{}

func (nopMetrics) Request(string, string)      {}
func (nopMetrics) Records(string, string, int) {}

package otlp

import (
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// Fir's router may send each request as a trace span, or as a log record
// whose attributes (not its text) hold the request, rather than as the
// logfmt line Cedar's router writes. Either is read by the OpenTelemetry
// HTTP semantic conventions' keys (stable names first, then the older
// ones), written as the router line it stands for, and parsed as one: so
// it is rolled up, kept as an event and paged on exactly as a Cedar router
// line, and its evidence reads alike.
var (
	methodKeys    = []string{"http.request.method", "http.method"}
	statusKeys    = []string{"http.response.status_code", "http.status_code"}
	pathKeys      = []string{"url.path", "http.target"}
	queryKeys     = []string{"url.query"}
	hostKeys      = []string{"server.address", "http.host", "net.host.name"}
	requestIDKeys = []string{"heroku.request_id", "http.request.header.x-request-id", "http.request.header.x_request_id"}
	clientKeys    = []string{"client.address", "http.client_ip"}
	bytesKeys     = []string{"http.response.body.size", "http.response_content_length"}
	protocolKeys  = []string{"network.protocol.version", "http.flavor"}
	// codeKeys may hold the router's H code. Heroku has not said which key
	// its router uses: these are guesses, error.type (the conventions' key
	// for what went wrong) among them, read only when the value is an H
	// code; OTLP_MAP's router_code names another.
	codeKeys = []string{"heroku.router.code", "heroku.error.code", "heroku.code", "error.type"}
)

// routerKeys are every attribute key a router request is read from.
func (k *keys) routerKeys() [][]string {
	return [][]string{methodKeys, statusKeys, pathKeys, queryKeys, hostKeys, requestIDKeys, clientKeys, bytesKeys, protocolKeys, k.routerCode}
}

// isRequest reports whether attrs hold an HTTP request's method or status.
func isRequest(attrs []*commonpb.KeyValue) bool {
	return firstValue(attrs, methodKeys) != nil || firstValue(attrs, statusKeys) != nil
}

// routerLine writes the router line that attrs, a request's attributes,
// stand for; serviceMS is parse.Absent when the time is unknown, and span
// the span's id (hex) when it came as one, so that a person can find it
// in their tracing tool. desc describes the H code, if any.
func (k *keys) routerLine(attrs []*commonpb.KeyValue, dyno, desc string, serviceMS int64, span string) string {
	var sb strings.Builder
	sb.Grow(256)
	code := ""
	for _, key := range k.routerCode {
		if v := attrString(valueOf(attrs, key)); isHCode(v) {
			code = v
			break
		}
	}
	at := "info"
	switch {
	case code == "", code >= "H80" && code <= "H89": // as parse infers it for the old router's lines
	case code == "H27" || code == "H28":
		at = "warning"
	default:
		at = "error"
	}
	sb.WriteString("at=")
	sb.WriteString(at)
	if code != "" {
		pair(&sb, "code", code)
		if desc != "" {
			pair(&sb, "desc", desc)
		}
	}
	pair(&sb, "method", attrString(firstValue(attrs, methodKeys)))
	path := attrString(firstValue(attrs, pathKeys))
	if q := attrString(firstValue(attrs, queryKeys)); q != "" && !strings.Contains(path, "?") {
		path += "?" + q
	}
	pair(&sb, "path", path)
	pair(&sb, "host", attrString(firstValue(attrs, hostKeys)))
	pair(&sb, "request_id", attrString(firstValue(attrs, requestIDKeys)))
	pair(&sb, "fwd", attrString(firstValue(attrs, clientKeys)))
	pair(&sb, "dyno", dyno)
	if serviceMS >= 0 {
		pair(&sb, "service", strconv.FormatInt(serviceMS, 10)+"ms")
	}
	if n, ok := attrInt(firstValue(attrs, statusKeys)); ok && n >= 100 && n <= 999 {
		pair(&sb, "status", strconv.FormatInt(n, 10))
	}
	if n, ok := attrInt(firstValue(attrs, bytesKeys)); ok && n >= 0 {
		pair(&sb, "bytes", strconv.FormatInt(n, 10))
	}
	switch attrString(firstValue(attrs, protocolKeys)) {
	case "1.1":
		pair(&sb, "protocol", "http1.1")
	case "2", "2.0":
		pair(&sb, "protocol", "http2.0")
	}
	pair(&sb, "span", span)
	return sb.String()
}

// pair writes " key=value", quoted when the value holds a space, a quote
// or an '=' (a quote inside becomes %22: the router's lines have no
// escapes); nothing for an empty value.
func pair(sb *strings.Builder, key, v string) {
	if v == "" {
		return
	}
	sb.WriteByte(' ')
	sb.WriteString(key)
	sb.WriteByte('=')
	if !strings.ContainsAny(v, " \"=\t\n") {
		sb.WriteString(v)
		return
	}
	sb.WriteByte('"')
	sb.WriteString(unquote.Replace(v))
	sb.WriteByte('"')
}

var unquote = strings.NewReplacer("\"", "%22", "\n", " ", "\t", " ")

// firstValue returns the value of the first of keys that attrs hold.
func firstValue(attrs []*commonpb.KeyValue, keys []string) *commonpb.AnyValue {
	for _, k := range keys {
		if v := valueOf(attrs, k); v != nil {
			return v
		}
	}
	return nil
}

// valueOf returns the value of key in attrs, or nil.
func valueOf(attrs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range attrs {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	return nil
}

// attrString returns a scalar's text, or an array's first (the
// conventions' http.request.header.* are arrays of strings).
func attrString(v *commonpb.AnyValue) string {
	if a := v.GetArrayValue(); a != nil {
		if len(a.GetValues()) == 0 {
			return ""
		}
		v = a.GetValues()[0]
	}
	s, _ := scalar(v)
	return s
}

// attrInt returns an integer value, written as a number or as text.
func attrInt(v *commonpb.AnyValue) (int64, bool) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_IntValue:
		return x.IntValue, true
	case *commonpb.AnyValue_DoubleValue:
		return int64(x.DoubleValue), x.DoubleValue == float64(int64(x.DoubleValue))
	case *commonpb.AnyValue_StringValue:
		n, err := strconv.ParseInt(x.StringValue, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func isHCode(s string) bool {
	return len(s) == 3 && s[0] == 'H' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}

// RouterLogsHold is how long after an app's last router log record its
// router spans are not counted: the same requests arrive as both when a
// telemetry drain sends logs and traces, and the logs (with the router's
// own codes and text) are the ones counted. It is SILENCE's default
// window: an app quiet for longer has stopped sending them.
const RouterLogsHold = 15 * time.Minute

// maxRouterLogApps bounds the apps routerLogs remembers; past it, those
// not heard from within RouterLogsHold are forgotten first.
const maxRouterLogApps = 10_000

// routerLogs remembers when each app last sent a router log record to this
// web process.
type routerLogs struct {
	mu   sync.Mutex
	last map[string]time.Time // guarded by mu
}

func newRouterLogs() *routerLogs { return &routerLogs{last: map[string]time.Time{}} }

// saw notes that app sent router log records at now.
func (r *routerLogs) saw(app string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.last[app]; !ok && len(r.last) >= maxRouterLogApps {
		for a, t := range r.last {
			if now.Sub(t) > RouterLogsHold {
				delete(r.last, a)
			}
		}
		if len(r.last) >= maxRouterLogApps {
			return // its spans count meanwhile, as for an app that sends no logs
		}
	}
	r.last[app] = now
}

// recent reports whether app sent router log records within RouterLogsHold before now.
func (r *routerLogs) recent(app string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.last[app]
	return ok && now.Sub(t) <= RouterLogsHold
}

// noteRouterLogs notes the apps whose batches hold router lines.
func (h *Handler) noteRouterLogs(bs *batches) {
	for app, b := range bs.byApp {
		for i := range b.Entries {
			if b.Entries[i].Kind == parse.KindRouter {
				h.routerLogs.saw(app, bs.received)
				break
			}
		}
	}
}

// countSpans returns how many spans req holds.
func countSpans(req *coltracepb.ExportTraceServiceRequest) int {
	n := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	return n
}

// addSpans adds the requests of the router's server spans in req to bs.
// A span of the app's own services is no router request, nor is the
// router's client span of the same request (its call to the dyno): they
// are counted as ignored. The router spans of an app whose router logs
// arrive are counted as superseded (see RouterLogsHold).
func (h *Handler) addSpans(req *coltracepb.ExportTraceServiceRequest, urlApp string, bs *batches) {
	for _, rs := range req.GetResourceSpans() {
		attrs := rs.GetResource().GetAttributes()
		for _, ss := range rs.GetScopeSpans() {
			scope := ss.GetScope().GetName()
			o := h.keys.resolve(urlApp, attrs, scope)
			h.noteResource(bs, o.App, attrs, scope)
			noted := map[notedKey]bool{} // what the scope's spans were noted as: a map, so that each span costs a lookup per key
			for _, sp := range ss.GetSpans() {
				so := h.keys.forRecord(o, sp.GetAttributes())
				router := so.Component == "heroku-router" && sp.GetKind() == tracepb.Span_SPAN_KIND_SERVER
				h.noteSpan(bs, noted, so, sp, router)
				switch {
				case !router:
					bs.ignored++
					continue
				case so.App == "":
					bs.unattributed++
					h.noteUnattributed(attrs)
					continue
				case h.routerLogs.recent(so.App, bs.received):
					bs.superseded++
					continue
				}
				b := bs.batch(so.App)
				if addSpan(b, h.keys, so, sp, bs.received) {
					bs.used++
				} else {
					b.BadFrames++
					bs.bad++
				}
			}
		}
	}
}

// addSpan appends the router entry of one server span to b, and reports whether it could.
func addSpan(b *drain.Batch, k *keys, o Origin, sp *tracepb.Span, received time.Time) bool {
	start, end := sp.GetStartTimeUnixNano(), sp.GetEndTimeUnixNano()
	service := int64(parse.Absent)
	if start > 0 && end >= start && end-start < uint64(24*time.Hour) {
		service = int64((end - start) / uint64(time.Millisecond))
	}
	desc := ""
	if sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		desc = sp.GetStatus().GetMessage()
	}
	dyno := k.dynoOf(sp.GetAttributes())
	line := k.routerLine(sp.GetAttributes(), dyno, desc, service, hex.EncodeToString(sp.GetSpanId()))
	return addText(b, recordTime(end, start, received), parse.SourceHeroku, "router", line)
}

// addText appends the entry of one line of text to b, and reports whether it parsed.
func addText(b *drain.Batch, at time.Time, source, process, text string) bool {
	b.Entries = append(b.Entries, parse.Entry{})
	e := &b.Entries[len(b.Entries)-1]
	if err := parse.FromParts(e, at, source, process, text); err != nil {
		*e = parse.Entry{}
		b.Entries = b.Entries[:len(b.Entries)-1]
		return false
	}
	return true
}

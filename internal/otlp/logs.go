package otlp

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/dynowatch/dynowatch/internal/drain"
	"github.com/dynowatch/dynowatch/internal/parse"
)

// batches are what one request carries, by app: a space drain mixes apps,
// and each app's records are stored, rolled up and alerted on as its own
// drain batch.
type batches struct {
	received time.Time
	key      string // dedupe key, the same for each app's batch
	byApp    map[string]*drain.Batch
	// What was not used, by why: no app found (unattributed), a body or
	// value that can't be read (bad), a metric dynowatch does not read
	// (unknown).
	unattributed, bad, unknown int
	used                       int
	// Spans not used, and not to be: no router request (ignored), or a
	// router request its app's router logs count already (superseded).
	ignored, superseded int
	seen                []sighting // for the sightings, once each
}

func newBatches(received time.Time, key string) *batches {
	return &batches{received: received, key: key, byApp: map[string]*drain.Batch{}}
}

// batch returns app's batch, creating it.
func (bs *batches) batch(app string) *drain.Batch {
	b := bs.byApp[app]
	if b == nil {
		b = &drain.Batch{App: app, Key: bs.key, Received: bs.received}
		bs.byApp[app] = b
	}
	return b
}

// apps returns the apps in a fixed order.
func (bs *batches) apps() []string {
	apps := make([]string, 0, len(bs.byApp))
	for app := range bs.byApp {
		apps = append(apps, app)
	}
	slices.Sort(apps)
	return apps
}

// countLogs returns how many log records req holds.
func countLogs(req *collogspb.ExportLogsServiceRequest) int {
	n := 0
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			n += len(sl.GetLogRecords())
		}
	}
	return n
}

// addLogs adds the log records of req to bs. Each record's text goes
// through parse as a Cedar line would, under the source and process its
// origin gives it; a record of no app is counted, not guessed.
func (h *Handler) addLogs(req *collogspb.ExportLogsServiceRequest, urlApp string, bs *batches) {
	for _, rl := range req.GetResourceLogs() {
		attrs := rl.GetResource().GetAttributes()
		for _, sl := range rl.GetScopeLogs() {
			o := h.keys.resolve(urlApp, attrs, sl.GetScope().GetName())
			h.noteResource(bs, o.App, attrs, sl.GetScope().GetName())
			var kinds uint8
			for _, lr := range sl.GetLogRecords() {
				kinds |= bodyKind(lr.GetBody())
			}
			noteBodies(bs, o.App, kinds)
			if o.App == "" {
				bs.unattributed += len(sl.GetLogRecords())
				h.noteUnattributed(attrs)
				continue
			}
			b := bs.batch(o.App)
			b.Entries = slices.Grow(b.Entries, len(sl.GetLogRecords()))
			var noted map[string]bool // the router records' keys noted: a lookup per key, not a search of the request's
			for _, lr := range sl.GetLogRecords() {
				ro := h.keys.forRecord(o, lr.GetAttributes())
				if ro.Component == "heroku-router" && len(lr.GetAttributes()) > 0 {
					if noted == nil {
						noted = map[string]bool{}
					}
					h.noteRecordAttrs(bs, noted, o.App, lr.GetAttributes())
				}
				if h.addRecord(b, ro, lr, bs.received) {
					bs.used++
				} else {
					b.BadFrames++
					bs.bad++
				}
			}
		}
	}
}

// addRecord appends the entry of one log record to b, and reports whether it could.
// A router record whose text is no router line, but whose attributes hold
// the request (a structured record), is read from its attributes.
func (h *Handler) addRecord(b *drain.Batch, o Origin, lr *logspb.LogRecord, received time.Time) bool {
	at := recordTime(lr.GetTimeUnixNano(), lr.GetObservedTimeUnixNano(), received)
	source, process := o.sourceProcess()
	msg, ok := bodyText(lr.GetBody())
	if o.Component == "heroku-router" && !strings.Contains(msg, "at=") && isRequest(lr.GetAttributes()) {
		// A body such as "GET /cart" would read as the old router's
		// line, without the status and code the attributes hold.
		return addText(b, at, source, process, h.keys.routerLine(lr.GetAttributes(), h.keys.dynoOf(lr.GetAttributes()), "", parse.Absent, ""))
	}
	return ok && addText(b, at, source, process, msg)
}

// recordTime is when a record happened: its time, else when the collector
// saw it, else when the request came. A time past what time.Time holds in
// nanoseconds (year 2262) is none.
func recordTime(t, observed uint64, received time.Time) time.Time {
	for _, ns := range []uint64{t, observed} {
		if ns > math.MaxInt64 {
			return time.Time{}
		}
		if ns > 0 {
			return time.Unix(0, int64(ns))
		}
	}
	return received
}

// bodyText returns a log body as the line Heroku would have written: a
// string as it is; a map (structured logging) as logfmt key=value pairs, so
// a router record sent as attributes of its body still parses as a router
// line; a scalar as its text. Bytes and arrays are no line.
func bodyText(v *commonpb.AnyValue) (string, bool) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue, true
	case *commonpb.AnyValue_KvlistValue:
		var sb strings.Builder
		for _, kv := range x.KvlistValue.GetValues() {
			s, ok := scalar(kv.GetValue())
			if !ok || kv.GetKey() == "" || strings.ContainsAny(kv.GetKey(), " =\"") {
				continue
			}
			if sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(kv.GetKey())
			sb.WriteByte('=')
			if s == "" || strings.ContainsAny(s, " =\"") {
				s = strconv.Quote(s)
			}
			sb.WriteString(s)
		}
		return sb.String(), true
	case nil:
		return "", false
	}
	return scalar(v)
}

// scalar returns the text of a string, number or boolean value.
func scalar(v *commonpb.AnyValue) (string, bool) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue, true
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10), true
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64), true
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue), true
	}
	return "", false
}

package parse

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends e as one JSON object: time (as received), source,
// process, kind, then the kind's fields in snake_case. Empty and absent fields
// are left out; numbers are JSON numbers.
func (e *Entry) AppendJSON(b []byte) []byte {
	w := jsonObject{b: append(b, '{')}
	w.str("time", e.Stamp)
	w.str("source", e.Source)
	w.str("process", e.Process)
	w.str("kind", e.Kind.String())
	switch e.Kind {
	case KindRouter:
		r := &e.Router
		w.str("at", r.At)
		w.str("code", r.Code)
		w.str("desc", r.Desc)
		w.str("cause", r.Cause)
		w.str("sock", r.Sock)
		w.str("method", r.Method)
		w.str("path", r.Path)
		w.str("host", r.Host)
		w.str("request_id", r.RequestID)
		w.str("fwd", r.Fwd)
		w.str("dyno", r.Dyno)
		w.int("connect_ms", int64(r.ConnectMS))
		w.int("service_ms", int64(r.ServiceMS))
		w.int("status", int64(r.Status))
		w.int("bytes", r.Bytes)
		w.str("protocol", r.Protocol)
		w.str("tls", r.TLS)
		w.str("tls_version", r.TLSVersion)
		w.int("queue", int64(r.Queue))
		w.int("wait_ms", int64(r.WaitMS))
	case KindDynoError:
		w.str("code", e.DynoError.Code)
		w.str("desc", e.DynoError.Desc)
		w.str("detail", e.DynoError.Detail)
	case KindMemoryUsage:
		w.float("memory_mb", e.Memory.MB)
		w.float("memory_percent", e.Memory.Percent)
	case KindRuntimeMetrics, KindPostgresMetrics, KindRedisMetrics, KindPgBouncerMetrics:
		m := &e.Metrics
		w.str("dyno", m.Dyno)
		w.str("dyno_id", m.DynoID)
		w.str("attachment", m.Attachment)
		w.str("addon", m.Addon)
		for _, s := range m.Samples {
			w.float(s.Name, s.Value)
		}
	case KindPostgresLog:
		w.str("sql_error_code", e.Postgres.SQLErrorCode)
		w.str("severity", e.Postgres.Severity)
		w.str("message", e.Postgres.Message)
		w.str("attachment", e.Postgres.Attachment)
		w.int("seq", int64(e.Postgres.Seq))
		w.int("part", int64(e.Postgres.Part))
	case KindStateChange:
		w.str("from", e.Lifecycle.From)
		w.str("to", e.Lifecycle.To)
	case KindProcessExit:
		w.int("exit_status", int64(e.Lifecycle.ExitStatus))
	case KindProcessStart:
		w.str("command", e.Lifecycle.Command)
	case KindProcessStop:
		w.str("signal", e.Lifecycle.Signal)
	case KindRelease:
		w.str("version", e.Platform.Version)
		w.str("user", e.Platform.User)
	case KindDeploy:
		w.str("commit", e.Platform.Commit)
		w.str("user", e.Platform.User)
	case KindScale:
		w.key("formation")
		w.b = append(w.b, '[')
		for i, f := range e.Platform.Formation {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			o := jsonObject{b: append(w.b, '{')}
			o.str("type", f.Type)
			o.int("quantity", int64(f.Quantity))
			o.str("size", f.Size)
			w.b = append(o.b, '}')
		}
		w.b = append(w.b, ']')
		w.str("user", e.Platform.User)
	case KindLogplexError:
		w.str("code", e.Logplex.Code)
		w.int("dropped", int64(e.Logplex.Dropped))
		w.str("since", e.Logplex.Since)
	case KindApp:
		w.str("message", e.Message)
		if len(e.App.Pairs) > 0 {
			w.key("pairs")
			o := jsonObject{b: append(w.b, '{')}
			for _, p := range e.App.Pairs {
				o.key(p.Key)
				o.b = appendString(o.b, p.Value)
			}
			w.b = append(o.b, '}')
		}
		if len(e.App.Metrics) > 0 {
			w.key("metrics")
			w.b = append(w.b, '[')
			for i, m := range e.App.Metrics {
				if i > 0 {
					w.b = append(w.b, ',')
				}
				o := jsonObject{b: append(w.b, '{')}
				o.str("type", m.Type)
				o.str("name", m.Name)
				o.float("value", m.Value)
				o.str("unit", m.Unit)
				w.b = append(o.b, '}')
			}
			w.b = append(w.b, ']')
		}
	}
	return append(w.b, '}')
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (e *Entry) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

type jsonObject struct {
	b    []byte
	more bool
}

func (o *jsonObject) key(k string) {
	if o.more {
		o.b = append(o.b, ',')
	}
	o.more = true
	o.b = appendString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *jsonObject) str(k, v string) {
	if v == "" {
		return
	}
	o.key(k)
	o.b = appendString(o.b, v)
}

func (o *jsonObject) int(k string, v int64) {
	if v == Absent {
		return
	}
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *jsonObject) float(k string, v float64) {
	o.key(k)
	o.b = strconv.AppendFloat(o.b, v, 'f', -1, 64)
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string. Entries hold valid UTF-8 only.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

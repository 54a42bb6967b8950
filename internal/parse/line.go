package parse

import "strings"

// Line rebuilds the message as `heroku logs` prints it, for people to read:
// evidence in alerts, events in the dashboard. Query strings and client IPs
// are cut from router lines unless asked to keep them: they often carry
// tokens and personal data.
func (e *Entry) Line(keepQueryStrings, keepClientIPs bool) string {
	msg := e.Message
	if e.Kind == KindRouter {
		msg = redactRouter(msg, keepQueryStrings, keepClientIPs)
	}
	var sb strings.Builder
	sb.Grow(len(e.Stamp) + len(e.Source) + len(e.Process) + len(msg) + 5)
	sb.WriteString(e.Stamp)
	sb.WriteByte(' ')
	sb.WriteString(e.Source)
	if e.Process != "" {
		sb.WriteByte('[')
		sb.WriteString(e.Process)
		sb.WriteByte(']')
	}
	sb.WriteString(": ")
	sb.WriteString(msg)
	return sb.String()
}

// redactRouter cuts the query string from path= and drops fwd= from a router line.
func redactRouter(msg string, keepQuery, keepIPs bool) string {
	if !keepQuery {
		if _, start, end, ok := valueSpan(msg, "path"); ok {
			if q := strings.IndexByte(msg[start:end], '?'); q >= 0 {
				msg = msg[:start+q] + msg[end:]
			}
		}
	}
	if !keepIPs {
		if from, _, end, ok := valueSpan(msg, "fwd"); ok {
			if from > 0 && msg[from-1] == ' ' {
				from--
			}
			if end < len(msg) && msg[end] == '"' {
				end++
			}
			msg = msg[:from] + msg[end:]
		}
	}
	return msg
}

// valueSpan finds key=value in a router line and returns where the pair
// starts and where the value is, without its quotes.
func valueSpan(msg, key string) (pair, start, end int, ok bool) {
	for i := 0; ; {
		j := strings.Index(msg[i:], key+"=")
		if j < 0 {
			return 0, 0, 0, false
		}
		j += i
		if j > 0 && msg[j-1] != ' ' {
			i = j + len(key)
			continue
		}
		start = j + len(key) + 1
		if start < len(msg) && msg[start] == '"' {
			start++
			if k := strings.IndexByte(msg[start:], '"'); k >= 0 {
				return j, start, start + k, true
			}
			return j, start, len(msg), true
		}
		if k := strings.IndexByte(msg[start:], ' '); k >= 0 {
			return j, start, start + k, true
		}
		return j, start, len(msg), true
	}
}

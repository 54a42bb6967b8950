package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/redact"
)

// memRefs keeps message refs in memory, as the store does.
type memRefs struct {
	mu      sync.Mutex
	refs    map[string]MessageRef // channel + " " + alert key
	failGet error
	failSet error
}

func (m *memRefs) MessageRef(_ context.Context, channel, key string) (MessageRef, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failGet != nil {
		return MessageRef{}, false, m.failGet
	}
	r, ok := m.refs[channel+" "+key]
	return r, ok, nil
}

func (m *memRefs) SaveMessageRef(_ context.Context, channel string, keys []string, ref MessageRef, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSet != nil {
		return m.failSet
	}
	if m.refs == nil {
		m.refs = map[string]MessageRef{}
	}
	for _, k := range keys {
		m.refs[channel+" "+k] = ref
	}
	return nil
}

// editor is an IncidentNotifier that numbers its messages and records what
// it was asked.
type editor struct {
	calls []editorCall
	fail  error
}

type editorCall struct {
	Status alert.Status
	Alerts int
	Prior  MessageRef
}

func (e *editor) Name() string { return "chat" }
func (e *editor) Notify(ctx context.Context, n *alert.Notification) (bool, error) {
	_, retry, err := e.NotifyIncident(ctx, n, MessageRef{})
	return retry, err
}
func (e *editor) NotifyIncident(_ context.Context, n *alert.Notification, prior MessageRef) (MessageRef, bool, error) {
	e.calls = append(e.calls, editorCall{n.Status, len(n.Alerts), prior})
	if e.fail != nil {
		return MessageRef{}, true, e.fail
	}
	if prior.ID != "" {
		return prior, false, nil
	}
	return MessageRef{ID: fmt.Sprintf("m%d", len(e.calls))}, false, nil
}

func incidentRow(id int64, status alert.Status, keys ...string) *memRow {
	n := alert.Notification{ID: fmt.Sprint("d", id), Status: status}
	for _, k := range keys {
		n.Alerts = append(n.Alerts, alert.Alert{Key: k, App: "shop", Severity: alert.Warning})
	}
	b, _ := json.Marshal(n)
	return &memRow{Delivery: Delivery{ID: id, Outgoing: alert.Outgoing{Channel: "chat", App: "shop", AlertKey: keys[0], Status: status, Payload: b,
		CreatedAt: t0}, FiringHeard: status != alert.Firing}}
}

// TestSenderKeepsOneMessagePerIncident: a firing starts a message; its
// reminder and resolution get its ref, through the refs store (a second
// sender, as another worker or after a restart, finds it too); a grouped
// firing's ref is kept for each of its alerts, marked grouped; a firing
// again starts a new message.
func TestSenderKeepsOneMessagePerIncident(t *testing.T) {
	box := &memOutbox{}
	refs := &memRefs{}
	chat := &editor{}
	newSender := func(holder string) *Sender {
		s, err := NewSender(SenderOptions{Outbox: box, Refs: refs, Notifiers: []Notifier{chat}, Holder: holder, Logger: discard(), Now: (&testClock{t0}).now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	steps := []struct {
		sender *Sender
		rows   []*memRow
	}{
		{newSender("w1"), []*memRow{incidentRow(1, alert.Firing, "r14|shop|web.1")}},
		{newSender("w2"), []*memRow{incidentRow(2, alert.Reminder, "r14|shop|web.1")}},
		{newSender("w1"), []*memRow{incidentRow(3, alert.Resolved, "r14|shop|web.1")}},
		{newSender("w1"), []*memRow{incidentRow(4, alert.Firing, "h_codes|shop|H12"), incidentRow(5, alert.Firing, "crash_loop|shop|web.2")}},
		{newSender("w2"), []*memRow{incidentRow(6, alert.Resolved, "crash_loop|shop|web.2")}},
		{newSender("w2"), []*memRow{incidentRow(7, alert.Firing, "r14|shop|web.1")}},
	}
	for i, st := range steps {
		box.rows = append(box.rows, st.rows...)
		if sent, failed, err := st.sender.SendDue(context.Background(), 10); sent != len(st.rows) || failed != 0 || err != nil {
			t.Fatalf("step %d: sent %d, failed %d, %v", i, sent, failed, err)
		}
	}
	want := []editorCall{
		{alert.Firing, 1, MessageRef{}},
		{alert.Reminder, 1, MessageRef{ID: "m1"}},
		{alert.Resolved, 1, MessageRef{ID: "m1"}},
		{alert.Firing, 2, MessageRef{}},
		{alert.Resolved, 1, MessageRef{ID: "m4", Grouped: true}},
		{alert.Firing, 1, MessageRef{}},
	}
	if diff := cmp.Diff(want, chat.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if got := refs.refs["chat r14|shop|web.1"]; got != (MessageRef{ID: "m6"}) {
		t.Errorf("ref of the alert fired again = %+v, want its new message", got)
	}
}

// TestSenderIncidentFailures: a ref that can't be read fails the send for a
// retry, before anything is sent; one that can't be kept still counts the
// send as done (sending it again would repeat it).
func TestSenderIncidentFailures(t *testing.T) {
	chat := &editor{}
	refs := &memRefs{failGet: errors.New("connection refused")}
	box := &memOutbox{rows: []*memRow{incidentRow(1, alert.Resolved, "r14|shop|web.1")}}
	s, _ := NewSender(SenderOptions{Outbox: box, Refs: refs, Notifiers: []Notifier{chat}, Holder: "w1", Logger: discard(), Now: (&testClock{t0}).now})
	if _, failed, _ := s.SendDue(context.Background(), 10); failed != 1 || len(chat.calls) != 0 || box.row(1).gaveUp {
		t.Fatalf("unreadable ref: failed %d, calls %d, row %+v; want a retry and nothing sent", failed, len(chat.calls), box.row(1))
	}
	refs = &memRefs{failSet: errors.New("connection refused")}
	box = &memOutbox{rows: []*memRow{incidentRow(1, alert.Firing, "r14|shop|web.1")}}
	s, _ = NewSender(SenderOptions{Outbox: box, Refs: refs, Notifiers: []Notifier{chat}, Holder: "w1", Logger: discard(), Now: (&testClock{t0}).now})
	if sent, _, _ := s.SendDue(context.Background(), 10); sent != 1 || !box.row(1).sent {
		t.Fatalf("ref not kept: sent %d, row %+v; want sent", sent, box.row(1))
	}
}

// TestSenderWaitsForRetryAfter: a provider's Retry-After longer than the
// backoff puts the next attempt after it; a shorter one leaves the backoff.
func TestSenderWaitsForRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		wait, want time.Duration
	}{{5 * time.Minute, 5 * time.Minute}, {time.Second, 30 * time.Second}} {
		resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {fmt.Sprint(tc.wait.Seconds())}}}
		limited := answerError(redact.NewScrubber(), "chat", resp, "")
		chat := &editor{fail: limited}
		box := &memOutbox{rows: []*memRow{incidentRow(1, alert.Firing, "r14|shop|web.1")}}
		s, _ := NewSender(SenderOptions{Outbox: box, Refs: &memRefs{}, Notifiers: []Notifier{chat}, Holder: "w1", Logger: discard(), Now: (&testClock{t0}).now})
		if _, failed, _ := s.SendDue(context.Background(), 10); failed != 1 {
			t.Fatalf("failed %d, want 1", failed)
		}
		if got := box.row(1).nextAttempt.Sub(t0); got != tc.want {
			t.Errorf("Retry-After %v: next attempt in %v, want %v", tc.wait, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{"0.5", 500 * time.Millisecond, true},
		{"Mon, 30 Nov 2026 12:01:30 GMT", 90 * time.Second, true},
		{"Mon, 30 Nov 2026 11:00:00 GMT", 0, true},
		{"", 0, false},
		{"-3", 0, false},
		{"soon", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := RetryAfter(errors.New("plain")); ok {
		t.Error("RetryAfter of an error without one reports one")
	}
}

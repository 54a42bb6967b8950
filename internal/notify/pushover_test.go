package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/alert"
)

var _ Notifier = (*Pushover)(nil)

const (
	testPushoverToken = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
	testPushoverUser  = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
)

func TestPushoverGolden(t *testing.T) {
	for _, tc := range pagingFixtures() {
		t.Run(tc.name, func(t *testing.T) {
			f := renderPushover(tc.n, time.Minute, time.Hour)
			var keys []string
			for k := range f {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var b strings.Builder
			for _, k := range keys {
				fmt.Fprintf(&b, "%s: %s\n", k, strings.ReplaceAll(f.Get(k), "\n", "\n  "))
			}
			checkGolden(t, "render-"+tc.name+".pushover.txt", b.String())
		})
	}
}

// pushoverServer is a fake Pushover API: it checks messages and
// cancellations as Pushover does and answers as it does.
type pushoverServer struct {
	t   *testing.T
	srv *httptest.Server
	// answer, when set, overrides the answer to a good message.
	answer func() (status int, body string)

	mu        sync.Mutex
	messages  []url.Values
	receipts  map[string]bool // emergency receipts still repeating
	cancelled []string
	n         int
}

func newPushoverServer(t *testing.T) *pushoverServer {
	t.Helper()
	s := &pushoverServer{t: t, receipts: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *pushoverServer) handle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	request := fmt.Sprintf("5042853c-402d-4a18-abcb-%012d", s.n)
	refuse := func(status int, field, value string, errs ...string) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{field: value, "errors": errs, "status": 0, "request": request})
	}
	if r.Method != http.MethodPost {
		refuse(404, "request", "invalid", "not found")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		s.t.Errorf("Content-Type %q", ct)
	}
	if err := r.ParseForm(); err != nil {
		s.t.Errorf("form: %v", err)
	}
	f := r.PostForm
	if f.Get("token") != testPushoverToken {
		refuse(400, "token", "invalid", "application token is invalid")
		return
	}
	if receipt, ok := strings.CutPrefix(r.URL.Path, "/1/receipts/"); ok {
		receipt, ok = strings.CutSuffix(receipt, "/cancel.json")
		if !ok || !s.receipts[receipt] {
			refuse(404, "receipt", "not found", "receipt not found; may be invalid or expired")
			return
		}
		delete(s.receipts, receipt)
		s.cancelled = append(s.cancelled, receipt)
		json.NewEncoder(w).Encode(map[string]any{"status": 1, "request": request})
		return
	}
	if r.URL.Path != "/1/messages.json" {
		refuse(404, "request", "invalid", "not found")
		return
	}
	if f.Get("user") != testPushoverUser {
		refuse(400, "user", "invalid", "user identifier is not a valid user, group, or subscribed user key, see https://pushover.net/api#identifiers")
		return
	}
	p, err := strconv.Atoi(f.Get("priority"))
	switch {
	case f.Get("message") == "" || len([]rune(f.Get("message"))) > 1024:
		refuse(400, "message", "invalid", "message cannot be blank or longer than 1024 characters")
		return
	case len([]rune(f.Get("title"))) > 250:
		refuse(400, "title", "invalid", "title is too long")
		return
	case err != nil || p < -2 || p > 2:
		refuse(400, "priority", "invalid", "priority is invalid")
		return
	}
	answer := map[string]any{"status": 1, "request": request}
	if p == 2 {
		retry, _ := strconv.Atoi(f.Get("retry"))
		expire, _ := strconv.Atoi(f.Get("expire"))
		if retry < 30 {
			refuse(400, "retry", "invalid", "retry is invalid")
			return
		}
		if expire < 1 || expire > 10800 {
			refuse(400, "expire", "invalid", "expire is invalid")
			return
		}
		receipt := fmt.Sprintf("rcpt%026d", s.n)
		s.receipts[receipt] = true
		answer["receipt"] = receipt
	}
	s.messages = append(s.messages, f)
	if s.answer != nil {
		status, body := s.answer()
		w.WriteHeader(status)
		fmt.Fprint(w, body)
		return
	}
	json.NewEncoder(w).Encode(answer)
}

func (s *pushoverServer) state() (messages []url.Values, repeating, cancelled []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for r := range s.receipts {
		repeating = append(repeating, r)
	}
	return append([]url.Values(nil), s.messages...), repeating, append([]string(nil), s.cancelled...)
}

func newTestPushover(t *testing.T, srv *pushoverServer) *Pushover {
	t.Helper()
	c, err := NewPushover(PushoverOptions{Token: testPushoverToken, User: testPushoverUser, APIURL: srv.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pushoverRow is an outbox row of n for Pushover, as the store hands it out.
func pushoverRow(t *testing.T, id int64, n *alert.Notification) *memRow {
	t.Helper()
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return &memRow{Delivery: Delivery{ID: id, Outgoing: alert.Outgoing{Channel: "pushover", App: n.Alerts[0].App, AlertKey: n.Alerts[0].Key,
		Status: n.Status, Payload: b, CreatedAt: t0}, FiringHeard: n.Status != alert.Firing}}
}

// TestPushoverEmergencyCancelledOnResolve: through the Sender, a critical
// firing is an emergency message whose receipt is kept as the alert's
// message ref; its reminder does not page as an emergency again, and its
// resolution, on another worker, cancels the repeats.
func TestPushoverEmergencyCancelledOnResolve(t *testing.T) {
	srv := newPushoverServer(t)
	box, refs := &memOutbox{}, &memRefs{}
	send := func(holder string, rows ...*memRow) {
		t.Helper()
		s, err := NewSender(SenderOptions{Outbox: box, Refs: refs, Notifiers: []Notifier{newTestPushover(t, srv)}, Holder: holder,
			Logger: discard(), Now: (&testClock{t0}).now})
		if err != nil {
			t.Fatal(err)
		}
		box.rows = append(box.rows, rows...)
		if sent, failed, err := s.SendDue(context.Background(), 10); sent != len(rows) || failed != 0 || err != nil {
			t.Fatalf("SendDue: %d sent, %d failed, %v", sent, failed, err)
		}
	}
	send("w1", pushoverRow(t, 1, fixtureFiring()))
	msgs, repeating, _ := srv.state()
	if len(msgs) != 1 || msgs[0].Get("priority") != "2" || msgs[0].Get("retry") != "60" || msgs[0].Get("expire") != "3600" {
		t.Fatalf("firing sent %v, want one emergency message repeated every 60 s for an hour", msgs)
	}
	if len(repeating) != 1 {
		t.Fatalf("%d emergencies repeating, want 1", len(repeating))
	}
	if r, ok, _ := refs.MessageRef(context.Background(), "pushover", "r14/shop/web.1"); !ok || r.ID != repeating[0]+"|r14/shop/web.1" {
		t.Fatalf("ref kept %+v, want the receipt %s", r, repeating[0])
	}

	send("w2", pushoverRow(t, 2, fixtureReminder()))
	send("w2", pushoverRow(t, 3, fixtureResolved()))
	msgs, repeating, cancelled := srv.state()
	if len(repeating) != 0 || len(cancelled) != 1 {
		t.Errorf("after resolve: %v repeating, %v cancelled; want the emergency cancelled", repeating, cancelled)
	}
	if len(msgs) != 3 || msgs[1].Get("priority") != "1" || msgs[2].Get("priority") != "0" || !strings.HasPrefix(msgs[2].Get("title"), "RESOLVED") {
		t.Errorf("messages %v; want the reminder at 1 and the resolution at 0", msgs)
	}
}

// TestPushoverGroupedEmergency: a grouped emergency is cancelled when the
// alert it is named after resolves, not when another of the group does.
func TestPushoverGroupedEmergency(t *testing.T) {
	srv := newPushoverServer(t)
	c := newTestPushover(t, srv)
	ref, _, err := c.NotifyIncident(context.Background(), fixtureGrouped(), MessageRef{})
	if err != nil {
		t.Fatal(err)
	}
	ref.Grouped = true // as the Sender keeps it
	h12 := fixtureResolved()
	h12.Alerts[0] = fixtureGrouped().Alerts[1]
	if _, _, err := c.NotifyIncident(context.Background(), h12, ref); err != nil {
		t.Fatal(err)
	}
	if _, repeating, _ := srv.state(); len(repeating) != 1 {
		t.Fatalf("the H12 of the group resolving stopped the emergency of the R14")
	}
	if _, _, err := c.NotifyIncident(context.Background(), fixtureResolved(), ref); err != nil {
		t.Fatal(err)
	}
	if _, repeating, cancelled := srv.state(); len(repeating) != 0 || len(cancelled) != 1 {
		t.Errorf("the R14 resolving: %v repeating, %v cancelled", repeating, cancelled)
	}
}

// TestPushoverCancelOfAGoneReceipt: a receipt Pushover no longer knows
// (expired, or cancelled by a send that is now retried) is no error, and
// the resolution is sent; a cancel Pushover can't take now is retried.
func TestPushoverCancelOfAGoneReceipt(t *testing.T) {
	srv := newPushoverServer(t)
	c := newTestPushover(t, srv)
	gone := MessageRef{ID: "rcptexpired00000000000000000000|r14/shop/web.1"}
	if ref, retry, err := c.NotifyIncident(context.Background(), fixtureResolved(), gone); err != nil || retry || ref.ID != "" {
		t.Fatalf("NotifyIncident=%+v, %v, %v", ref, retry, err)
	}
	if msgs, _, _ := srv.state(); len(msgs) != 1 {
		t.Errorf("%d messages, want the resolution", len(msgs))
	}
	down := newPushoverServer(t)
	down.srv.Close()
	c = newTestPushover(t, down)
	if _, retry, err := c.NotifyIncident(context.Background(), fixtureResolved(), gone); err == nil || !retry ||
		!strings.Contains(err.Error(), "pushover cancelling the emergency") {
		t.Errorf("cancel against a server down: retry %v, %v", retry, err)
	}
}

func TestPushoverAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		user      string
		answer    func() (int, string)
		wantRetry bool
		wantErr   string
	}{
		{name: "bad user key", user: "gznej3rKEVAvPUxu9vvNnqpmZpokzF",
			wantErr: "pushover: 400 Bad Request: user identifier is not a valid user, group, or subscribed user key, see https://pushover.net/api#identifiers, request 5042853c"},
		{name: "over the monthly limit", answer: func() (int, string) {
			return 429, `{"errors":["application has exceeded its monthly message limit"],"status":0,"request":"x1"}`
		}, wantRetry: true, wantErr: "429 Too Many Requests: application has exceeded its monthly message limit, request x1"},
		{name: "server error", answer: func() (int, string) { return 500, "<html>500</html>" }, wantRetry: true, wantErr: "500 Internal Server Error: <html>500</html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newPushoverServer(t)
			srv.answer = tc.answer
			user := testPushoverUser
			if tc.user != "" {
				user = tc.user
			}
			c, err := NewPushover(PushoverOptions{Token: testPushoverToken, User: user, APIURL: srv.srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			retry, err := c.Notify(context.Background(), fixtureFiring())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || retry != tc.wantRetry {
				t.Errorf("Notify=%v, %v; want retry %v and %q", retry, err, tc.wantRetry, tc.wantErr)
			}
		})
	}
}

func TestPushoverRendering(t *testing.T) {
	for _, tc := range []struct {
		st   alert.Status
		sev  alert.Severity
		want string
	}{
		{alert.Firing, alert.Critical, "2"}, {alert.Firing, alert.Warning, "1"}, {alert.Firing, alert.Info, "0"},
		{alert.Reminder, alert.Critical, "1"}, {alert.Flapping, alert.Warning, "1"}, {alert.Reminder, alert.Info, "0"},
		{alert.Resolved, alert.Critical, "0"}, {alert.Test, alert.Critical, "0"},
	} {
		n := fixtureFiring()
		n.Status, n.Alerts[0].Severity = tc.st, tc.sev
		f := renderPushover(n, time.Minute, time.Hour)
		if got := f.Get("priority"); got != tc.want {
			t.Errorf("%s %s: priority %s, want %s", tc.st, tc.sev, got, tc.want)
		}
		if _, ok := f["retry"]; ok != (tc.want == "2") {
			t.Errorf("%s %s: retry set %v", tc.st, tc.sev, ok)
		}
	}
	bare := &alert.Notification{ID: "b", Status: alert.Firing, Alerts: []alert.Alert{{Key: "k", App: "shop", Code: "H10", Severity: alert.Critical}}}
	if m := renderPushover(bare, time.Minute, time.Hour).Get("message"); m != "H10 on shop" {
		t.Errorf("message of an alert with nothing more to say = %q, want its headline (Pushover refuses a blank one)", m)
	}
	big := fixtureGrouped()
	for i := range 30 {
		big.Alerts = append(big.Alerts, alert.Alert{Key: fmt.Sprint(i), App: "shop", Summary: strings.Repeat("ü", 80)})
	}
	f := renderPushover(big, time.Minute, time.Hour)
	if n := len([]rune(f.Get("message"))); n > 1024 {
		t.Errorf("message of %d characters, Pushover takes 1024", n)
	}
}

func TestNewPushoverValidates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       PushoverOptions
		wantErr string
	}{
		{"no token", PushoverOptions{User: testPushoverUser}, "notify: PushoverOptions.Token is required"},
		{"no user", PushoverOptions{Token: testPushoverToken}, "notify: PushoverOptions.User is required"},
		{"bad user", PushoverOptions{Token: testPushoverToken, User: "me@example.com"}, "notify: PushoverOptions.User: want 30 letters and digits"},
		{"retry too short", PushoverOptions{Token: testPushoverToken, User: testPushoverUser, Retry: 10 * time.Second}, "notify: PushoverOptions.Retry 10s, Expire 1h0m0s: want Retry at least 30s"},
		{"expire too long", PushoverOptions{Token: testPushoverToken, User: testPushoverUser, Expire: 4 * time.Hour}, "notify: PushoverOptions.Retry 1m0s, Expire 4h0m0s"},
		{"bad URL", PushoverOptions{Token: testPushoverToken, User: testPushoverUser, APIURL: "api.pushover.net"}, "notify: PushoverOptions.APIURL: want a URL starting http:// or https://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPushover(tc.o)
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("err=%v, want %q", err, tc.wantErr)
			}
		})
	}
}

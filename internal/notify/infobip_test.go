package notify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var _ Notifier = (*Infobip)(nil)

const testInfobipKey = "0123456789abcdef-infobip-key"

// newInfobipServer answers POST /sms/3/messages with status and body,
// failing the test when the request is not what Infobip expects. It sends
// each request body it gets on the channel.
func newInfobipServer(t *testing.T, status int, body string) (*httptest.Server, <-chan string) {
	t.Helper()
	got := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/sms/3/messages" {
			t.Errorf("request %s %s, want POST /sms/3/messages", r.Method, r.URL.Path)
		}
		for k, want := range map[string]string{
			"Authorization": "App " + testInfobipKey,
			"Content-Type":  "application/json",
			"Accept":        "application/json",
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s=%q, want %q", k, got, want)
			}
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		got <- string(b)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func newTestInfobip(t *testing.T, base string) *Infobip {
	t.Helper()
	b, err := NewInfobip(InfobipOptions{
		BaseURL: base,
		APIKey:  testInfobipKey,
		Sender:  "dynowatch",
		To:      []string{"41793026727", "+1 (415) 555-0100"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const infobipPending = `{"bulkId":"2034072219640523072","messages":[
 {"messageId":"41793026727","status":{"groupId":1,"groupName":"PENDING","id":26,"name":"PENDING_ACCEPTED","description":"Message sent to next instance"},"destination":"41793026727","details":{"messageCount":1}},
 {"messageId":"14155550100","status":{"groupId":3,"groupName":"DELIVERED","id":5,"name":"DELIVERED_TO_HANDSET","description":"Message delivered to handset"},"destination":"+14155550100","details":{"messageCount":1}}]}`

func TestInfobipSends(t *testing.T) {
	srv, got := newInfobipServer(t, http.StatusOK, infobipPending)
	b := newTestInfobip(t, srv.URL)
	n := fixtureGrouped()
	if retry, err := b.Notify(context.Background(), n); err != nil || retry {
		t.Fatalf("Notify=%v, %v; want false, nil", retry, err)
	}
	want := `{"messages":[{"sender":"dynowatch","destinations":[{"to":"41793026727"},{"to":"+14155550100"}],` +
		`"content":{"text":"FIRING critical R14 shop web.1: memory quota exceeded: rss 612MB of 512MB (+2 more) https://dynowatch.example.com/alerts/r14%2Fshop%2Fweb.1"}}]}`
	if body := <-got; body != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
}

func TestInfobipAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		wantRetry bool
		wantErr   string // "" for success
	}{
		{"pending and delivered", 200, infobipPending, false, ""},
		{"accepted, no body", 200, "", false, ""},
		{"one rejected", 200, `{"bulkId":"b","messages":[
			{"messageId":"m1","status":{"groupId":1,"groupName":"PENDING","id":26,"name":"PENDING_ACCEPTED"},"destination":"41793026727"},
			{"messageId":"m2","status":{"groupId":5,"groupName":"REJECTED","id":6,"name":"REJECTED_NETWORK","description":"Network is forbidden"},"destination":"+14155550100"}]}`,
			false, "infobip: +14155550100 REJECTED (REJECTED_NETWORK: Network is forbidden)"},
		{"undeliverable and expired", 200, `{"messages":[
			{"status":{"groupId":2,"groupName":"UNDELIVERABLE","name":"UNDELIVERABLE_NOT_DELIVERED","description":"Message sent not delivered"},"destination":"41793026727"},
			{"status":{"groupId":4,"name":"EXPIRED_EXPIRED"},"destination":"+14155550100"}]}`,
			false, "infobip: 41793026727 UNDELIVERABLE (UNDELIVERABLE_NOT_DELIVERED: Message sent not delivered); +14155550100 status group 4 (EXPIRED_EXPIRED)"},
		{"v2 answer names the destination in to", 200, `{"messages":[{"to":"41793026727","status":{"groupId":5,"groupName":"REJECTED","name":"REJECTED_DESTINATION"}}]}`,
			false, "infobip: 41793026727 REJECTED (REJECTED_DESTINATION)"},
		{"unauthorized", 401, `{"requestError":{"serviceException":{"messageId":"UNAUTHORIZED","text":"Invalid login details"}}}`,
			false, "infobip: 401 Unauthorized: UNAUTHORIZED: Invalid login details"},
		{"v3 error body", 400, `{"errorCode":"E400","description":"Request cannot be processed.","action":"Check the syntax, violations and adjust the request.","violations":[{"property":"messages[0].destinations","violation":"must not be empty"}]}`,
			false, "infobip: 400 Bad Request: E400: Request cannot be processed."},
		{"rate limited", 429, `{"requestError":{"serviceException":{"messageId":"TOO_MANY_REQUESTS","text":"Too many requests"}}}`,
			true, "infobip: 429 Too Many Requests: TOO_MANY_REQUESTS: Too many requests"},
		{"server error", 500, "upstream connect error", true, "infobip: 500 Internal Server Error: upstream connect error"},
		{"bad gateway, no body", 502, "", true, "infobip: 502 Bad Gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := newInfobipServer(t, tc.status, tc.body)
			retry, err := newTestInfobip(t, srv.URL).Notify(context.Background(), fixtureFiring())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("err=%v, want none", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Errorf("err=%v, want %q", err, tc.wantErr)
			}
			if retry != tc.wantRetry {
				t.Errorf("retry=%v, want %v", retry, tc.wantRetry)
			}
		})
	}
}

func TestInfobipNetworkErrorRetries(t *testing.T) {
	srv, _ := newInfobipServer(t, 200, infobipPending)
	srv.Close()
	retry, err := newTestInfobip(t, srv.URL).Notify(context.Background(), fixtureFiring())
	if err == nil || !retry || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Notify=%v, %v; want retry after connection refused", retry, err)
	}
}

func TestNewInfobipValidates(t *testing.T) {
	good := func() InfobipOptions {
		return InfobipOptions{BaseURL: "xyz123.api.infobip.com", APIKey: "k", To: []string{"41793026727"}}
	}
	for _, tc := range []struct {
		name    string
		edit    func(*InfobipOptions)
		wantErr string
	}{
		{"no base URL", func(o *InfobipOptions) { o.BaseURL = " " }, "notify: InfobipOptions.BaseURL is required"},
		{"base URL with path", func(o *InfobipOptions) { o.BaseURL = "https://xyz123.api.infobip.com/sms/2" }, "notify: InfobipOptions.BaseURL: want the account's host only, such as xyz123.api.infobip.com"},
		{"base URL scheme", func(o *InfobipOptions) { o.BaseURL = "ftp://xyz123.api.infobip.com" }, "notify: InfobipOptions.BaseURL: want a URL starting http:// or https://"},
		{"no key", func(o *InfobipOptions) { o.APIKey = "" }, "notify: InfobipOptions.APIKey is required"},
		{"no to", func(o *InfobipOptions) { o.To = nil }, "notify: InfobipOptions.To is required"},
		{"bad number", func(o *InfobipOptions) { o.To = []string{"41793026727", "call me"} }, `notify: InfobipOptions.To[1] "call me": want an international number, such as 41793026727`},
		{"too long", func(o *InfobipOptions) { o.To = []string{"+1234567890123456"} }, `notify: InfobipOptions.To[0] "+1234567890123456": want an international number, such as 41793026727`},
		{"negative timeout", func(o *InfobipOptions) { o.Timeout = -5 }, "notify: InfobipOptions.Timeout -5ns: must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good()
			tc.edit(&o)
			_, err := NewInfobip(o)
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("err=%v, want %q", err, tc.wantErr)
			}
		})
	}
	for base, want := range map[string]string{
		"xyz123.api.infobip.com":          "https://xyz123.api.infobip.com/sms/3/messages",
		"https://xyz123.api.infobip.com/": "https://xyz123.api.infobip.com/sms/3/messages",
		" http://127.0.0.1:8080 ":         "http://127.0.0.1:8080/sms/3/messages",
	} {
		o := good()
		o.BaseURL = base
		b, err := NewInfobip(o)
		if err != nil {
			t.Errorf("%q: %v", base, err)
			continue
		}
		if b.endpoint != want {
			t.Errorf("%q: endpoint=%q, want %q", base, b.endpoint, want)
		}
	}
}

package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/config"
	"github.com/dynowatch/dynowatch/internal/parse"
)

var _ ChangeNotifier = (*PagerDuty)(nil)

// releaseEntries parses Heroku's release and deploy lines of app shop, and
// a router line that is neither.
func releaseEntries(t *testing.T) []parse.Entry {
	t.Helper()
	body := frameLine("<190>1 2026-11-30T14:02:03.120000+00:00 host app api - Release v138 created by ops@example.com") +
		frameLine("<190>1 2026-11-30T14:02:04+00:00 host app api - Deploy 4f070772 by ops@example.com") +
		frameLine(`<158>1 2026-11-30T14:02:05+00:00 host heroku router - at=info method=GET path="/" host=shop.herokuapp.com fwd="1.2.3.4" dyno=web.1 connect=1ms service=5ms status=200 bytes=10`)
	var out []parse.Entry
	for s := parse.NewScanner(strings.NewReader(body), parse.FormLogplex); s.Scan(); {
		e, err := s.Entry()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *e)
	}
	if len(out) != 3 || out[0].Kind != parse.KindRelease || out[1].Kind != parse.KindDeploy {
		t.Fatalf("parsed %+v, want a release, a deploy and a router line", out)
	}
	return out
}

// frameLine frames one syslog line as Logplex does: its length, a space.
func frameLine(s string) string { return fmt.Sprintf("%d %s", len(s), s) }

// TestPagerDutyChangeEventRequest: a release reaches PagerDuty as the
// documented change event, POST /v2/change/enqueue with routing_key,
// payload.summary, payload.timestamp, payload.source, custom_details and a
// link to the app's dashboard page; its 202 is success.
func TestPagerDutyChangeEventRequest(t *testing.T) {
	t.Parallel()
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/v2/change/enqueue" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s %s (%s), want POST /v2/change/enqueue of application/json", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		got = append(got, string(b))
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"success","message":"Change event processed"}`)
	}))
	defer srv.Close()
	pd := newTestPagerDuty(t, srv.URL)
	rows, err := Changes("shop", releaseEntries(t), []string{"pagerduty"}, "https://dw.example.com/", t0)
	if err != nil || len(rows) != 2 {
		t.Fatalf("Changes = %d rows, %v; want the release's and the deploy's", len(rows), err)
	}
	for _, r := range rows {
		var c Change
		if err := json.Unmarshal(r.Payload, &c); err != nil {
			t.Fatal(err)
		}
		if retry, err := pd.NotifyChange(context.Background(), &c); err != nil || retry {
			t.Fatalf("NotifyChange = %v, %v", retry, err)
		}
	}
	want := []string{
		`{"routing_key":"` + testPagerDutyKey + `","payload":{"summary":"shop: release v138 by ops@example.com","timestamp":"2026-11-30T14:02:03Z","source":"shop",` +
			`"custom_details":{"app":"shop","kind":"release","version":"v138","user":"ops@example.com","line":"Release v138 created by ops@example.com"}},` +
			`"links":[{"href":"https://dw.example.com/apps/shop","text":"Open shop in dynowatch"}]}`,
		`{"routing_key":"` + testPagerDutyKey + `","payload":{"summary":"shop: deploy 4f070772 by ops@example.com","timestamp":"2026-11-30T14:02:04Z","source":"shop",` +
			`"custom_details":{"app":"shop","kind":"deploy","commit":"4f070772","user":"ops@example.com","line":"Deploy 4f070772 by ops@example.com"}},` +
			`"links":[{"href":"https://dw.example.com/apps/shop","text":"Open shop in dynowatch"}]}`,
	}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Errorf("request %d:\n  %s\nwant\n  %s", i, at(got, i), want[i])
		}
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}

// The same line is the same delivery id: the outbox tells of it once.
// Lines of other times or apps are other changes.
func TestChangesAreOncePerLine(t *testing.T) {
	t.Parallel()
	es := releaseEntries(t)
	a, _ := Changes("shop", es[:1], []string{"pagerduty"}, "", t0)
	b, _ := Changes("shop", es[:1], []string{"pagerduty"}, "", t0.Add(time.Hour))
	other, _ := Changes("cart", es[:1], []string{"pagerduty"}, "", t0)
	if a[0].DeliveryID != b[0].DeliveryID || a[0].DeliveryID == other[0].DeliveryID || a[0].Status != StatusChange || a[0].AlertKey != "" {
		t.Errorf("delivery ids %s, %s (again), %s (cart); want the same line once, per app", a[0].DeliveryID, b[0].DeliveryID, other[0].DeliveryID)
	}
	if none, _ := Changes("shop", es, nil, "", t0); len(none) != 0 {
		t.Errorf("Changes for no channel = %d rows", len(none))
	}
}

// PagerDuty's answers to a change event are those of its alert events.
func TestPagerDutyChangeAnswers(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing or blank"]}`)
	}))
	defer srv.Close()
	retry, err := newTestPagerDuty(t, srv.URL).NotifyChange(context.Background(), &Change{App: "shop", Kind: "release", At: t0})
	if err == nil || retry || !strings.Contains(err.Error(), "400 Bad Request: invalid event: Event object is invalid") ||
		strings.Contains(err.Error(), testPagerDutyKey) {
		t.Errorf("NotifyChange = %v, %v; want the 400's reasons, no retry, no key", retry, err)
	}
}

// Only the channels that take changes are told of them, each under its
// cap: PAGERDUTY_CHANGE_CAP as written, 20 per 10m unset, none when off.
func TestChangeChannels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		capVar string
		want   config.StormCap
	}{
		{"", config.StormCap{Max: 20, Per: 10 * time.Minute}},
		{"PAGERDUTY_CHANGE_CAP=5 per 1h", config.StormCap{Max: 5, Per: time.Hour}},
		{"PAGERDUTY_CHANGE_CAP=off", config.StormCap{}},
	} {
		env := []string{"ALERT_WEBHOOK_URL=https://hooks.example.com/x", "PAGERDUTY_ROUTING_KEY=0123456789abcdef0123456789abcdef"}
		if tc.capVar != "" {
			env = append(env, tc.capVar)
		}
		cfg, err := config.Load(env)
		if err != nil {
			t.Fatal(err)
		}
		ns, err := Channels(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := ChangeChannels(ns); !reflect.DeepEqual(got, map[string]config.StormCap{"pagerduty": tc.want}) {
			t.Errorf("%q: ChangeChannels = %v, want pagerduty under %v", tc.capVar, got, tc.want)
		}
	}
	if _, err := config.Load([]string{"PAGERDUTY_CHANGE_CAP=lots"}); err == nil || !strings.Contains(err.Error(), "PAGERDUTY_CHANGE_CAP") {
		t.Errorf("PAGERDUTY_CHANGE_CAP=lots: %v, want an error naming the var", err)
	}
}

package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynowatch/dynowatch/internal/alert"
	"github.com/dynowatch/dynowatch/internal/auth"
	"github.com/dynowatch/dynowatch/internal/checks"
	"github.com/dynowatch/dynowatch/internal/store"
	"github.com/dynowatch/dynowatch/internal/store/storetest"
)

var now = time.Date(2024, 3, 15, 12, 30, 0, 0, time.UTC)

// retireFunc is a fake Alerts that only retires.
type retireFunc func(ctx context.Context, app string) error

func (f retireFunc) RetireApp(ctx context.Context, app string) error { return f(ctx, app) }

func (f retireFunc) Ack(context.Context, string, string, string) (alert.State, error) {
	return alert.State{}, errors.New("retireFunc: Ack is not this test's")
}

// newServer serves the API over an embedded store holding one app, "shop",
// with three events and a minute of requests, and a firing R14, with a real
// alert engine on that store.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	return newServerWith(t, func(st *store.Store) Alerts {
		e, err := alert.NewEngine(alert.EngineOptions{Store: st, Rules: alert.DefaultRules(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

// newServerWith is newServer with the alert engine alerts returns.
func newServerWith(t *testing.T, alerts func(*store.Store) Alerts) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st := storetest.MustOpenEmbedded(t)
	b := &store.Batch{App: "shop", Key: "frame:1", Received: now, State: store.AppDelta{LastMessage: now, DrainToken: "d.x", Messages: 3}}
	for i, code := range []string{"H12", "R14", "H12"} {
		b.Events = append(b.Events, store.Event{App: "shop", Time: now.Add(time.Duration(i-10) * time.Minute), Kind: "router", Code: code, Dyno: "web.1", Line: "line " + code})
	}
	if _, err := st.WriteBatches(ctx, []*store.Batch{b}); err != nil {
		t.Fatal(err)
	}
	r := store.Rollup{App: "shop", Dyno: "web.1", Minute: now.Add(-5 * time.Minute), Requests: 10, Status2xx: 9, Status5xx: 1}
	for i := 1; i <= 10; i++ {
		r.Service.Observe(i * 100)
	}
	if err := st.MergeRollups(ctx, []store.Rollup{r}, nil); err != nil {
		t.Fatal(err)
	}
	a := &alert.State{Key: "r14|shop|web.1", Rule: alert.RuleR14, App: "shop", Dyno: "web.1", Code: "R14", Severity: alert.Warning, Phase: alert.PhaseFiring,
		Summary: "R14 memory quota exceeded on web.1", Evidence: []string{"line R14"}, StartedAt: now.Add(-10 * time.Minute), FiredAt: now.Add(-10 * time.Minute), LastEventAt: now.Add(-9 * time.Minute)}
	if ok, err := st.SaveAlert(ctx, a, 0, nil); err != nil || !ok {
		t.Fatalf("SaveAlert = %v, %v", ok, err)
	}
	v := 7.0
	for i, ok := range []bool{true, true, false, true} {
		if err := st.RecordCheck(ctx, checks.Result{Check: "queue", Kind: "redis", Time: now.Add(time.Duration(i-4) * time.Minute), OK: ok,
			Latency: 3 * time.Millisecond, Value: &v}); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	if err := Register(mux, Options{Store: st, Alerts: alerts(st), Rules: alert.DefaultRules(), Guard: auth.NewDashboard([]string{"pw"}, []string{"view-pw"}, "dynowatch"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, method, path, pass string) (int, map[string]any) {
	t.Helper()
	if method == "POST" {
		path, raw, _ := strings.Cut(path, " ")
		return callBody(t, srv, method, path, pass, raw)
	}
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	if pass != "" {
		req.SetBasicAuth("someone", pass)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("%s %s: %v in %q", method, path, err, raw)
		}
	}
	return resp.StatusCode, body
}

func callBody(t *testing.T, srv *httptest.Server, method, path, pass, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.SetBasicAuth("someone", pass)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestAPI(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name, method, path, pass string
		status                   int
		check                    func(t *testing.T, body map[string]any)
	}{
		{"no password", "GET", "/api/v1/apps", "", 401, nil},
		{"wrong password", "GET", "/api/v1/apps", "nope", 401, nil},
		{"apps", "GET", "/api/v1/apps", "pw", 200, func(t *testing.T, b map[string]any) {
			apps := b["apps"].([]any)
			a := apps[0].(map[string]any)
			if len(apps) != 1 || a["name"] != "shop" || a["drain_token"] != "d.x" || a["last_message"] != "2024-03-15T12:30:00Z" {
				t.Errorf("apps = %v", apps)
			}
		}},
		{"events newest first, paged", "GET", "/api/v1/apps/shop/events?limit=2", "pw", 200, func(t *testing.T, b map[string]any) {
			ev := b["events"].([]any)
			if len(ev) != 2 || ev[0].(map[string]any)["line"] != "line H12" || ev[1].(map[string]any)["code"] != "R14" || b["next"] == nil {
				t.Errorf("body = %v", b)
			}
		}},
		{"events by code", "GET", "/api/v1/apps/shop/events?code=R14", "pw", 200, func(t *testing.T, b map[string]any) {
			if ev := b["events"].([]any); len(ev) != 1 {
				t.Errorf("events = %v", ev)
			}
		}},
		{"events since a duration", "GET", "/api/v1/apps/shop/events?since=9m30s", "pw", 200, func(t *testing.T, b map[string]any) {
			if ev := b["events"].([]any); len(ev) != 2 {
				t.Errorf("events in the last 9m30s = %v, want the two newest", ev)
			}
		}},
		{"bad limit", "GET", "/api/v1/apps/shop/events?limit=0", "pw", 400, func(t *testing.T, b map[string]any) {
			if !strings.Contains(b["error"].(string), "limit") {
				t.Errorf("error = %v", b["error"])
			}
		}},
		{"series", "GET", "/api/v1/apps/shop/series?metric=requests", "pw", 200, func(t *testing.T, b map[string]any) {
			s := b["series"].([]any)
			if b["metric"] != "requests" || b["step"] != "1m" || len(s) != 1 {
				t.Fatalf("body = %v", b)
			}
			pts := s[0].(map[string]any)["points"].([]any)
			total := 0.0
			for _, p := range pts {
				total += p.([]any)[1].(float64)
			}
			if total != 10 {
				t.Errorf("requests sum to %v, want 10: %v", total, pts)
			}
		}},
		{"p95", "GET", "/api/v1/apps/shop/series?metric=p95&from=2024-03-15T12:20:00Z&to=2024-03-15T12:30:00Z", "pw", 200, func(t *testing.T, b map[string]any) {
			pts := b["series"].([]any)[0].(map[string]any)["points"].([]any)
			var v float64
			for _, p := range pts {
				v = max(v, p.([]any)[1].(float64))
			}
			if v < 850 || v > 1100 {
				t.Errorf("p95 = %v, want about 1000", v)
			}
		}},
		{"unknown metric", "GET", "/api/v1/apps/shop/series?metric=No-Such!", "pw", 400, func(t *testing.T, b map[string]any) {
			if !strings.Contains(b["error"].(string), "requests") {
				t.Errorf("error does not list the metrics: %v", b["error"])
			}
		}},
		{"codes", "GET", "/api/v1/apps/shop/series?metric=codes", "pw", 200, nil},
		{"no metric", "GET", "/api/v1/apps/shop/series", "pw", 400, nil},
		{"from after to", "GET", "/api/v1/apps/shop/series?metric=requests&from=2024-03-16T00:00:00Z", "pw", 400, nil},
		{"bad step", "GET", "/api/v1/apps/shop/series?metric=requests&step=1s", "pw", 400, nil},
		{"alerts", "GET", "/api/v1/alerts?state=firing&app=shop", "pw", 200, func(t *testing.T, b map[string]any) {
			al := b["alerts"].([]any)
			if len(al) != 1 || al[0].(map[string]any)["code"] != "R14" || al[0].(map[string]any)["state"] != "firing" {
				t.Errorf("alerts = %v", al)
			}
		}},
		{"checks", "GET", "/api/v1/checks", "pw", 200, func(t *testing.T, b map[string]any) {
			c := b["checks"].([]any)
			if len(c) != 1 {
				t.Fatalf("checks = %v", c)
			}
			q := c[0].(map[string]any)
			if q["name"] != "queue" || q["ok"] != true || q["value"] != 7.0 || q["uptime"].(map[string]any)["24h"] != 0.75 {
				t.Errorf("check = %v", q)
			}
		}},
		{"alerts, bad state", "GET", "/api/v1/alerts?state=angry", "pw", 400, nil},
		{"the view password reads", "GET", "/api/v1/alerts", "view-pw", 200, nil},
		{"the view password may not silence", "POST", `/api/v1/silences {"app":"shop","duration":"2h"}`, "view-pw", 403, func(t *testing.T, b map[string]any) {
			if !strings.Contains(b["error"].(string), "DASHBOARD_PASSWORD") {
				t.Errorf("error = %v, want it to name the password that may act", b["error"])
			}
		}},
		{"silence an app", "POST", `/api/v1/silences {"app":"shop","duration":"2h","reason":"planned maintenance"}`, "pw", 201, func(t *testing.T, b map[string]any) {
			if b["until"] != "2024-03-15T14:30:00Z" || b["app"] != "shop" {
				t.Errorf("silence = %v", b)
			}
		}},
		{"silence without a target", "POST", `/api/v1/silences {"duration":"2h"}`, "pw", 400, nil},
		{"silence of no app there can be", "POST", `/api/v1/silences {"app":"no such app!!","duration":"2h"}`, "pw", 400, nil},
		{"silence with a duration and an until", "POST", `/api/v1/silences {"app":"shop","duration":"2h","until":"2020-01-01T00:00:00Z"}`, "pw", 400, nil},
		{"silence with an unknown field", "POST", `/api/v1/silences {"app":"shop","for":"2h"}`, "pw", 400, nil},
		{"silences", "GET", "/api/v1/silences", "pw", 200, func(t *testing.T, b map[string]any) {
			if sl := b["silences"].([]any); len(sl) != 1 || sl[0].(map[string]any)["reason"] != "planned maintenance" {
				t.Errorf("silences = %v", sl)
			}
		}},
		{"the view password may not end a silence", "DELETE", "/api/v1/silences/1", "view-pw", 403, nil},
		{"end the silence", "DELETE", "/api/v1/silences/1", "pw", 204, nil},
		{"no silences left", "GET", "/api/v1/silences", "pw", 200, func(t *testing.T, b map[string]any) {
			if sl := b["silences"].([]any); len(sl) != 0 {
				t.Errorf("silences = %v", sl)
			}
		}},
		{"the view password may not delete", "DELETE", "/api/v1/apps/shop", "view-pw", 403, nil},
		{"delete unknown app", "DELETE", "/api/v1/apps/other", "pw", 404, nil},
		{"delete", "DELETE", "/api/v1/apps/shop", "pw", 204, nil},
		{"gone", "GET", "/api/v1/apps", "pw", 200, func(t *testing.T, b map[string]any) {
			if apps := b["apps"].([]any); len(apps) != 0 {
				t.Errorf("apps after delete = %v", apps)
			}
		}},
		{"audit log, newest first", "GET", "/api/v1/audit", "view-pw", 200, func(t *testing.T, b map[string]any) {
			var got []string
			for _, e := range b["entries"].([]any) {
				e := e.(map[string]any)
				got = append(got, fmt.Sprintf("%s %s %s %v %v", e["at"], e["actor"], e["action"], e["app"], e["reason"]))
			}
			want := []string{
				"2024-03-15T12:30:00Z someone delete_app shop <nil>",
				"2024-03-15T12:30:00Z someone unsilence shop <nil>",
				"2024-03-15T12:30:00Z someone silence shop planned maintenance",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("audit entries (-want +got):\n%s", diff)
			}
		}},
		{"audit log, paged", "GET", "/api/v1/audit?limit=1", "pw", 200, func(t *testing.T, b map[string]any) {
			if len(b["entries"].([]any)) != 1 || b["next"] == nil {
				t.Errorf("body = %v, want one entry and next", b)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, srv, tt.method, tt.path, tt.pass)
			if status != tt.status {
				t.Fatalf("status %d, want %d (%v)", status, tt.status, body)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

// TestSeriesOverTooManyPointsIsABadRequest: a range of ten years in steps
// of a minute is the caller's mistake, answered 400 with the step to use.
func TestSeriesOverTooManyPointsIsABadRequest(t *testing.T) {
	srv := newServer(t)
	status, body := call(t, srv, "GET", "/api/v1/apps/shop/series?metric=requests&from=3650d&step=1m", "pw")
	if msg, _ := body["error"].(string); status != 400 || !strings.Contains(msg, "use a step of at least") {
		t.Errorf("status %d, error %q; want 400 saying which step to use", status, msg)
	}
	if status, _ := call(t, srv, "GET", "/api/v1/apps/shop/series?metric=requests&from=3650d&step=1d", "pw"); status != 200 {
		t.Errorf("ten years by day: status %d, want 200", status)
	}
}

// TestDeleteAppEndsItsAlertsFirst: DELETE /api/v1/apps/{app} has the alert
// engine end the app's alerts before the store forgets them, so that
// "resolved" reaches whoever heard them fire; if it cannot, the app is kept
// and the caller may try again.
func TestDeleteAppEndsItsAlertsFirst(t *testing.T) {
	for _, tt := range []struct {
		name       string
		retireErr  error
		wantStatus int
		wantAlerts int // shop's alerts left
	}{
		{"ended, then forgotten", nil, http.StatusNoContent, 0},
		{"not ended, kept", errors.New("database down"), http.StatusInternalServerError, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var retired []string
			var srv *httptest.Server
			srv = newServerWith(t, func(*store.Store) Alerts {
				return retireFunc(func(ctx context.Context, app string) error {
					if _, b := call(t, srv, "GET", "/api/v1/alerts?app="+app, "pw"); len(b["alerts"].([]any)) != 1 {
						t.Errorf("RetireApp(%s) called after its alerts were forgotten: %v", app, b)
					}
					retired = append(retired, app)
					return tt.retireErr
				})
			})
			if status, _ := call(t, srv, "DELETE", "/api/v1/apps/shop", "pw"); status != tt.wantStatus {
				t.Errorf("DELETE: %d, want %d", status, tt.wantStatus)
			}
			if strings.Join(retired, " ") != "shop" {
				t.Errorf("RetireApp called for %v, want shop once", retired)
			}
			if _, b := call(t, srv, "GET", "/api/v1/alerts?app=shop", "pw"); len(b["alerts"].([]any)) != tt.wantAlerts {
				t.Errorf("shop's alerts after DELETE: %v, want %d", b, tt.wantAlerts)
			}
		})
	}
}

// TestActingFromAnotherSiteIsRefused: a page elsewhere can make the browser
// post to the API with the user's basic auth (a form sends text/plain,
// which the JSON decoder would read); the browser says it comes from
// another site, and the API refuses it and records nothing.
func TestActingFromAnotherSiteIsRefused(t *testing.T) {
	srv := newServer(t)
	for _, site := range []string{"cross-site", "same-site"} {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/silences", strings.NewReader(`{"app":"shop","duration":"2h"}`))
		req.SetBasicAuth("someone", "pw")
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Sec-Fetch-Site", site)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST from a %s page: %d, want 403", site, resp.StatusCode)
		}
	}
	if _, b := call(t, srv, "GET", "/api/v1/silences", "pw"); len(b["silences"].([]any)) != 0 {
		t.Errorf("silences after refused posts: %v", b)
	}
	if _, b := call(t, srv, "GET", "/api/v1/audit", "pw"); len(b["entries"].([]any)) != 0 {
		t.Errorf("audit entries after refused posts: %v", b)
	}
}

// TestAck: POST /api/v1/alerts/{key}/ack acknowledges a firing alert
// through the engine, GET /api/v1/alerts shows who, when and why, and the
// mistakes a script makes are answered with what is wrong.
func TestAck(t *testing.T) {
	srv := newServer(t)
	key := "/api/v1/alerts/" + url.PathEscape("r14|shop|web.1") + "/ack"
	for _, tt := range []struct {
		name, path, pass, body string
		status                 int
		err                    string
	}{
		{"no password", key, "", `{"by":"Ana"}`, http.StatusUnauthorized, ""},
		{"no name", key, "pw", `{"reason":"x"}`, http.StatusBadRequest, "give a name"},
		{"unknown field", key, "pw", `{"who":"Ana"}`, http.StatusBadRequest, `{"by":"Ana","reason":"restarting web.1"}`},
		{"unknown alert", "/api/v1/alerts/r14%7Cshop%7Cweb.9/ack", "pw", `{"by":"Ana"}`, http.StatusNotFound, "no such alert"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := callBody(t, srv, "POST", tt.path, tt.pass, tt.body)
			if status != tt.status || !strings.Contains(fmt.Sprint(body["error"]), tt.err) {
				t.Fatalf("%d %v, want %d with an error saying %q", status, body, tt.status, tt.err)
			}
		})
	}
	status, body := callBody(t, srv, "POST", key, "pw", `{"by":"Ana","reason":"restarting web.1"}`)
	wantAck := map[string]any{"by": "Ana", "at": "2024-03-15T12:30:00Z", "reason": "restarting web.1"}
	if status != http.StatusOK || !reflect.DeepEqual(body["ack"], wantAck) || body["key"] != "r14|shop|web.1" {
		t.Fatalf("ack: %d %v, want 200 with ack %v", status, body, wantAck)
	}
	if status, body := callBody(t, srv, "POST", key, "pw", `{"by":"Bo"}`); status != http.StatusOK || !reflect.DeepEqual(body["ack"], wantAck) {
		t.Fatalf("second ack: %d %v, want Ana's kept", status, body)
	}
	_, audit := call(t, srv, "GET", "/api/v1/audit", "pw")
	wantAudit := []any{map[string]any{"id": 1.0, "at": "2024-03-15T12:30:00Z", "actor": "someone", "action": "ack", "app": "shop", "rule": "r14",
		"key": "r14|shop|web.1", "reason": "restarting web.1", "detail": "as Ana"}}
	if diff := cmp.Diff(wantAudit, audit["entries"]); diff != "" {
		t.Errorf("audit log after two acks (-want +got):\n%s", diff)
	}
	if status, _ := callBody(t, srv, "POST", key, "view-pw", `{"by":"Vic"}`); status != http.StatusForbidden {
		t.Errorf("ack with the view password: %d, want 403", status)
	}
	_, list := call(t, srv, "GET", "/api/v1/alerts?state=firing", "pw")
	if as := list["alerts"].([]any); len(as) != 1 || !reflect.DeepEqual(as[0].(map[string]any)["ack"], wantAck) {
		t.Fatalf("GET /api/v1/alerts: %v, want the R14 with Ana's ack", list)
	}
}

// TestSilenceJSON: a silence is written and read in the snake_case of the
// other records: POST takes the fields the README and the handler name
// (created_by among them), and the answer and GET /api/v1/silences carry
// exactly these keys, whatever the Go fields are called.
func TestSilenceJSON(t *testing.T) {
	srv := newServer(t)
	status, got := call(t, srv, "POST", `/api/v1/silences {"app":"shop","rule":"H_CODES","duration":"2h","reason":"deploy","created_by":"ops@example.com"}`, "pw")
	want := map[string]any{"id": 1.0, "app": "shop", "rule": "h_codes", "until": "2024-03-15T14:30:00Z", "reason": "deploy",
		"created_by": "ops@example.com", "created_at": "2024-03-15T12:30:00Z"}
	if status != 201 || !reflect.DeepEqual(got, want) {
		t.Fatalf("POST: %d %v, want 201 %v", status, got, want)
	}
	if _, b := call(t, srv, "GET", "/api/v1/silences", "view-pw"); !reflect.DeepEqual(b, map[string]any{"silences": []any{want}}) {
		t.Errorf("GET: %v, want the silence as POST answered it", b)
	}
	// The key form, until instead of duration, and created_by left to the
	// basic-auth user.
	status, got = call(t, srv, "POST", `/api/v1/silences {"key":"r14|shop|web.1","until":"2024-03-15T13:00:00Z"}`, "pw")
	want = map[string]any{"id": 2.0, "key": "r14|shop|web.1", "until": "2024-03-15T13:00:00Z", "created_by": "someone", "created_at": "2024-03-15T12:30:00Z"}
	if status != 201 || !reflect.DeepEqual(got, want) {
		t.Errorf("POST by key: %d %v, want 201 %v", status, got, want)
	}
	// A Go field name is no field of the API.
	if status, b := call(t, srv, "POST", `/api/v1/silences {"app":"shop","duration":"2h","createdby":"x"}`, "pw"); status != 400 ||
		!strings.Contains(fmt.Sprint(b["error"]), "createdby") {
		t.Errorf("POST with createdby: %d %v, want 400 naming it", status, b)
	}
}

package main

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// fakePlatformAPI answers as the Heroku Platform API does, for the key
// "HRKU-good": app info with the generation object (version=3.sdk), log
// drain and telemetry drain creation, and Heroku's error bodies. It fails
// the test on any request the real API would not get from dynowatch add.
type fakePlatformAPI struct {
	t      *testing.T
	mu     sync.Mutex
	posted []string // "METHOD path body" of each create
}

// Apps of the fake account: name → generation, id.
var fakeApps = map[string][2]string{
	"my-shop":  {"cedar", "01234567-89ab-cdef-0123-456789abcdef"},
	"fir-shop": {"fir", "7a3e9f10-5c2b-4d8e-9f61-0b2c4d6e8a10"},
}

func (f *fakePlatformAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := f.t
	w.Header().Set("Content-Type", "application/json")
	if got := r.Header.Get("Accept"); got != "application/vnd.heroku+json; version=3.sdk" {
		t.Errorf("%s %s: Accept %q, want the 3.sdk variant that carries generation", r.Method, r.URL.Path, got)
	}
	if r.Header.Get("Authorization") != "Bearer HRKU-good" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"id":"unauthorized","message":"Invalid credentials provided."}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("POST %s: Content-Type %q, want application/json", r.URL.Path, r.Header.Get("Content-Type"))
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/apps/"):
		name := strings.TrimPrefix(r.URL.Path, "/apps/")
		app, ok := fakeApps[name]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"id":"not_found","message":"Couldn't find that app.","resource":"app"}`)
			return
		}
		io.WriteString(w, `{"acm":false,"archived_at":null,"buildpack_provided_description":null,"build_stack":{"id":"ee582d3c-717d-4a57-ba5f-8b3a39f3a817","name":"heroku-24"},"created_at":"2026-01-12T09:30:00Z",`+
			`"generation":{"id":"b1c2d3e4-0000-4000-8000-`+map[string]string{"cedar": "00000000cedar", "fir": "0000000000fir"}[app[0]]+`","name":"`+app[0]+`"},`+
			`"git_url":"https://git.heroku.com/`+name+`.git","id":"`+app[1]+`","internal_routing":null,"maintenance":false,"name":"`+name+`",`+
			`"owner":{"email":"ops@example.com","id":"5d2e6f70-1a2b-4c3d-8e9f-0a1b2c3d4e5f"},"region":{"id":"59accabd-516d-4f0e-83e6-6e3757701145","name":"us"},`+
			`"organization":null,"team":null,"space":null,"released_at":"2026-11-30T10:00:00Z","repo_size":null,"slug_size":null,`+
			`"stack":{"id":"ee582d3c-717d-4a57-ba5f-8b3a39f3a817","name":"heroku-24"},"updated_at":"2026-11-30T10:00:00Z","web_url":"https://`+name+`-1a2b3c4d5e6f.herokuapp.com/"}`)
	case r.Method == http.MethodPost && r.URL.Path == "/apps/my-shop/log-drains":
		f.record(r, body)
		var req map[string]any
		json.Unmarshal(body, &req)
		w.WriteHeader(http.StatusCreated)
		u, _ := json.Marshal(req["url"])
		io.WriteString(w, `{"addon":null,"created_at":"2026-11-30T18:00:00Z","id":"3f2b1c0d-9e8f-4a7b-6c5d-4e3f2a1b0c9d","token":"d.7f3c1a2b-4c5d-6e7f-8a9b-0c1d2e3f4a5b","updated_at":"2026-11-30T18:00:00Z","url":`+string(u)+`}`)
	case r.Method == http.MethodPost && r.URL.Path == "/telemetry-drains":
		f.record(r, body)
		var req struct {
			Owner    json.RawMessage `json:"owner"`
			Signals  json.RawMessage `json:"signals"`
			Exporter json.RawMessage `json:"exporter"`
		}
		json.Unmarshal(body, &req)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"created_at":"2026-11-30T18:00:00Z","exporter":`+string(req.Exporter)+`,"id":"8c1e4b2a-6d3f-4a9e-b7c5-2f1e0d9c8b7a","owner":`+string(req.Owner)+`,"signals":`+string(req.Signals)+`,"updated_at":"2026-11-30T18:00:00Z"}`)
	default:
		t.Errorf("unexpected request %s %s %s", r.Method, r.URL.Path, body)
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"id":"not_found","message":"The requested API endpoint was not found."}`)
	}
}

func (f *fakePlatformAPI) record(r *http.Request, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posted = append(f.posted, r.Method+" "+r.URL.Path+" "+string(body))
}

func (f *fakePlatformAPI) creates() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.posted...)
}

func startFakePlatformAPI(t *testing.T) (*fakePlatformAPI, string) {
	f := &fakePlatformAPI{t: t}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// TestAddPrints: without --apply, dynowatch add reads the app's generation
// and prints the CLI command that fits it, creating nothing.
func TestAddPrints(t *testing.T) {
	t.Parallel()
	api, apiURL := startFakePlatformAPI(t)
	env := []string{"HEROKU_API_KEY=HRKU-good", "HEROKU_API_URL=" + apiURL, "DYNOWATCH_URL=https://dw.example.com", "DRAIN_SECRET=s3cret"}
	for app, want := range map[string]string{
		"my-shop": "my-shop is a Cedar app: its logs come through a log drain.\n" +
			"heroku drains:add https://dynowatch:$DRAIN_SECRET@dw.example.com/drain/my-shop -a my-shop\n" +
			"heroku labs:enable log-runtime-metrics -a my-shop\n",
		"fir-shop": "fir-shop is a Fir app: its logs and metrics come through a telemetry drain.\n" +
			`heroku telemetry:add https://dw.example.com/otlp/fir-shop --app fir-shop --signals logs,metrics --transport http --headers "{\"Authorization\":\"Bearer $DRAIN_SECRET\"}"` + "\n",
	} {
		stdout, stderr, code := runMain(t, env, "", "add", app)
		if code != 0 || stdout != want {
			t.Errorf("add %s: exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", app, code, stdout, want, stderr)
		}
		if strings.Contains(stdout+stderr, "s3cret") {
			t.Errorf("add %s printed DRAIN_SECRET's value: %s%s", app, stdout, stderr)
		}
	}
	if c := api.creates(); len(c) != 0 {
		t.Errorf("add without --apply created %q", c)
	}
}

// TestAddApply: with --apply, a Cedar app gets a log drain with the drain
// secret as its password, and a Fir app a telemetry drain with the body
// `heroku telemetry:add --transport http` sends.
func TestAddApply(t *testing.T) {
	t.Parallel()
	api, apiURL := startFakePlatformAPI(t)
	env := []string{"HEROKU_API_KEY=HRKU-good", "HEROKU_API_URL=" + apiURL, "DYNOWATCH_URL=https://dw.example.com", "DRAIN_SECRET=old,s3cret"}
	stdout, stderr, code := runMain(t, env, "", "add", "my-shop", "--apply")
	if code != 0 || !strings.HasPrefix(stdout, "my-shop is a Cedar app: added log drain https://dynowatch:") {
		t.Errorf("add my-shop --apply: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	stdout, stderr, code = runMain(t, env, "", "add", "--apply", "fir-shop")
	if want := "fir-shop is a Fir app: added telemetry drain https://dw.example.com/otlp/fir-shop to fir-shop (logs, metrics, with DRAIN_SECRET as bearer token).\n"; code != 0 || stdout != want {
		t.Errorf("add fir-shop --apply: exit %d, stdout %q, want %q; stderr %q", code, stdout, want, stderr)
	}
	if strings.Contains(stdout+stderr, "s3cret") {
		t.Errorf("add --apply printed DRAIN_SECRET's value: %s", stdout+stderr)
	}
	want := []string{
		`POST /apps/my-shop/log-drains {"url":"https://dynowatch:s3cret@dw.example.com/drain/my-shop"}`,
		`POST /telemetry-drains {"owner":{"type":"app","id":"7a3e9f10-5c2b-4d8e-9f61-0b2c4d6e8a10"},"signals":["logs","metrics"],"exporter":{"type":"otlphttp","endpoint":"https://dw.example.com/otlp/fir-shop","headers":{"Authorization":"Bearer s3cret"}}}`,
	}
	if got := api.creates(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAddErrors: Heroku's error answers and missing config come out as
// errors that say what to fix, and nothing is created.
func TestAddErrors(t *testing.T) {
	t.Parallel()
	api, apiURL := startFakePlatformAPI(t)
	good := []string{"HEROKU_API_URL=" + apiURL, "DYNOWATCH_URL=https://dw.example.com", "DRAIN_SECRET=s3cret"}
	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"no such app", append([]string{"HEROKU_API_KEY=HRKU-good"}, good...), []string{"add", "no-such-app"}, 1,
			"no such app, or the API key has no access to it (Heroku API answered 404 not_found: Couldn't find that app.)"},
		{"bad key", append([]string{"HEROKU_API_KEY=HRKU-revoked"}, good...), []string{"add", "fir-shop", "--apply"}, 1,
			"the Heroku API refused the key: check HEROKU_API_KEY and its access to the app (Heroku API answered 401 unauthorized: Invalid credentials provided.)"},
		{"no key", good, []string{"add", "my-shop"}, 1, "needs config var HEROKU_API_KEY"},
		{"apply without URL", []string{"HEROKU_API_KEY=HRKU-good", "HEROKU_API_URL=" + apiURL, "DRAIN_SECRET=s3cret"}, []string{"add", "my-shop", "--apply"}, 1, "needs config var DYNOWATCH_URL"},
		{"apply without secret", []string{"HEROKU_API_KEY=HRKU-good", "HEROKU_API_URL=" + apiURL, "DYNOWATCH_URL=https://dw.example.com"}, []string{"add", "my-shop", "--apply"}, 1, "needs config var DRAIN_SECRET"},
		{"no app", append([]string{"HEROKU_API_KEY=HRKU-good"}, good...), []string{"add"}, 2, "add needs the app's name"},
		{"bad flag", append([]string{"HEROKU_API_KEY=HRKU-good"}, good...), []string{"add", "my-shop", "--force"}, 2, `got "--force"`},
	} {
		var out, errOut strings.Builder
		err := run(t.Context(), append([]string{"dynowatch"}, c.args...), c.env, strings.NewReader(""), &out, &errOut)
		code := 0
		if err != nil {
			code = 1
			if ee, ok := err.(*exitError); ok {
				code = ee.code
			}
		}
		if code != c.code || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: exit %d, error %v; want exit %d and an error with %q", c.name, code, err, c.code, c.want)
		}
	}
	if c := api.creates(); len(c) != 0 {
		t.Errorf("failed adds created %q", c)
	}
}

// TestOverviewAddBox: a running dynowatch's overview shows both ways in,
// with its public URL and drain secret: the Cedar drain URL, and the Fir
// telemetry drain with the secret as bearer token in its headers.
func TestOverviewAddBox(t *testing.T) {
	t.Parallel()
	base, _, _ := startServer(t, map[string]string{"DRAIN_SECRET": "old,s3cret", "DASHBOARD_PASSWORD": "dash-pw", "DYNOWATCH_URL": "https://dw.example.com"})
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.SetBasicAuth("ana", "dash-pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := html.UnescapeString(string(b))
	for _, want := range []string{
		"heroku drains:add https://dynowatch:s3cret@dw.example.com/drain/APP -a APP",
		`heroku telemetry:add https://dw.example.com/otlp/APP --app APP --signals logs,metrics --transport http --headers '{"Authorization":"Bearer s3cret"}'`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("overview lacks %s", want)
		}
	}
}

// TestREADMEAddExample runs the README's `dynowatch add` examples as the
// dyno of my-dynowatch would (DYNOWATCH_URL and DRAIN_SECRET set, the API
// key from --env) against the fake Platform API, and compares each output
// with the README's.
func TestREADMEAddExample(t *testing.T) {
	t.Parallel()
	m := regexp.MustCompile(`(?m)^    \$ heroku run -a my-dynowatch --env "HEROKU_API_KEY=\$\(heroku auth:token\)" -- dynowatch (add [^\n]*)\n((?:    [^$\n][^\n]*\n)+)`).FindAllStringSubmatch(readme(t), -1)
	if len(m) != 3 {
		t.Fatalf("README.md shows %d `dynowatch add` examples with their output, want 3 (Cedar, Fir, Fir --apply)", len(m))
	}
	api, apiURL := startFakePlatformAPI(t)
	env := []string{"HEROKU_API_KEY=HRKU-good", "HEROKU_API_URL=" + apiURL, "DYNOWATCH_URL=https://my-dynowatch.herokuapp.com", "DRAIN_SECRET=s3cret"}
	for _, ex := range m {
		stdout, stderr, code := runMain(t, env, "", strings.Fields(ex[1])...)
		if want := strings.ReplaceAll(ex[2], "\n    ", "\n")[4:]; code != 0 || stdout != want {
			t.Errorf("dynowatch %s: exit %d, stdout:\n%s\nwant the README's:\n%s\nstderr: %s", ex[1], code, stdout, want, stderr)
		}
	}
	if got := api.creates(); len(got) != 1 || !strings.HasPrefix(got[0], "POST /telemetry-drains ") {
		t.Errorf("the README's examples made %q, want the one telemetry drain of --apply", got)
	}
}

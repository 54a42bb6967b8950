package parse

import "testing"

func TestRedactRouter(t *testing.T) {
	const line = `at=info method=GET path="/a/b?token=x&y=1" host=h request_id=r fwd="1.2.3.4, 5.6.7.8" dyno=web.1 status=200`
	tests := []struct {
		name               string
		in                 string
		keepQuery, keepIPs bool
		want               string
	}{
		{"default", line, false, false, `at=info method=GET path="/a/b" host=h request_id=r dyno=web.1 status=200`},
		{"keep query", line, true, false, `at=info method=GET path="/a/b?token=x&y=1" host=h request_id=r dyno=web.1 status=200`},
		{"keep IPs", line, false, true, `at=info method=GET path="/a/b" host=h request_id=r fwd="1.2.3.4, 5.6.7.8" dyno=web.1 status=200`},
		{"unquoted fwd last", `at=error code=H10 path=/x?q fwd=17.17.17.17`, false, false, `at=error code=H10 path=/x`},
		{"no path or fwd", `at=info status=200`, false, false, `at=info status=200`},
		{"key inside a value", `at=info desc="xfwd=1" path="/"`, false, false, `at=info desc="xfwd=1" path="/"`},
	}
	for _, tt := range tests {
		if got := redactRouter(tt.in, tt.keepQuery, tt.keepIPs); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestLine(t *testing.T) {
	e, err := parseOne(t, `2024-03-15T12:00:00Z heroku[router]: at=error code=H12 path="/a?b=c" fwd="1.2.3.4" dyno=web.1`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.Line(false, false), `2024-03-15T12:00:00Z heroku[router]: at=error code=H12 path="/a" dyno=web.1`; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	e, _ = parseOne(t, "2024-03-15T12:00:00Z app: no process")
	if got, want := e.Line(false, false), "2024-03-15T12:00:00Z app: no process"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
}

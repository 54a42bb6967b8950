package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServerCommandsPrintHelpWithoutStarting: `dynowatch web --help` prints
// the usage and exits 0; it must not start a server.
func TestServerCommandsPrintHelpWithoutStarting(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{"PORT": "0"})
	for _, cmd := range []string{"web", "worker", "all", "migrate"} {
		out, _, code := runMain(t, env, "", cmd, "--help")
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: exit %d, stdout %q; want the usage and 0", cmd, code, out)
		}
	}
	if _, errOut, code := runMain(t, env, "", "web", "--port=5000"); code != 2 || !strings.Contains(errOut, "Usage:") {
		t.Errorf("web --port=5000: exit %d; want 2 and the usage", code)
	}
}

// TestRefusesToStartOnHerokuWithoutDatabaseURL: on a dyno the embedded store
// would live on a disk every restart wipes, so a missing DATABASE_URL stops
// dynowatch with an error naming it, as for missing secrets.
func TestRefusesToStartOnHerokuWithoutDatabaseURL(t *testing.T) {
	t.Parallel()
	// DATABASE_URL and DYNOWATCH_URL unset.
	env := envOf(map[string]string{"DYNO": "web.1", "PORT": "0", "DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw",
		"DYNOWATCH_DB": filepath.Join(t.TempDir(), "h.db")})
	var out syncBuffer
	err := run(context.Background(), []string{"dynowatch", "web"}, env, strings.NewReader(""), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "config var DATABASE_URL is not set") || !strings.Contains(err.Error(), "heroku addons:create heroku-postgresql") {
		t.Fatalf("err %v, want one that says DATABASE_URL is missing and how to add it", err)
	}
}

// TestBadDatabaseURLFailsWithTheReason: a DATABASE_URL that can never work
// (an unknown sslmode) stops dynowatch at once with the reason, without the
// password, instead of being retried forever.
func TestBadDatabaseURLFailsWithTheReason(t *testing.T) {
	t.Parallel()
	// DYNO and DYNOWATCH_URL unset.
	env := envOf(map[string]string{"PORT": "0", "DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw",
		"DATABASE_URL": "postgres://u:topsecret9@db.example.com:5432/d?sslmode=bogus"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out syncBuffer
	err := run(ctx, []string{"dynowatch", "web"}, env, strings.NewReader(""), &out, &out)
	if ctx.Err() != nil {
		t.Fatalf("still retrying after 10 s:\n%s", out.String())
	}
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || !strings.Contains(err.Error(), "sslmode is invalid") {
		t.Fatalf("err %v, want one naming DATABASE_URL and the bad sslmode", err)
	}
	if strings.Contains(err.Error()+out.String(), "topsecret9") {
		t.Errorf("the password leaked: %v\n%s", err, out.String())
	}
}

// TestConfiguredDrainSecretIsNotLogged: a DRAIN_SECRET the user set is never
// written to the log; the drain URL shows $DRAIN_SECRET instead, and says how
// to expose a local dynowatch to Heroku when DYNOWATCH_URL is unset.
func TestConfiguredDrainSecretIsNotLogged(t *testing.T) {
	t.Parallel()
	_, logs, stop := startServer(t, map[string]string{"DRAIN_SECRET": "my-own-secret-42", "DASHBOARD_PASSWORD": "pw"})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	l := logs.String()
	if strings.Contains(l, "my-own-secret-42") || !strings.Contains(l, "dynowatch:$DRAIN_SECRET@localhost") {
		t.Errorf("logs show the configured secret, or no drain URL:\n%s", l)
	}
	if !strings.Contains(l, "set DYNOWATCH_URL") {
		t.Errorf("logs don't say how to expose a local dynowatch to Heroku:\n%s", l)
	}
	_, logs, stop = startServer(t, map[string]string{"DRAIN_SECRET": "s", "DASHBOARD_PASSWORD": "pw", "DYNOWATCH_URL": "https://dw.example.com"})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); strings.Contains(l, "set DYNOWATCH_URL") || !strings.Contains(l, "https://dynowatch:$DRAIN_SECRET@dw.example.com/drain/APP") {
		t.Errorf("with DYNOWATCH_URL set:\n%s", l)
	}
}

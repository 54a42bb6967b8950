package checks

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRedis(t *testing.T) {
	t.Parallel()
	raw, client, prefix := testRedis(t)
	full, empty, str := prefix+"jobs", prefix+"empty", prefix+"str"
	for i := range 5 {
		if err := client.RPush(ctx, full, i).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Set(ctx, str, "x", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	q := func(s string) string { return `"` + s + `"` }

	for _, c := range []struct {
		name, check, wantErr string
		wantValue            float64
	}{
		{"ping", "redis " + raw, "", -1},
		{"empty list", "redis " + raw + " list=" + q(empty) + " max=0", "", 0},
		{"list within max", "redis " + raw + " list=" + q(full) + " max=5", "", 5},
		{"list over max", "redis " + raw + " list=" + q(full) + " max=3", "list " + full + " holds 5 items, over max=3", 5},
		{"list measured only", "redis " + raw + " list=" + q(full), "", 5},
		{"not a list", "redis " + raw + " list=" + q(str), "LLEN " + str + ": WRONGTYPE", -1},
		// The local server has no password (nopass), so any password of the
		// default user is accepted there: an unknown ACL user is how this
		// test gets an authentication failure out of it.
		{"wrong credentials", "redis " + withUser(t, raw, "dynowatch-no-such-user", "wrongpw"), "PING: WRONGPASS invalid username-password pair", -1},
		{"wrong database", "redis " + withDB(t, raw, 99), "PING: ERR DB index is out of range", -1},
		{"closed port", "redis " + withHostPort(t, raw, closedAddr(t)), "connect: connection refused", -1},
		{"hung server", "redis " + withHostPort(t, raw, silentAddr(t)) + " every=2s timeout=300ms", "timed out after 300ms waiting for PING", -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			check := mustParse(t, c.check)
			start := time.Now()
			r := (&Prober{}).Probe(ctx, check)
			wantResult(t, r, c.wantErr)
			if got := value(r); got != c.wantValue {
				t.Errorf("Value = %v, want %v", got, c.wantValue)
			}
			if time.Since(start) > check.Timeout+2*time.Second {
				t.Errorf("the run took %v, over its timeout of %v", time.Since(start), check.Timeout)
			}
			if strings.Contains(r.Error, "wrongpw") {
				t.Errorf("the error shows the password: %s", r.Error)
			}
		})
	}
}

// rediss:// with a self-signed certificate, as Heroku serves it: accepted
// unless tls_verify=true.
func TestRedisTLS(t *testing.T) {
	t.Parallel()
	raw, client, prefix := testRedis(t)
	if err := client.RPush(ctx, prefix+"jobs", "a", "b").Err(); err != nil {
		t.Fatal(err)
	}
	proxy := tlsProxy(t, selfSigned(t, time.Now().Add(365*24*time.Hour)), hostPort(t, raw))
	tlsURL := "rediss" + strings.TrimPrefix(withHostPort(t, raw, proxy), "redis")

	r := (&Prober{}).Probe(ctx, mustParse(t, `redis `+tlsURL+` list="`+prefix+`jobs" max=10`))
	wantResult(t, r, "")
	if value(r) != 2 {
		t.Fatalf("Value = %v through TLS, want 2", value(r))
	}
	r = (&Prober{}).Probe(ctx, mustParse(t, "redis "+tlsURL+" tls_verify=true"))
	wantResult(t, r, "x509: certificate signed by unknown authority")
	// A plain server behind a rediss:// URL fails the handshake.
	r = (&Prober{}).Probe(ctx, mustParse(t, "redis rediss"+strings.TrimPrefix(raw, "redis")+" every=5s timeout=2s"))
	if r.OK {
		t.Fatal("rediss:// to a plain Redis passed")
	}
}

func withUser(t *testing.T, raw, user, password string) string {
	t.Helper()
	i := strings.Index(raw, "://")
	rest := raw[i+3:]
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	return raw[:i+3] + user + ":" + password + "@" + rest
}

func withDB(t *testing.T, raw string, db int) string {
	t.Helper()
	i := strings.Index(raw, "://")
	host, _, _ := strings.Cut(raw[i+3:], "/")
	return raw[:i+3] + host + "/" + strconv.Itoa(db)
}

package checks

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dynowatch/dynowatch/internal/store/pgtest"
	"github.com/jackc/pgx/v5"
)

// testPostgres returns a URL of the test server whose connections use a
// schema of t's own (dropped when t ends), and that schema's name.
func testPostgres(t *testing.T) (rawURL, schema string) {
	t.Helper()
	rawURL = pgtest.URL(t) // skips, or fails with CI=true, when the server is down
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return rawURL, u.Query().Get("search_path")
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	raw, schema := testPostgres(t)
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE "+schema+".users (id int)"); err != nil {
		t.Fatal(err)
	}
	wrongDB, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	wrongDB.Path = "/dynowatch_no_such_database"
	q := func(s string) string { return `"` + s + `"` }

	for _, c := range []struct {
		name, check, wantErr string
	}{
		{"select 1", "postgres " + q(raw), ""},
		{"table on the search path", "postgres " + q(raw) + " table=users", ""},
		{"schema-qualified table", "postgres " + q(raw) + " table=" + schema + ".users", ""},
		{"missing table", "postgres " + q(raw) + " table=" + schema + ".orders", "table " + schema + ".orders does not exist"},
		{"table in another schema", "postgres " + q(raw) + " table=public.dynowatch_no_such_table", "does not exist"},
		{"missing schema", "postgres " + q(raw) + " table=dynowatch_no_such_schema.users", "does not exist"},
		{"wrong database", "postgres " + q(wrongDB.String()), `database "dynowatch_no_such_database" does not exist (SQLSTATE 3D000)`},
		{"closed port", "postgres " + q(withHostPort(t, raw, closedAddr(t))), "connect: connection refused"},
		{"hung server", "postgres " + q(withHostPort(t, raw, silentAddr(t))) + " every=2s timeout=300ms", "timed out after 300ms connecting"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			check := mustParse(t, c.check)
			start := time.Now()
			r := (&Prober{}).Probe(ctx, check)
			wantResult(t, r, c.wantErr)
			if r.Value != nil || r.Kind != "postgres" {
				t.Errorf("Value %v, Kind %q", r.Value, r.Kind)
			}
			if time.Since(start) > check.Timeout+2*time.Second {
				t.Errorf("the run took %v, over its timeout of %v", time.Since(start), check.Timeout)
			}
		})
	}
}

// The test server trusts every password, so a wrong one cannot fail here;
// what is checked is that a password never reaches an error.
func TestPostgresErrorsHidePasswords(t *testing.T) {
	t.Parallel()
	raw, _ := testPostgres(t)
	u, err := url.Parse(withHostPort(t, raw, closedAddr(t)))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("postgres", "s3cretpw")
	r := (&Prober{}).Probe(ctx, mustParse(t, `postgres "`+u.String()+`"`))
	if r.OK || strings.Contains(r.Error, "s3cretpw") {
		t.Fatalf("ok=%v error %q; want a failure without the password", r.OK, r.Error)
	}
}

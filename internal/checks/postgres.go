package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// probePostgres connects afresh (so a rotated password or a full connection
// limit shows), runs SELECT 1 or, with table=, looks the table up.
func probePostgres(ctx context.Context, c *Check, raw string) outcome {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return fail("bad URL: %v", err)
	}
	cfg.ConnectTimeout = c.Timeout
	cfg.RuntimeParams["application_name"] = "dynowatch-check"
	// The simple protocol prepares nothing, so PgBouncer in transaction
	// mode (Heroku's connection pooling) serves it too.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fail("%s", describePostgresError(ctx, c, "connecting", err))
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if c.Table == "" {
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			return fail("%s", describePostgresError(ctx, c, "running SELECT 1", err))
		}
		return outcome{}
	}
	// to_regclass is NULL for a relation that does not exist or that the
	// user cannot see (no USAGE on its schema); it does not throw.
	var found *string
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1)::text", c.Table).Scan(&found); err != nil {
		return fail("%s", describePostgresError(ctx, c, "looking up table "+c.Table, err))
	}
	if found == nil {
		return fail("table %s does not exist (or the user cannot see it)", c.Table)
	}
	return outcome{}
}

func describePostgresError(ctx context.Context, c *Check, doing string, err error) string {
	if t := timedOut(ctx, c, doing); t != "" {
		return t
	}
	var pgErr *pgconn.PgError
	var opErr *net.OpError
	switch {
	case errors.As(err, &pgErr):
		return fmt.Sprintf("%s: %s (SQLSTATE %s)", doing, pgErr.Message, pgErr.Code)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Sprintf("cannot connect to %s: %v", opErr.Addr, opErr.Err)
	}
	// pgx puts each host it tried (with and without TLS) on a line of its own.
	return doing + ": " + strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n\t", "; ")), " ")
}

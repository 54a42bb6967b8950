package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/dynowatch/dynowatch/internal/duration"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// probeRedis connects afresh (so a rotated password or a full connection
// table shows), sends PING and, with list=, LLEN.
//
// rediss:// URLs skip certificate verification unless tls_verify=true:
// Heroku Key-Value Store (Heroku Redis) serves TLS with a self-signed
// certificate, and Heroku's documentation tells clients to turn
// verification off for it (VERIFY_NONE, InsecureSkipVerify in Go).
func probeRedis(ctx context.Context, c *Check, raw string) outcome {
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return fail("bad URL: %v", err)
	}
	if opt.TLSConfig != nil {
		opt.TLSConfig.InsecureSkipVerify = !c.TLSVerify
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = c.Timeout, c.Timeout, c.Timeout
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = -1   // one try: fail= counts the tries
	opt.DialerRetries = 1 // one dial, likewise
	opt.PoolSize, opt.MinIdleConns = 1, 0
	opt.DisableIdentity = true // no CLIENT SETINFO: one command fewer to fail on old servers
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	client := redis.NewClient(opt)
	defer client.Close()

	if err := client.Ping(ctx).Err(); err != nil {
		return fail("%s", describeRedisError(ctx, c, "PING", err))
	}
	if c.List == "" {
		return outcome{}
	}
	n, err := client.LLen(ctx, c.List).Result()
	if err != nil {
		return fail("%s", describeRedisError(ctx, c, "LLEN "+c.List, err))
	}
	v := float64(n)
	o := outcome{value: &v}
	if c.Max != nil && n > *c.Max {
		o.err = fmt.Sprintf("list %s holds %d items, over max=%d", c.List, n, *c.Max)
	}
	return o
}

func describeRedisError(ctx context.Context, c *Check, cmd string, err error) string {
	if t := timedOut(ctx, c, "waiting for "+strings.Fields(cmd)[0]); t != "" {
		return t
	}
	var opErr *net.OpError
	var netErr net.Error
	switch {
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Sprintf("cannot connect to %s: %v", opErr.Addr, opErr.Err)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("timed out after %s waiting for %s", duration.Format(c.Timeout), strings.Fields(cmd)[0])
	}
	return cmd + ": " + err.Error()
}

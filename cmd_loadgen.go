package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/dynowatch/dynowatch/internal/loadgen"
)

// runLoadgen implements "dynowatch loadgen": realistic Logplex batches posted
// to a drain, to see how a deployment keeps up.
func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadgen.Options
	fs.StringVar(&o.URL, "url", "", "drain URL with credentials, e.g. http://dynowatch:SECRET@localhost:5000/drain/loadtest")
	fs.IntVar(&o.Concurrency, "concurrency", 8, "requests in flight at most")
	fs.IntVar(&o.Rate, "rate", 0, "batches a second; 0 sends as fast as the drain answers")
	fs.DurationVar(&o.Duration, "duration", 0, "how long to send, e.g. 60s")
	fs.IntVar(&o.Messages, "messages", 300, "messages a batch (Logplex sends up to ~100 KiB, about 300 router lines)")
	fs.IntVar(&o.WatchPID, "watch-pid", 0, "a local process (the drain) whose peak RSS to report")
	fs.IntVar(&o.Apps, "apps", 1, "apps to spread the batches over, APP-0 … after the URL's APP")
	fs.IntVar(&o.Dynos, "dynos", 4, "router dynos of each app")
	fs.IntVar(&o.HCodes, "hcodes", 0, "an H-code storm: a third of the router lines are errors over this many codes (at most 23)")
	fs.BoolVar(&o.Hostile, "hostile", false, "every tenth batch carries 3,000-byte dyno names and sources and random sample names, half of them a 3,000-byte Frame-Id")
	fs.BoolVar(&o.Tiny, "tiny", false, "batches of minimal frames: with -messages 60000, a tiny-frame flood")
	fs.IntVar(&o.R14s, "r14", 0, "R14 lines to send over the run, each from an app of its own (needs -webhook)")
	fs.StringVar(&o.WebhookAddr, "webhook", "", "listen here (e.g. 127.0.0.1:5099) for the drain's ALERT_WEBHOOK_URL, to time R14 → page")
	fs.StringVar(&o.StoreURL, "store", "", "the drain's DATABASE_URL: compare the messages it stored with those acknowledged")
	fs.StringVar(&o.MetricsURL, "metrics", "", "the drain's /metrics URL with credentials: rollup flush times during the run")
	fs.DurationVar(&o.Settle, "settle", 0, "after sending, wait this long for flushes and pages before counting, e.g. 10s")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: dynowatch loadgen -url URL -duration D [flags]\n\nPosts router-heavy Logplex batches to a drain, from many apps and dynos, in H-code storms or with hostile fields if asked,\nand reports throughput, response times, the drain's RSS, what it stored, its flush times and R14 → webhook latency.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2}
	}
	if o.URL == "" || o.Duration <= 0 {
		fs.Usage()
		return usageError("loadgen needs -url and -duration")
	}
	res, err := loadgen.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	return nil
}

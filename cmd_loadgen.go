package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/dynowatch/dynowatch/loadgen"
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
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: dynowatch loadgen -url URL -duration D [flags]\n\nPosts router-heavy Logplex batches to a drain and reports throughput, response times and the drain's RSS.")
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
